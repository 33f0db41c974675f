"""Histogram bins of the observable figures: integer observables (lit-pixel counts) get integer-centred bins."""

from __future__ import annotations

import numpy as np

from core.viz.evaluation import observables_overlay
from core.viz.images import histogram_edges


def test_integer_values_get_bins_centred_on_the_integers():
    counts = np.array([3, 4, 4, 7, 12, 30], dtype=float)
    edges = histogram_edges(counts, 3.0, 30.0, 40)
    assert np.allclose(np.diff(edges), 1.0) and edges[0] == 2.5 and edges[-1] >= 30.5
    hist, _ = np.histogram(counts, edges)
    assert hist.sum() == len(counts) and set(np.round(0.5 * (edges[1:] + edges[:-1]))[hist > 0]) == {3, 4, 7, 12, 30}
    wide = histogram_edges(np.arange(0, 201, dtype=float), 0.0, 200.0, 40)
    assert np.allclose(np.diff(wide), 5.0) and wide[0] == -0.5 and wide[-1] >= 200.5  # 5 integers per bin
    smooth = histogram_edges(np.array([0.1, 0.25, 0.7]), 0.1, 0.7, 40)
    assert len(smooth) == 41 and smooth[0] == 0.1 and smooth[-1] == 0.7


def test_overlay_of_counts_has_no_empty_bins_between_occupied_integers():
    rng = np.random.default_rng(0)
    real = {"mult_tracks": rng.integers(5, 26, 500).astype(float)}
    gen = {"mult_tracks": rng.integers(5, 26, 500).astype(float)}
    fig = observables_overlay(real, gen)
    for trace in fig.data:
        y = np.asarray(trace.y)
        assert (y > 0).all(), "an integer histogram with a bin between two integers"
