"""What running plotly.js costs a new browser tab, by bundle: the full one Streamlit inlines against a partial one.

Issue 15's by-URL goal fails on the pages with figures because a new tab runs plotly before it draws anything
(``bench_figure_cost``: about +0.9 s). Plotly ships partial bundles (npm's ``plotly.js-cartesian-dist-min``:
the 2-D traces, heatmaps included, without maps, 3-D and WebGL). This measures, outside Streamlit, a bare HTML
page that loads one bundle and draws one 32 x 32 heatmap, opened by URL in new tabs of one warm browser (rounds
alternate the bundles so that a change in the machine's load hits them alike): the seconds until the bundle has
run and until the heatmap is drawn, read in the page (``performance.now()``), and the tab's wall time.

    python -m benchmarks.bench_plotly_bundles --partial PATH/plotly-cartesian.min.js [--rounds 6]

The full bundle is the plotly Python package's own (``plotly/package_data/plotly.min.js``; Streamlit inlines a
full build of its own in its ``PlotlyChart`` chunk); ``jetlab`` is the dashboard's partial build
(``assets/plotly/plotly-jetlab.min.js``, what ``scripts/serve.py`` serves). Nothing is fetched: ``--partial`` adds
a bundle file you give (``npm pack plotly.js-cartesian-dist-min``).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import tempfile
import threading
from pathlib import Path
from statistics import median

from benchmarks.bench_pages import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, chromium_missing, watched
from core.errors import JetInputError

PAGE = """<!doctype html><html><body><div id="g" style="width:400px;height:400px"></div>
<script>window.t0 = performance.now();</script>
<script src="{bundle}"></script>
<script>
window.tRun = performance.now();
const z = Array.from({{length: 32}}, (_, i) => Array.from({{length: 32}}, (_, j) => Math.sin(i * j)));
Plotly.newPlot('g', [{{type: 'heatmap', z: z}}], {{margin: {{t: 10}}}}).then(() => {{ window.tDrawn = performance.now(); }});
</script></body></html>
"""


JETLAB_BUNDLE = Path(__file__).resolve().parents[1] / "assets" / "plotly" / "plotly-jetlab.min.js"


def full_bundle() -> Path:
    """The plotly Python package's full plotly.js bundle."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # the benchmark prints its own lines
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _open(context, url: str) -> tuple[float, float, float]:
    """(wall, bundle run, heatmap drawn) seconds of one new tab."""
    import time

    page = context.new_page()
    t0 = time.monotonic()
    page.goto(url, wait_until="commit")
    page.wait_for_function("window.tDrawn !== undefined", polling=20, timeout=60_000)
    wall = time.monotonic() - t0
    ran, drawn = page.evaluate("[window.tRun - window.t0, window.tDrawn - window.t0]")
    page.close()
    return wall, ran / 1000, drawn / 1000


def run(bundles: dict[str, Path], rounds: int) -> dict:
    """Median seconds per bundle: {"wall": ..., "run": ..., "drawn": ...}, with the load average around them."""
    from playwright.sync_api import sync_playwright

    res: dict = {"load_average_start": os.getloadavg(), "rounds": rounds, "times": {k: [] for k in bundles}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, path in bundles.items():
            shutil.copyfile(path, root / f"{name}.js")
            (root / f"{name}.html").write_text(PAGE.format(bundle=f"{name}.js"))
        server, base = _serve(root)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                blocked: list[str] = []
                context = watched(browser.new_context(viewport=VIEWPORT), blocked)
                names = list(bundles)
                for name in names:  # warm-up: each bundle in the browser's cache
                    _open(context, f"{base}/{name}.html")
                for r in range(rounds):
                    for name in names if r % 2 == 0 else names[::-1]:
                        res["times"][name].append(_open(context, f"{base}/{name}.html"))
                browser.close()
                res["blocked_requests"] = sorted(set(blocked))
        finally:
            server.shutdown()
    res["load_average_end"] = os.getloadavg()
    res["sizes_mb"] = {k: round(p.stat().st_size / 1e6, 2) for k, p in bundles.items()}
    return res


def report(res: dict) -> str:
    lines = [
        f"load average at start {tuple(round(v, 2) for v in res['load_average_start'])}, "
        f"at end {tuple(round(v, 2) for v in res['load_average_end'])}; median of {res['rounds']} new tabs each",
        f"{'bundle':<10}{'size':>9}{'run':>9}{'drawn':>9}{'wall':>9}",
    ]
    for name, rows in res["times"].items():
        wall, ran, drawn = (median(r[k] for r in rows) for k in range(3))
        lines.append(f"{name:<10}{res['sizes_mb'][name]:>6.2f} MB{ran:>8.2f}s{drawn:>8.2f}s{wall:>8.2f}s")
    lines.append(f"requests to other hosts (blocked): {len(res['blocked_requests'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--partial", type=Path, default=None, help="a partial plotly.js bundle (e.g. npm's cartesian)")
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args(argv)
    bundles = {"full": full_bundle(), "jetlab": JETLAB_BUNDLE}
    if args.partial is not None:
        if not args.partial.is_file():
            raise JetInputError(f"{args.partial}: no such bundle file (npm pack plotly.js-cartesian-dist-min)")
        bundles["partial"] = args.partial
    if chromium_missing():
        return 2
    print(report(run(bundles, max(1, args.rounds))))
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except JetInputError as err:
        raise SystemExit(f"error: {err}") from None
