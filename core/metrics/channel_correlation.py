"""How the three channels of a jet belong together: correlations between their widths.

A jet's Tracks, ECAL and HCAL images come from the same shower, so a wide jet is wide in every channel.
A generator that draws each channel's shape on its own (one quantum state per channel, given only the
class) loses this; the Pearson correlation of the per-channel widths across jets measures it.
"""

from __future__ import annotations

import numpy as np
import torch

from core.data.layout import CHANNELS
from core.data.observables import channel_widths
from core.errors import JetInputError

__all__ = ["PAIRS", "channel_widths", "width_correlations"]

PAIRS = ((0, 1), (1, 2), (0, 2))  # Tracks-ECAL, ECAL-HCAL, Tracks-HCAL


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
