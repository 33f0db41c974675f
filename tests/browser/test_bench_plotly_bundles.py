"""The plotly-bundle benchmark draws its heatmap in a new tab, offline, with the full bundle and the dashboard's
partial one (its times
are the benchmark's figures, not checked here), and refuses a bundle path that is not a file."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("playwright")
from benchmarks import bench_plotly_bundles  # noqa: E402
from core.errors import JetInputError  # noqa: E402

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists(bench_plotly_bundles.CHROMIUM), reason="no Chromium"),
]


def test_each_bundle_runs_and_draws_in_a_new_tab_with_nothing_fetched(tmp_path):
    full = bench_plotly_bundles.full_bundle()
    res = bench_plotly_bundles.run({"full": full, "jetlab": bench_plotly_bundles.JETLAB_BUNDLE}, rounds=1)
    for name in ("full", "jetlab"):
        ((wall, ran, drawn),) = res["times"][name]
        assert 0 < ran <= drawn and 0 < wall < 60, name
    assert res["blocked_requests"] == [] and res["sizes_mb"]["full"] > 1
    text = bench_plotly_bundles.report(res)
    assert "full" in text and "jetlab" in text and "load average at start" in text
    with pytest.raises(JetInputError, match="no such bundle file"):
        bench_plotly_bundles.main(["--partial", str(tmp_path / "missing.js")])
