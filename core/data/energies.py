"""Classical channel energies for generated jet shapes: a copula per class, shared by every family.

Calorimeter generators condition on the incident energy; jets have three such numbers, the pT each of
Tracks, ECAL and HCAL collects. Both the quantum models (whose amplitude encoding keeps only normalised
pixel energies) and the energy-conditioned U-Net draw them here, so classical and quantum models are
compared on shape alone. Three numbers per jet are cheap to model classically: each channel's marginal as
a quantile table (exact up to interpolation) and their dependence as a mixture of a few Gaussians in
normal-score space (:mod:`core.data.mixture_copula`; tables fitted before it, or on too few jets, keep one
Gaussian: the correlation of normal scores), a few hundred numbers in all.

The jets are selected on their pT inside the anti-kT cone (R = 0.4), so the energy inside the cone is narrow
while the calorimeters also collect what lies outside it. A table in ``"cone"`` coordinates models the
energies inside and outside the cone separately, and :func:`rescale_regions` gives each region of a generated
shape its own energy: the jet's pT then comes from the energy model, not from how the network happens to
split a channel's energy between the core and the rest of the image.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import ndtri
from scipy.stats import rankdata

from core.data.mixture_copula import fit_mixture, mixture_components, mixture_uniforms
from core.data.transforms import pixel_geometry
from core.errors import JetInputError

N_QUANTILES = 101  # an even grid of levels; tables without "levels" use it
# Extra levels in both tails. Between two stored quantiles the draws spread evenly, so an even grid puts 1 %
# of the draws between the 1st percentile and the minimum (an outlier): the narrow calorimeter pT of a
# pT-selected sample came out 25-40 % too wide that way. Tail levels down to 1e-4 keep such spreads tiny.
TAIL_LEVELS = (1e-4, 3e-4, 1e-3, 2e-3, 5e-3)
MIXTURE_COMPONENTS = 8  # of the dependence (core.data.mixture_copula); 1 keeps the plain Gaussian copula
CHANNELS = 3
JET_RADIUS = 0.4  # anti-kT R of the simulated jets (core.data.simulate)


def quantile_levels() -> np.ndarray:
    """CDF levels of a fitted table: an even grid plus :data:`TAIL_LEVELS` at both ends."""
    tails = np.asarray(TAIL_LEVELS)
    return np.unique(np.concatenate([np.linspace(0, 1, N_QUANTILES), tails, 1 - tails]))


def _fit_group(energies: np.ndarray) -> dict:
    qs = quantile_levels()
    quantiles = np.quantile(energies, qs, axis=0).T  # (3, Q)
    n = energies.shape[0]
    scores = ndtri((rankdata(energies, axis=0) - 0.5) / n)  # normal scores, ties averaged
    with np.errstate(invalid="ignore", divide="ignore"):  # a constant channel: NaN, set to 0 below
        corr = np.corrcoef(scores, rowvar=False) if n > 2 else np.eye(CHANNELS)
    corr = np.nan_to_num(corr, nan=0.0)  # a constant channel has no correlation
    np.fill_diagonal(corr, 1.0)
    group = {"levels": qs.tolist(), "quantiles": quantiles.tolist(), "corr": corr.tolist(), "jets": int(n)}
    k = mixture_components(n, MIXTURE_COMPONENTS)
    if k > 1 and np.isfinite(scores).all() and (scores.std(0) > 0).all():
        group["mixture"] = fit_mixture(scores, k)
    return group


COORDINATES = ("channels", "total_fractions", "cone")


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


def cone_mask(size: int, radius: float = JET_RADIUS) -> torch.Tensor:
    """(size, size) bool: pixel centres within ``radius`` of the jet axis (the observables' cone)."""
    deta, dphi = pixel_geometry(size)
    return torch.from_numpy(np.hypot(deta, dphi) < radius)


def region_sums(x: torch.Tensor, radius: float = JET_RADIUS) -> torch.Tensor:
    """(N, C, H, W) -> (N, 2, C): each channel's sum inside and outside the cone, on ``x``'s device (of GeV
    images: region energies; of lit masks: lit pixels)."""
    inside = cone_mask(x.shape[-1], radius).to(x.device)
    return torch.stack([(x * inside).sum((-1, -2)), (x * ~inside).sum((-1, -2))], 1)


def region_energies(x: torch.Tensor | np.ndarray, radius: float = JET_RADIUS) -> np.ndarray:
    """(N, 3, H, W) GeV images -> (N, 2, 3): each channel's energy inside and outside the cone."""
    return region_sums(torch.as_tensor(x).double(), radius).numpy()


def to_cone(r: np.ndarray) -> np.ndarray:
    """(N, 2, 3) region energies -> (N, 6): calorimeter (ECAL + HCAL) energy inside and outside the cone,
    ECAL's share of each, Tracks inside and outside. The inside calorimeter energy is the jet pT the
    selection fixes; a copula keeps its narrow marginal exactly, and shares keep every draw a valid split."""
    calo = r[:, :, 1] + r[:, :, 2]  # (N, 2)
    share = np.where(calo > 0, r[:, :, 1] / np.maximum(calo, 1e-300), 0.0)
    return np.concatenate([calo, share, r[:, :, 0]], 1)


def from_cone(c: np.ndarray) -> np.ndarray:
    """The inverse of :func:`to_cone`."""
    calo, share, tracks = c[:, 0:2], np.clip(c[:, 2:4], 0, 1), c[:, 4:6]
    return np.stack([tracks, calo * share, calo * (1 - share)], 2)


def fit_cone_energies(
    regions: np.ndarray, labels: np.ndarray | torch.Tensor | None = None, radius: float = JET_RADIUS
) -> dict:
    """Fit the copula table on region energies (N, 2, 3) GeV (:func:`region_energies`), all jets and per label."""
    r = np.asarray(regions, dtype=np.float64)
    if r.ndim != 3 or r.shape[1:] != (2, CHANNELS) or r.shape[0] < 2:
        raise JetInputError(f"region energies: expected (N >= 2, 2, 3) GeV, got shape {r.shape}")
    _check_energies(r, "region energies")
    table = _fit_table(to_cone(r), labels)
    table.update(coordinates="cone", radius=float(radius))
    return table


def _check_energies(e: np.ndarray, name: str) -> None:
    if not np.isfinite(e).all() or (e < 0).any():
        raise JetInputError(f"{name}: values must be finite and >= 0")


def _fit_table(v: np.ndarray, labels) -> dict:
    table = {"all": _fit_group(v)}
    if labels is not None:
        y = np.asarray(labels).reshape(-1)
        for lab in np.unique(y).tolist():
            if (y == lab).sum() > 2:
                table[str(int(lab))] = _fit_group(v[y == lab])
    return table


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
    _check_energies(e, "channel energies")
    if coordinates not in COORDINATES[:2]:
        raise JetInputError(
            f"channel energy coordinates {coordinates!r}: use one of {', '.join(COORDINATES[:2])}"
            " (cone tables are fitted on region energies: fit_cone_energies)"
        )
    v = to_total_fractions(e) if coordinates == "total_fractions" else e
    table = _fit_table(v, labels)
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


def _draw_coordinates(table: dict, labels, generator: torch.Generator | None) -> np.ndarray:
    """(N, D) draws of the table's own coordinates for jets of the given labels."""
    y = np.asarray(labels).reshape(-1)
    if "all" not in table:
        raise JetInputError("channel energy table: missing the 'all' entry")
    dims = len(table["all"]["quantiles"])
    z = torch.randn(len(y), dims, generator=generator, dtype=torch.float64).numpy()
    out = np.empty((len(y), dims))
    keys = np.array([str(int(v)) for v in y])
    for key in np.unique(keys).tolist():
        group = table.get(key, table["all"])
        rows = np.flatnonzero(keys == key)
        if "mixture" in group:
            u = mixture_uniforms(group["mixture"], len(rows), generator)
        else:
            chol = _cholesky(np.asarray(group["corr"], dtype=np.float64))
            u = torch.special.ndtr(torch.from_numpy(z[rows] @ chol.T)).numpy()
        quantiles = np.asarray(group["quantiles"], dtype=np.float64)
        qs = np.asarray(group["levels"]) if "levels" in group else np.linspace(0, 1, quantiles.shape[1])
        for c in range(dims):
            out[rows, c] = np.interp(u[:, c], qs, quantiles[c])
    return out


def is_cone_table(table: dict) -> bool:
    """Whether ``table`` draws energies inside and outside the cone (else channel totals)."""
    return table.get("coordinates") == "cone"


def draw_region_energies(
    table: dict, labels: torch.Tensor | np.ndarray, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Energies (N, 2, 3) GeV inside and outside the cone, from a ``"cone"`` table."""
    if not is_cone_table(table):
        raise JetInputError("channel energy table: region energies need a table in 'cone' coordinates")
    return torch.from_numpy(from_cone(_draw_coordinates(table, labels, generator)))


def draw_channel_energies(
    table: dict, labels: torch.Tensor | np.ndarray, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Channel energies (N, 3) GeV for jets of the given labels (a label without its own table uses "all")."""
    if is_cone_table(table):
        return draw_region_energies(table, labels, generator).sum(1)
    out = _draw_coordinates(table, labels, generator)
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


def rescale_regions(shapes: torch.Tensor, regions: torch.Tensor, radius: float = JET_RADIUS) -> torch.Tensor:
    """Give the inside and the outside of the cone of each channel of ``shapes`` (N, 3, H, W) their energies
    ``regions`` (N, 2, 3). Where the shape has no weight in one region, that region's energy goes to the other
    one, so each channel keeps its total (a channel with no weight at all stays empty)."""
    s = shapes.double().clamp_min(0)
    inside = cone_mask(s.shape[-1], radius).to(s.device)
    parts = (s * inside, s * ~inside)
    sums = [p.sum((-1, -2)) for p in parts]  # each (N, 3)
    e = torch.as_tensor(regions, dtype=torch.float64).to(s.device)
    total = e.sum(1)
    e_in = torch.where(sums[1] > 0, e[:, 0], total)  # no weight outside: all of it inside
    e_out = torch.where(sums[0] > 0, e[:, 1], total)
    out = torch.zeros_like(s)
    for part, sm, en in ((parts[0], sums[0], e_in), (parts[1], sums[1], e_out)):
        scale = torch.where(sm > 0, en / sm.clamp_min(1e-300), torch.zeros_like(sm))
        out = out + part * scale[:, :, None, None]
    return out.float()
