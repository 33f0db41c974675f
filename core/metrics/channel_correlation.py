"""How the three channels of a jet belong together: correlations between their widths, and their overlap.

A jet's Tracks, ECAL and HCAL images come from the same shower, so a wide jet is wide in every channel.
A generator that draws each channel's shape on its own (one quantum state per channel, given only the
class) loses this; the Pearson correlation of the per-channel widths across jets measures it.

The same particles are also seen on the same pixels: a charged hadron leaves a track and, most often, energy in
ECAL and HCAL where the track points. The overlap of two channels is the cosine between their images within the
cone (energy-weighted: 1 when one is a multiple of the other, 0 when no pixel holds both); widths can agree while
the deposits sit on different pixels, so the overlap is read per jet and compared as a mean over jets.
"""

from __future__ import annotations

import numpy as np
import torch

from core.data.energies import JET_RADIUS, cone_mask
from core.data.layout import CHANNELS
from core.data.observables import channel_widths
from core.errors import JetInputError

__all__ = ["PAIRS", "channel_overlaps", "channel_widths", "format_overlaps", "overlap_rows", "width_correlations"]

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


def channel_overlaps(x: torch.Tensor | np.ndarray, radius: float | None = JET_RADIUS) -> np.ndarray:
    """(N, 3, H, W) GeV -> (N, 3): per jet, the cosine between the two channels' images of each pair in
    :data:`PAIRS`, over the pixels within ``radius`` of the axis (None: the whole image); NaN where a channel
    holds nothing there."""
    arr = torch.as_tensor(x).double()
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise JetInputError(f"channel overlaps: expected (N, 3, H, W) images, got shape {tuple(arr.shape)}")
    if radius is not None:
        arr = arr * cone_mask(arr.shape[-1], radius).to(arr.dtype)
    flat = arr.flatten(2)
    norms = flat.norm(dim=-1)
    out = [(flat[:, a] * flat[:, b]).sum(-1) / (norms[:, a] * norms[:, b]) for a, b in PAIRS]
    return torch.stack(out, 1).numpy()


def overlap_rows(
    generated: torch.Tensor, real: torch.Tensor, real_b: torch.Tensor | None = None, radius: float | None = JET_RADIUS
) -> list[dict]:
    """One row per pair of channels: the mean overlap of real and generated jets, their difference and (with
    ``real_b``, other real jets) the same difference between real sets, the floor."""
    means = [np.nanmean(channel_overlaps(s, radius), 0) if s is not None else None for s in (generated, real, real_b)]
    gen, ref, other = means
    return [
        {"pair": f"{CHANNELS[a]}-{CHANNELS[b]}", "real": float(ref[i]), "generated": float(gen[i]),
         "difference": float(gen[i] - ref[i]), "floor": float(other[i] - ref[i]) if other is not None else float("nan")}
        for i, (a, b) in enumerate(PAIRS)
    ]  # fmt: skip


def format_overlaps(rows: list[dict]) -> str:
    """The rows as a plain-text table."""
    from core.metrics.report import text_table

    body = [("pair of channels", "real", "generated", "difference", "floor (real vs real)")]
    for r in rows:
        body.append(
            (r["pair"], f"{r['real']:.3f}", f"{r['generated']:.3f}", f"{r['difference']:+.3f}", f"{r['floor']:+.3f}")
        )
    return text_table(body)
