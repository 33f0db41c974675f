"""Training as a background job: a request (what the Train page's form holds) -> task, data split, job.

The job consumes ``core.training.loop.Trainer.run`` in a thread; its events (``TrainEvent``) are what the
live view reads. Limits (steps, seconds, concurrent jobs) come from the ``JobManager``.
"""

from __future__ import annotations

import io
import os
import tempfile
import uuid
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from core.errors import JetInputError
from core.jobs.live_metrics import make_metrics_fn
from core.jobs.runner import Job, JobManager

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

    def to_dict(self) -> dict:
        return asdict(self)


def task_config(req: TrainRequest) -> dict:
    """The task config of the request's family (defaults from the family's own ``default_config``)."""
    if req.family in CLASSICAL:
        from core.diffusion.task import default_config

        return default_config(req.family, req.size, req.preset, req.schedule)
    if req.family == "quantum":
        from core.quantum.task import default_config

        q = dict(req.quantum)
        encoder = q.pop("encoder", "amplitude")
        size = int(q.pop("size", 8))
        return default_config(size=size, encoder=encoder, **q)
    raise JetInputError(f"model {req.family!r}: unknown; use seed-baseline, ddpm or quantum")


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


def start_training(
    manager: JobManager, owner: str, req: TrainRequest, x: torch.Tensor, y: torch.Tensor, data_name: str = ""
) -> Job:
    """Build the task and start its training loop as ``owner``'s background job (steps clamped to the limit)."""
    from core.training.loop import TrainConfig, Trainer, check_labels_for_task
    from core.training.registry import TASK_BUILDERS, build_task

    if req.family not in TASK_BUILDERS:
        raise JetInputError(
            f"model {req.family!r}: not available in this build (known: {', '.join(sorted(TASK_BUILDERS))})"
        )
    steps = manager.limits.clamp_steps(req.steps)
    if steps < 1:
        raise JetInputError(f"steps: must be at least 1, got {req.steps}")
    x_train, y_train, x_held, y_held = split_held_out(x, y, req.held_out, req.seed)
    cfg = TrainConfig(
        steps=steps,
        batch_size=req.batch_size,
        lr=req.lr,
        warmup=min(100, max(1, steps // 10)),
        seed=req.seed,
        device=req.device,
        log_every=1,
        metrics_every=req.metrics_every,
        preview_every=req.preview_every,
        preview_n=8,
        preview_steps=10,
        checkpoint_every=0,
    )
    cfg.check()
    torch.manual_seed(req.seed)
    task = build_task(task_config(req), x_train, y_train)
    check_labels_for_task(task, y, data_name or "embedded sample")  # refuse here, not inside the background job
    metrics_fn = make_metrics_fn(x_held, y_held, seed=req.seed) if req.metrics_every > 0 else None
    card = {
        "data": {"file": data_name or "embedded sample", "jets": int(len(y_train)), "size": int(x.shape[-1])},
        "trained_in": "dashboard",
        "request": req.to_dict(),
    }

    out_dir = RUNS_DIR / owner[:16] / f"{req.family}-{uuid.uuid4().hex[:8]}"

    def events(stop):
        trainer = Trainer(task, x_train, y_train, cfg, out_dir, metrics_fn, card)
        yield from trainer.run(stop)

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
