"""What one figure costs a new browser tab, by the library that draws it: the floor under issue 15's by-URL goal.

A throw-away Streamlit page (a title and a line of text) is opened by URL in a new tab of one warm browser,
bare and with one 32 x 32 heatmap drawn by plotly (``st.plotly_chart``), by Vega-Lite
(``st.vega_lite_chart``) or as a PNG (``st.image``), or with a 3-point plotly line (the least plotly can draw:
what is left is plotly's own start-up, whatever the figure). Each tab is timed from the request until the page has
settled and its figure is drawn, with the seconds its main thread was busy (Chrome's TaskDuration); rounds
alternate the variants so that a change in the machine's load hits them alike. The dashboard's pages with
figures pay the plotly row's extra before drawing anything of their own.

    python -m benchmarks.bench_figure_cost [--rounds 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path
from statistics import median

from benchmarks.bench_pages import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, _free_port, chromium_missing, watched
from core.atomic import write_text_atomic

VARIANTS = ("bare", "plotly", "plotly-line", "vega-lite", "png")
LABELS = {"bare": "bare page", "plotly-line": "+ one 3-point plotly line"}
TOY_APP = textwrap.dedent(
    """
    import numpy as np
    import streamlit as st

    kind = st.query_params.get("k", "bare")
    st.title(f"figure cost: {kind}")
    img = np.random.default_rng(0).random((32, 32)).astype("float32")
    if kind == "plotly":
        import plotly.graph_objects as go

        st.plotly_chart(go.Figure(go.Heatmap(z=img)), key="figure")
    elif kind == "plotly-line":  # the least plotly can draw: what is left is plotly's own start-up
        import plotly.graph_objects as go

        st.plotly_chart(go.Figure(go.Scatter(y=[1, 3, 2])), key="figure")
    elif kind == "vega-lite":
        import pandas as pd

        yy, xx = np.mgrid[0:32, 0:32]
        table = pd.DataFrame({"x": xx.ravel(), "y": yy.ravel(), "v": img.ravel()})
        enc = {"x": {"field": "x", "type": "ordinal"}, "y": {"field": "y", "type": "ordinal"}}
        enc["color"] = {"field": "v", "type": "quantitative"}
        st.vega_lite_chart(table, {"mark": "rect", "encoding": enc})
    elif kind == "png":
        st.image((img * 255).astype("uint8"), width=300)
    st.write("page end")
    """
)
# Settled: the script run is over, the last line is drawn, and the variant's figure is in the page (each
# library's element mounts lazily, after the script's other output, so its absence is not "nothing to draw").
SETTLED = """(kind) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning' || window.__runs < 1) return false;
  if (!document.body.innerText.includes('page end')) return false;
  const figure = {plotly: '.js-plotly-plot .main-svg', 'plotly-line': '.js-plotly-plot .main-svg', 'vega-lite': '[data-testid="stVegaLiteChart"] canvas,'
    + ' [data-testid="stVegaLiteChart"] svg', png: '[data-testid="stImage"] img'}[kind];
  return !figure || document.querySelector(figure) !== null;
}"""


def _start(app: Path, port: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port)]
    cmd += ["--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    raise TimeoutError("the toy app did not answer /_stcore/health within 60 s")


def _open(context, url: str, kind: str) -> tuple[float, float]:
    """(wall seconds, main-thread busy seconds) of one new tab until settled."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")
    t0 = time.monotonic()
    page.goto(url, wait_until="commit")
    page.wait_for_function(SETTLED, arg=kind, polling=50, timeout=60_000)
    wall = time.monotonic() - t0
    busy = next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")
    page.close()
    return wall, busy


def run(rounds: int) -> dict:
    from playwright.sync_api import sync_playwright

    res: dict = {"load_average_start": os.getloadavg(), "rounds": rounds, "wall": {}, "busy": {}}
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "figure_cost_app.py"
        app.write_text(TOY_APP)
        port = _free_port()
        proc = _start(app, port)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                blocked: list[str] = []
                context = watched(browser.new_context(viewport=VIEWPORT), blocked)
                for kind in VARIANTS:  # warm-up: every chunk in the browser's cache, every import in the server
                    _open(context, f"http://127.0.0.1:{port}/?k={kind}", kind)
                for _ in range(rounds):
                    for kind in VARIANTS:
                        wall, busy = _open(context, f"http://127.0.0.1:{port}/?k={kind}", kind)
                        res["wall"].setdefault(kind, []).append(wall)
                        res["busy"].setdefault(kind, []).append(busy)
                browser.close()
                res["blocked_requests"] = sorted(set(blocked))
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
    res["load_average_end"] = os.getloadavg()
    return res


def report(res: dict) -> str:
    bare_wall, bare_busy = median(res["wall"]["bare"]), median(res["busy"]["bare"])
    lines = [
        f"load average at start {tuple(round(v, 2) for v in res['load_average_start'])}, "
        f"at end {tuple(round(v, 2) for v in res['load_average_end'])}; median of {res['rounds']} new tabs each",
        f"{'page':<28}{'wall':>8}{'extra':>9}{'busy':>8}{'extra':>9}",
    ]
    for kind in VARIANTS:
        wall, busy = median(res["wall"][kind]), median(res["busy"][kind])
        label = LABELS.get(kind, f"+ one {kind} heatmap")
        lines.append(f"{label:<28}{wall:>7.2f}s{wall - bare_wall:>+8.2f}s{busy:>7.2f}s{busy - bare_busy:>+8.2f}s")
    lines.append(f"requests to other hosts (blocked): {len(res['blocked_requests'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if chromium_missing():
        return 2
    res = run(max(1, args.rounds))
    print(report(res))
    if args.json:
        write_text_atomic(args.json, json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
