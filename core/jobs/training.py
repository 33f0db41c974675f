"""Training as a job: the page's request -> the command line that runs it, and the logged run of that command.

The dashboard never trains in its own process. ``train_argv`` turns the Train page's request into the
``python -m core train ...`` arguments; the job table (``core.jobs.runner``) spawns that command into a run
directory; ``run_logged`` (called by the ``train`` command) writes the run's events and status there, turns
SIGTERM / SIGINT into "save and exit" and enforces the time limit. So a page run and a command-line run are
the same code and leave the same run directory (``core.jobs.rundir``).
"""

from __future__ import annotations

import io
import os
import signal
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from core.errors import JetInputError
from core.jobs.rundir import FAILED, FINISHED, RUNNING, STOPPED, TIME_LIMIT, RunWriter, list_runs
from core.requests import TrainRequest

RUNS_DIR = Path(os.environ.get("JETLAB_RUNS_DIR", Path(tempfile.gettempdir()) / "jetlab-runs"))


def train_argv(req: TrainRequest, steps: int, time_limit: float | None = None, threads: int | None = None) -> list[str]:
    """The ``python -m core train`` arguments (without ``--out``) that run this request as a dashboard job.

    Steps are the server's clamp of the request; a periodic checkpoint (every steps/5, 10 to 500) makes a
    killed job resumable.
    """
    req.check()
    job = replace(
        req,
        steps=int(steps),
        out=None,
        resume=False,
        time_limit=time_limit or None,
        threads=threads or req.threads,
        checkpoint_every=max(10, min(500, int(steps) // 5)),
    )
    return ["train", *job.to_argv()]


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """While inside: SIGTERM and SIGINT set ``stop`` (the loop then saves and exits) instead of killing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    for s in previous:
        signal.signal(s, lambda *_: stop.set())
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _log_event(log: RunWriter, event) -> None:
    log.step = event.step
    log.event(
        "step",
        step=event.step,
        total=log.total,
        loss=event.loss,
        lr=event.lr,
        images_per_s=round(event.images_per_s, 2),
        epoch=round(event.epoch, 4),
        wall_time_s=round(event.wall_time_s, 3),
    )
    if event.metrics:
        log.event("metrics", step=event.step, metrics=event.metrics)
    if event.preview is not None:
        log.preview(event.step, event.preview, event.preview_labels)
    if event.checkpoint:
        log.event("checkpoint", step=event.step)


def run_logged(trainer, log: RunWriter, time_limit: float | None = None, progress: Callable | None = None) -> str:
    """Run ``trainer`` to its end, a stop signal or the time limit, logging every event; returns the state.

    A checkpoint is saved in every case (the loop saves when it stops); the status names the true reason.
    """
    stop, started, timed_out = threading.Event(), time.monotonic(), False
    log.total = trainer.cfg.steps
    trainer.on_phase = lambda name: log.event("phase", phase=name, step=trainer.step)
    log.status(RUNNING, "training")
    log.phase("training")
    try:
        with stop_on_signals(stop):
            for event in trainer.run(stop):
                _log_event(log, event)
                if progress is not None:
                    progress(event)
                if time_limit and not stop.is_set() and time.monotonic() - started > time_limit:
                    timed_out = True
                    stop.set()
    except BaseException as err:
        log.status(FAILED, f"failed at step {trainer.step:,}", error=f"{type(err).__name__}: {err}".splitlines()[0])
        raise
    if trainer.step >= trainer.cfg.steps:
        state, message = FINISHED, f"finished: {trainer.step:,} steps"
    elif timed_out:
        state, message = TIME_LIMIT, f"time limit reached at step {trainer.step:,} ({time_limit:g} s)"
    else:
        state, message = STOPPED, f"stopped at step {trainer.step:,}"
    log.phase(state)
    log.status(state, message)
    return state


def directory_zip(path: str | os.PathLike) -> bytes:
    """A checkpoint directory as zip bytes (for the download button); the run's logs stay out."""
    root = Path(path)
    if not root.is_dir():
        raise JetInputError(f"{root}: no checkpoint directory to download")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(root.iterdir()):
            if file.is_file() and not file.name.startswith("."):
                zf.write(file, arcname=f"{root.name}/{file.name}")
    return buf.getvalue()


def runs_dir() -> Path:
    """The runs folder (JETLAB_RUNS_DIR; read at call time so tests can point it elsewhere)."""
    return RUNS_DIR


def session_runs(owner: str | None = None, folder: str | os.PathLike | None = None) -> list[Path]:
    """Run directories with a checkpoint, newest first: every run in the runs folder, or one owner's.

    In hosted mode (JETLAB_HOSTED=1) pages pass the visitor's id so nobody sees another visitor's runs.
    """
    from core.hosting import hosted

    runs = list_runs(folder or RUNS_DIR, kind="train", owner=owner if hosted() else None)
    return [r.path for r in runs if r.has_checkpoint]
