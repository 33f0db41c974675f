"""Exponential moving average of a model's weights: the copy that samples (smoother than the raw weights)."""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_copy(model: nn.Module) -> nn.Module:
    """A frozen deep copy of ``model`` to hold the average."""
    ema = copy.deepcopy(model).eval()
    ema.requires_grad_(False)
    return ema


def ema_decay(step: int, decay: float) -> float:
    """Warm-up of the decay, min(decay, (1 + step) / (10 + step)), so early weights do not linger."""
    return min(decay, (1.0 + step) / (10.0 + step))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, step: int, decay: float) -> None:
    """ema <- d ema + (1 - d) model for every parameter; buffers are copied."""
    d = ema_decay(step, decay)
    for p_ema, p in zip(ema.parameters(), model.parameters(), strict=True):
        p_ema.lerp_(p.detach().to(p_ema.dtype), 1.0 - d)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)
