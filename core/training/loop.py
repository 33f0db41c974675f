"""The one training loop: any ``Task`` in, a stream of ``TrainEvent`` out.

The loop never prints. The command line draws a progress bar from the events, the dashboard plots
them, the tests assert on them. Everything random is a function of (seed, step, rank): the data
order of step k is a slice of per-epoch permutations drawn from (seed, epoch), and the generator
handed to ``task.loss`` is re-seeded from (seed, step, rank) every step. So a run stopped after
step k and resumed from its checkpoint (weights, EMA, optimizer, step) gives exactly the losses and
weights of an uninterrupted run.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core.atomic import clean_leftovers
from core.errors import JetInputError
from core.training import distributed as D
from core.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from core.training.device import autocast, describe_device, resolve_device
from core.training.ema import ema_copy, ema_update
from core.training.task import Task

MetricsFn = Callable[[Task, nn.Module, int], dict]


@dataclass
class TrainConfig:
    """How to train (not what): saved in config.json beside the task's own config.

    ``batch_size`` is per process; under torchrun the global batch is batch_size x world size.
    """

    steps: int = 1000
    batch_size: int = 64
    lr: float = 2e-4
    warmup: int = 100
    lr_schedule: str = "constant"  # or "cosine" (to 10 % at ``steps``)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    seed: int = 0
    device: str = "auto"
    log_every: int = 1
    metrics_every: int = 0
    preview_every: int = 0
    preview_n: int = 8
    preview_steps: int = 10
    checkpoint_every: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def check(self) -> None:
        if self.steps < 0:
            raise JetInputError(f"steps: must be at least 0, got {self.steps}")
        if self.batch_size < 1:
            raise JetInputError(f"batch size: must be at least 1, got {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise JetInputError(f"learning rate: must be a positive finite number, got {self.lr}")
        if not 0 <= self.ema_decay <= 1:  # NaN fails too
            raise JetInputError(f"EMA decay: must be between 0 and 1, got {self.ema_decay}")
        for name in ("warmup", "checkpoint_every", "metrics_every", "preview_every"):
            if getattr(self, name) < 0:
                raise JetInputError(f"{name.replace('_', ' ')}: must be 0 or more, got {getattr(self, name)}")
        if not (self.grad_clip >= 0 and math.isfinite(self.grad_clip)):
            raise JetInputError(f"gradient clip: must be 0 or a positive number, got {self.grad_clip}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise JetInputError(f"lr schedule {self.lr_schedule!r}: use 'constant' or 'cosine'")


@dataclass
class TrainEvent:
    """One step of training. ``metrics`` / ``preview`` (GeV images) / ``checkpoint`` are set only at their intervals."""

    step: int
    loss: float
    lr: float
    images_per_s: float
    epoch: float
    wall_time_s: float
    metrics: dict | None = None
    preview: torch.Tensor | None = None
    preview_labels: torch.Tensor | None = None
    checkpoint: str | None = None
    done: bool = False
    stopped: bool = False
    extra: dict = field(default_factory=dict)


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then constant or cosine down to 10 %: a function of the step only (resume-safe)."""
    lr = cfg.lr * min(1.0, (step + 1) / max(1, cfg.warmup))
    if cfg.lr_schedule == "cosine" and cfg.steps > cfg.warmup:
        frac = min(1.0, max(0.0, (step - cfg.warmup) / (cfg.steps - cfg.warmup)))
        lr *= 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac))
    return lr


def _seed_for(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, dtype=np.uint64)[0] >> 1)


def batch_indices(step: int, n: int, global_batch: int, seed: int) -> torch.Tensor:
    """Indices of the global batch of ``step``: consecutive slices of one permutation per epoch."""
    start = step * global_batch
    out, pos = [], start
    while pos < start + global_batch:
        epoch, offset = divmod(pos, n)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(_seed_for(seed, epoch, 0xDA7A)))
        take = min(n - offset, start + global_batch - pos)
        out.append(perm[offset : offset + take])
        pos += take
    return torch.cat(out)


def check_labels_for_task(task: Task, y: torch.Tensor, source: str = "training data") -> None:
    """Refuse unlabelled jets (y = -1) for a class-conditional task: its label embedding has no such class.

    Unconditional tasks ignore labels, so unlabelled jets (e.g. unconditional samples) are fine for them.
    """
    from core.data.layout import UNLABELLED

    if not getattr(task, "conditional", False):
        return
    n_bad = int((torch.as_tensor(y) == UNLABELLED).sum())
    if n_bad:
        raise JetInputError(
            f"{source}: {n_bad} of {len(y)} jets have no label (y = -1); class-conditional training "
            f"({task.family}) needs quark/gluon labels: use a labelled file or an unconditional model (seed-baseline)"
        )


class Trainer:
    """Holds the state of one run (task, EMA, optimizer, step) and yields its events from ``run()``.

    ``x`` (N, 3, H, W) GeV images and ``y`` (N,) labels; ``task.prepare`` maps them once. ``out_dir``:
    checkpoints go there (rank 0). ``metrics_fn(task, ema_net, step) -> dict`` runs every
    ``metrics_every`` steps on rank 0 (core.metrics supplies one); ``card``: extra model-card fields
    (data set, re-create command). Under torchrun the model is wrapped in DistributedDataParallel.
    """

    def __init__(
        self,
        task: Task,
        x: torch.Tensor,
        y: torch.Tensor,
        config: TrainConfig,
        out_dir: str | os.PathLike | None = None,
        metrics_fn: MetricsFn | None = None,
        card: dict | None = None,
        inference_only_checkpoint: bool = False,
    ):
        config.check()
        if len(x) != len(y) or len(x) == 0:
            raise JetInputError(f"training data: {len(x)} images and {len(y)} labels (need the same, at least 1)")
        check_labels_for_task(task, y)
        self.task, self.cfg = task, config
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.metrics_fn, self.card = metrics_fn, dict(card or {})
        self.inference_only = inference_only_checkpoint
        self.device = resolve_device(config.device)
        self.dist = D.init_distributed(self.device)
        self.device = D.local_device(self.device, self.dist)
        if self.out_dir is not None and self.dist.is_main:
            clean_leftovers(self.out_dir)  # temporaries of a writer killed earlier (this run is the writer now)
        self.data = task.prepare(x.float())
        self.labels = y.long()
        task.model.to(self.device)
        if self.device.type == "cuda":
            task.model.to(memory_format=torch.channels_last)
        self.net: nn.Module = task.model
        if self.dist.enabled:
            # DDP broadcasts rank 0's weights here, so the EMA copy below starts identical on every rank.
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DistributedDataParallel(task.model, device_ids=ids)
        self.ema = ema_copy(task.model)
        self.optimizer = torch.optim.AdamW(task.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.step = 0
        self.wall_time_s = 0.0
        self.losses: list[float] = []
        self.last_metrics: dict = {}
        self.on_phase: Callable[[str], None] | None = None  # the run log's phase line (metrics, saving, ...)

    def _phase(self, name: str) -> None:
        if self.on_phase is not None and self.dist.is_main:
            self.on_phase(name)

    def restore(self, ckpt: Checkpoint) -> None:
        """Continue from a checkpoint of the same task: raw weights, EMA, optimizer, step, wall time."""
        if not ckpt.has_raw_weights or ckpt.optimizer_state is None:
            raise JetInputError(f"{ckpt.path}: an inference-only checkpoint cannot be resumed")
        self.task.model.load_state_dict(ckpt.task.model.state_dict())
        self.ema.load_state_dict(ckpt.ema.state_dict())
        self.optimizer.load_state_dict(ckpt.optimizer_state)
        self.step = ckpt.step
        self.wall_time_s = float(ckpt.state.get("wall_time_s", 0.0))
        self.losses = list(ckpt.state.get("losses", []))
        self.last_metrics = dict(ckpt.state.get("metrics", {}))

    def save(self, directory: str | os.PathLike | None = None) -> Path | None:
        """Write a checkpoint (rank 0 only); returns its path."""
        directory = directory or self.out_dir
        if directory is None or not self.dist.is_main:
            return None
        self._phase("saving checkpoint")
        state = {
            "step": self.step,
            "wall_time_s": self.wall_time_s,
            "losses": self.losses,
            "metrics": self.last_metrics,
        }
        card = {
            "device": describe_device(self.device),
            "world_size": self.dist.world_size,
            "images_seen": self.step * self.cfg.batch_size * self.dist.world_size,
            "final_loss": float(np.mean(self.losses[-50:])) if self.losses else None,
            "metrics": self.last_metrics,
            **self.card,
        }
        return save_checkpoint(
            directory,
            self.task,
            self.ema,
            self.optimizer,
            state,
            self.cfg.to_dict(),
            card,
            # Only the final checkpoint is slimmed: intermediate ones stay resumable.
            self.inference_only and self.step >= self.cfg.steps,
        )

    def _preview(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        n = self.cfg.preview_n
        labels = (torch.arange(n) % 2).long() if self.task.conditional else None
        gen = torch.Generator(self.device).manual_seed(_seed_for(self.cfg.seed, 0x5EE))
        images = self.task.sample(self.ema, n, labels=labels, sampler_steps=self.cfg.preview_steps, generator=gen)
        return images, labels

    def _due(self, every: int) -> bool:
        return every > 0 and (self.step % every == 0 or self.step == self.cfg.steps)

    def train_step(self) -> float:
        """One optimisation step on this process's shard of the global batch; returns the mean loss."""
        cfg, info = self.cfg, self.dist
        idx = batch_indices(self.step, len(self.data), cfg.batch_size * info.world_size, cfg.seed)
        idx = idx[info.rank * cfg.batch_size : (info.rank + 1) * cfg.batch_size]
        xb, yb = self.data[idx].to(self.device), self.labels[idx].to(self.device)
        if self.device.type == "cuda":
            xb = xb.contiguous(memory_format=torch.channels_last)
        gen = torch.Generator(self.device).manual_seed(_seed_for(cfg.seed, self.step, info.rank))
        lr = learning_rate(self.step, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.task.model.train()
        with autocast(self.device):
            loss = self.task.loss(self.net, xb, yb, gen)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at step {self.step}; lower the learning rate")
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.task.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        ema_update(self.ema, self.task.model, self.step, cfg.ema_decay)
        self.step += 1
        return float(D.mean_across(loss.detach().float(), info))

    def run(self, stop=None) -> Iterator[TrainEvent]:
        """Train up to ``config.steps``, yielding a ``TrainEvent`` every ``log_every`` steps and at the end.

        ``stop``: anything with ``is_set()`` (a ``threading.Event``); checked between steps, a set stop
        saves a checkpoint and ends with an event marked ``stopped``. Closing the generator early also
        saves, so a dashboard that stops reading leaves a resumable checkpoint. (Single process only:
        under torchrun every rank must run to ``config.steps``.)
        """
        cfg = self.cfg
        finished = False
        try:
            window_s, window_images = 0.0, 0  # images/s counts training time only, not the readers' or metrics'
            if self.step >= cfg.steps:
                finished = True
                yield self._event(self.losses[-1] if self.losses else float("nan"), 0.0, done=True)
                return
            while self.step < cfg.steps:
                loss, elapsed = self._timed_step()
                window_s += elapsed
                window_images += cfg.batch_size * self.dist.world_size
                stopped = stop is not None and stop.is_set()
                last = self.step == cfg.steps or stopped
                if last or self._reports_now():
                    rate = window_images / max(window_s, 1e-9)
                    window_s, window_images = 0.0, 0
                    event = self._report(loss, rate, last, stopped)
                    if last:
                        finished = True
                    yield event
                if stopped:
                    return
        finally:
            if not finished and self.out_dir is not None and self.step > 0:
                self.save()

    def _timed_step(self) -> tuple[float, float]:
        """One ``train_step`` (GPU work finished before the clock stops); the loss and the seconds it took."""
        t0 = time.perf_counter()
        loss = self.train_step()
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        elapsed = time.perf_counter() - t0
        self.wall_time_s += elapsed
        self.losses.append(loss)
        return loss, elapsed

    def _reports_now(self) -> bool:
        """Whether this step yields an event: a log line, interval metrics or a preview are due."""
        cfg = self.cfg
        return self.step % max(1, cfg.log_every) == 0 or self._due(cfg.metrics_every) or self._due(cfg.preview_every)

    def _report(self, loss: float, rate: float, last: bool, stopped: bool) -> TrainEvent:
        """The event of this step, with the metrics, preview and checkpoint that are due now (rank 0)."""
        cfg = self.cfg
        event = self._event(loss, rate, done=last and not stopped, stopped=stopped)
        if self.dist.is_main and self.metrics_fn is not None and self._due(cfg.metrics_every):
            self.last_metrics = {k: float(v) for k, v in self.metrics_fn(self.task, self.ema, self.step).items()}
            event.metrics = dict(self.last_metrics)
        if self.dist.is_main and self._due(cfg.preview_every):
            self._phase(f"drawing {cfg.preview_n} preview jets")
            event.preview, event.preview_labels = self._preview()
        if self.out_dir is not None and (last or self._due(cfg.checkpoint_every)):
            path = self.save()
            event.checkpoint = str(path) if path else None
        if not last and (event.metrics is not None or event.preview is not None or event.checkpoint):
            self._phase("training")
        return event

    def _event(self, loss: float, rate: float, done: bool = False, stopped: bool = False) -> TrainEvent:
        epoch = self.step * self.cfg.batch_size * self.dist.world_size / len(self.data)
        return TrainEvent(
            step=self.step,
            loss=loss,
            lr=learning_rate(max(self.step - 1, 0), self.cfg),
            images_per_s=rate,
            epoch=epoch,
            wall_time_s=self.wall_time_s,
            done=done,
            stopped=stopped,
        )


def train(
    task: Task,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    metrics_fn: MetricsFn | None = None,
    card: dict | None = None,
    stop=None,
) -> Iterator[TrainEvent]:
    """Train ``task`` on GeV images ``x`` (N, 3, H, W) and labels ``y``; yields ``TrainEvent``.

    With ``resume`` and an existing checkpoint in ``out_dir``, its state is restored first (the task
    must have been built from that checkpoint's config, e.g. ``load_checkpoint(out_dir).task``).
    """
    trainer = Trainer(task, x, y, config, out_dir, metrics_fn, card)
    if resume and out_dir is not None and (Path(out_dir) / "config.json").exists():
        trainer.restore(load_checkpoint(out_dir, with_optimizer=True))
    yield from trainer.run(stop)
