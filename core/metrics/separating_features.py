"""Which features tell generated jets from real ones: the two-sample AUC of each group of features alone.

A two-sample AUC near 1 says that a classifier separates the sets, not by what. Here the same MLP and
cross-validation (``core.metrics.two_sample``) read one named group of features at a time, each beside its
real-vs-real floor, so a physicist sees where a model fails: its jet observables, its channel energies, how
many pixels it lights above a few energies, or how each channel shares its energy among its brightest pixels.
That last group found what no single observable shows: real HCAL images are 5 x 5-pixel towers summed into the
coarse pixels, so the shares of a jet's brightest HCAL pixels take a few fixed ratios (the second over the
first is 2/3 in more than a quarter of real jets at 32 x 32), which neither the U-Net nor the quantum model
reproduces (README, "Which features separate").
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from core.data.layout import CHANNELS
from core.data.observables import jet_observables
from core.metrics.checks import as_images
from core.metrics.report import text_table
from core.metrics.two_sample import classifier_auc

BRIGHTEST = 8  # pixels per channel whose shares of the channel's energy a group reads
LIT_LEVELS = (0.0, 0.1, 1.0, 10.0)  # GeV: pixels above each, per channel


def _observables(radius: float | None) -> Callable[[torch.Tensor], np.ndarray]:
    return lambda x: np.stack(list(jet_observables(x, radius=radius).values()), axis=1)


def _totals_and_peaks(x: torch.Tensor) -> np.ndarray:
    return torch.cat([x.sum((2, 3)), x.amax((2, 3))], 1).double().numpy()


def _lit_counts(x: torch.Tensor) -> np.ndarray:
    return np.concatenate([(x > level).flatten(2).sum(-1).double().numpy() for level in LIT_LEVELS], 1)


def brightest_shares(x: torch.Tensor, channel: int, k: int = BRIGHTEST) -> np.ndarray:
    """(N, k): the shares of channel ``channel``'s energy in its ``k`` brightest pixels, brightest first."""
    flat = x[:, channel].flatten(1).double()
    shares = flat / flat.sum(-1, keepdim=True).clamp_min(1e-300)
    return shares.sort(-1, descending=True).values[:, :k].numpy()


def feature_groups() -> dict[str, Callable[[torch.Tensor], np.ndarray]]:
    """Named groups: jets (N, 3, H, W) GeV -> (N, F) features, each read alone by the classifier."""
    groups = {
        "observables within R = 0.4": _observables(0.4),
        "observables, whole image": _observables(None),
        "channel totals and brightest pixels": _totals_and_peaks,
        "lit pixels above " + ", ".join(f"{v:g}" for v in LIT_LEVELS) + " GeV": _lit_counts,
    }
    for c, name in enumerate(CHANNELS):
        groups[f"{name}: shares of its {BRIGHTEST} brightest pixels"] = lambda x, c=c: brightest_shares(x, c)
    return groups


def _as_features(fn: Callable[[torch.Tensor], np.ndarray]) -> Callable[[torch.Tensor], torch.Tensor]:
    """The classifier's input: log1p of the (non-negative) features, NaN (an empty channel's width) as 0."""

    def features(x: torch.Tensor) -> torch.Tensor:
        values = np.nan_to_num(np.asarray(fn(x.clamp_min(0)), dtype=np.float64), nan=0.0)
        return torch.from_numpy(np.log1p(np.clip(values, 0, None))).float()

    return features


def separating_features(
    real_a: torch.Tensor,
    generated: torch.Tensor,
    real_b: torch.Tensor,
    folds: int = 5,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """One row per feature group: its two-sample AUC, generated vs ``real_a`` (``model``) and ``real_b`` vs
    ``real_a`` (``floor``), with the number of features; in :func:`feature_groups` order."""
    say = progress or (lambda _msg: None)
    real_a, generated = as_images(real_a, "real jets"), as_images(generated, "generated jets")
    real_b = as_images(real_b, "second half of the real jets")
    rows = []
    for name, fn in feature_groups().items():
        say(f"separating features: {name}")
        features = _as_features(fn)
        model = classifier_auc(real_a, generated, "observables", folds, seed, features=features)
        floor = classifier_auc(real_a, real_b, "observables", folds, seed, features=features)
        n = int(features(real_a[:2]).shape[1])
        rows.append({"group": name, "features": n, "model": model["auc"], "floor": floor["auc"]})
    return rows


def format_separating(rows: list[dict]) -> str:
    """The rows as a plain-text table, most separating group first."""
    body = [("features read alone", "n", "AUC generated vs real", "floor (real vs real)")]
    for r in sorted(rows, key=lambda r: -r["model"]):
        body.append((r["group"], str(r["features"]), f"{r['model']:.3f}", f"{r['floor']:.3f}"))
    return text_table(body)
