"""Synthetic jet images for the metrics tests: sparse deposits around the centre, seeded, in GeV."""

from __future__ import annotations

import torch


def synthetic_jets(
    n: int, size: int = 16, width: float = 1.5, seed: int = 0, total_gev: float = 500.0, hits: int = 30
) -> torch.Tensor:
    """(n, 3, size, size) float32: ``hits`` deposits per channel drawn from a Gaussian of ``width`` pixels."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 3, size, size)
    centre = (size - 1) / 2
    pos = (torch.randn(n, 3, hits, 2, generator=g) * width + centre).round().clamp(0, size - 1).long()
    energy = -torch.log(torch.rand(n, 3, hits, generator=g))  # exponential deposits
    energy = energy / energy.sum(dim=(1, 2), keepdim=True) * total_gev
    flat = pos[..., 0] * size + pos[..., 1]
    x.view(n, 3, -1).scatter_add_(2, flat, energy)
    return x


def blur(x: torch.Tensor, passes: int = 1) -> torch.Tensor:
    """Spread each pixel over its 3 x 3 neighbourhood ``passes`` times (energy kept up to the edges)."""
    kernel = torch.ones(3, 1, 3, 3) / 9.0
    for _ in range(passes):
        x = torch.nn.functional.conv2d(x, kernel, padding=1, groups=3)
    return x


def write_random_jets(path, n: int = 40, size: int = 16, seed: int = 0, empty: float = 0.6):
    """A CMS-layout file of ``n`` random sparse jets (a fraction ``empty`` of pixels empty), alternating labels."""
    import numpy as np

    from core.data.writers import write_cms

    rng = np.random.default_rng(seed)
    shape = (n, size, size, 3)
    x = (rng.random(shape) ** 8 * 40 * (rng.random(shape) > empty)).astype(np.float32)
    write_cms(path, x, np.arange(n) % 2)
    return path
