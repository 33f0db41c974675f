"""Physics distances between jet sets, on the observables of ``core.data.observables``.

- Wasserstein-1 (``scipy.stats.wasserstein_distance``) per observable, in the observable's units.
- Frechet physics distance (FPD, Kansal et al., JetNet, 2023): the Frechet distance between Gaussians
  fitted to the observable vectors (:data:`FPD_KEYS`), each divided by its spread in the real set; since the
  estimator is biased by O(1/N), it is measured at several subsample sizes N and the straight-line
  fit of FD against 1/N is read at 1/N = 0 (the intercept, with its standard error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from scipy import stats

from core.data.observables import OBSERVABLES, jet_observables
from core.errors import JetInputError
from core.metrics.checks import check_count

# The FPD vector: every observable but the HCAL fraction, which is 1 minus the other two fractions
# (a covariance with a linear dependency is singular).
FPD_KEYS = tuple(k for k in OBSERVABLES if k != "frac_hcal")


def observables(x) -> dict[str, np.ndarray]:
    """Observables of jets (N, 3, H, W) GeV, keyed as :data:`core.data.observables.OBSERVABLES`."""
    return jet_observables(x)


def as_matrix(obs: Mapping[str, np.ndarray], keys: Sequence[str] = OBSERVABLES) -> np.ndarray:
    """(N, K) float64 matrix of the observables ``keys``."""
    missing = [k for k in keys if k not in obs]
    if missing:
        raise JetInputError(f"observables: missing {', '.join(missing)}")
    return np.stack([np.asarray(obs[k], dtype=np.float64) for k in keys], axis=1)


def wasserstein_distances(
    real: Mapping[str, np.ndarray], generated: Mapping[str, np.ndarray], keys: Sequence[str] = OBSERVABLES
) -> dict[str, float]:
    """W1 between the real and generated distributions of each observable."""
    out = {}
    for k in keys:
        a, b = np.asarray(real[k], dtype=np.float64), np.asarray(generated[k], dtype=np.float64)
        if a.size == 0 or b.size == 0:
            raise JetInputError(f"Wasserstein distance of {k}: an empty set")
        out[k] = float(stats.wasserstein_distance(a, b))
    return out


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of Gaussians fitted to rows of a (N, K) and b (M, K)."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    if a.shape[1] != b.shape[1]:
        raise JetInputError(f"Frechet distance: {a.shape[1]} features against {b.shape[1]}")
    k = a.shape[1]
    check_count(min(len(a), len(b)), k + 1, "Frechet distance", f"a full covariance of {k} features")
    from core.metrics.sets import frechet_distance_torchmetrics

    return frechet_distance_torchmetrics(torch.from_numpy(a.astype(np.float64)), torch.from_numpy(b.astype(np.float64)))


def frechet_extrapolated(
    a: np.ndarray,
    b: np.ndarray,
    sizes: Sequence[int] | None = None,
    batches: int = 10,
    seed: int = 0,
) -> dict:
    """FD at infinite N: mean FD of random subsamples (without replacement) at each size N, fit against 1/N.

    Returns ``{"value": intercept, "error": its standard error, "sizes": [...], "fd": [...]}``.
    Default sizes: 8 points from max(2 K + 2, n / 4) to n = min(len(a), len(b)).
    """
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    n, k = min(len(a), len(b)), a.shape[1]
    check_count(n, 2 * k + 2, "Frechet physics distance", f"extrapolating a covariance of {k} observables")
    if sizes is None:
        lo = max(2 * k + 2, n // 4)
        sizes = sorted({int(s) for s in np.linspace(lo, n, 8)})
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < k + 1 or max(sizes) > n:
        raise JetInputError(f"Frechet physics distance: need at least 2 subsample sizes in {k + 1}..{n}, got {sizes}")
    rng = np.random.default_rng(seed)
    means = []
    for size in sizes:
        vals = [
            frechet_distance(a[rng.choice(len(a), size, replace=False)], b[rng.choice(len(b), size, replace=False)])
            for _ in range(batches)
        ]
        means.append(float(np.mean(vals)))
    fit = stats.linregress(1.0 / np.asarray(sizes, dtype=np.float64), np.asarray(means))
    return {"value": float(fit.intercept), "error": float(fit.intercept_stderr), "sizes": sizes, "fd": means}


def standardise(reference: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """Divide every column by the reference set's standard deviation (constant columns by 1)."""
    scale = reference.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return [m / scale for m in (reference, *others)]


def physics_distances(
    real_a: Mapping[str, np.ndarray],
    generated: Mapping[str, np.ndarray],
    real_b: Mapping[str, np.ndarray],
    keys: Sequence[str] = OBSERVABLES,
    seed: int = 0,
    fpd_keys: Sequence[str] = FPD_KEYS,
) -> dict:
    """W1 per observable and the extrapolated FPD, for generated vs real_a (model) and real_b vs real_a (floor)."""
    ma, mg, mb = (as_matrix(o, fpd_keys) for o in (real_a, generated, real_b))
    za, zg, zb = standardise(ma, mg, mb)
    return {
        "w1": {
            "model": wasserstein_distances(real_a, generated, keys),
            "floor": wasserstein_distances(real_a, real_b, keys),
        },
        "fpd": {"model": frechet_extrapolated(za, zg, seed=seed), "floor": frechet_extrapolated(za, zb, seed=seed)},
        "n": int(len(mg)),
    }
