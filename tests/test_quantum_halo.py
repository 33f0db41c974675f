"""The halo features (core.quantum.halo) and the quantum model's halo term: known answers."""

from __future__ import annotations

import math

import pytest
import torch
from quantum_synth import chain_term_off_and_on, shared_width_jets

from core.data.energies import cone_mask
from core.data.transforms import pixel_geometry
from core.quantum.context import FEATURES_PER_CHANNEL, context_size
from core.quantum.halo import EMPTY, FEATURES, halo_features, jet_halos
from core.quantum.hybrid import feature_mmd
from core.quantum.task import build_task, default_config


def _angle(size: int, row: int, col: int) -> float:
    deta, dphi = pixel_geometry(size)
    return math.atan2(dphi[row, col], deta[row, col])


def _distance(size: int, row: int, col: int) -> float:
    deta, dphi = pixel_geometry(size)
    return math.hypot(deta[row, col], dphi[row, col])


def test_one_out_of_cone_deposit_points_at_its_pixel():
    """A core plus one deposit outside the cone: the features are the deposit's (cos, sin) of its angle and of
    twice it and its distance, scaled by share / (share + EMPTY) (the halo's share of the channel's energy)."""
    image = torch.zeros(1, 8, 8)
    image[0, 3, 4], image[0, 0, 6] = 9.0, 1.0
    theta, share = _angle(8, 0, 6), 0.1
    harmonics = [math.cos(theta), math.sin(theta), math.cos(2 * theta), math.sin(2 * theta)]
    expected = torch.tensor([*harmonics, _distance(8, 0, 6)])
    got = halo_features(image)[0]
    assert got.tolist() == pytest.approx((expected * share / (share + EMPTY)).tolist(), abs=1e-6)
    assert torch.linalg.norm(got[:2]).item() == pytest.approx(share / (share + EMPTY), rel=1e-6)


def test_a_two_sided_stripe_has_an_axis_but_no_direction():
    """Equal deposits on opposite sides of the axis (the shipped circuit's stripe): the first harmonic nearly
    cancels, the second has length ~1 (the pooled pixel grid is a little off-centre, so not exactly); a halo
    spread evenly over every out-of-cone pixel has neither; a core alone gives zeros."""
    stripe = torch.zeros(1, 8, 8)
    stripe[0, 3, 3], stripe[0, 0, 3], stripe[0, 7, 4] = 8.0, 1.0, 1.0  # (0, 3) and (7, 4) face each other
    t1, t2 = _angle(8, 0, 3), _angle(8, 7, 4)
    expected = [f(k * t1) + f(k * t2) for k in (1, 2) for f in (math.cos, math.sin)]  # 0.1 of the channel each
    expected.append(_distance(8, 0, 3) + _distance(8, 7, 4))
    f = halo_features(stripe)[0]
    assert f.tolist() == pytest.approx([0.1 * e / (0.2 + EMPTY) for e in expected], abs=1e-6)
    assert torch.linalg.norm(f[:2]).item() < 0.05 and torch.linalg.norm(f[2:4]).item() > 0.95
    even = (~cone_mask(8)).float()[None] + 5.0 * cone_mask(8).float()[None]
    assert torch.linalg.norm(halo_features(even)[0, :4]).item() < 0.05
    core_only = cone_mask(8).float()[None]
    assert halo_features(core_only)[0].abs().max().item() == 0.0


@pytest.mark.parametrize("size", [8, 32])
def test_the_features_match_a_pixel_by_pixel_sum(size):
    """Against a plain loop over pixels: the out-of-cone energy-weighted mean of the four harmonics."""
    images = torch.rand(3, size, size, generator=torch.Generator().manual_seed(size)) ** 8
    outside = ~cone_mask(size)
    for image, got in zip(images.double(), halo_features(images), strict=True):
        sums, halo = [0.0] * FEATURES, 0.0
        for r in range(size):
            for c in range(size):
                if outside[r, c]:
                    t, e = _angle(size, r, c), float(image[r, c]) / float(image.sum())
                    halo += e
                    values = (math.cos(t), math.sin(t), math.cos(2 * t), math.sin(2 * t), _distance(size, r, c))
                    for k, v in enumerate(values):
                        sums[k] += e * v
        assert got.tolist() == pytest.approx([v / (halo + EMPTY) for v in sums], abs=1e-6)


def _halo_task(x, y, weight: float):
    torch.manual_seed(0)
    cfg = default_config(
        size=4, layout="per_channel", layers=2, diffusion_steps=2, latent=2, hidden=16, channel_context=True,
        mmd_weight=0.0, fid_weight=0.0, chain_weight=1.0, chain_jets=True, profile_weight=1.0, halo_weight=weight,
    )  # fmt: skip
    return build_task(cfg, x, y)


def test_the_halo_term_compares_whole_jets_three_halo_directions():
    """``halo_weight``: each channel's profile carries its halo after the rings (so later channels' context does
    too: 2 x 14 inputs), and the chain term adds W x the MMD of the three channels' halos side by side with the
    dot products of each pair's directions."""
    x, y = shared_width_jets(6)
    task = _halo_task(x, y, 2.0)
    cfg = task.model.cfg
    assert task.halo and cfg.context == context_size(FEATURES) == 2 * (FEATURES_PER_CHANNEL + FEATURES)
    clean = task.channel_profiles(task.prepare(x)[:, 1].abs() ** 2)
    assert clean.shape == (6, FEATURES_PER_CHANNEL + FEATURES)
    assert torch.allclose(clean[:, FEATURES_PER_CHANNEL:], halo_features(x[:, 1]), atol=1e-5)
    assert task.training_context(task.prepare(x)).shape == (18, cfg.context)
    base, both, seen = chain_term_off_and_on(task, x, y, "halo_weight", 2.0, task.channel_profiles)
    halos = [jet_halos(f[:, FEATURES_PER_CHANNEL:].reshape(6, 3, FEATURES)) for f in seen]
    assert halos[1].shape == (6, 3 * FEATURES + 3)
    ecal, hcal = halo_features(x[:, 1]), halo_features(x[:, 2])  # straight from the images
    assert torch.allclose(halos[1][:, FEATURES : 2 * FEATURES], ecal, atol=1e-5)
    assert torch.allclose(halos[1][:, -1], (ecal[:, :2] * hcal[:, :2]).sum(-1), atol=1e-5)  # the ECAL-HCAL pair
    expected = base.item() + 2.0 * feature_mmd(halos[0], halos[1], y, y).item()
    assert both.item() == pytest.approx(expected, rel=1e-5)
