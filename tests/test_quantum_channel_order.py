"""The quantum readout's channel order (``core.quantum.lit_pixels.cone_order``, ``halo_order`` and
``core.data.readout.match_profile(order=...)``): inside the cone ECAL and HCAL take their shares in an order that
leans on Tracks' ranks, and in the halo HCAL's brightest deposits follow Tracks' GeV."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data.energies import cone_mask
from core.data.readout import match_profile
from core.errors import JetInputError
from core.metrics.channel_correlation import width_correlations
from core.quantum.lit_pixels import (
    CONE_RANK_MIX,
    HALO_FOLLOWS_TRACKS,
    TRACKS_FLOOR_GEV,
    cone_order,
    draw_readout,
    fit_table,
    halo_order,
    light,
)
from tests.test_quantum_lit_pixels import _sparse_jets

INSIDE = cone_mask(8)
CONE = [(3, 3), (3, 4), (4, 3), (4, 4)]
IDENTITY = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


def _cone_probs(values: list[list[float]]) -> torch.Tensor:
    """(1, 3, 8, 8) probabilities with the given four cone values per channel (in ``CONE`` order) and a faint,
    even halo."""
    p = torch.full((1, 3, 8, 8), 1e-3, dtype=torch.float64)
    for c, row in enumerate(values):
        for (i, j), v in zip(CONE, row, strict=True):
            p[0, c, i, j] = v
    return p


def _cone_sequence(score: torch.Tensor, c: int) -> list[tuple[int, int]]:
    """The cone pixels of channel c, highest score first."""
    return sorted(CONE, key=lambda ij: -float(score[0, c, ij[0], ij[1]]))


def test_the_identity_mix_orders_each_channel_by_its_own_probabilities():
    p = _cone_probs([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4], [0.2, 0.4, 0.1, 0.3]])
    score = cone_order(p, torch.zeros_like(p), INSIDE, IDENTITY)
    assert _cone_sequence(score, 0) == [(3, 3), (3, 4), (4, 3), (4, 4)]
    assert _cone_sequence(score, 1) == [(4, 4), (4, 3), (3, 4), (3, 3)]
    assert _cone_sequence(score, 2) == [(3, 4), (4, 4), (3, 3), (4, 3)]
    assert torch.isneginf(score[~INSIDE.expand_as(score)]).all()  # only the cone is ordered
    ranks = sorted(float(score[0, 0, i, j]) for i, j in CONE)
    assert ranks == pytest.approx([1.0, 2.0, 3.0, 4.0])  # ranks 1 (least probable) to 4


def test_a_mix_gives_the_closed_form_order_and_a_large_one_copies_tracks():
    """ECAL's own ranks (4, 3, 2, 1) plus 1.5 x Tracks' (1, 2, 3, 4) are 5.5, 6, 6.5, 7: Tracks' order. With a
    weight of 0.4 they are 4.4, 3.8, 3.2, 2.6: ECAL's own. Any weight above 3 (the largest rank gap) copies
    Tracks' order whatever ECAL's probabilities."""
    p = _cone_probs([[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [0.25, 0.35, 0.15, 0.25]])
    zero = torch.zeros_like(p)
    strong = cone_order(p, zero, INSIDE, [[1, 0, 0], [1.5, 1, 0], [0, 0, 1]])
    assert _cone_sequence(strong, 1) == _cone_sequence(strong, 0) == [(4, 4), (4, 3), (3, 4), (3, 3)]
    assert float(strong[0, 1, 3, 3]) == pytest.approx(5.5) and float(strong[0, 1, 4, 4]) == pytest.approx(7.0)
    weak = cone_order(p, zero, INSIDE, [[1, 0, 0], [0.4, 1, 0], [0, 0, 1]])
    assert _cone_sequence(weak, 1) == [(3, 3), (3, 4), (4, 3), (4, 4)]
    gen = torch.Generator().manual_seed(0)
    many = torch.rand(500, 3, 8, 8, generator=gen, dtype=torch.float64)
    copied = cone_order(many, torch.rand(many.shape, generator=gen), INSIDE, [[1, 0, 0], [3.5, 1, 0], [3.5, 0, 1]])
    first = copied.flatten(2).argmax(-1)
    assert torch.equal(first[:, 1], first[:, 0]) and torch.equal(first[:, 2], first[:, 0])
    with pytest.raises(JetInputError, match="3 x 3 mix"):
        cone_order(p, zero, INSIDE, [[1, 0], [0, 1]])


def test_halo_order_puts_hcals_share_where_tracks_is_bright():
    """log p_H + 1 x log(Tracks GeV): p_H 0.2 under a 5 GeV track beats p_H 0.5 under none (0.2 x 5 > 0.5 x 1e-3);
    with a weight of 0 the order is HCAL's own; p = 0 is never ordered."""
    p = torch.zeros(1, 3, 8, 8, dtype=torch.float64)
    p[0, 2, 0, 0], p[0, 2, 0, 1], p[0, 2, 7, 7] = 0.5, 0.2, 0.3
    lit = torch.zeros_like(p)
    lit[0, 0, 0, 1] = 5.0
    score = halo_order(p, lit, [0.0, 0.0, 1.0])
    assert float(score[0, 2, 0, 1]) > float(score[0, 2, 0, 0]) > float(score[0, 2, 7, 7])
    assert float(score[0, 2, 0, 0]) == pytest.approx(np.log(0.5) + np.log(TRACKS_FLOOR_GEV))
    own = halo_order(p, lit, [0.0, 0.0, 0.0])
    assert float(own[0, 2, 0, 0]) > float(own[0, 2, 7, 7]) > float(own[0, 2, 0, 1])
    assert torch.isneginf(score[0, 2, 1, 1]) and torch.isneginf(score[0, 0]).all()


def test_match_profile_takes_the_shares_in_the_given_order():
    x = torch.zeros(1, 3, 8, 8, dtype=torch.float64)
    x[0, 1, 3, 3], x[0, 1, 3, 4], x[0, 1, 4, 3] = 3.0, 2.0, 1.0  # 6 GeV in the cone
    profiles = torch.zeros(1, 2, 3, 4, dtype=torch.float64)
    profiles[0, 0, 1, :3] = torch.tensor([0.5, 0.3, 0.2])
    order = torch.zeros_like(x)
    order[0, 1, 3, 3], order[0, 1, 3, 4], order[0, 1, 4, 3] = 1.0, 2.0, 3.0  # the faintest value first
    out = match_profile(x, profiles, INSIDE, order=order)
    assert [float(out[0, 1, i, j]) for i, j in ((4, 3), (3, 4), (3, 3))] == pytest.approx([3.0, 1.8, 1.2])
    assert torch.equal(out == 0, x == 0)
    assert float(match_profile(x, profiles, INSIDE)[0, 1, 3, 3]) == pytest.approx(3.0)  # no order: the values'


def _cone_width_correlation(mix: list | None, seed: int = 0) -> dict[str, float]:
    """Tracks-ECAL and Tracks-HCAL width correlations in the cone of jets read out from independent random
    probabilities per channel (so any correlation is the readout's), with the given mix (None: no channel order)."""
    x, y = _sparse_jets(400)
    for (i, j), v in zip(CONE, (10.0, 5.0, 2.5, 1.0), strict=True):  # four unequal cone shares in every jet
        x[:, :, i, j] = v
    table = fit_table(x, y, "channels", channel_order=mix is not None)
    table.pop("donor_energy_weight", None)  # the rank mix alone (the donors: tests/test_quantum_cone_donors.py)
    if mix is not None:
        table["cone_rank_mix"] = mix
    n = 600
    gen = torch.Generator().manual_seed(seed)
    shapes = torch.rand(n, 3, 8, 8, generator=gen, dtype=torch.float64) + 0.01
    labels = torch.randint(2, (n,), generator=gen)
    energies = torch.full((n, 3), 30.0, dtype=torch.float64)
    out = light(table, shapes, energies, labels, draw_readout(table, n, (3, 8, 8), gen), [0.0] * 3)
    return width_correlations(out, 0.4)


def test_the_channel_order_correlates_channels_drawn_independently():
    """Independent probabilities per channel: alone, the cone widths are uncorrelated (|r| < 4 / sqrt(n)); with
    ECAL and HCAL copying Tracks' ranks they correlate strongly; the shipped mix lies between."""
    alone = _cone_width_correlation(None)
    copied = _cone_width_correlation([[1, 0, 0], [3.5, 1, 0], [3.5, 0, 1]])
    shipped = _cone_width_correlation([list(r) for r in CONE_RANK_MIX])
    bound = 4 / np.sqrt(600)
    assert abs(alone["Tracks-ECAL"]) < bound and abs(alone["Tracks-HCAL"]) < bound
    assert copied["Tracks-ECAL"] > 0.9 and copied["Tracks-HCAL"] > 0.9
    assert bound < shipped["Tracks-ECAL"] < copied["Tracks-ECAL"]
    assert bound < shipped["Tracks-HCAL"] < copied["Tracks-HCAL"]


def test_fit_table_records_the_channel_order_only_with_profiles():
    x, y = _sparse_jets()
    table = fit_table(x, y, "cone")
    assert table["cone_rank_mix"] == [list(r) for r in CONE_RANK_MIX]
    assert table["halo_follows_tracks"] == list(HALO_FOLLOWS_TRACKS)
    assert "cone_rank_mix" not in fit_table(x, y, "cone", channel_order=False)
    assert "cone_rank_mix" not in fit_table(x, y, "cone", profiles=False)


def test_anchored_shares_keep_the_tracks_cut_and_the_regions_energy():
    """A neighbour's Tracks deposits of 5, 3, 2 GeV (E_n = 10, cut L = 1) for a region of E = 4 GeV: each keeps
    L and its GeV above it scales by (E - 3L) / (E_n - 3L) = 1 / 7, so 11/7, 9/7, 8/7 GeV, where plain shares
    would give 0.8 GeV to the faintest (under the cut). E = 2.5 < 3L cannot hold three tracks: shares kept.
    A channel without a hard threshold keeps its shares."""
    from core.data.readout import anchor_profiles

    profiles = torch.zeros(3, 2, 3, 4, dtype=torch.float64)
    profiles[:, 0, 0, :3] = torch.tensor([0.5, 0.3, 0.2])
    profiles[:, 0, 1, :2] = torch.tensor([0.9, 0.1])
    neighbour = torch.full((3, 2, 3), 10.0, dtype=torch.float64)
    energies = torch.full((3, 2, 3), 4.0, dtype=torch.float64)
    energies[1, 0, 0], energies[2, 0, 0] = 2.5, 10.0
    out = anchor_profiles(profiles, neighbour, energies, [1.0, 1.0, 1.0], [True, False, False])
    assert (out[0, 0, 0, :3] * 4.0).tolist() == pytest.approx([11 / 7, 9 / 7, 8 / 7])
    assert torch.equal(out[1], profiles[1])  # E < k L: as the neighbour
    assert torch.allclose(out[2], profiles[2])  # E = E_n: the neighbour's own values
    assert torch.equal(out[:, :, 1:], profiles[:, :, 1:])  # calorimeters untouched
    assert torch.allclose(out.sum(-1)[profiles.sum(-1) > 0], torch.tensor(1.0, dtype=torch.float64))


def test_cone_diagonals_give_the_place_of_the_pixel_diagonal_to_the_brightest():
    """Cone pixels (3,3), (3,4), (4,3), (4,4): (3,3) and (4,4) are diagonal, as are (3,4) and (4,3)."""
    from core.data.multiplicity import cone_diagonals

    x = torch.zeros(5, 3, 8, 8, dtype=torch.float64)
    for c, values in enumerate(([5.0, 1.0, 2.0, 3.0], [5.0, 3.0, 2.0, 1.0], [1.0, 4.0, 2.0, 3.0])):
        for (i, j), v in zip(CONE, values, strict=True):
            x[0, c, i, j] = v
    x[1, 0, 3, 3] = 1.0  # one deposit: no place
    x[2, 0, 3, 3], x[2, 0, 3, 4] = 2.0, 1.0  # the diagonal pixel unlit: no place
    out = cone_diagonals(x, 0.4)
    assert out[0, 0].tolist() == [1, 3, 2] and out[0, 1].tolist() == [0, 0, 0]  # 2nd, 4th; (3,4)'s diagonal 3rd
    assert out[1:].sum() == 0
    assert cone_diagonals(torch.ones(2, 3, 16, 16), 0.4).sum() == 0  # not a 2 x 2 cone


def test_place_diagonals_moves_only_the_diagonal_pixel():
    """Scores 4, 3, 2, 1 on the cone: (3,3) first, its diagonal (4,4) last. Placed 1st after it, the order is
    (3,3), (4,4), (3,4), (4,3); placed 3rd or 0 (no place), or with p = 0 there, nothing moves."""
    from core.quantum.lit_pixels import place_diagonals

    p = _cone_probs([[0.4, 0.3, 0.2, 0.1]] * 3)
    score = cone_order(p, torch.zeros_like(p), INSIDE, IDENTITY)
    moved = place_diagonals(score, p, INSIDE, torch.tensor([[1, 3, 0]]))
    assert _cone_sequence(moved, 0) == [(3, 3), (4, 4), (3, 4), (4, 3)]
    assert _cone_sequence(moved, 1) == _cone_sequence(moved, 2) == [(3, 3), (3, 4), (4, 3), (4, 4)]
    assert torch.equal(moved[~INSIDE.expand_as(moved)], score[~INSIDE.expand_as(score)])
    dead = p.clone()
    dead[0, 0, 4, 4] = 0.0
    assert torch.equal(place_diagonals(score, dead, INSIDE, torch.tensor([[1, 1, 1]]))[0, 0], score[0, 0])
