"""What every job worker module shares: read the run's request, do the work with Stop as a signal, record the end.

A worker is ``python -m core.jobs.<name> --out RUN_DIR [--threads N]``, spawned by the job table
(``core.jobs.runner``) after it wrote ``RUN_DIR/request.json``. SIGTERM / SIGINT set a stop flag the work
checks between its pieces (the run then ends "stopped"); an error ends it "failed" with one line.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from core.jobs.rundir import REQUEST, RunWriter, mark_ended

# The work: (the request's body, the run's writer, the stop flag) -> (final state, status message).
Work = Callable[[dict, RunWriter, threading.Event], tuple[str, str]]


def run_worker(prog: str, kind: str, work: Work, argv: list[str] | None = None) -> int:
    """Parse ``--out`` / ``--threads``, run ``work`` on the run's request and write its final status."""
    import torch

    from core.jobs.training import stop_on_signals

    p = argparse.ArgumentParser(prog=prog)
    p.add_argument("--out", required=True, help="the run directory (holds request.json)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (the job table's share of the cores)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    run_dir = Path(args.out)
    log = RunWriter(run_dir, kind)
    stop = threading.Event()
    try:
        body = json.loads((run_dir / REQUEST).read_text()).get("request") or {}
        with stop_on_signals(stop):
            state, message = work(body, log, stop)
    except BaseException as err:  # noqa: BLE001 - recorded as the run's end, then the worker exits 2
        mark_ended(run_dir, err)
        print(f"error: {err}", file=sys.stderr)
        return 2
    log.phase(state)
    log.status(state, message)
    return 0
