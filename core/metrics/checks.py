"""Input checks shared by every metric: one clear line naming the thing and the problem."""

from __future__ import annotations

import numpy as np
import torch

from core.errors import JetInputError


def as_images(x: torch.Tensor | np.ndarray, name: str) -> torch.Tensor:
    """(N, C, H, W) float32 tensor of finite values, or JetInputError naming ``name``."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    if t.ndim != 4:
        raise JetInputError(f"{name}: expected images (N, C, H, W), got shape {tuple(t.shape)}")
    if t.shape[0] == 0:
        raise JetInputError(f"{name}: holds no jets")
    t = t.detach().float().cpu()
    if not torch.isfinite(t).all():
        raise JetInputError(f"{name}: holds NaN or infinite values")
    return t


def check_same_kind(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Two image sets must have the same channels and size to be compared."""
    if a.shape[1:] != b.shape[1:]:
        raise JetInputError(
            f"{name_b}: images of shape {tuple(b.shape[1:])} (C, H, W) cannot be compared with "
            f"{name_a} of shape {tuple(a.shape[1:])}; downsample to the same size and use the same channels"
        )


def check_pairs(x0: torch.Tensor, x_hat: torch.Tensor) -> None:
    """Paired metrics need one reconstruction per jet, same shape."""
    if x0.shape != x_hat.shape:
        raise JetInputError(
            f"reconstruction: shape {tuple(x_hat.shape)} does not match the jets' shape {tuple(x0.shape)}"
        )


def check_count(n: int, needed: int, name: str, why: str) -> None:
    """Refuse sets too small for a statistic (a covariance needs more jets than dimensions)."""
    if n < needed:
        raise JetInputError(f"{name}: {n} jets are too few for {why}; need at least {needed}")
