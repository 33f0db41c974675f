"""Training as a background job: a ``core.requests.TrainRequest`` (what the Train page's form holds) -> job.

The job consumes ``core.training.loop.Trainer.run`` in a thread; its events (``TrainEvent``) are what the
live view reads. Limits (steps, seconds, concurrent jobs) come from the ``JobManager``.
"""

from __future__ import annotations

import io
import os
import tempfile
import uuid
import zipfile
from dataclasses import replace
from pathlib import Path

import torch

from core.errors import JetInputError
from core.jobs.runner import Job, JobManager
from core.requests import TrainRequest

RUNS_DIR = Path(os.environ.get("JETLAB_RUNS_DIR", Path(tempfile.gettempdir()) / "jetlab-runs"))


def start_training(
    manager: JobManager, owner: str, req: TrainRequest, x: torch.Tensor, y: torch.Tensor, data_name: str = ""
) -> Job:
    """Build the task and start its training loop as ``owner``'s background job (steps clamped to the limit)."""
    from core.training.prepare import prepare_training

    req.check()
    steps = manager.limits.clamp_steps(req.steps)
    cfg = replace(req.train_config(), steps=steps, preview_n=8, preview_steps=10, checkpoint_every=0)
    cfg.check()
    # Refuses unlabelled jets for a conditional model here, not inside the background job.
    prepared = prepare_training(req, x, y, data_name or "embedded sample", config=cfg)
    prepared.card["trained_in"] = "dashboard"
    out_dir = RUNS_DIR / owner[:16] / f"{req.family}-{uuid.uuid4().hex[:8]}"

    def events(stop):
        yield from prepared.trainer(out_dir).run(stop)

    meta = {"run_dir": str(out_dir), "total_steps": steps, "requested_steps": int(req.steps), "request": req.to_dict()}
    return manager.start(owner, "train", events, meta=meta)


def directory_zip(path: str | os.PathLike) -> bytes:
    """A checkpoint directory as zip bytes (for the download button)."""
    root = Path(path)
    if not root.is_dir():
        raise JetInputError(f"{root}: no checkpoint directory to download")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(root.iterdir()):
            if file.is_file() and not file.name.startswith("."):
                zf.write(file, arcname=f"{root.name}/{file.name}")
    return buf.getvalue()


def session_runs(owner: str) -> list[Path]:
    """Checkpoint directories this session trained, newest first."""
    base = RUNS_DIR / owner[:16]
    if not base.is_dir():
        return []
    runs = [p for p in base.iterdir() if p.is_dir() and (p / "config.json").exists()]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)
