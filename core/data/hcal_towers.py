"""HCAL as towers: an exact, invertible way to hand a network the HCAL channel at 32 x 32.

The detector (``core.data.detector``) sums hadrons in towers of 5 x 5 of the 125 x 125 pixels and spreads each
tower evenly over its pixels; sum-pooled to 32 x 32 (125 padded to 128, 4 x 4 pixels each) a tower falls on two
coarse pixels per axis in fixed ratios. Every real HCAL image is therefore exactly ``A T A^T`` for a 25 x 25 tower
grid ``T`` and a fixed 32 x 25 matrix ``A``, and the shares of a jet's brightest HCAL pixels take a few fixed
ratios, which a network drawing pixels freely never reproduces (``core.metrics.separating_features``: AUC 0.98
on those shares alone for the shipped U-Net).

Here the HCAL channel is re-written as its towers, each tower's pT in the coarse pixel holding the tower's
centre (the 25 centres fall on 25 distinct pixels per axis; the other 7 rows and columns stay empty), so the
network draws towers on the same grid as Tracks and ECAL, a sparse image like theirs. Back to pixels, a
generated tower image is read at the centres (a deposit the network put between centres joins the nearest
centre) and spread through ``A``: every generated HCAL image then has the detector's tower structure.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from core.data.layout import CHANNELS, HCAL_TOWER, IMAGE_SIZE
from core.data.transforms import coarse_index
from core.errors import JetInputError

HCAL = CHANNELS.index("HCAL")
TOWER_SIZE = 32  # the image size whose coarse pixels are finer than the towers (25 towers on 32 pixels)
TOWERS = IMAGE_SIZE // HCAL_TOWER  # 25 per axis


@lru_cache(maxsize=1)
def _geometry() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``A`` (32, 25) float64: the share of tower t's pT per axis that falls in coarse pixel i; its
    pseudo-inverse; each tower's centre pixel (25,); and the tower whose centre is nearest each pixel (32,)."""
    index = coarse_index(TOWER_SIZE)
    pixel_to_tower = torch.arange(IMAGE_SIZE) // HCAL_TOWER
    a = torch.zeros(TOWER_SIZE, TOWERS, dtype=torch.float64)
    a.index_put_((index, pixel_to_tower), torch.full((IMAGE_SIZE,), 1.0 / HCAL_TOWER, dtype=torch.float64), True)
    centres = index[torch.arange(TOWERS) * HCAL_TOWER + HCAL_TOWER // 2]
    nearest = (torch.arange(TOWER_SIZE)[:, None] - centres[None, :]).abs().argmin(1)
    return a, torch.linalg.pinv(a), centres, nearest


def _check(x: torch.Tensor, what: str) -> None:
    if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[-2:]) != (TOWER_SIZE, TOWER_SIZE):
        raise JetInputError(
            f"{what}: HCAL towers are defined for (N, 3, {TOWER_SIZE}, {TOWER_SIZE}) images, got {tuple(x.shape)}"
        )


def centre_pixels() -> torch.Tensor:
    """(32, 32) bool: the pixels that hold a tower in the tower layout (25 x 25 of them)."""
    _, _, centres, _ = _geometry()
    mask = torch.zeros(TOWER_SIZE, TOWER_SIZE, dtype=torch.bool)
    mask[centres[:, None], centres[None, :]] = True
    return mask


def towers_of(hcal: torch.Tensor) -> torch.Tensor:
    """(N, 32, 32) HCAL pixels (GeV) -> (N, 25, 25) tower pT, by least squares (exact for detector images);
    negative round-off and towers below 1e-6 of the jet's largest set to 0."""
    _, pinv, _, _ = _geometry()
    t = pinv @ hcal.double() @ pinv.T
    t = t.clamp_min(0)
    return torch.where(t > 1e-6 * t.flatten(1).amax(1).clamp_min(1e-300)[:, None, None], t, torch.zeros_like(t))


def to_tower_space(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, 32, 32) GeV jets -> the same with HCAL as towers at their centre pixels (Tracks, ECAL unchanged)."""
    _check(x, "to_tower_space")
    _, _, centres, _ = _geometry()
    out = x.clone()
    grid = torch.zeros(len(x), TOWER_SIZE, TOWER_SIZE, dtype=torch.float64)
    grid[:, centres[:, None], centres[None, :]] = towers_of(x[:, HCAL])
    out[:, HCAL] = grid.to(x.dtype)
    return out


def from_tower_space(s: torch.Tensor) -> torch.Tensor:
    """The inverse: HCAL towers (each pixel's deposit added to the tower whose centre is nearest) spread over
    their pixels through ``A``; the channel's energy is kept exactly."""
    _check(s, "from_tower_space")
    a, _, _, nearest = _geometry()
    hcal = s[:, HCAL].double()
    rows = torch.zeros(len(s), TOWERS, TOWER_SIZE, dtype=torch.float64).index_add_(1, nearest, hcal)
    towers = torch.zeros(len(s), TOWERS, TOWERS, dtype=torch.float64).index_add_(2, nearest, rows)
    out = s.clone()
    out[:, HCAL] = (a @ towers @ a.T).to(s.dtype)
    return out
