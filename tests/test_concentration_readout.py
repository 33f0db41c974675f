"""The concentration readout: each channel's energy shared among its lit pixels as in a training jet of the same
energies (``core.data.multiplicity.region_concentrations``, ``core.data.readout.match_concentration``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.data.energies import cone_mask, region_energies
from core.data.multiplicity import draw_neighbours, fit_counts, has_concentrations, region_concentrations, region_counts
from core.data.readout import match_concentration
from core.diffusion.task import build_task, default_config, fit_multiplicity
from core.errors import JetInputError


def _sparse_jets(n: int, size: int, seed: int) -> torch.Tensor:
    """(n, 3, size, size) GeV: about one pixel in eight lit, with values spread over three decades."""
    g = torch.Generator().manual_seed(seed)
    values = 10 ** (3 * torch.rand(n, 3, size, size, generator=g) - 1)
    return values * (torch.rand(n, 3, size, size, generator=g) < 0.12)


def test_region_concentrations_closed_forms():
    x = torch.zeros(1, 3, 32, 32)
    x[0, 0, 16, 16] = 7.0  # one deposit in the cone: 1
    x[0, 1, 15:17, 15:17] = 2.0  # four equal deposits in the cone: 1/4
    x[0, 2, 16, 16], x[0, 2, 15, 16] = 3.0, 1.0  # shares 3/4 and 1/4: 9/16 + 1/16
    x[0, 2, 0, 0] = 5.0  # one deposit outside the cone
    c = region_concentrations(x, 0.4)
    assert c.shape == (1, 2, 3)
    assert c[0, 0].tolist() == pytest.approx([1.0, 0.25, 10 / 16])
    assert c[0, 1].tolist() == pytest.approx([0.0, 0.0, 1.0])  # empty regions read 0


def test_match_concentration_reaches_the_target_and_keeps_energy_pixels_and_order():
    x = _sparse_jets(6, 32, seed=0)
    inside = cone_mask(32, 0.4)
    now = torch.from_numpy(region_concentrations(x, 0.4))
    lit = torch.from_numpy(region_counts(x, 0.4)).double()
    factor = 2 ** (2 * torch.rand(now.shape, generator=torch.Generator().manual_seed(1)) - 1)  # 0.5 to 2
    target = torch.minimum(torch.maximum(now * factor, 1.2 / lit.clamp_min(1)), torch.tensor(0.95))
    target[0, 0, 0] = 0.0  # a training jet with nothing there: left as it is
    levels = [0.02, 0.0, 0.05]
    out = match_concentration(x, target, inside, levels)
    got = torch.from_numpy(region_concentrations(out, 0.4))
    multi = lit > 1
    multi[0, 0, 0] = False
    assert torch.allclose(got[multi], target[multi], atol=1e-6)
    assert torch.equal(out[0, 0][inside], x[0, 0][inside])  # target 0
    assert torch.equal(out > 0, x > 0)  # the same pixels lit
    regions_before, regions_after = region_energies(x), region_energies(out)
    # Each region keeps its energy, but for what the floor adds to pixels pushed under their level (the sampler
    # rescales each region to its drawn energy afterwards).
    assert np.allclose(regions_after, regions_before, rtol=1e-2)
    assert np.allclose(regions_after[:, :, 1], regions_before[:, :, 1], rtol=1e-6)  # ECAL: no floor
    thr = torch.tensor(levels).view(1, 3, 1, 1)
    assert ((out >= thr * (1 - 1e-6)) | (out == 0)).all()  # no lit pixel below its channel's level
    # The power is monotone: within a region, the brighter of two pixels stays the brighter.
    a, b = x[1, 2][inside], out[1, 2][inside]
    keep = a > 0.1
    order = torch.argsort(a[keep])
    assert (b[keep][order].diff() >= -1e-6).all()


def test_draw_neighbours_gives_counts_and_concentrations_of_one_training_jet():
    x = _sparse_jets(300, 16, seed=2) * torch.linspace(1, 20, 300).view(-1, 1, 1, 1)
    y = np.arange(300) % 2
    regions, counts, conc = region_energies(x), region_counts(x, 0.4), region_concentrations(x, 0.4)
    table = fit_counts(regions, counts, y, 0.4, concentrations=conc)
    assert has_concentrations(table) and not has_concentrations(fit_counts(regions, counts, y, 0.4))
    drawn = draw_neighbours(table, torch.from_numpy(regions[:40]), torch.from_numpy(y[:40]),
                            torch.Generator().manual_seed(0))  # fmt: skip
    assert drawn["counts"].shape == drawn["concentrations"].shape == (40, 2, 3)
    for i in range(40):
        group = table[str(y[i])]
        rows = [r for r, c in enumerate(group["counts"]) if c == drawn["counts"][i].reshape(-1).tolist()]
        assert any(np.allclose(group["concentrations"][r], drawn["concentrations"][i].reshape(-1)) for r in rows)
    with pytest.raises(JetInputError, match="concentrations of shape"):
        fit_counts(regions, counts, y, 0.4, concentrations=conc[:, 0])


def _matched_regions(out: torch.Tensor, labels: torch.Tensor, table: dict) -> tuple[int, int]:
    """(regions with two or more lit pixels at the concentration of a training jet lit as this one, all such)."""
    lit = region_counts(out, 0.4).reshape(len(out), -1)
    got = region_concentrations(out, 0.4).reshape(len(out), -1)
    matched = total = 0
    for jet, label in enumerate(labels.tolist()):
        group = table[str(label)]
        rows = [r for r, c in enumerate(group["counts"]) if c == lit[jet].tolist()]
        assert rows  # lit as a training jet of its class was (no region of these jets runs out of pixels)
        close = np.abs(np.array([group["concentrations"][r] for r in rows]) - got[jet]) < 1e-3
        multi = lit[jet] > 1
        matched += int(close[:, multi].sum(1).max())
        total += int(multi.sum())
    return matched, total


def test_sampled_jets_share_each_region_as_their_neighbour_did():
    size = 16
    x = _sparse_jets(200, size, seed=4) * torch.linspace(5, 50, 200).view(-1, 1, 1, 1)
    y = (torch.arange(200) % 2).long()
    table = fit_multiplicity(x, y, concentrations=True)
    # No hard readout threshold here: holding one may drop a region's faintest pixel (tests/test_readout_threshold.py).
    config = {**default_config("ddpm", size), "multiplicity": True, "multiplicity_table": table}
    task = build_task({**config, "hard_threshold": [False, False, False]}, x, y)
    labels = y[:8]
    # The readout of a sampler's last model-space image (an untrained network's output sits at the clip, every
    # lit pixel equal: graded values stand in for a trained one's).
    gen = torch.Generator().manual_seed(5)
    energies, picks = task.draw_numbers(8, labels, gen)
    z = torch.rand(8, 3, size, size, generator=gen) * 1.6 - 1.0
    lit = (picks, torch.rand(z.shape, generator=gen), labels)
    out = task._to_jets(z, energies, lit)
    matched, total = _matched_regions(out, labels, table)
    # A region whose faint pixels the readout floor holds up cannot reach every concentration; the rest come out
    # at their neighbour's.
    assert matched >= 0.9 * total
    # A table without the concentrations (as fitted before them) lights the same pixels and leaves the shares.
    counts_only = {k: ({f: g for f, g in v.items() if f != "concentrations"} if isinstance(v, dict) else v)
                   for k, v in table.items()}  # fmt: skip
    plain = build_task({**task.config(), "multiplicity_table": counts_only})
    before = plain._to_jets(z, energies, lit)
    assert torch.equal(before > 0, out > 0)
    assert _matched_regions(before, labels, table)[0] < 0.3 * total


def test_the_u_net_fits_concentrations_with_hcal_towers_only():
    x = _sparse_jets(60, 32, seed=6) * 20
    y = (torch.arange(60) % 2).long()
    pixels = build_task({**default_config("ddpm", 32), "multiplicity": True}, x, y)
    towers = build_task({**default_config("ddpm", 32), "multiplicity": True, "hcal_towers": True}, x, y)
    assert not has_concentrations(pixels.config()["multiplicity_table"])
    assert has_concentrations(towers.config()["multiplicity_table"])
    assert towers.card()["concentration_readout"] and "concentration_readout" not in pixels.card()


def test_no_concentration_turns_it_off_for_both_families():
    from core.diffusion.task import config_from_request as ddpm_config
    from core.quantum.task import build_task as build_quantum
    from core.quantum.task import config_from_request as quantum_config
    from core.requests import TrainRequest

    x = _sparse_jets(60, 32, seed=7) * 20
    y = (torch.arange(60) % 2).long()
    for off in (False, True):
        towers = TrainRequest(family="ddpm", size=32, hcal_towers=True, no_concentration=off)
        table = build_task(ddpm_config(towers), x, y).config()["multiplicity_table"]
        assert has_concentrations(table) is not off
        quantum = TrainRequest(family="quantum", size=8, energy="cone", no_concentration=off)
        table = build_quantum(quantum_config(quantum), x, y).config()["multiplicity_table"]
        assert has_concentrations(table) is not off
