"""SSIM and PSNR of each jet against its reconstruction, per channel, in GeV.

Both compare *pairs*: a real jet x0 and the model's x0_hat from a noised copy of it. They say
nothing about unconditional samples. The data range is explicit (GeV per channel) because a
sparse jet image has no natural "white"; by default it is the largest pixel of the real jets in
that channel, and it is returned so the number can be reproduced.

PSNR is 10 log10(R^2 / MSE) with the MSE pooled over all jets of the set (so an exact
reconstruction gives +inf, and one empty jet does not give an infinite mean). SSIM is the
Gaussian-window SSIM of Wang et al. (2004), averaged over jets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from core.data.layout import CHANNELS
from core.errors import JetInputError
from core.metrics.checks import as_images, check_pairs


def default_data_range(x0: torch.Tensor) -> list[float]:
    """Per-channel data range in GeV: the largest pixel of the real jets (1 GeV for an empty channel)."""
    peak = x0.amax(dim=(0, 2, 3))
    return [float(v) if v > 0 else 1.0 for v in peak]


def _kernel_size(size: int) -> int:
    k = min(11, size if size % 2 else size - 1)
    return max(k, 3)


def paired_metrics(
    x0: torch.Tensor | np.ndarray,
    x_hat: torch.Tensor | np.ndarray,
    data_range: float | Sequence[float] | None = None,
    channel_names: Sequence[str] = CHANNELS,
) -> dict:
    """SSIM and PSNR per channel (and their channel mean) of ``x_hat`` against ``x0``, both (N, C, H, W) GeV.

    Returns ``{"ssim": {channel: v, ..., "mean": v}, "psnr": {...}, "data_range_gev": {channel: R}}``.
    """
    x0 = as_images(x0, "jets")
    x_hat = as_images(x_hat, "reconstruction")
    check_pairs(x0, x_hat)
    n_ch = x0.shape[1]
    if data_range is None:
        ranges = default_data_range(x0)
    elif isinstance(data_range, (int, float)):
        ranges = [float(data_range)] * n_ch
    else:
        ranges = [float(v) for v in data_range]
    if len(ranges) != n_ch or min(ranges) <= 0:
        raise JetInputError(f"data_range: need {n_ch} positive values in GeV, got {ranges}")
    names = list(channel_names[:n_ch]) if len(channel_names) >= n_ch else [f"channel {c}" for c in range(n_ch)]
    kernel = _kernel_size(x0.shape[-1])
    ssim, psnr = {}, {}
    for c, name in enumerate(names):
        a, b = x0[:, c : c + 1].double(), x_hat[:, c : c + 1].double()
        ssim[name] = float(structural_similarity_index_measure(b, a, data_range=ranges[c], kernel_size=kernel))
        psnr[name] = float(peak_signal_noise_ratio(b, a, data_range=ranges[c]))
    ssim["mean"] = float(np.mean([ssim[n] for n in names]))
    psnr["mean"] = float(np.mean([psnr[n] for n in names]))
    return {"ssim": ssim, "psnr": psnr, "data_range_gev": dict(zip(names, ranges, strict=True))}
