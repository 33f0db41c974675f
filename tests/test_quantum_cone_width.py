"""The cone-width term of the quantum hybrid model: whole jets' three channel widths within the cone, about the jet
axis, compared by an MMD (issue 14: the channels' widths within the cone correlate as in real jets)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from quantum_synth import chain_term_off_and_on

from core.data.observables import channel_widths
from core.quantum.context import cone_width, radial_profile
from core.quantum.hybrid import HybridConfig, feature_mmd
from core.quantum.task import TRAIN_OPTIONS, build_task, default_config, request_summary
from core.requests import TrainRequest


def _jets(n: int, size: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Jets whose pixels are random (no symmetry about the axis), every pixel lit."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) ** 3 * 50 + 0.01, (torch.arange(n) % 2).long()


@pytest.mark.parametrize("size", [4, 8, 16])
def test_cone_width_is_the_observables_channel_width(size):
    """The width within R = 0.4 read from a channel's shape at any scale equals ``channel_widths`` of the GeV
    image (the observables' geometry: the axis is not the image centre), and an empty cone gets its pixels' mean
    distance."""
    x, _ = _jets(7, size)
    expected = channel_widths(x)  # (N, 3)
    for c in range(3):
        shares = x[:, c] / x[:, c].sum((-1, -2), keepdim=True)
        assert np.allclose(cone_width(shares)[:, 0].numpy(), expected[:, c], rtol=1e-5)
    empty = torch.zeros(1, size, size)
    empty[0, 0, 0] = 1.0  # a corner, outside the cone
    lit = torch.ones(1, 1, size, size)
    assert cone_width(empty).item() == pytest.approx(float(channel_widths(lit.expand(1, 3, -1, -1))[0, 0]), rel=1e-5)


def test_cone_width_sees_which_central_pixel_a_channel_favours():
    """At 8 x 8 the cone is the four central pixels, all at one distance from the image centre: the profile's mean
    distance cannot tell them apart, the cone width can."""
    near, far = torch.zeros(2, 8, 8), torch.zeros(2, 8, 8)
    near[:, 3, 3], far[:, 4, 4] = 1.0, 1.0
    profile_distance = radial_profile(torch.cat([near, far]))[:, 4]
    assert torch.allclose(profile_distance, profile_distance[0].expand(4))
    assert cone_width(near)[0, 0] < cone_width(far)[0, 0] - 0.02


def _task(x, y, **kw):
    torch.manual_seed(0)
    cfg = default_config(
        size=4, layout="per_channel", layers=2, diffusion_steps=2, latent=2, hidden=16, channel_context=True,
        mmd_weight=0.0, fid_weight=0.0, chain_weight=1.0, chain_jets=True, profile_weight=1.0, **kw,
    )  # fmt: skip
    return build_task(cfg, x, y)


def test_the_cone_width_term_compares_whole_jets_three_cone_widths():
    """``cone_width_weight``: each channel's profile ends with its cone width, and the chain term adds W x the MMD
    of each jet's three cone widths side by side (the real ones straight from the images)."""
    x, y = _jets(6, 4)
    task = _task(x, y, cone_width_weight=3.0)
    base, both, (gen_rows, real_rows) = chain_term_off_and_on(task, x, y, "cone_width_weight", 3.0, task.loss_profiles)
    widths = [f[:, -1].reshape(6, 3) for f in (gen_rows, real_rows)]
    assert np.allclose(widths[1].numpy(), channel_widths(x), rtol=1e-5)
    expected = base.item() + 3.0 * feature_mmd(widths[0], widths[1], y, y).item()
    assert both.item() == pytest.approx(expected, rel=1e-5)
    assert both.item() > base.item()


@pytest.mark.parametrize("field, term", [("cone_width_weight", "cone-width term"), ("halo_weight", "halo term")])
def test_a_whole_jet_term_reaches_the_request_says_what_it_needs_and_old_configs_have_none(field, term):
    assert field in TRAIN_OPTIONS
    alone = TrainRequest(family="quantum", channel_context=True, chain_weight=1.0, **{field: 2.0})
    assert term in request_summary(alone) and "--" + field.replace("_", "-") in alone.to_argv()
    full = TrainRequest(family="quantum", channel_context=True, chain_weight=1.0, chain_jets=True, profile_weight=2.0,
                        **{field: 2.0})  # fmt: skip
    assert term not in request_summary(full)
    old = {k: v for k, v in HybridConfig().to_dict().items() if k != field}
    assert getattr(HybridConfig.from_dict(old), field) == 0


def test_quantum_seeds_benchmark_averages_samples_of_each_checkpoint():
    """``benchmarks.quantum_seeds``: a checkpoint's row is the mean over its samples, reproducible from the seeds,
    with correlation gaps in [0, 2] and shape distances in floor units."""
    from benchmarks.quantum_seeds import score
    from core.data.readers import load_tensors

    real, _ = load_tensors("assets/jets_heldout.h5", size=8, max_jets=400, seed=0)
    one = score("checkpoints/quantum_hybrid", real, 200, 2, 0, 2)
    again = score("checkpoints/quantum_hybrid", real, 200, 2, 0, 2)
    assert np.array_equal(one["w1"], again["w1"]) and np.array_equal(one["cone"], again["cone"])
    assert np.all((one["cone"] >= 0) & (one["cone"] <= 2)) and np.all(np.isfinite(one["w1"])) and one["w1"].min() > 0
    first = score("checkpoints/quantum_hybrid", real, 200, 1, 0, 2)
    assert not np.array_equal(first["w1"], one["w1"])  # the second sample counts
