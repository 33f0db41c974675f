"""ECAL and HCAL in the cone from a donor (``core.data.cone_donors``, ``core.quantum.lit_pixels.give_donor_cones``):
a training jet of the class whose Tracks cone is nearest the generated one's gives ECAL and HCAL their cone shares,
each keeping its energy, on the pixels the state lit, none under the readout level."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import core.data.cone_donors as cone_donors
from core.data.cone_donors import cone_fractions, decode_fractions, donor_cones, draw_donors, encode_fractions
from core.data.energies import cone_mask
from core.errors import JetInputError
from core.metrics.channel_correlation import width_correlations
from core.quantum.lit_pixels import DONOR_ENERGY_WEIGHT, draw_readout, fit_table, light

INSIDE = cone_mask(8)
CONE = [(3, 3), (3, 4), (4, 3), (4, 4)]  # row-major: the order of the cone's fractions


def test_cone_fractions_are_each_channels_shares_and_survive_their_encoding():
    x = torch.zeros(2, 3, 8, 8)
    for (i, j), v in zip(CONE, (6.0, 3.0, 1.0, 0.0), strict=True):
        x[0, 0, i, j] = v
    x[0, 1, 4, 4] = 2.5
    x[0, 0, 0, 0] = 100.0  # outside the cone: not counted
    f = cone_fractions(x, 0.4)
    assert f.shape == (2, 3, 4)
    assert f[0, 0] == pytest.approx([0.6, 0.3, 0.1, 0.0])
    assert f[0, 1] == pytest.approx([0.0, 0.0, 0.0, 1.0])
    assert (f[0, 2] == 0).all() and (f[1] == 0).all()  # empty cones hold nothing
    back = decode_fractions([encode_fractions(f[0]), encode_fractions(f[1])], 4).numpy()
    assert np.abs(back - f).max() < 1e-5
    with pytest.raises(JetInputError, match="3 x 5"):
        decode_fractions([encode_fractions(f[0])], 5)
    with pytest.raises(JetInputError, match=r"\(N, 3, H, W\)"):
        cone_fractions(torch.zeros(2, 8, 8), 0.4)


def _group(fractions: list, log_energies: list) -> dict:
    return {"cone_fractions": [encode_fractions(np.asarray(f)) for f in fractions], "log_energies": log_energies}


def test_a_jet_draws_the_nearest_donor_of_its_own_class(monkeypatch):
    monkeypatch.setattr(cone_donors, "DONORS", 1)  # the nearest, always
    near = [[1, 0, 0, 0], [0.5, 0.5, 0, 0], [0, 0, 0, 1]]
    ecal = [[0.1, 0.2, 0.3, 0.4], [0.4, 0.3, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]]
    group0 = _group([[t, e, e] for t, e in zip(near, ecal, strict=True)], [[0.0] * 6] * 3)
    group1 = _group([[[0, 0, 0, 1], [1, 0, 0, 0], [1, 0, 0, 0]]], [[0.0] * 6])
    tracks = torch.tensor([[0.9, 0.1, 0, 0], [0.4, 0.6, 0, 0], [0.9, 0.1, 0, 0]], dtype=torch.float64)
    out = draw_donors({"0": group0, "1": group1}, ["0", "0", "1"], tracks, torch.zeros(3))
    assert out[0, 1].tolist() == pytest.approx(ecal[0], abs=1e-5)
    assert out[1, 1].tolist() == pytest.approx(ecal[1], abs=1e-5)
    assert out[2, 0].tolist() == pytest.approx([0, 0, 0, 1], abs=1e-5)  # class 1 has one jet: its own
    # Two donors with the same Tracks: the energies decide, when they are weighed.
    twins = _group(
        [[near[0], ecal[0], ecal[0]], [near[0], ecal[1], ecal[1]]], [[0, 1.0, 1.0, 0, 0, 0], [0, 3.0, 3.0, 0, 0, 0]]
    )
    logs = torch.tensor([[3.0, 3.0]], dtype=torch.float64)
    picked = draw_donors({"0": twins}, ["0"], tracks[:1], torch.zeros(1), logs, 0.3)
    assert picked[0, 1].tolist() == pytest.approx(ecal[1], abs=1e-5)
    unweighed = draw_donors({"0": twins}, ["0"], tracks[:1], torch.zeros(1), logs, 0.0)
    assert unweighed[0, 1].tolist() == pytest.approx(ecal[0], abs=1e-5)  # a tie: the first


def test_donor_cones_keep_each_energy_on_lit_pixels_above_the_level():
    cone = torch.tensor([[[5.0, 0, 0, 0], [1.0, 1.0, 1.0, 1.0], [0, 0, 2.0, 0]]], dtype=torch.float64)
    donor = torch.tensor([[[0, 0, 0, 1.0], [0.5, 0.3, 0.2, 0.0], [0, 0, 0, 0]]], dtype=torch.float64)
    alive = torch.ones_like(cone, dtype=torch.bool)
    out = donor_cones(cone, donor, alive, [0.0] * 3)
    assert out[0, 0].tolist() == [5.0, 0, 0, 0]  # Tracks stays
    assert out[0, 1].tolist() == pytest.approx([2.0, 1.2, 0.8, 0.0])  # 4 GeV shared 0.5 / 0.3 / 0.2
    assert out[0, 2].tolist() == [0, 0, 2.0, 0]  # an empty donor: its own
    dead = alive.clone()
    dead[0, 1, 0] = False  # the state put nothing on pixel 0: no deposit there
    assert donor_cones(cone, donor, dead, [0.0] * 3)[0, 1].tolist() == pytest.approx([0, 2.4, 1.6, 0])
    # A level of 1 GeV: 0.8 falls under it, the rest is renormalised (0.5 : 0.3 of 4 GeV).
    assert donor_cones(cone, donor, alive, [0.0, 1.0, 0.0])[0, 1].tolist() == pytest.approx([2.5, 1.5, 0, 0])
    assert torch.allclose(out.sum(-1), cone.sum(-1))
    with pytest.raises(JetInputError, match="donor cones"):
        donor_cones(cone, donor[:, :2], alive, [0.0] * 3)


def _jets_with_ecal_on_tracks(n: int = 800, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Training jets whose Tracks cone is random and whose ECAL and HCAL cones are Tracks' own shares (a real
    jet's channels sit together), with a random halo."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 3, 8, 8)
    halo = (torch.rand(n, 3, 8, 8, generator=g) < 0.1) & ~INSIDE
    x[halo] = 5.0
    shares = torch.rand(n, 4, generator=g) ** 3
    for k, (i, j) in enumerate(CONE):
        x[:, :, i, j] = 20.0 * shares[:, k : k + 1] + 1.0
    return x, (torch.arange(n) % 2).long()


def _generated(table: dict, n: int = 500, seed: int = 1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    shapes = torch.rand(n, 3, 8, 8, generator=gen, dtype=torch.float64) + 0.01  # each channel on its own
    labels = torch.randint(2, (n,), generator=gen)
    energies = torch.tensor([[40.0, 40.0, 40.0], [10.0, 10.0, 10.0]], dtype=torch.float64).expand(n, 2, 3)
    return light(table, shapes, energies, labels, draw_readout(table, n, (3, 8, 8), gen), [0.0] * 3)


def test_light_gives_ecal_and_hcal_the_cone_of_a_jet_with_such_a_tracks():
    """Independent probabilities per channel: without donors ECAL's and HCAL's cone widths are Tracks'-blind (the
    rank mix aside); with them ECAL's cone takes the shares of a jet whose Tracks looked like this one's, so it
    follows Tracks (here ECAL copies Tracks in every training jet). Tracks and the halo do not change, and every
    channel keeps its energy in the cone."""
    x, y = _jets_with_ecal_on_tracks()
    table = fit_table(x, y, "cone")
    assert table["donor_energy_weight"] == DONOR_ENERGY_WEIGHT and "cone_fractions" in table["0"]
    own = decode_fractions(table["0"]["cone_fractions"][:1], 4)[0]
    assert torch.allclose(own, torch.from_numpy(cone_fractions(x[:1], 0.4)[0]), atol=1e-5)  # a jet's own shares
    with_donors = _generated(table)
    without = _generated({k: v for k, v in table.items() if k != "donor_energy_weight"})
    assert torch.equal(with_donors[:, 0], without[:, 0])  # Tracks is the circuit's
    assert torch.equal(with_donors[..., ~INSIDE], without[..., ~INSIDE])  # and so is the halo
    assert torch.allclose(with_donors[..., INSIDE].sum(-1), without[..., INSIDE].sum(-1))  # energies kept
    follow, alone = cone_fractions(with_donors, 0.4), cone_fractions(without, 0.4)
    gap = np.median(np.abs(follow[:, 1] - follow[:, 0]).sum(-1))  # ECAL's cone shares against Tracks' (L1)
    assert gap < 0.7 * np.median(np.abs(alone[:, 1] - alone[:, 0]).sum(-1))  # 0.30 against 0.47
    r_with, r_without = (width_correlations(g, 0.4)["Tracks-ECAL"] for g in (with_donors, without))
    assert r_with > 0.8 and r_with > r_without + 0.4  # 0.86 against 0.31 (the rank mix's)
