"""A Gaussian-mixture copula: the dependence between a jet's channel energies beyond one correlation matrix.

A Gaussian copula (one correlation of normal scores) cannot bend: the share of the calorimeter energy that
ECAL takes and the Tracks energy inside the cone depend on each other differently for jets rich in photons
and jets rich in hadrons, and one ellipse drawn through both puts the HCAL fraction of a gluon jet 2x its
real-vs-real floor away. A few full-covariance Gaussians in normal-score space follow that bend. The
marginals stay exact: a draw goes back to uniforms through the mixture's own marginal CDFs (closed form)
and from there through each coordinate's quantile table, as with the plain copula.

The fit is expectation-maximisation in numpy (scipy has no mixture model and the project does not depend
on scikit-learn), seeded, with a small ridge on each covariance so no component collapses on a few jets.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import logsumexp

RIDGE = 1e-3
JETS_PER_COMPONENT = 200  # fewer jets than this per component: fewer components


def _log_normal(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    chol = np.linalg.cholesky(cov)
    z = np.linalg.solve(chol, (x - mean).T)
    return -0.5 * (z**2).sum(0) - np.log(np.diag(chol)).sum() - 0.5 * len(mean) * np.log(2 * np.pi)


def mixture_components(n: int, components: int) -> int:
    """How many components ``n`` jets support (at most ``components``; 1 means a plain Gaussian copula)."""
    return max(1, min(int(components), n // JETS_PER_COMPONENT))


def fit_mixture(scores: np.ndarray, components: int, iterations: int = 200, seed: int = 0) -> dict:
    """EM fit of ``components`` Gaussians to (N, D) normal scores -> {"weights", "means", "covs"} (lists)."""
    s = np.asarray(scores, dtype=np.float64)
    n, d = s.shape
    rng = np.random.default_rng(seed)
    means = s[rng.choice(n, components, replace=False)]
    covs = np.stack([np.cov(s, rowvar=False) + RIDGE * np.eye(d)] * components)
    weights = np.full(components, 1.0 / components)
    for _ in range(iterations):
        logp = np.stack([np.log(weights[k]) + _log_normal(s, means[k], covs[k]) for k in range(components)], 1)
        resp = np.exp(logp - logsumexp(logp, axis=1, keepdims=True))
        nk = resp.sum(0) + 1e-12
        weights = nk / n
        means = (resp.T @ s) / nk[:, None]
        for k in range(components):
            dev = s - means[k]
            covs[k] = (resp[:, k, None] * dev).T @ dev / nk[k] + RIDGE * np.eye(d)
    return {"weights": weights.tolist(), "means": means.tolist(), "covs": covs.tolist()}


def mixture_uniforms(mixture: dict, n: int, generator: torch.Generator | None = None) -> np.ndarray:
    """(n, D) draws from the mixture, each coordinate mapped to [0, 1] by the mixture's marginal CDF."""
    weights = torch.as_tensor(mixture["weights"], dtype=torch.float64)
    means = torch.as_tensor(mixture["means"], dtype=torch.float64)
    covs = torch.as_tensor(mixture["covs"], dtype=torch.float64)
    comp = torch.multinomial(weights, n, replacement=True, generator=generator)
    z = torch.randn(n, means.shape[1], generator=generator, dtype=torch.float64)
    chol = torch.linalg.cholesky(covs)
    s = means[comp] + (chol[comp] @ z[:, :, None])[:, :, 0]
    sd = torch.diagonal(covs, dim1=1, dim2=2).sqrt()  # (K, D)
    u = (weights[None, :, None] * torch.special.ndtr((s[:, None, :] - means[None]) / sd[None])).sum(1)
    return u.clamp(0.0, 1.0).numpy()
