"""Small synthetic jets for the quantum tests: three channels that share one width per jet."""

from __future__ import annotations

import torch


def shared_width_jets(n: int = 32, size: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3, size, size) GeV jets whose three channels share one Gaussian width (perfectly correlated channel
    shapes), each channel with its own energy; labels alternate quark / gluon."""
    g = torch.Generator().manual_seed(seed)
    r = torch.arange(size) - (size - 1) / 2
    d2 = r[:, None] ** 2 + r[None, :] ** 2
    width = (0.3 + 3 * torch.rand(n, 1, 1, 1, generator=g)).expand(n, 3, 1, 1)
    x = (torch.rand(n, 3, 1, 1, generator=g) + 0.2) * torch.exp(-d2 / width) * 100
    return x, (torch.arange(n) % 2).long()
