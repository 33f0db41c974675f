"""Whether a channel's shape follows its energy: the correlation of its concentration with its energy in the cone.

In real jets a channel holding much energy within R = 0.4 holds it in few pixels (one energetic pi0 in ECAL, one
leading track): within a class, the in-cone pTD of ECAL correlates with ECAL's in-cone energy at +0.29 (gluon) and
+0.40 (quark) at 32 x 32, Tracks at +0.22 / +0.30. Both shipped models draw the energies classically (a copula)
and the shape apart from them, and their jets show none of it (+0.02-0.03 for the U-Net, whose own image follows
its energy condition only loosely, and 0.00-0.02 for the quantum model): a distance on pTD or on the energies alone
cannot see that the two do not go together. Read per class (a class mixture alone correlates them) and averaged.
"""

from __future__ import annotations

import numpy as np
import torch

from core.data.energies import JET_RADIUS, cone_mask
from core.data.layout import CHANNELS
from core.errors import JetInputError

__all__ = ["energy_shape_correlations", "energy_shape_rows", "format_energy_shape"]

MIN_JETS = 10  # per class and channel, with the channel lit in the cone


def cone_energy_and_ptd(x: torch.Tensor | np.ndarray, radius: float = JET_RADIUS) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3, H, W) GeV -> each channel's energy within ``radius`` (N, 3) and its pTD there (N, 3):
    sqrt(sum of squared pixels) / sum, NaN where the channel holds nothing in the cone."""
    arr = torch.as_tensor(x).double()
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise JetInputError(f"energy and shape: expected (N, 3, H, W) images, got shape {tuple(arr.shape)}")
    inside = (arr * cone_mask(arr.shape[-1], radius).to(arr.dtype)).flatten(2).clamp_min(0)
    energy = inside.sum(-1)
    ptd = torch.where(energy > 0, inside.norm(dim=-1) / energy.clamp_min(1e-300), torch.full_like(energy, np.nan))
    return energy.numpy(), ptd.numpy()


def energy_shape_correlations(
    x: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray | None = None, radius: float = JET_RADIUS
) -> np.ndarray:
    """(3,): per channel, the Pearson correlation over jets of its in-cone energy with its in-cone pTD, within each
    class of ``labels`` (None or -1: one group) and averaged over the classes."""
    energy, ptd = cone_energy_and_ptd(x, radius)
    y = np.full(len(energy), -1) if labels is None else np.asarray(torch.as_tensor(labels))
    if len(y) != len(energy):
        raise JetInputError(f"energy and shape: {len(y)} labels for {len(energy)} jets")
    out = np.zeros(3)
    for c in range(3):
        per_class = []
        for label in np.unique(y):
            ok = (y == label) & np.isfinite(ptd[:, c])
            if ok.sum() < MIN_JETS:
                raise JetInputError(
                    f"energy and shape, {CHANNELS[c]}: {int(ok.sum())} jets of class {label} lit in the cone "
                    f"(need {MIN_JETS})"
                )
            per_class.append(np.corrcoef(energy[ok, c], ptd[ok, c])[0, 1])
        out[c] = float(np.mean(per_class))
    return out


def energy_shape_rows(
    generated: torch.Tensor,
    real: torch.Tensor,
    real_b: torch.Tensor | None = None,
    labels: tuple | None = None,
    radius: float = JET_RADIUS,
) -> list[dict]:
    """One row per channel: the correlation of real and generated jets, their difference and (with ``real_b``,
    other real jets) the same difference between real sets, the floor. ``labels``: the three sets' labels
    (generated, real, real_b), for correlations within each class."""
    ys = labels or (None, None, None)
    corr = [
        energy_shape_correlations(s, y, radius) if s is not None else None
        for s, y in zip((generated, real, real_b), ys, strict=True)
    ]
    gen, ref, other = corr
    return [
        {"channel": CHANNELS[c], "real": float(ref[c]), "generated": float(gen[c]), "difference": float(gen[c] - ref[c]),
         "floor": float(other[c] - ref[c]) if other is not None else float("nan")}
        for c in range(3)
    ]  # fmt: skip


def format_energy_shape(rows: list[dict]) -> str:
    """The rows as a plain-text table."""
    from core.metrics.report import text_table

    body = [("channel", "real", "generated", "difference", "floor (real vs real)")]
    for r in rows:
        body.append(
            (
                r["channel"],
                f"{r['real']:+.3f}",
                f"{r['generated']:+.3f}",
                f"{r['difference']:+.3f}",
                f"{r['floor']:+.3f}",
            )
        )
    return text_table(body)
