"""A loaded checkpoint (or a directory) of any family as a :class:`core.metrics.reconstruct.Reconstructor`."""

from __future__ import annotations

import os

import torch


def reconstructor_for(checkpoint, labels: torch.Tensor | None = None, device: str = "cpu", **options):
    """The checkpoint's EMA network as its task's ``Reconstructor`` (``task.reconstructor``).

    ``checkpoint`` is a loaded ``Checkpoint`` (used where it is, never moved) or a directory (loaded on
    ``device``); ``labels`` (N,) condition a class-conditional model on the jets' true labels; ``options`` go to
    the task (a diffusion model takes ``sampler`` and ``sampler_steps`` for its reverse runs).
    """
    from core.training.checkpoint import Checkpoint, load_checkpoint

    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(os.fspath(checkpoint), device=device)
    return ckpt.task.reconstructor(ckpt.ema.eval(), labels=labels, **options)
