"""What the dashboard's partial plotly.js saves a page opened by URL: two servers, one browser, rounds alternating.

``scripts/serve.py`` swaps the full plotly.js inside Streamlit's plotly chunk for the dashboard's partial build
(``scripts/partial_plotly.py``). This starts the app twice, with the swap and with ``JETLAB_PLOTLY=full``
(Streamlit's own), opens every page once on each (the browser's cache warm, as for a returning visitor), then
opens each page by URL in a new tab of the same browser, alternating the two servers within each round so
that a change in the machine's load hits both alike. Printed per page: the median seconds until the page has
settled (script run finished, every plot drawn) and the median seconds the tab's main thread was busy, for
both, and their ratio; the load average at the start and the end.

    python -m benchmarks.bench_plotly_swap [--rounds 5] [--pages ,noising,quantum_lab,runs]
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from pathlib import Path
from statistics import median

from benchmarks.bench_pages import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PAGES,
    TITLES,
    VIEWPORT,
    Visitor,
    _free_port,
    _wait_for_jobs,
    add_http_cache_option,
    chromium_missing,
    start_server,
    use_http_cache,
    watched,
)

LAUNCHERS = {"partial": "serve", "full": "serve-full-plotly"}


def _open_once(browser_context, base: str, path: str, blocked: list[str]) -> tuple[float, float]:
    """(wall, main thread busy) seconds of one new tab opened by URL."""
    visitor = Visitor(None, base, blocked, context=browser_context)
    try:
        wall = visitor.open(path)
        return wall, visitor.extra["browser_busy_s"]
    finally:
        visitor.page.close()


def run(pages: list[str], rounds: int) -> dict:
    """Per page and server: the (wall, busy) seconds of every round; the load average around them."""
    from playwright.sync_api import sync_playwright

    from benchmarks import bench_pages

    res: dict = {"load_average_start": os.getloadavg(), "rounds": rounds, "times": {}}
    res["http_cache"] = "on" if bench_pages.HTTP_CACHE else "off"
    servers: dict[str, tuple] = {}
    blocked: list[str] = []
    with tempfile.TemporaryDirectory() as runs_dir:
        try:
            for name, launcher in LAUNCHERS.items():
                port = _free_port()
                proc, _, _ = start_server(port, Path(runs_dir) / name, launcher)
                servers[name] = (proc, f"http://127.0.0.1:{port}")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                context = watched(browser.new_context(viewport=VIEWPORT), blocked)
                for _, base in servers.values():  # warm: each page once per server
                    for path in pages:
                        _open_once(context, base, path, blocked)
                for proc, _ in servers.values():  # the Runs page's sampling jobs have ended
                    _wait_for_jobs(proc.pid)
                for path in pages:
                    res["times"][path] = {name: [] for name in servers}
                    for r in range(rounds):
                        for name in list(servers) if r % 2 == 0 else list(servers)[::-1]:
                            res["times"][path][name].append(_open_once(context, servers[name][1], path, blocked))
                browser.close()
        finally:
            for proc, _ in servers.values():
                os.killpg(proc.pid, signal.SIGTERM)
    res["load_average_end"] = os.getloadavg()
    res["blocked_requests"] = sorted(set(blocked))
    return res


def report(res: dict) -> str:
    lines = [
        f"load average at start {tuple(round(v, 2) for v in res['load_average_start'])}, at end "
        f"{tuple(round(v, 2) for v in res['load_average_end'])}; median of {res['rounds']} new tabs per page and "
        f"server, opened by URL, rounds alternating; the browser's HTTP cache {res.get('http_cache', 'off')}",
        f"{'page':<17}{'partial':>9}{'full':>9}{'ratio':>8}   main thread busy: partial / full",
    ]
    for path, by_server in res["times"].items():
        wall = {k: median(t[0] for t in v) for k, v in by_server.items()}
        busy = {k: median(t[1] for t in v) for k, v in by_server.items()}
        lines.append(
            f"{TITLES[path]:<17}{wall['partial']:>8.2f}s{wall['full']:>8.2f}s{wall['partial'] / wall['full']:>7.2f}x"
            f"   {busy['partial']:.2f} / {busy['full']:.2f} s"
        )
    lines.append(f"requests to other hosts (blocked): {len(res['blocked_requests'])}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pages", default=",".join(PAGES), help="comma-separated page paths ('' is the Jets page)")
    add_http_cache_option(ap)
    args = ap.parse_args(argv)
    use_http_cache(args.http_cache)
    pages = args.pages.split(",")
    unknown = [p for p in pages if p not in TITLES]
    if unknown:
        raise SystemExit(f"error: unknown page(s) {unknown}; choose from {list(TITLES)}")
    if chromium_missing():
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a killed benchmark still stops its servers
    print(report(run(pages, max(1, args.rounds))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
