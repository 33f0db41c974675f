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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from core.errors import JetInputError
from core.jobs.rundir import FAILED, FINISHED, RUNNING, STOPPED, TIME_LIMIT, RunWriter, list_runs

CLASSICAL = ("seed-baseline", "ddpm")
RUNS_DIR = Path(os.environ.get("JETLAB_RUNS_DIR", Path(tempfile.gettempdir()) / "jetlab-runs"))


@dataclass
class TrainRequest:
    """Everything the Train page asks for; ``quantum`` holds the hybrid model's fields (encoder, layers, ...)."""

    family: str = "seed-baseline"
    size: int = 32
    steps: int = 200
    batch_size: int = 32
    lr: float = 5e-4
    preset: str = "tiny"
    schedule: str = "linear"
    quantum: dict = field(default_factory=dict)
    metrics_every: int = 50
    preview_every: int = 50
    held_out: float = 0.1
    seed: int = 0
    device: str = "auto"
    max_jets: int | None = 2000
    data: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _quantum_argv(q: dict) -> list[str]:
    from core.quantum.task import data_qubits

    encoder, size = q.get("encoder", "amplitude"), int(q.get("size", 8))
    out = ["--encoder", encoder, "--size", str(size)]
    if q.get("layout"):
        out += ["--qubits", str(data_qubits(encoder, size, q["layout"]))]
    flags = {"layers": "--layers", "channel": "--channel", "steps": "--diffusion-steps", "ancillas": "--ancillas"}
    for key, flag in flags.items():
        if key in q:
            out += [flag, str(q[key])]
    return out


def train_argv(req: TrainRequest, steps: int, time_limit: float | None = None, threads: int | None = None) -> list[str]:
    """The ``python -m core train`` arguments (without ``--out``) that run this request."""
    if req.family not in (*CLASSICAL, "quantum"):
        raise JetInputError(f"model {req.family!r}: unknown; use seed-baseline, ddpm or quantum")
    argv = ["train", "--model", req.family, "--steps", str(int(steps)), "--batch", str(req.batch_size)]
    argv += ["--lr", f"{req.lr:g}", "--warmup", str(min(100, max(1, steps // 10))), "--seed", str(req.seed)]
    argv += ["--device", req.device, "--metrics-every", str(req.metrics_every)]
    argv += ["--preview-every", str(req.preview_every), "--held-out", f"{req.held_out:g}"]
    argv += ["--checkpoint-every", str(max(10, min(500, steps // 5)))]  # a killed job resumes from here
    if req.family in CLASSICAL:
        argv += ["--size", str(req.size), "--preset", req.preset, "--schedule", req.schedule]
        argv += ["--prediction", "v" if req.family == "ddpm" else "eps"]
    else:
        argv += _quantum_argv(req.quantum)
    if req.data:
        argv += ["--data", str(req.data)]
    if req.max_jets:
        argv += ["--max-jets", str(int(req.max_jets))]
    if time_limit:
        argv += ["--time-limit", f"{time_limit:g}"]
    if threads:
        argv += ["--threads", str(int(threads))]
    return argv


def split_held_out(
    x: torch.Tensor, y: torch.Tensor, fraction: float, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A seeded split into training and held-out jets (held-out: at least 2, at most ``fraction``)."""
    n = len(x)
    n_held = min(max(24, int(round(n * fraction))), n // 2)
    if n_held < 2 or n - n_held < 1:
        raise JetInputError(f"training data: {n} jets are too few to hold {n_held} out")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed)))
    held, train = perm[:n_held], perm[n_held:]
    return x[train], y[train], x[held], y[held]


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


def hosted() -> bool:
    """Hosted mode (JETLAB_HOSTED=1): a visitor sees only their own runs."""
    return os.environ.get("JETLAB_HOSTED", "") == "1"


def session_runs(owner: str | None = None, folder: str | os.PathLike | None = None) -> list[Path]:
    """Run directories with a checkpoint, newest first: every run in the runs folder, or one owner's.

    In hosted mode (JETLAB_HOSTED=1) pages pass the visitor's id so nobody sees another visitor's runs.
    """
    runs = list_runs(folder or RUNS_DIR, kind="train", owner=owner if hosted() else None)
    return [r.path for r in runs if r.has_checkpoint]
