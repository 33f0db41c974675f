"""Does the dashboard train as fast as the command line, and stay responsive while it does?

    python -m benchmarks.bench_dashboard [--quick] [--steps 300] [--two-steps 200] [--visits 12]

One process, one machine, one request (tiny U-Net, 32 x 32, batch 32, metrics off, the job table's torch
thread count for both), measured as:
  (a) ``python -m core train`` alone, the server idle;
  (b) the same request through the dashboard's job path: visitor A starts it on the Train page and watches
      the live view (it reruns once a second), while visitor B keeps switching pages;
  (c) two such jobs at once (visitors A1, A2) while visitor C keeps switching pages.
Images/s come from each run's event log (images over the wall-clock time from the first to the last step).
Page rerun time is a sidebar click until the new page has finished its script run (Playwright, Debian's
Chromium at /usr/bin/chromium or $JETLAB_CHROMIUM). The server's RSS (its own process; the jobs are
children and not counted) is sampled before, during and after. Ends with ``throughput ratio dashboard/cli: X``.

The CLI run (a) starts as a job does (``core.jobs.runner.spawn_job_process``: the jobs' niceness, a session of
its own; alone on the machine, its session group stays at 0 as the job table leaves a lone job's), so (a) and (b)
differ only by the dashboard. The visitors' Chromium shares the 2 cores with the server and the jobs (in use it
runs on the visitors' own machines), so on a small machine (b) also measures the browsers' load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

from benchmarks.processes import cpu_seconds
from core.jobs.rundir import read_events, read_status
from core.jobs.runner import cpu_cores, spawn_job_process
from core.jobs.training import train_argv
from core.requests import TrainRequest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("JETLAB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
VISIT = ["Jets", "Train", "Generate"]
WARMUP_STEPS = 5


class CpuMeter:
    """Cores used over one phase by the server (its own process: jobs are its children and not counted) and
    by the browsers (the Playwright driver and Chromium: every other process this bench started). Tells
    where a slow page rerun's time went."""

    def __init__(self, server_pid: int) -> None:
        self.server = psutil.Process(server_pid)
        self.t0, self.s0, self.b0 = time.monotonic(), cpu_seconds([self.server]), self._browsers()

    def _browsers(self) -> float:
        jobs = {q.pid for q in self.server.children(recursive=True)} | {self.server.pid}
        return cpu_seconds([q for q in psutil.Process().children(recursive=True) if q.pid not in jobs])

    def cores(self) -> tuple[float, float]:
        wall = max(1e-9, time.monotonic() - self.t0)
        return (cpu_seconds([self.server]) - self.s0) / wall, (self._browsers() - self.b0) / wall


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(runs: Path, port: int) -> subprocess.Popen:
    env = dict(
        os.environ,
        JETLAB_RUNS_DIR=str(runs),
        JETLAB_MAX_JOBS="2",
        JETLAB_MAX_STEPS="0",
        JETLAB_MAX_SECONDS="0",
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    log = open(runs.parent / "streamlit.log", "w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("streamlit did not start")


def rss_mb(proc: subprocess.Popen) -> float:
    return psutil.Process(proc.pid).memory_info().rss / 2**20


class RssSampler(threading.Thread):
    """The server's peak RSS while a phase runs."""

    def __init__(self, proc: subprocess.Popen) -> None:
        super().__init__(daemon=True)
        self.proc, self.peak, self.done = proc, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, rss_mb(self.proc))
            time.sleep(0.5)


def settle(page, timeout_ms: int = 180_000) -> None:
    page.wait_for_function(
        "() => { const a = document.querySelector('[data-testid=stApp]');"
        " return a && a.getAttribute('data-test-script-state') === 'notRunning'; }",
        timeout=timeout_ms,
    )


PER_PAGE: dict[str, list[float]] = {}  # phase/page -> rerun times, for the breakdown line


def visit(page, title: str) -> float:
    """Click ``title`` in the sidebar; seconds until that page's script run has finished."""
    t0 = time.perf_counter()
    link = page.locator("[data-testid='stSidebarNavLink']").filter(has_text=re.compile(re.escape(title) + "$"))
    link.first.click()
    page.wait_for_function(
        "(t) => { const h = document.querySelector('h1'); const a = document.querySelector('[data-testid=stApp]');"
        " return h && h.innerText.trim().startsWith(t) && a.getAttribute('data-test-script-state') === 'notRunning'; }",
        arg=title,
        timeout=180_000,
    )
    seconds = time.perf_counter() - t0
    PER_PAGE.setdefault(f"{PHASE[0]}/{title}", []).append(seconds)
    return seconds


def open_visitor(browser, url: str, path: str = ""):
    page = browser.new_context(viewport={"width": 1400, "height": 1800}).new_page()
    page.set_default_timeout(180_000)  # a loaded 2-core machine is slow to serve a page
    page.goto(f"{url}/{path}", wait_until="domcontentloaded", timeout=180_000)
    page.wait_for_selector("h1", timeout=180_000)
    settle(page)
    return page


def start_training(page, steps: int) -> None:
    """Fill the Train page's form as a visitor does: U-Net DDPM, tiny, 32 x 32, batch 32, metrics off."""
    page.locator("[data-testid='stSelectbox']").filter(has_text="Model").first.click()
    page.get_by_role("option").filter(has_text=re.compile("^U-Net DDPM")).first.click()
    settle(page)
    form = page.locator("[data-testid='stForm']")
    for label, value in (("Training steps", steps), ("Batch size", 32), ("Jets used", 2000), ("Metrics and", 0)):
        box = form.get_by_role("spinbutton", name=re.compile(label))
        box.fill(str(value))
        box.press("Tab")
    form.get_by_role("button", name=re.compile("Start training")).click()
    page.wait_for_selector("[data-testid='stProgress']", timeout=180_000)


def run_rate(run_dir: Path, batch: int = 32) -> dict:
    """Images/s over the wall clock of the training steps (after a short warm-up), and the loop's own figure."""
    steps = [e for e in read_events(run_dir) if e["type"] == "step"]
    first = read_events(run_dir)[0]["t"]
    a, b = steps[WARMUP_STEPS], steps[-1]
    wall = (b["step"] - a["step"]) * batch / max(1e-9, b["t"] - a["t"])
    loop = (b["step"] - a["step"]) * batch / max(1e-9, b["wall_time_s"] - a["wall_time_s"])
    return {"images_per_s": wall, "loop_images_per_s": loop, "start_s": steps[0]["t"] - first, "steps": b["step"]}


def wait_run(runs: Path, known: set[str], timeout: float = 1800) -> Path:
    """The newest train run that was not there before, once its process has ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [p for p in runs.iterdir() if p.name not in known and p.name.startswith("ddpm-")]
        if new and all(read_status(p).state not in ("running",) for p in new):
            return max(new, key=lambda p: p.stat().st_mtime)
        time.sleep(1.0)
    raise TimeoutError("the dashboard run did not end")


def wait_runs(runs: Path, known: set[str], n: int, timeout: float = 1800) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = [p for p in runs.iterdir() if p.name not in known and p.name.startswith("ddpm-")]
        if len(new) >= n and all(read_status(p).state != "running" for p in new):
            return sorted(new)
        time.sleep(1.0)
    raise TimeoutError("the dashboard runs did not end")


PHASE = ["warm-up"]  # which phase the visits belong to (for the per-page breakdown)
PAUSE = [1.0]  # seconds a visitor looks at a page before the next click (--pause)


def visit_while(page, busy, times: list[float]) -> None:
    """Visitor keeps switching pages while ``busy()`` holds (at least one full round), ``PAUSE`` s apart."""
    i = 0
    while busy() or i < len(VISIT):
        times.append(visit(page, VISIT[i % len(VISIT)]))
        i += 1
        time.sleep(PAUSE[0])


def stats(times: list[float]) -> str:
    if not times:
        return "n/a"
    q = statistics.quantiles(times, n=20, method="inclusive") if len(times) >= 2 else [times[0]] * 19
    return f"median {statistics.median(times):.2f} s, p95 {q[18]:.2f} s (n={len(times)})"


def p95(times: list[float]) -> float:
    # inclusive: numpy's percentile, never beyond the slowest visit seen (the default extrapolates past it for
    # the few idle visits, which inflated the idle p95)
    return statistics.quantiles(times, n=20, method="inclusive")[18] if len(times) >= 2 else times[0]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer steps and visits (under 10 minutes on 2 cores)")
    p.add_argument("--steps", type=int, default=400, help="steps of the single-job runs (a) and (b)")
    p.add_argument("--two-steps", type=int, default=250, help="steps of each of the two concurrent jobs (c)")
    p.add_argument("--visits", type=int, default=15, help="idle page visits")
    p.add_argument("--pause", type=float, default=1.0, help="seconds between a visitor's page switches (0: none)")
    args = p.parse_args()
    PAUSE[0] = args.pause
    if args.quick:
        args.steps, args.two_steps, args.visits = 150, 80, 15
    if not Path(CHROMIUM).exists():
        sys.exit(f"no Chromium at {CHROMIUM}: apt-get install -y --no-install-recommends chromium")
    from playwright.sync_api import sync_playwright

    t_start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="jetlab-bench-"))
    runs = work / "runs"
    runs.mkdir()
    threads = max(1, cpu_cores() // 2)  # what the job table gives each job with JETLAB_MAX_JOBS=2
    print(f"# bench_dashboard: {cpu_cores()} cores, load average {os.getloadavg()[0]:.2f} at start")
    print(f"# request: U-Net DDPM tiny, 32 x 32, batch 32, metrics off, {threads} torch thread(s) per job")
    print(f"# visitors switch pages every {args.pause:g} s after each page has finished loading")
    port = _free_port()
    server = start_server(runs, port)
    url = f"http://127.0.0.1:{port}"
    out: dict = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            out = measure(browser, url, server, runs, work, threads, args)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
    report(out, args, time.monotonic() - t_start)
    shutil.rmtree(work, ignore_errors=True)


def measure(browser, url, server, runs: Path, work: Path, threads: int, args) -> dict:
    b = open_visitor(browser, url)
    for title in VISIT:  # warm the caches once, as any visitor would have
        visit(b, title)
    out = {"rss_before": rss_mb(server)}
    idle: list[float] = []
    meter = CpuMeter(server.pid)
    PHASE[0] = "idle"
    for i in range(args.visits):
        idle.append(visit(b, VISIT[i % len(VISIT)]))
        time.sleep(PAUSE[0])
    out["idle"], out["cpu_idle"] = idle, meter.cores()

    # (a) the command line alone
    # The page's request: its defaults (TrainRequest's, 2000 jets) with metrics off and the steps of this bench.
    req = TrainRequest(family="ddpm", preset="tiny", size=32, batch_size=32, max_jets=2000, device="cpu")
    cli_dir = work / "cli-run"
    cmd = [sys.executable, "-m", "core", *train_argv(req, args.steps, threads=threads), "--out", str(cli_dir)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    cli = spawn_job_process(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if cli.wait() != 0:
        raise RuntimeError(f"the command-line run failed (exit {cli.returncode}): {' '.join(cmd)}")
    out["cli"] = run_rate(cli_dir)
    out["load_a"] = os.getloadavg()[0]

    # (b) one job through the dashboard: A watches the live view, B keeps switching pages
    known = {p.name for p in runs.iterdir()}
    a = open_visitor(browser, url, "train")
    sampler = RssSampler(server)
    sampler.start()
    start_training(a, args.steps)
    one: list[float] = []
    meter, PHASE[0] = CpuMeter(server.pid), "one job"
    visit_while(b, lambda: any(read_status(p).running for p in runs.iterdir() if p.name not in known), one)
    run_b = wait_run(runs, known)
    out["dash"], out["one"], out["load_b"] = run_rate(run_b), one, os.getloadavg()[0]
    out["cpu_one"] = meter.cores()
    a.context.close()

    # (c) two jobs at once, a third visitor switching pages
    known = {p.name for p in runs.iterdir()}
    a1, a2 = open_visitor(browser, url, "train"), open_visitor(browser, url, "train")
    c = open_visitor(browser, url)
    start_training(a1, args.two_steps)
    start_training(a2, args.two_steps)
    two: list[float] = []
    meter, PHASE[0] = CpuMeter(server.pid), "two jobs"
    visit_while(c, lambda: any(read_status(p).running for p in runs.iterdir() if p.name not in known), two)
    out["two_runs"] = [run_rate(p) for p in wait_runs(runs, known, 2)]
    out["two"], out["load_c"] = two, os.getloadavg()[0]
    out["cpu_two"] = meter.cores()
    sampler.done.set()
    out["rss_peak"] = sampler.peak
    for page in (a1, a2, c, b):
        page.context.close()
    time.sleep(10)  # sessions closed, jobs reaped
    out["rss_after"] = rss_mb(server)
    out["cli_dir"] = str(cli_dir)
    return out


def report(out: dict, args, elapsed: float) -> None:
    cli, dash = out["cli"], out["dash"]
    print(
        f"(a) CLI alone:                 {cli['images_per_s']:7.1f} images/s  (loop {cli['loop_images_per_s']:.1f};"
        f" first step after {cli['start_s']:.1f} s; load {out['load_a']:.2f})"
    )
    print(
        f"(b) dashboard job, 2 visitors: {dash['images_per_s']:7.1f} images/s  (loop {dash['loop_images_per_s']:.1f};"
        f" first step after {dash['start_s']:.1f} s; load {out['load_b']:.2f})"
    )
    for i, r in enumerate(out["two_runs"]):
        print(
            f"(c) two jobs, job {i + 1}:            {r['images_per_s']:7.1f} images/s  (loop {r['loop_images_per_s']:.1f})"
        )
    for name, key in (("idle", "idle"), ("one job", "one"), ("two jobs", "two")):
        server, browsers = out[f"cpu_{key}"]
        print(
            f"page rerun, {name + ':':<19}{stats(out[key])}; cores used: server {server:.2f}, browsers {browsers:.2f}"
        )
    for phase in ("idle", "two jobs"):
        parts = [
            f"{t} {statistics.median(PER_PAGE[f'{phase}/{t}']):.2f}/{max(PER_PAGE[f'{phase}/{t}']):.2f}" for t in VISIT
        ]
        print(f"  by page, {phase} (median/max s): {', '.join(parts)}")
    print(f"p95 two jobs / idle:           {p95(out['two']) / p95(out['idle']):.2f}  (goal <= 1.5)")
    print(
        f"server RSS: before {out['rss_before']:.0f} MB, peak during {out['rss_peak']:.0f} MB, "
        f"after {out['rss_after']:.0f} MB (after - before {out['rss_after'] - out['rss_before']:+.0f} MB, goal <= 100)"
    )
    print(
        f"steps: {args.steps} per single job, {args.two_steps} per job of two; bench wall time {elapsed:.0f} s;"
        f" load average {os.getloadavg()[0]:.2f} at end"
    )
    print(json.dumps({"cli": cli, "dashboard": dash}, default=float) if os.environ.get("BENCH_JSON") else "", end="")
    print(f"throughput ratio dashboard/cli: {dash['images_per_s'] / cli['images_per_s']:.2f}")


if __name__ == "__main__":
    main()
