"""Adapters from the classical diffusion checkpoints (core.training) to :class:`Reconstructor`."""

from __future__ import annotations

import os

import torch

from core.metrics.reconstruct import GaussianReconstructor


def reconstructor_from_checkpoint(
    checkpoint,
    labels: torch.Tensor | None = None,
    sampler: str = "ddim",
    steps: int | None = None,
    device: str = "cpu",
) -> GaussianReconstructor:
    """A reconstructor over a DDPM / seed-baseline checkpoint (a directory or a loaded ``Checkpoint``).

    One-step: the EMA network's x0 prediction (as its samplers clip it). Reverse: the checkpoint's own
    ``sampler`` started at t with ``steps`` network evaluations (default: the sampler's default, at most t + 1).
    ``labels`` (N,) conditions a class-conditional model on the true labels of the jets.
    """
    from core.diffusion.samplers import run_sampler
    from core.training.checkpoint import Checkpoint, load_checkpoint

    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(os.fspath(checkpoint), device=device)
    task, net = ckpt.task, ckpt.ema.to(device).eval()
    if labels is not None and not task.conditional:
        labels = None
    eps_fn = task.eps_fn(net, labels, 1.0)
    schedule = task.schedule

    def x0_fn(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return schedule.x0_from_eps(xt, t, eps_fn(xt, t))

    def reverse_fn(xt: torch.Tensor, t: int, generator: torch.Generator) -> torch.Tensor:
        return run_sampler(sampler, eps_fn, xt, schedule, steps, generator, start=int(t))

    # The task's own maps: its size check on the way in, its clamp and zero suppression on the way out.
    to_model = getattr(task, "prepare", None) or (lambda x: task.transform.forward(x.float()))
    to_gev = getattr(task, "to_gev", None) or (lambda z: task.transform.inverse(z.float()))
    return GaussianReconstructor(schedule=schedule, x0_fn=x0_fn, to_model=to_model, to_gev=to_gev, reverse_fn=reverse_fn)
