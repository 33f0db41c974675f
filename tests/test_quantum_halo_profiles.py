"""The quantum readout's halo draw and profiles (``core.quantum.lit_pixels.halo_scores``,
``core.data.readout.match_profile``, ``core.data.multiplicity.region_profiles``): outside the cone the lit pixels
are drawn from the Born distribution, Tracks and HCAL sharing their draw, and each region's energy is shared as in
the neighbour training jet."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data.energies import cone_mask
from core.data.multiplicity import (
    PROFILE_STEP,
    decode_profile,
    draw_neighbours,
    encode_profile,
    region_counts,
    region_profiles,
)
from core.data.readout import match_profile
from core.errors import JetInputError
from core.quantum.lit_pixels import HALO_SHARED, HALO_TEMPERATURE, draw_readout, fit_table, halo_scores, light
from tests.test_quantum_lit_pixels import _sparse_jets

INSIDE = cone_mask(8)


def _winners(p: torch.Tensor, temperature: float, shared: list[float], n: int, seed: int = 0) -> torch.Tensor:
    """(n, C) the highest-scoring pixel of each channel over n draws of the same probabilities p (C, P)."""
    jitter = torch.rand(n, *p.shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    scores = halo_scores(p.expand(n, *p.shape)[..., None], jitter[..., None], temperature, shared)
    return scores[..., 0].argmax(-1)


def test_the_halo_draw_picks_a_pixel_with_probability_p_to_the_one_over_t():
    """Gumbel top-1: P(pixel i first) = p_i^(1/T) / sum_j p_j^(1/T), a closed form; p = 0 is never drawn."""
    p = torch.tensor([[0.5, 0.25, 0.15, 0.1, 0.0]] * 3, dtype=torch.float64)
    n = 40_000
    for t in (1.0, 4.0):
        first = _winners(p, t, [0.0, 0.0, 0.0], n)
        want = p[0] ** (1 / t) / (p[0] ** (1 / t)).sum()
        for c in range(3):
            freq = torch.bincount(first[:, c], minlength=5).double() / n
            sigma = (want * (1 - want) / n).sqrt()
            assert torch.all((freq - want).abs() <= 4 * sigma + 1e-12), (t, c, freq, want)
            assert freq[4] == 0


def test_channels_that_share_the_draw_light_the_same_pixels():
    """Shared weight 1: equal probabilities give the same pixel in every draw; weight 0: two independent draws
    agree with probability sum_i q_i^2."""
    p = torch.tensor([[0.4, 0.3, 0.2, 0.1]] * 3, dtype=torch.float64)
    n = 40_000
    first = _winners(p, 1.0, [1.0, 0.0, 1.0], n, seed=1)
    assert torch.equal(first[:, 0], first[:, 2])
    agree = (first[:, 0] == first[:, 1]).double().mean()
    want = (p[0] ** 2).sum()
    assert abs(float(agree) - float(want)) < 4 * float((want * (1 - want) / n).sqrt())
    with pytest.raises(JetInputError, match="temperature > 0"):
        halo_scores(p[None, :, :, None], torch.rand(1, 3, 4, 1), 0.0, [1.0, 1.0, 1.0])
    with pytest.raises(JetInputError, match="one shared weight per channel"):
        halo_scores(p[None, :, :, None], torch.rand(1, 3, 4, 1), 1.0, [1.0])


def test_match_profile_gives_the_lit_pixels_the_neighbours_shares_in_the_images_order():
    x = torch.zeros(2, 3, 8, 8)
    x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 0, 3, 3] = 1.0, 3.0, 2.0, 5.0
    x[1, 1, 0, 0], x[1, 1, 7, 7], x[1, 1, 4, 4] = 1.0, 2.0, 4.0
    profiles = torch.zeros(2, 2, 3, 4, dtype=torch.float64)
    profiles[0, 1, 0, :3] = torch.tensor([0.5, 0.3, 0.2])  # halo of jet 0's Tracks
    profiles[0, 0, 0, 0] = 1.0
    profiles[1, 1, 1, :1] = 1.0  # jet 1's ECAL halo: one share for two lit pixels, left as it is
    profiles[1, 0, 1, :3] = torch.tensor([0.6, 0.3, 0.1])  # more shares than lit pixels: the first, renormalised
    out = match_profile(x, profiles, INSIDE)
    assert out[0, 0, 0, 1] == pytest.approx(3.0) and out[0, 0, 1, 0] == pytest.approx(1.8)
    assert out[0, 0, 0, 0] == pytest.approx(1.2) and out[0, 0, 3, 3] == pytest.approx(5.0)
    assert torch.equal(out[1, 1, 0, 0], x[1, 1, 0, 0]) and torch.equal(out[1, 1, 7, 7], x[1, 1, 7, 7])
    assert out[1, 1, 4, 4] == pytest.approx(4.0)  # one lit pixel takes the whole region
    assert torch.allclose(out.sum((-1, -2)), x.sum((-1, -2)))  # every region keeps its energy
    assert torch.equal(out == 0, x == 0)  # and its lit pixels


def test_profiles_round_trip_through_the_table_and_a_jet_reads_its_own():
    x, y = _sparse_jets(200)
    x[:, :, 3, 3] *= torch.linspace(1, 3, 200)[:, None]  # unequal shares in the cone
    rows = region_profiles(x, 0.4)
    counts = region_counts(x, 0.4).reshape(len(x), 6)
    assert [[len(v) for v in r] for r in rows] == counts.tolist()
    for row, k in zip(rows[:20], counts[:20], strict=True):
        back = decode_profile(encode_profile(row), k)
        for a, b in zip(row, back, strict=True):
            assert np.allclose(a, b, rtol=PROFILE_STEP, atol=0)
            assert len(a) == 0 or (np.isclose(a.sum(), 1.0) and np.all(np.diff(a) <= 0))  # shares, brightest first
    with pytest.raises(JetInputError, match="profile of"):
        decode_profile(encode_profile(rows[0]), counts[0] + 1)
    table = fit_table(x, y, "cone")
    assert table["halo_temperature"] == HALO_TEMPERATURE and table["halo_shared"] == list(HALO_SHARED)
    # With its own energies and as many neighbours as jets of its class, jet j's nearest neighbour is itself.
    from core.data.energies import region_energies

    own = torch.from_numpy(region_energies(x[:10]))
    drawn = draw_neighbours(table, own, y[:10], picks=torch.zeros(10).long())
    assert torch.equal(drawn["counts"].view(10, 6), torch.from_numpy(counts[:10]))
    assert torch.allclose(drawn["energies"], own.double(), rtol=1e-3, atol=1e-3)  # its own energies (4 decimals)
    from core.data.multiplicity import cone_diagonals

    assert torch.equal(drawn["diagonals"], torch.from_numpy(cone_diagonals(x[:10], 0.4)))  # and its cone's diagonals
    for j in range(10):
        for k, v in enumerate(rows[j]):
            got = drawn["profiles"][j].view(6, -1)[k]
            assert torch.allclose(got[: len(v)], torch.from_numpy(v), rtol=PROFILE_STEP) and not got[len(v) :].any()


def test_light_with_the_halo_draw_keeps_energies_counts_and_tracks_most_probable_cone_pixels():
    x, y = _sparse_jets()
    table = fit_table(x, y, "channels")
    n = 6
    shapes = torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(1)) + 0.01
    shapes[:, :, 0, :] = 0.0  # no weight: never lit, halo draw or not
    energies = 10.0 * (x[:n] > 0).sum((-1, -2)).double()
    drawn = draw_readout(table, n, (3, 8, 8), torch.Generator().manual_seed(2))
    out = light(table, shapes, energies, y[:n], drawn, [0.0, 0.0, 0.0])
    assert torch.allclose(out.double().sum((-1, -2)), energies, rtol=1e-5)
    assert torch.equal((out > 0).sum((-1, -2)), (x[:n] > 0).sum((-1, -2)))
    assert not (out[:, :, 0, :] > 0).any()
    for j in range(n):  # Tracks' cone: its most probable pixels (ECAL's and HCAL's lean on Tracks' ranks there)
        lit, s = (out[j, 0] > 0) & INSIDE, shapes[j, 0]
        unlit = ~lit & INSIDE
        if lit.any() and unlit.any():
            assert s[unlit].max() < s[lit].min()
    # Something is lit (the shares themselves are checked by the match_profile test above).
    lit = out[out > 0].view(-1)
    assert lit.numel() > 0
    again = light(table, shapes, energies, y[:n], drawn, [0.0, 0.0, 0.0])
    assert torch.equal(out, again)  # the same draws, the same jets
    other = light(
        table, shapes, energies, y[:n], draw_readout(table, n, (3, 8, 8), torch.Generator().manual_seed(5)), [0.0] * 3
    )
    assert not torch.equal(out > 0, other > 0)  # another draw lights other halo pixels
