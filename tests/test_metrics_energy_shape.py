"""Whether a channel's concentration follows its energy (core.metrics.energy_shape): known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.errors import JetInputError
from core.metrics.energy_shape import (
    cone_energy_and_ptd,
    energy_shape_correlations,
    energy_shape_rows,
    format_energy_shape,
)


def _jets(energy: np.ndarray, share: np.ndarray) -> torch.Tensor:
    """8 x 8 jets whose channels put ``share`` of their energy on one central pixel and the rest on another
    (both within R = 0.4), and a far pixel outside the cone that must not count."""
    n = len(energy)
    x = torch.zeros(n, 3, 8, 8, dtype=torch.float64)
    for c in range(3):
        x[:, c, 3, 3] = torch.as_tensor(energy * share)
        x[:, c, 4, 4] = torch.as_tensor(energy * (1 - share))
        x[:, c, 0, 0] = 50.0
    return x


def test_pTD_and_energy_in_the_cone_by_hand():
    energy, ptd = cone_energy_and_ptd(_jets(np.array([10.0, 4.0]), np.array([0.5, 1.0])))
    assert energy[:, 1].tolist() == pytest.approx([10.0, 4.0])  # the pixel outside the cone is left out
    assert ptd[:, 1].tolist() == pytest.approx([math.sqrt(0.5), 1.0])
    empty = torch.zeros(1, 3, 8, 8)
    assert np.isnan(cone_energy_and_ptd(empty)[1]).all()
    with pytest.raises(JetInputError, match=r"expected \(N, 3, H, W\)"):
        cone_energy_and_ptd(torch.zeros(2, 8, 8))


def test_the_correlation_is_pearsons_of_energy_and_pTD():
    rng = np.random.default_rng(0)
    energy, share = rng.uniform(10, 100, 200), rng.uniform(0.5, 1.0, 200)
    got = energy_shape_correlations(_jets(energy, share))
    ptd = np.sqrt(share**2 + (1 - share) ** 2)
    assert got == pytest.approx([np.corrcoef(energy, ptd)[0, 1]] * 3, abs=1e-9)
    share_up = np.linspace(0.5, 1.0, 200)
    ptd_up = np.sqrt(share_up**2 + (1 - share_up) ** 2)  # energy proportional to pTD: correlation 1
    assert energy_shape_correlations(_jets(100 * ptd_up, share_up)) == pytest.approx([1.0] * 3, abs=1e-9)


def test_within_class_a_mixture_alone_correlates_nothing():
    """Two classes, each with energy and shape independent, one brighter and more concentrated: pooled they
    correlate strongly, within each class not at all."""
    rng = np.random.default_rng(1)
    n = 2000
    y = np.arange(n) % 2
    energy = np.where(y == 1, 200.0, 100.0) + rng.normal(0, 5, n)
    share = np.where(y == 1, 0.9, 0.6) + rng.uniform(-0.05, 0.05, n)
    x = _jets(energy, share)
    assert energy_shape_correlations(x).min() > 0.9
    assert np.abs(energy_shape_correlations(x, torch.as_tensor(y))).max() < 0.1


def test_rows_set_generated_against_real_and_the_floor():
    rng = np.random.default_rng(2)
    energy, share = rng.uniform(10, 100, 300), rng.uniform(0.5, 1.0, 300)
    real = _jets(100 * np.sqrt(share**2 + (1 - share) ** 2), share)  # follows: +1
    gen = _jets(energy, share)  # does not
    rows = energy_shape_rows(gen, real, real)
    assert [r["channel"] for r in rows] == ["Tracks", "ECAL", "HCAL"]
    assert rows[1]["real"] == pytest.approx(1.0) and rows[1]["floor"] == pytest.approx(0.0)
    assert rows[1]["difference"] == pytest.approx(rows[1]["generated"] - 1.0)
    assert "ECAL" in format_energy_shape(rows)
    with pytest.raises(JetInputError, match="ECAL: 0 jets of class"):
        few = real.clone()
        few[:, 1] = 0
        energy_shape_correlations(few)
