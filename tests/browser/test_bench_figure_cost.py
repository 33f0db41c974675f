"""The figure-cost benchmark measures what it says: each variant's page settles with its figure drawn, in a
new tab, offline (its times are the benchmark's figures, not checked here)."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("playwright")
from benchmarks import bench_figure_cost  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(bench_figure_cost.CHROMIUM), reason="no Chromium"),
]


def test_every_variant_settles_with_its_figure_and_nothing_fetched():
    res = bench_figure_cost.run(rounds=1)
    assert set(res["wall"]) == set(bench_figure_cost.VARIANTS)
    for kind in bench_figure_cost.VARIANTS:
        (wall,), (busy,) = res["wall"][kind], res["busy"][kind]
        assert 0 < wall < 60 and busy > 0, kind
    assert res["blocked_requests"] == []
    text = bench_figure_cost.report(res)
    assert "one plotly heatmap" in text and "one png heatmap" in text and "bare page" in text
    assert "3-point plotly line" in text
