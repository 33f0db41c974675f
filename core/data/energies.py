"""Classical channel energies for generated jet shapes: a Gaussian copula per class, shared by every family.

Calorimeter generators condition on the incident energy; jets have three such numbers, the pT each of
Tracks, ECAL and HCAL collects. Both the quantum models (whose amplitude encoding keeps only normalised
pixel energies) and the energy-conditioned U-Net draw them here, so classical and quantum models are
compared on shape alone. Three numbers per jet are cheap to model classically: each channel's marginal as
a quantile table (exact up to interpolation) and their dependence as the correlation of normal scores (a
Gaussian copula), a few hundred numbers in all.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import ndtri
from scipy.stats import rankdata

from core.errors import JetInputError

N_QUANTILES = 101
CHANNELS = 3


def _fit_group(energies: np.ndarray) -> dict:
    qs = np.linspace(0, 1, N_QUANTILES)
    quantiles = np.quantile(energies, qs, axis=0).T  # (3, Q)
    n = energies.shape[0]
    scores = ndtri((rankdata(energies, axis=0) - 0.5) / n)  # normal scores, ties averaged
    corr = np.corrcoef(scores, rowvar=False) if n > 2 else np.eye(CHANNELS)
    corr = np.nan_to_num(corr, nan=0.0)  # a constant channel has no correlation
    np.fill_diagonal(corr, 1.0)
    return {"quantiles": quantiles.tolist(), "corr": corr.tolist(), "jets": int(n)}


COORDINATES = ("channels", "total_fractions")


def to_total_fractions(e: np.ndarray) -> np.ndarray:
    """(E_Tracks, E_ECAL, E_HCAL) -> (E, u1, u2): the total, the Tracks share, and ECAL's share of the rest.

    The jet selection fixes the total to a narrow window (500-550 GeV in pT); a copula fitted on the three
    channel energies cannot keep that constraint (their sum comes out far too wide), one fitted on these
    coordinates keeps the total's marginal exactly. Stick-breaking keeps every draw a valid split."""
    total = e.sum(1)
    rest = e[:, 1] + e[:, 2]
    u1 = np.where(total > 0, e[:, 0] / np.maximum(total, 1e-300), 0.0)
    u2 = np.where(rest > 0, e[:, 1] / np.maximum(rest, 1e-300), 0.0)
    return np.stack([total, u1, u2], 1)


def from_total_fractions(c: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_total_fractions`."""
    total, u1, u2 = c[:, 0], np.clip(c[:, 1], 0, 1), np.clip(c[:, 2], 0, 1)
    return np.stack([u1 * total, (1 - u1) * u2 * total, (1 - u1) * (1 - u2) * total], 1)


def fit_channel_energies(
    energies: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor | None = None,
    coordinates: str = "channels",
) -> dict:
    """Fit the copula table on per-jet channel energies (N, 3) in GeV, for all jets and for each label.

    ``coordinates``: ``"channels"`` fits the three energies themselves; ``"total_fractions"`` fits (total,
    Tracks share, ECAL share of the rest), which keeps the narrow total of a pT-selected sample."""
    e = np.asarray(energies, dtype=np.float64)
    if e.ndim != 2 or e.shape[1] != CHANNELS or e.shape[0] < 2:
        raise JetInputError(f"channel energies: expected (N >= 2, 3) GeV, got shape {e.shape}")
    if not np.isfinite(e).all() or (e < 0).any():
        raise JetInputError("channel energies: values must be finite and >= 0")
    if coordinates not in COORDINATES:
        raise JetInputError(f"channel energy coordinates {coordinates!r}: use one of {', '.join(COORDINATES)}")
    v = to_total_fractions(e) if coordinates == "total_fractions" else e
    table = {"all": _fit_group(v)}
    if labels is not None:
        y = np.asarray(labels).reshape(-1)
        for lab in np.unique(y).tolist():
            if (y == lab).sum() > 2:
                table[str(int(lab))] = _fit_group(v[y == lab])
    if coordinates != "channels":
        table["coordinates"] = coordinates
    return table


def _cholesky(corr: np.ndarray) -> np.ndarray:
    """Cholesky factor of a correlation matrix, nudged towards the identity until it is positive definite."""
    for shrink in (0.0, 1e-6, 1e-3, 1e-2, 0.1):
        try:
            return np.linalg.cholesky((1 - shrink) * corr + shrink * np.eye(len(corr)))
        except np.linalg.LinAlgError:
            continue
    return np.eye(len(corr))


def draw_channel_energies(
    table: dict, labels: torch.Tensor | np.ndarray, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Channel energies (N, 3) GeV for jets of the given labels (a label without its own table uses "all")."""
    y = np.asarray(labels).reshape(-1)
    if "all" not in table:
        raise JetInputError("channel energy table: missing the 'all' entry")
    z = torch.randn(len(y), CHANNELS, generator=generator, dtype=torch.float64).numpy()
    out = np.empty((len(y), CHANNELS))
    qs = np.linspace(0, 1, N_QUANTILES)
    keys = np.array([str(int(v)) for v in y])
    for key in np.unique(keys).tolist():
        group = table.get(key, table["all"])
        rows = np.flatnonzero(keys == key)
        chol = _cholesky(np.asarray(group["corr"], dtype=np.float64))
        u = torch.special.ndtr(torch.from_numpy(z[rows] @ chol.T)).numpy()
        quantiles = np.asarray(group["quantiles"], dtype=np.float64)
        for c in range(CHANNELS):
            out[rows, c] = np.interp(u[:, c], qs, quantiles[c])
    if table.get("coordinates", "channels") == "total_fractions":
        out = from_total_fractions(out)
    return torch.from_numpy(out)


def rescale_channels(shapes: torch.Tensor, energies: torch.Tensor) -> torch.Tensor:
    """Give each channel of ``shapes`` (N, 3, H, W; any non-negative scale) the energy ``energies`` (N, 3).

    A channel with no weight in the shape stays empty (its energy cannot be placed anywhere).
    """
    s = shapes.double().clamp_min(0)
    sums = s.sum((-1, -2), keepdim=True)
    e = torch.as_tensor(energies, dtype=torch.float64)[:, :, None, None]
    return torch.where(sums > 0, s / sums.clamp_min(1e-300) * e, torch.zeros_like(s)).float()
