"""Gaussian noise whose three channels are correlated at each pixel: the forward process of a jet's one shower.

A jet's Tracks, ECAL and HCAL deposits sit on the same pixels (the charged hadrons are seen by all three): the
energy-weighted cosine between a real jet's Tracks and ECAL images within R = 0.4 is 0.71 at 32 x 32. The shipped
U-Net, trained with independent noise per channel, draws them at 0.57: each channel's reverse path decides where
its deposits go from its own noise, and a small network does not tie the three decisions together. With noise
of correlation rho between the channels of a pixel (unit variance each), the forward process is still Gaussian
with a fixed covariance, so the same losses and samplers hold as long as every draw, in training and sampling,
uses it: the reverse paths of the three channels then share part of their randomness.
"""

from __future__ import annotations

import math

import torch

from core.errors import JetInputError


def check_correlation(correlation: float) -> float:
    """``correlation`` as a float in [0, 1) (1 would leave one noise for three channels: no density)."""
    value = float(correlation)
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise JetInputError(f"noise correlation: must be in [0, 1), got {correlation}")
    return value


def channel_noise(
    shape: tuple[int, ...] | torch.Size,
    correlation: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Noise (N, C, H, W) with unit variance and correlation ``correlation`` between the C channels of a pixel:
    sqrt(rho) * one draw shared by the channels + sqrt(1 - rho) * one draw per channel. At rho = 0 it is exactly
    ``torch.randn(shape)`` with the same generator state (older checkpoints reproduce their draws)."""
    independent = torch.randn(tuple(shape), generator=generator, device=device, dtype=dtype)
    if correlation == 0:
        return independent
    shared = torch.randn((shape[0], 1, *shape[2:]), generator=generator, device=device, dtype=dtype)
    return math.sqrt(correlation) * shared + math.sqrt(1.0 - correlation) * independent
