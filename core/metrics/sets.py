"""FID and KID between jet sets (torchmetrics), each with its real-vs-real floor.

The feature network (``core.metrics.features``: packaged Inception-v3 or the jet classifier) runs
once per set; FID (``FrechetInceptionDistance``) and KID (``KernelInceptionDistance``) are then
torchmetrics' own estimators, fed the features through a pass-through module, so the expensive
network is not run twice. :func:`fid_metric` gives the plain torchmetrics object for streaming use.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import KernelInceptionDistance

from core.metrics.checks import as_images, check_count, check_same_kind


class PrecomputedFeatures(nn.Module):
    """Identity on (N, D) features already extracted by a feature network (tells torchmetrics D)."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = int(num_features)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return feats


def fid_metric(feature: nn.Module) -> FrechetInceptionDistance:
    """torchmetrics FID on raw jet images (N, 3, H, W) GeV with a feature network; keeps the real features on reset."""
    return FrechetInceptionDistance(feature=feature, reset_real_features=False)


@torch.no_grad()
def extract(feature: nn.Module, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Features (N, D) of images x, a batch at a time (float64)."""
    return torch.cat([feature(x[i : i + batch_size]).double() for i in range(0, x.shape[0], batch_size)])


def frechet_distance_torchmetrics(ref: torch.Tensor, other: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of Gaussians fitted to the rows of two (N, D) sets:
    torchmetrics' FID on features that are already extracted (the one Frechet distance of the project)."""
    ref, other = torch.as_tensor(ref, dtype=torch.float64), torch.as_tensor(other, dtype=torch.float64)
    fid = FrechetInceptionDistance(feature=PrecomputedFeatures(ref.shape[1]))
    fid.update(ref, real=True)
    fid.update(other, real=False)
    return float(fid.compute())


def fid_kid_from_features(
    ref: torch.Tensor, other: torch.Tensor, seed: int = 0, kid_subsets: int = 50, kid_subset_size: int | None = None
) -> dict:
    """FID and KID (mean, std over subsets) between two feature sets (N, D)."""
    check_count(min(len(ref), len(other)), 2, "FID", "a covariance")
    dim = ref.shape[1]
    size = kid_subset_size or min(1000, max(2, min(len(ref), len(other)) // 2))  # subsets must differ
    with warnings.catch_warnings():  # "KID keeps every feature in memory": ours are a few thousand rows
        warnings.filterwarnings("ignore", message=".*Kernel Inception Distance.*")
        kid = KernelInceptionDistance(feature=PrecomputedFeatures(dim), subsets=kid_subsets, subset_size=size)
    kid.update(ref, real=True)
    kid.update(other, real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # KID draws its subsets from the global generator
        kid_mean, kid_std = kid.compute()
    return {
        "fid": frechet_distance_torchmetrics(ref, other),
        "kid": float(kid_mean),
        "kid_std": float(kid_std),
        "kid_subset_size": size,
    }


def feature_distances(
    real_a: torch.Tensor, generated: torch.Tensor, real_b: torch.Tensor, feature: nn.Module, seed: int = 0
) -> dict:
    """FID and KID of generated vs real_a (the model) and of real_b vs real_a (the floor), same-size sets.

    Returns ``{"model": {"fid", "kid", "kid_std", ...}, "floor": {...}, "n": N, "num_features": D}``.
    """
    real_a = as_images(real_a, "real jets")
    generated = as_images(generated, "generated jets")
    real_b = as_images(real_b, "real jets (floor half)")
    check_same_kind(real_a, generated, "real jets", "generated jets")
    check_same_kind(real_a, real_b, "real jets", "real jets (floor half)")
    check_count(min(len(real_a), len(generated), len(real_b)), 2, "FID", "a covariance")
    feats_a, feats_g, feats_b = (extract(feature, x) for x in (real_a, generated, real_b))
    return {
        "model": fid_kid_from_features(feats_a, feats_g, seed),
        "floor": fid_kid_from_features(feats_a, feats_b, seed),
        "n": int(len(generated)),
        "num_features": int(feats_a.shape[1]),
    }
