"""Transforms of jet images, each with its inverse beside it.

- ``downsample``: 125 -> 64, 32, 16 or 8 by zero-padding to 128 and sum pooling, so every
  channel's energy is conserved exactly (bilinear resampling loses sparse deposits).
- Intensity transforms for training (per-channel scale, log) with exact inverses, stored as dicts
  in model configs so a checkpoint can map its outputs back to GeV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.data.layout import IMAGE_SIZE, PIXEL_WIDTH

PADDED_SIZE = 128
PAD_BEFORE = 1  # 125 -> 128 pads 1 pixel before and 2 after, in eta and in phi
SIZES = (125, 64, 32, 16, 8)


def _as_tensor(x: torch.Tensor | np.ndarray) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def downsample(x: torch.Tensor | np.ndarray, size: int) -> torch.Tensor:
    """Sum-pool (N, C, 125, 125) or already pooled images to (N, C, size, size), conserving energy.

    Accepts any square input whose padded size (125 -> 128) is a multiple of ``size``.
    """
    x = _as_tensor(x).float()
    if x.ndim != 4:
        raise ValueError(f"downsample expects (N, C, H, W), got shape {tuple(x.shape)}")
    h = x.shape[-1]
    if x.shape[-2] != h:
        raise ValueError(f"downsample expects square images, got {tuple(x.shape[-2:])}")
    if size == h:
        return x
    if h == IMAGE_SIZE:
        if size not in SIZES[1:]:
            raise ValueError(f"cannot sum-pool {h} x {h} images to {size} x {size}; use one of {SIZES[1:]}")
        # Sum rows, then columns, into their coarse pixels: the zero padding to 128 is implicit.
        coarse = coarse_index(size, x.device)
        rows = x.new_zeros(x.shape[0], x.shape[1], size, h).index_add_(2, coarse, x)
        return x.new_zeros(x.shape[0], x.shape[1], size, size).index_add_(3, coarse, rows)
    if size > h or h % size:
        raise ValueError(f"cannot sum-pool {h} x {h} images to {size} x {size}; use one of {SIZES[1:]}")
    k = h // size
    return F.avg_pool2d(x, k) * float(k * k) if k > 1 else x


def coarse_index(size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """For each of the 125 pixels along an axis, its pixel in the ``size`` grid (125 padded to 128)."""
    if size == IMAGE_SIZE:
        return torch.arange(IMAGE_SIZE, device=device)
    if size not in SIZES:
        raise ValueError(f"cannot sum-pool 125 x 125 images to {size} x {size}; use one of {SIZES[1:]}")
    return (torch.arange(IMAGE_SIZE, device=device) + PAD_BEFORE) // (PADDED_SIZE // size)


def pixel_width(size: int) -> float:
    """Width of one pixel, in eta and in phi, of an image of ``size`` pixels made by ``downsample``."""
    return PIXEL_WIDTH if size == IMAGE_SIZE else PIXEL_WIDTH * PADDED_SIZE / size


def pixel_centres(size: int) -> np.ndarray:
    """Offsets from the jet axis of pixel centres, in eta (rows) or phi (columns), for ``size`` pixels."""
    if size == IMAGE_SIZE:
        return (np.arange(IMAGE_SIZE) + 0.5 - IMAGE_SIZE / 2) * PIXEL_WIDTH
    k = PADDED_SIZE // size
    fine = (np.arange(PADDED_SIZE) - PAD_BEFORE + 0.5 - IMAGE_SIZE / 2) * PIXEL_WIDTH
    return fine.reshape(size, k).mean(axis=1)


def bilinear_resize(x: torch.Tensor | np.ndarray, size: int) -> torch.Tensor:
    """The seed notebook's resize (bilinear, per image), kept only as the benchmark's baseline."""
    x = _as_tensor(x).float()
    out = torch.empty(x.shape[0], x.shape[1], size, size)
    for i in range(x.shape[0]):
        for c in range(x.shape[1]):
            out[i, c] = F.interpolate(x[i, c][None, None], size=(size, size), mode="bilinear", align_corners=False)[
                0, 0
            ]
    return out


def channel_shares(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C, H, W) GeV -> each pixel's share of its channel's energy (an empty channel stays 0) and the
    channel energies (N, C). Why: a network drawing shares draws a shape with no energy in its pixels, so
    the energies drawn for the jet scale it without stretching a shape drawn for other energies."""
    x = _as_tensor(x).float()
    totals = x.sum((-1, -2))
    shares = torch.where(totals[..., None, None] > 0, x / totals.clamp_min(1e-30)[..., None, None], 0.0)
    return shares, totals


@dataclass(frozen=True)
class IdentityTransform:
    """GeV in, GeV out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return z

    def to_dict(self) -> dict:
        return {"kind": "identity"}


@dataclass(frozen=True)
class ScaleTransform:
    """z = x / scale_c per channel (scale in GeV), then mapped to [-1, 1] around 0 as 2 z - 1."""

    scale: tuple[float, float, float]

    def _s(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(self.scale, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2.0 * x / self._s(x) - 1.0

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        return (z + 1.0) * 0.5 * self._s(z)

    def to_dict(self) -> dict:
        return {"kind": "scale", "scale": list(self.scale)}


@dataclass(frozen=True)
class LogTransform:
    """z = 2 log1p(x / s_c) / log1p(max_c / s_c) - 1: compresses the core, lifts soft deposits, range [-1, 1]."""

    scale: tuple[float, float, float]
    max_value: tuple[float, float, float]

    def _params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = torch.as_tensor(self.scale, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        m = torch.as_tensor(self.max_value, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
        return s, torch.log1p(m / s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, norm = self._params(x)
        return 2.0 * torch.log1p(x.clamp_min(0) / s) / norm - 1.0

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        s, norm = self._params(z)
        return torch.expm1((z + 1.0) * 0.5 * norm) * s

    def to_dict(self) -> dict:
        return {"kind": "log", "scale": list(self.scale), "max_value": list(self.max_value)}


Transform = IdentityTransform | ScaleTransform | LogTransform


def make_transform(spec: dict) -> Transform:
    """Rebuild a transform from its ``to_dict()``."""
    kind = spec.get("kind")
    if kind == "identity":
        return IdentityTransform()
    if kind == "scale":
        return ScaleTransform(tuple(float(v) for v in spec["scale"]))
    if kind == "log":
        return LogTransform(tuple(float(v) for v in spec["scale"]), tuple(float(v) for v in spec["max_value"]))
    raise ValueError(f"unknown intensity transform {kind!r}; use 'identity', 'scale' or 'log'")


def fit_transform(x: torch.Tensor, kind: str = "log") -> Transform:
    """Fit a transform's per-channel constants on training images (N, 3, H, W) in GeV.

    The log scale is the median non-zero pixel per channel; the top of the range is the 99.9th
    percentile of per-image maxima, so rare hot pixels land slightly above 1.
    """
    x = _as_tensor(x).float()
    per_image_max = x.amax(dim=(2, 3))  # (N, C)
    top = torch.quantile(per_image_max, 0.999, dim=0).clamp_min(1e-6)
    if kind == "identity":
        return IdentityTransform()
    if kind == "scale":
        return ScaleTransform(tuple(float(v) for v in top))
    if kind == "log":
        scales = []
        for c in range(x.shape[1]):
            vals = x[:, c][x[:, c] > 0]
            scales.append(float(vals.median()) if vals.numel() else 1.0)
        return LogTransform(tuple(scales), tuple(float(v) for v in top))
    raise ValueError(f"unknown intensity transform {kind!r}; use 'identity', 'scale' or 'log'")


def pixel_geometry(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Grids of (deta, dphi) offsets of every pixel centre, each (size, size)."""
    c = pixel_centres(size)
    return np.meshgrid(c, c, indexing="ij")
