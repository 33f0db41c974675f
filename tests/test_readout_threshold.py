"""No track under the tracker's cut after the rescaling to drawn energies (``core.data.readout.hold_threshold``)."""

from __future__ import annotations

import pytest
import torch

from core.data.energies import cone_mask, region_energies
from core.data.readout import hold_threshold
from core.diffusion.task import build_task, default_config


def test_water_filling_closed_forms():
    x = torch.zeros(2, 3, 4, 4)
    x[0, 0, 0, :3] = torch.tensor([3.0, 1.0, 0.2])  # 0.2 -> 0.5; the rest share 3.7: s = 0.925
    x[1, 0, 0, :3] = 0.4  # 1.2 GeV cannot give three tracks 0.5: the two first keep 0.6 each
    x[:, 1] = 0.01  # a channel without a hard threshold is left alone
    out = hold_threshold(x, None, [0.5, 0.5, 0.0], [True, False, False])
    assert out[0, 0, 0, :3].tolist() == pytest.approx([2.775, 0.925, 0.5])
    assert out[1, 0, 0, :3].tolist() == pytest.approx([0.6, 0.6, 0.0])
    assert torch.allclose(out.sum((-1, -2)), x.sum((-1, -2)))
    assert torch.equal(out[:, 1:], x[:, 1:])
    one = torch.zeros(1, 3, 4, 4)
    one[0, 0, 1, 1], one[0, 0, 2, 2] = 0.2, 0.1  # less than one track's worth: all of it on the brightest
    assert hold_threshold(one, None, [0.5, 0, 0], [True, False, False])[0, 0].flatten().nonzero().tolist() == [[5]]


def test_each_region_keeps_its_energy():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(20, 3, 16, 16, generator=g) * (torch.rand(20, 3, 16, 16, generator=g) < 0.3) * 2
    inside = cone_mask(16, 0.4)
    out = hold_threshold(x, inside, [0.5, 0.0, 0.0], [True, False, False])
    assert torch.allclose(torch.from_numpy(region_energies(out)), torch.from_numpy(region_energies(x)), rtol=1e-5)
    tracks = out[:, 0]
    # Every lit track is at the cut or above, but in a region with less than one track's energy (one pixel).
    below = (tracks > 0) & (tracks < 0.5 * (1 - 1e-5))
    for n, i, j in below.nonzero().tolist():
        region = inside if inside[i, j] else ~inside
        assert ((tracks[n] > 0) & region).sum() == 1 and x[n, 0][region].sum() < 0.5


def test_the_u_net_readout_leaves_no_track_under_the_cut():
    g = torch.Generator().manual_seed(1)
    n, size = 200, 16
    lit = torch.rand(n, 3, size, size, generator=g) < 0.15
    x = torch.rand(n, 3, size, size, generator=g) ** 3 * 20 * lit
    x[:, 0] = torch.where(lit[:, 0], 0.5 + torch.rand(n, size, size, generator=g) ** 4 * 30, 0.0)  # a cut at 0.5
    y = (torch.arange(n) % 2).long()
    task = build_task({**default_config("ddpm", size), "multiplicity": True}, x, y)
    assert task.hard_threshold == [True, False, False]
    labels = y[:12]
    gen = torch.Generator().manual_seed(5)
    energies, picks = task.draw_numbers(12, labels, gen)
    energies[:, :, 0] = 6.0  # 6 GeV of tracks in each region, less than the lit tracks carry: scaled down
    z = torch.rand(12, 3, size, size, generator=gen) * 1.4 - 0.8  # a trained network's graded deposits
    out = task._to_jets(z, energies, (picks, torch.rand(z.shape, generator=gen), labels))
    assert torch.allclose(torch.from_numpy(region_energies(out)), energies.double(), rtol=1e-4)
    level = task.zero_below[0]
    tracks = out[:, 0]
    assert ((tracks == 0) | (tracks >= level * (1 - 1e-5))).all()
    inside = cone_mask(size, 0.4)
    lit = torch.stack([((tracks > 0) & inside).sum((-1, -2)), ((tracks > 0) & ~inside).sum((-1, -2))], 1)
    assert lit.max() <= 12 and lit.min() >= 1  # at most 6 GeV / 0.5 GeV tracks a region
