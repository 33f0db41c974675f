"""How the three channels of a jet belong together: correlations between their widths.

A jet's Tracks, ECAL and HCAL images come from the same shower, so a wide jet is wide in every channel.
A generator that draws each channel's shape on its own (one quantum state per channel, given only the
class) loses this; the Pearson correlation of the per-channel widths across jets measures it.
"""

from __future__ import annotations

import numpy as np
import torch

from core.data.layout import CHANNELS
from core.data.transforms import pixel_geometry
from core.errors import JetInputError

PAIRS = ((0, 1), (1, 2), (0, 2))  # Tracks-ECAL, ECAL-HCAL, Tracks-HCAL


def channel_widths(x: torch.Tensor | np.ndarray, radius: float | None = 0.4) -> np.ndarray:
    """(N, 3): each channel's energy-weighted mean Delta R from the jet axis (pixels within ``radius``).

    A channel with no energy gets NaN (it has no width).
    """
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    arr = arr.astype(np.float64)
    if arr.ndim != 4 or arr.shape[1] != 3 or arr.shape[2] != arr.shape[3]:
        raise JetInputError(f"channel widths: expected (N, 3, H, H) images, got shape {arr.shape}")
    deta, dphi = pixel_geometry(arr.shape[-1])
    dr = np.hypot(deta, dphi)
    if radius is not None:
        arr = arr * (dr < radius)
    energy = arr.sum(axis=(2, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(energy > 0, (arr * dr).sum(axis=(2, 3)) / energy, np.nan)


def width_correlations(x: torch.Tensor | np.ndarray, radius: float | None = 0.4) -> dict[str, float]:
    """Pearson correlation of the channel widths for each pair, over jets where both channels have energy."""
    w = channel_widths(x, radius)
    out = {}
    for a, b in PAIRS:
        ok = np.isfinite(w[:, a]) & np.isfinite(w[:, b])
        if ok.sum() < 3:
            raise JetInputError(f"width correlation {CHANNELS[a]}-{CHANNELS[b]}: fewer than 3 jets with both lit")
        out[f"{CHANNELS[a]}-{CHANNELS[b]}"] = float(np.corrcoef(w[ok, a], w[ok, b])[0, 1])
    return out
