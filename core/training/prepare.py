"""From a ``TrainRequest`` and loaded jets to a ``Trainer``: the one path the CLI and the dashboard share.

``prepare_training`` builds the task (or takes the resumed one), holds jets out for the live metrics when the
request asks for metrics (and picks training jets to stand in for the model in their real-vs-real values), and writes the model-card fields (data set, the re-create command, the request).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from core.data.layout import QUARK, UNLABELLED
from core.errors import JetInputError
from core.requests import TrainRequest
from core.training.checkpoint import Checkpoint
from core.training.loop import MetricsFn, TrainConfig, Trainer, check_labels_for_task
from core.training.registry import build_task
from core.training.task import Task


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


@dataclass
class Prepared:
    """What a ``Trainer`` is built from."""

    task: Task
    x: torch.Tensor
    y: torch.Tensor
    config: TrainConfig
    metrics_fn: MetricsFn | None
    card: dict

    def trainer(self, out_dir: str | Path | None, inference_only: bool = False) -> Trainer:
        return Trainer(self.task, self.x, self.y, self.config, out_dir, self.metrics_fn, self.card, inference_only)


def data_card(y: torch.Tensor, data_name: str, size: int) -> dict:
    """The model card's data section: file, jet counts, image size."""
    return {
        "file": data_name,
        "jets": int(len(y)),
        "quark": int((y == QUARK).sum()),
        **({"unlabelled": int((y == UNLABELLED).sum())} if (y == UNLABELLED).any() else {}),
        "size": int(size),
    }


def prepare_training(
    req: TrainRequest,
    x: torch.Tensor,
    y: torch.Tensor,
    data_name: str,
    resumed: Checkpoint | None = None,
    config: TrainConfig | None = None,
    on_phase=None,
) -> Prepared:
    """Task, training jets, metrics function and card of a request; ``resumed`` continues that checkpoint.

    ``on_phase(name)`` hears what the metrics are computing (a run log shows it)."""
    cfg = config or req.train_config()
    metrics_fn = None
    if cfg.metrics_every > 0:
        from core.metrics.live import make_metrics_fn

        x, y, x_held, y_held = split_held_out(x, y, req.held_out, req.seed)
        stand_in = torch.randperm(len(x), generator=torch.Generator().manual_seed(int(req.seed) + 1))[:64]
        metrics_fn = make_metrics_fn(x_held, y_held, seed=req.seed, on_phase=on_phase, x_real=x[stand_in])
    if resumed is not None:
        if resumed.task.family != req.family:
            raise JetInputError(f"{resumed.path}: holds a {resumed.task.family!r} model, not {req.family!r}")
        task = resumed.task
    else:
        torch.manual_seed(req.seed)
        task = build_task(req.task_config(), x, y)
    check_labels_for_task(task, y, data_name)  # names the file, before any step runs
    card = {
        "data": data_card(y, data_name, x.shape[-1]),
        "command": req.command(),
        "request": req.to_dict(),
    }
    return Prepared(task, x, y, cfg, metrics_fn, card)
