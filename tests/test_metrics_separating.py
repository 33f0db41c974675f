"""Which features separate two jet sets: each group's two-sample AUC, against known answers."""

from __future__ import annotations

import numpy as np
import torch

from core.metrics.separating_features import (
    BRIGHTEST,
    brightest_shares,
    feature_groups,
    format_separating,
    separating_features,
)
from tests.metrics_synth import synthetic_jets


def test_brightest_shares_are_each_pixels_share_of_its_channel_brightest_first():
    x = torch.zeros(1, 3, 4, 4)
    x[0, 2, 0, 0], x[0, 2, 1, 1], x[0, 2, 3, 2] = 1.0, 6.0, 3.0
    np.testing.assert_allclose(brightest_shares(x, 2, k=4)[0], [0.6, 0.3, 0.1, 0.0])
    assert brightest_shares(x, 0, k=2).tolist() == [[0.0, 0.0]]  # an empty channel: no share, no NaN


def test_every_group_reads_its_features():
    x = synthetic_jets(5, size=8, seed=1)
    sizes = {name: np.asarray(fn(x)).shape for name, fn in feature_groups().items()}
    assert all(shape[0] == 5 for shape in sizes.values())
    assert [shape[1] for shape in sizes.values()] == [10, 10, 6, 12, BRIGHTEST, BRIGHTEST, BRIGHTEST]


def _towered(x: torch.Tensor) -> torch.Tensor:
    """HCAL made of 2 x 1 towers, their energy spread evenly over both pixels (as the detector's towers are)."""
    out = x.clone()
    pairs = x[:, 2].reshape(len(x), x.shape[-2] // 2, 2, x.shape[-1]).sum(2, keepdim=True) / 2
    out[:, 2] = pairs.expand(-1, -1, 2, -1).reshape_as(x[:, 2])
    return out


def test_only_the_hcal_shares_tell_towered_hcal_from_pixel_hcal():
    """Two sets alike but for HCAL's fine structure (towers of two equal pixels, or the same energy shared
    unevenly): the HCAL shares group separates them; Tracks and ECAL, identical in law, stay at the floor."""
    real_a, real_b = _towered(synthetic_jets(300, size=8, seed=1)), _towered(synthetic_jets(300, size=8, seed=2))
    gen = _towered(synthetic_jets(300, size=8, seed=3))
    g = torch.Generator().manual_seed(4)
    tilt = 1 + 0.6 * (torch.rand(300, 4, 1, 8, generator=g) - 0.5)  # each tower's two pixels made unequal
    hcal = gen[:, 2].reshape(300, 4, 2, 8)
    before = gen[:, 2].sum((1, 2))
    gen[:, 2] = torch.cat([hcal[:, :, :1] * tilt, hcal[:, :, 1:] * (2 - tilt)], 2).reshape(300, 8, 8)
    assert torch.allclose(gen[:, 2].sum((1, 2)), before)  # each tower keeps its energy
    rows = {r["group"]: r for r in separating_features(real_a, gen, real_b, folds=3, seed=0)}
    hcal_row = rows[f"HCAL: shares of its {BRIGHTEST} brightest pixels"]
    tracks_row = rows[f"Tracks: shares of its {BRIGHTEST} brightest pixels"]
    assert hcal_row["model"] > 0.8 and hcal_row["floor"] < 0.65
    assert abs(tracks_row["model"] - 0.5) < 0.12
    text = format_separating(list(rows.values()))
    assert text.splitlines()[2].startswith("HCAL: shares")  # most separating first
