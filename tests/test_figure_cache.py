"""Figures built once per key for the whole server (pages._common.cached_figure) and what they are charged."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from core.cache import FIGURE_FLOOR_BYTES, ByteCache, array_digest, figure_nbytes


def test_a_figure_is_charged_its_arrays_frames_included_and_at_least_the_floor():
    small = go.Figure(go.Heatmap(z=np.zeros((4, 4), dtype=np.float32)))
    assert figure_nbytes(small) == FIGURE_FLOOR_BYTES
    z = np.zeros((512, 512), dtype=np.float32)  # 1 MiB
    frames = [go.Frame(data=[go.Heatmap(z=z)]) for _ in range(3)]
    big = go.Figure(data=[go.Heatmap(z=z)], frames=frames)
    assert figure_nbytes(big) == 4 * z.nbytes


def test_a_byte_cache_of_figures_keeps_at_most_budget_over_floor_small_ones():
    cache = ByteCache(3 * FIGURE_FLOOR_BYTES, size=figure_nbytes)
    for k in range(5):
        cache.get_or_make(k, lambda: go.Figure(go.Scatter(x=[0, 1], y=[1, 0])))
    assert cache.total == 3 * FIGURE_FLOOR_BYTES  # the two oldest dropped


def test_array_digest_names_dtype_shape_and_values():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert array_digest(a) == array_digest(a.copy()) == array_digest(torch.from_numpy(a.copy()))
    assert array_digest(a) != array_digest(a.reshape(4, 3))
    assert array_digest(a) != array_digest(a.astype(np.float64))
    b = a.copy()
    b[2, 3] += 1
    assert array_digest(a) != array_digest(b)
    assert array_digest(a.T) == array_digest(np.ascontiguousarray(a.T))  # the values, not the memory layout


def test_cached_figure_builds_once_per_key_and_shares_the_figure():
    from pages._common import cached_figure

    built = []

    def build():
        built.append(1)
        return go.Figure(go.Scatter(x=[0, 1], y=[0, 1]))

    key = ("test_cached_figure", 1)
    first = cached_figure(key, build)
    assert cached_figure(key, build) is first and len(built) == 1  # a second visitor: no construction
    assert cached_figure(("test_cached_figure", 2), build) is not first and len(built) == 2
