"""Dashboard speed and memory as a visitor sees them: Chromium (Debian's, through Playwright) against
`streamlit run app.py` started here.

Measures, in one run (print the load average beside them; the machine is shared):
- server start: process start to /_stcore/health answering;
- first visitor: the Jets page from the request to "settled" (script run finished, every plot on view drawn
  visibly, at its width, with its traces),
  and the same counted from the server's process start;
- later visits: every page reached through the sidebar, and every page opened by URL in a new tab (a new
  session) of the same browser;
- widget changes that recompute from cached data (Jets: next jet, colour scale; Quantum lab: encoder back to
  one already seen; Forward noising: quantum channel back to one already seen);
- server RSS (with children) after one visitor has been on every page and the jobs its pages started (the
  Runs page samples each run's final weights in a job) have ended, the jobs' peak RSS beside it, and the RSS
  per extra idle visitor on Jets;
- requests to any host but the app's own (blocked and listed; there must be none).

    python -m benchmarks.bench_pages [--launcher serve|serve-full-plotly|plain] [--profile fresh|persistent] [--extra-visitors 4]
        [--json out.json]

Goals (issue 15): first Jets page <= 4 s, later visits <= 2 s, cached widget change <= 1 s,
RSS <= 700 MB with one visitor on every page, <= 50 MB per extra idle visitor.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from benchmarks.processes import cpu_seconds
from core.atomic import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("JETLAB_CHROMIUM", "/usr/bin/chromium")
# Every request off this machine's loopback goes to a proxy that refuses it (Chromium never proxies loopback):
# a request to another host fails at once, and ``watched`` lists it.
OFFLINE_ARGS = ["--proxy-server=http://127.0.0.1:9"]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    *OFFLINE_ARGS,
]
# A returning visitor's browser has the app's files in its HTTP cache. Playwright turns that cache off in a
# context with a request route, so requests are watched, not routed, unless this is False (``--http-cache off``:
# how the by-URL rows were measured before 7 December, every file fetched again by each new tab).
HTTP_CACHE = True
PAGES = ["", "noising", "train", "generate", "compare", "quantum_lab", "runs"]
TITLES = {
    "": "Jets",
    "noising": "Forward noising",
    "train": "Train",
    "generate": "Generate",
    "compare": "Compare",
    "quantum_lab": "Quantum lab",
    "runs": "Runs",
}
LOCAL_HOSTS = ("127.0.0.1", "localhost")
ACTION_TIMEOUT_S = 20  # a click or a selector that finds nothing in this time is a failed step, reported
SETTLE_TIMEOUT_S = 90  # a page that does not settle in this time is a failed measurement, reported

# Counts finished script runs in the page: a run is over when stApp's script state turns 'notRunning'.
RUN_COUNTER = """
window.__runs = 0;
new MutationObserver((records) => {
  for (const r of records) {
    if (r.target.getAttribute('data-test-script-state') === 'notRunning') window.__runs += 1;
  }
}).observe(document, {attributes: true, subtree: true, attributeFilter: ['data-test-script-state']});
"""
SETTLED = """(n0) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning' || window.__runs <= n0) return false;
  if (document.querySelector('[data-testid="stSpinner"], [data-testid="stSkeleton"]')) return false;
  // Every chart on view (not in a closed expander or tab) drawn as the visitor sees it: shown (Streamlit keeps a
  // chart hidden until it knows the column's width, and plotly.js may have drawn it hidden), at that width, with
  // its traces; a chart whose plotly.js is still loading is a skeleton, above.
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')].filter((c) => c.offsetParent);
  return charts.every((c) => {
    const g = c.querySelector('.js-plotly-plot');
    return g && g.querySelector('.main-svg') && g.style.visibility !== 'hidden' && g._fullLayout && g.layout &&
      g.layout.width !== undefined && Math.abs(g._fullLayout.width - g.layout.width) < 1 && g._fullData.length > 0;
  });
}"""


PAGE_STATE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  return {script: app && app.getAttribute('data-test-script-state'), runs: window.__runs,
          spinners: document.querySelectorAll('[data-testid="stSpinner"], [data-testid="stSkeleton"]').length,
          plots: plots.length, drawn: plots.filter((p) => p.querySelector('.main-svg')).length};
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20


def _wait_for_jobs(pid: int, timeout: float = 180.0) -> float:
    """Wait until the server's job processes (its children: e.g. the Runs page's sampling job) have ended, so
    the later visits measure the server, not a job beside it; returns the jobs' peak RSS in MB seen meanwhile."""
    import psutil

    server, peak = psutil.Process(pid), 0.0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = [p for p in server.children(recursive=True) if p.is_running()]
        if not jobs:
            break
        try:
            peak = max(peak, sum(p.memory_info().rss for p in jobs) / 2**20)
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.5)
    return peak


class CpuMeter:
    """CPU seconds of the server (with its children). On a loaded machine wall times stretch; the server's CPU
    seconds stay near a quiet machine's cost. (The browser's are not counted: Chromium's renderer processes come
    and go with the tabs, so a sum over them is not a measurement.)"""

    def __init__(self, server_pid: int):
        import psutil

        self.server = psutil.Process(server_pid)

    def now(self) -> tuple[float, float]:
        return cpu_seconds([self.server, *self.server.children(recursive=True)]), 0.0


def start_server(port: int, runs_dir: Path, launcher: str) -> tuple[subprocess.Popen, float, float]:
    """Start the app (``serve``: scripts/serve.py, imports warmed first, the partial plotly.js; ``serve-full-plotly``:
    the same with Streamlit's full plotly.js; ``plain``: ``streamlit run app.py``); returns the process, its start
    time (monotonic) and the seconds until /health answers."""
    env = dict(os.environ, JETLAB_RUNS_DIR=str(runs_dir), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    if launcher == "serve-full-plotly":
        env["JETLAB_PLOTLY"] = "full"
    served = launcher.startswith("serve")
    cmd = [sys.executable, "scripts/serve.py"] if served else [sys.executable, "-m", "streamlit", "run", "app.py"]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true"]
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    while time.monotonic() - t0 < 120:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.read().strip() == b"ok":
                    return proc, t0, time.monotonic() - t0
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise TimeoutError("the server did not answer /_stcore/health within 120 s")


VIEWPORT = {"width": 1400, "height": 1000}


def _off_host(url: str) -> bool:
    return not url.startswith(("data:", "blob:")) and (urlparse(url).hostname or "") not in LOCAL_HOSTS


def watched(context, blocked: list[str]):
    """A browser context that counts each tab's script runs and lists in ``blocked`` every request to a host but
    the app's own (the browser's ``OFFLINE_ARGS`` make them fail; with ``HTTP_CACHE`` off, a route aborts them)."""

    def seen(request) -> None:
        if _off_host(request.url):
            blocked.append(request.url)

    def route(route) -> None:
        if _off_host(route.request.url):
            route.abort()
        else:
            route.continue_()

    context.add_init_script(RUN_COUNTER)
    context.on("request", seen)
    if not HTTP_CACHE:
        context.route("**/*", route)
    return context


class Visitor:
    """One browser tab (its own Streamlit session) with every request off the app's host blocked and logged."""

    meter: CpuMeter | None = None  # set once the server runs

    def __init__(self, browser, base: str, blocked: list[str], context=None):
        """A new tab in ``context`` (a returning visitor: the browser's cache is warm), or in a fresh profile."""
        self.base = base
        self.cpu = (0.0, 0.0)  # server and browser CPU seconds of the last measured action
        self.blocked = blocked
        if context is None:
            context = watched(browser.new_context(viewport=VIEWPORT), blocked)
        self.context = context
        self.page = self.context.new_page()
        self.page.set_default_timeout(ACTION_TIMEOUT_S * 1000)  # a selector that misses fails, never hangs
        self.ws_bytes = 0  # bytes the server sent over the websocket (the script's deltas, figures included)
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._count))
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("Performance.enable")
        self.extra = {"ws_kB": 0.0, "browser_busy_s": 0.0}  # of the last measured action

    def _count(self, payload) -> None:
        self.ws_bytes += len(payload)

    def _busy(self) -> float:
        """Seconds this tab's renderer main thread has been busy (Chrome's TaskDuration: script, style, layout,
        paint); what the browser spends on a page, apart from waiting for the server."""
        metrics = self.cdp.send("Performance.getMetrics")["metrics"]
        return next((m["value"] for m in metrics if m["name"] == "TaskDuration"), 0.0)

    def runs(self) -> int:
        return int(self.page.evaluate("() => window.__runs || 0"))

    def wait_settled(self, n0: int, t0: float, timeout_s: float = SETTLE_TIMEOUT_S) -> float:
        self.page.wait_for_function(SETTLED, arg=n0, polling=100, timeout=timeout_s * 1000)
        wall = time.monotonic() - t0
        if self.meter is not None:
            s, b = self.meter.now()
            self.cpu = (s - self._cpu0[0], b - self._cpu0[1])
        self.extra = {"ws_kB": (self.ws_bytes - self._ws0) / 1e3, "browser_busy_s": self._busy() - self._busy0}
        return wall

    def _start(self) -> float:
        self._cpu0 = self.meter.now() if self.meter is not None else (0.0, 0.0)
        self._ws0, self._busy0 = self.ws_bytes, self._busy()
        return time.monotonic()

    def open(self, path: str) -> float:
        t0 = self._start()
        self.page.goto(f"{self.base}/{path}", wait_until="commit")
        return self.wait_settled(0, t0)

    def nav(self, title: str) -> float:
        n0 = self.runs()
        link = self.page.locator("[data-testid='stSidebarNavLink']").filter(has_text=title).first
        t0 = self._start()
        link.click()
        return self.wait_settled(n0, t0)

    def act(self, action) -> float:
        n0 = self.runs()
        t0 = self._start()
        action(self.page)
        return self.wait_settled(n0, t0)


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` as a user does: open its list with the arrow button,
    click the option (Streamlit's selectbox is a combo box: a click on its text field does not open the list)."""
    box = page.locator("[data-testid='stSelectbox']").filter(has=page.get_by_text(label, exact=True)).first
    box.scroll_into_view_if_needed()
    box.get_by_role("button", name="Open").click()
    page.get_by_role("option", name=option, exact=True).first.click()


def _m(v: Visitor, wall: float) -> dict:
    """A measurement: wall seconds, the CPU seconds the server spent meanwhile, the kB it sent over the websocket
    and the seconds the tab's main thread was busy."""
    return {"wall": wall, "server_cpu": v.cpu[0], **v.extra}


def _try(v: Visitor, action=None, measure=None) -> dict:
    """Measure one widget change (``action(page)``) or any step (``measure()`` returning wall seconds); one that
    fails (a selector that misses, a page that never settles within SETTLE_TIMEOUT_S) is recorded with its
    reason and the run goes on."""
    try:
        return _m(v, measure() if measure is not None else v.act(action))
    except Exception as err:
        reason = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
        try:  # what the page was waiting on: the script's state, finished runs, spinners, plots drawn
            reason += f"; page: {v.page.evaluate(PAGE_STATE)}"
        except Exception:  # a closed page: the reason alone
            pass
        print(f"  widget change failed: {reason}", file=sys.stderr, flush=True)
        v.page.keyboard.press("Escape")  # close a list left open
        return {"failed": reason}


def widget_changes(v: Visitor) -> dict[str, dict]:
    """Widget changes whose work is cached (the second visit of a choice), in seconds."""
    out: dict[str, dict] = {}
    v.open("")
    jet = v.page.get_by_text("Jet", exact=True)
    thumb = v.page.locator("[data-testid='stSlider']").filter(has=jet).first.get_by_role("slider")
    thumb.focus()
    out["Jets: next jet (slider)"] = _try(v, lambda p: p.keyboard.press("ArrowRight"))
    out["Jets: linear colour scale"] = _try(v, lambda p: p.get_by_text("linear", exact=True).first.click())
    print(f"  widget: {out}", file=sys.stderr, flush=True)
    _try(v, measure=lambda: v.nav(TITLES["quantum_lab"]))
    _try(v, lambda p: _choose(p, "Encoder", "angle"))
    out["Quantum lab: encoder back to amplitude (cached)"] = _try(v, lambda p: _choose(p, "Encoder", "amplitude"))
    out["Quantum lab: encoder to angle again (cached)"] = _try(v, lambda p: _choose(p, "Encoder", "angle"))
    _try(v, measure=lambda: v.nav(TITLES["noising"]))
    _try(v, lambda p: p.get_by_role("tab", name="Quantum: a noise channel").click())  # a lazy tab
    _try(v, lambda p: _choose(p, "Channel", "amplitude_damping"))  # the default is depolarizing
    out["Forward noising: quantum channel back (cached)"] = _try(v, lambda p: _choose(p, "Channel", "depolarizing"))
    return out


def _watchdog(seconds: float, proc: subprocess.Popen, res: dict) -> threading.Timer:
    """After ``seconds``, print what was measured, stop the server and end the benchmark: a step that hangs
    (a browser that never answers) is reported, and never keeps the machine busy."""

    def fire() -> None:
        print(f"bench_pages: stopped after {seconds:.0f} s; measured so far:", file=sys.stderr)
        print(json.dumps(res, indent=1, default=str), flush=True)
        os.killpg(proc.pid, signal.SIGKILL)
        os._exit(3)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    return timer


def run(extra_visitors: int, launcher: str = "serve", max_seconds: float = 900, profile: str = "fresh") -> dict:
    """One full tour. ``profile``: "fresh" (Playwright's default: an off-the-record profile, the in-memory cache
    only) or "persistent" (a profile on disk, as a visitor's everyday browser has, with its compiled-code cache)."""
    import tempfile

    from playwright.sync_api import sync_playwright

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    blocked: list[str] = []
    res: dict = {"load_average_start": os.getloadavg(), "launcher": launcher, "profile": profile}
    res["http_cache"] = "on" if HTTP_CACHE else "off"
    with tempfile.TemporaryDirectory() as runs_dir, tempfile.TemporaryDirectory() as profile_dir:
        proc, t_start, res["server_health_s"] = start_server(port, Path(runs_dir), launcher)
        watchdog = _watchdog(max_seconds, proc, res)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                Visitor.meter = CpuMeter(proc.pid)
                own = None
                if profile == "persistent":
                    own = p.chromium.launch_persistent_context(
                        profile_dir, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, viewport=VIEWPORT
                    )
                    watched(own, blocked)
                first = Visitor(browser, base, blocked, context=own)
                res["first_jets"] = _m(first, first.open(""))
                res["first_jets_since_process_start_s"] = time.monotonic() - t_start
                print(f"first Jets: {res['first_jets']}", file=sys.stderr, flush=True)
                res["nav"] = {TITLES[pg]: _try(first, measure=lambda pg=pg: first.nav(TITLES[pg])) for pg in PAGES[1:]}
                print(f"sidebar: {res['nav']}", file=sys.stderr, flush=True)
                res["jobs_peak_rss_mb"] = _wait_for_jobs(proc.pid)
                res["rss_one_visitor_every_page_mb"] = _rss_mb(proc.pid)
                later = {}
                for pg in PAGES:  # a returning visitor: a new tab (a new session) in the same browser
                    v = Visitor(browser, base, blocked, context=first.context)
                    later[TITLES[pg]] = _try(v, measure=lambda v=v, pg=pg: v.open(pg))
                    v.page.close()
                res["later_visit"] = later
                print(f"later: {later}", file=sys.stderr, flush=True)
                res["widget_change"] = widget_changes(first)
                before = _rss_mb(proc.pid)
                idle = [Visitor(browser, base, blocked) for _ in range(extra_visitors)]
                for v in idle:
                    _try(v, measure=lambda v=v: v.open(""))
                time.sleep(2)
                res["rss_before_idle_mb"] = before
                res["rss_after_idle_mb"] = _rss_mb(proc.pid)
                res["rss_per_idle_visitor_mb"] = (res["rss_after_idle_mb"] - before) / max(1, extra_visitors)
                if own is not None:
                    own.close()
                browser.close()
        finally:
            watchdog.cancel()
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    res["blocked_requests"] = sorted(set(blocked))
    res["load_average_end"] = os.getloadavg()
    return res


def _fmt(m: dict) -> str:
    if "failed" in m:
        return f"FAILED ({m['failed']})"
    text = f"{m['wall']:.1f} s (server CPU {m['server_cpu']:.2f} s"
    if "ws_kB" in m:
        text += f", browser busy {m['browser_busy_s']:.2f} s, {m['ws_kB']:,.0f} kB sent"
    return text + ")"


def report(res: dict) -> str:
    lines = [f"load average at start {res['load_average_start']}, at end {res['load_average_end']}"]
    lines.append(
        f"launcher: {res['launcher']}; browser profile: {res.get('profile', 'fresh')}; "
        f"HTTP cache for returning visitors: {res.get('http_cache', 'off')}; "
        f"process start -> /health: {res['server_health_s']:.1f} s"
    )
    lines.append(
        f"first visitor, Jets settled: {_fmt(res['first_jets'])} after the request "
        f"({res['first_jets_since_process_start_s']:.1f} s after the process started)   goal <= 4 s"
    )
    for name, key in (("through the sidebar", "nav"), ("later visitor, by URL", "later_visit")):
        lines.append(f"{name} (goal <= 2 s):")
        lines += [f"  {k}: {_fmt(v)}" for k, v in res[key].items()]
    lines.append("widget changes (goal <= 1 s):")
    lines += [f"  {k}: {_fmt(v)}" for k, v in res["widget_change"].items()]
    lines.append(
        f"server RSS, one visitor on every page: {res['rss_one_visitor_every_page_mb']:.0f} MB   goal <= 700"
        f" (after its jobs ended; the jobs' own processes peaked at {res.get('jobs_peak_rss_mb', 0):.0f} MB)"
    )
    lines.append(f"per extra idle visitor: {res['rss_per_idle_visitor_mb']:.1f} MB   goal <= 50")
    lines.append(f"requests to other hosts (blocked): {len(res['blocked_requests'])} {res['blocked_requests'][:6]}")
    return "\n".join(lines)


def chromium_missing() -> bool:
    """True (after saying how to install it) when there is no Chromium to drive."""
    if Path(CHROMIUM).exists():
        return False
    print(f"no Chromium at {CHROMIUM}: apt-get install --no-install-recommends chromium", file=sys.stderr)
    return True


def add_http_cache_option(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--http-cache",
        choices=["on", "off"],
        default="on",
        help="the browser's HTTP cache for returning visitors (off: every new tab fetches every file again, as "
        "Playwright does in a context with a request route)",
    )


def use_http_cache(choice: str) -> None:
    global HTTP_CACHE
    HTTP_CACHE = choice == "on"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extra-visitors", type=int, default=4)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--launcher", choices=["serve", "serve-full-plotly", "plain"], default="serve")
    ap.add_argument("--max-seconds", type=float, default=900, help="stop (and print what was measured) after this")
    ap.add_argument(
        "--profile",
        choices=["fresh", "persistent"],
        default="fresh",
        help="the first visitor's browser profile: Playwright's off-the-record one, or one on disk (an everyday "
        "browser's, with its compiled-code cache); extra idle visitors always get fresh ones",
    )
    add_http_cache_option(ap)
    args = ap.parse_args(argv)
    if chromium_missing():
        return 2
    use_http_cache(args.http_cache)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a killed benchmark still stops its server
    res = run(args.extra_visitors, args.launcher, args.max_seconds, args.profile)
    print(report(res))
    if args.json:
        write_text_atomic(args.json, json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
