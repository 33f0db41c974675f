"""Two-sample classifier test: can a classifier tell generated jets from real ones?

A classifier is trained to separate two jet sets and scored by the area under its ROC curve on jets it
did not train on (k-fold cross-validation, every jet scored once). AUC 0.5: the sets cannot be told
apart; 1.0: perfectly separable. Finite sets and a finite classifier leave a bias, so the AUC is
reported beside its floor: the same procedure on two disjoint halves of the real jets.

Two classifiers, both small torch networks trained with early stopping on a validation part of the
training folds (a reasonably strong test, not tuned to flatter any model):

- ``observables``: an MLP on jet observables (``core.data.observables``, within R = 0.4 and over the
  whole image) plus each channel's total and brightest pixel, all log1p-mapped and standardised;
- ``pixels``: a CNN on log1p(E / 1 GeV) images sum-pooled to 8 x 8 (smaller images as they are), its
  features joined with the same observables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
from torch import nn

from core.data.observables import jet_observables
from core.data.transforms import downsample
from core.errors import JetInputError
from core.metrics.checks import as_images, check_count, check_same_kind

KINDS = ("observables", "pixels")
POOL = 8  # pixel classifier input size


def roc_auc(scores: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> float:
    """Area under the ROC curve of ``scores`` for ``labels`` (1 = positive), ties counted as half.

    Equal to the Mann-Whitney U statistic of positives vs negatives divided by n_pos * n_neg.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    if s.shape != y.shape:
        raise JetInputError(f"ROC AUC: {s.size} scores for {y.size} labels")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise JetInputError("ROC AUC: needs both positive and negative examples")
    ranks = stats.rankdata(s)  # average ranks for ties
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def observable_features(x: torch.Tensor) -> torch.Tensor:
    """(N, 26) float32: observables within R = 0.4 and over the whole image, channel totals and maxima, log1p."""
    x = as_images(x, "jets").clamp_min(0)
    parts = [np.stack(list(jet_observables(x, radius=r).values()), axis=1) for r in (0.4, None)]
    parts.append(x.sum(dim=(2, 3)).double().numpy())
    parts.append(x.amax(dim=(2, 3)).double().numpy())
    return torch.from_numpy(np.log1p(np.concatenate(parts, axis=1))).float()


def pixel_inputs(x: torch.Tensor, pool: int = POOL) -> torch.Tensor:
    """(N, 3, p, p) log1p(E / 1 GeV) images, sum-pooled to ``pool`` when the size allows."""
    x = as_images(x, "jets").clamp_min(0)
    if x.shape[-1] > pool and x.shape[-1] % pool == 0:
        x = downsample(x, pool)
    return torch.log1p(x)


class ObservableMLP(nn.Module):
    """Standardised observables -> two hidden layers -> logit (generated = 1)."""

    def __init__(self, n_features: int, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, obs: torch.Tensor, images: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(obs).squeeze(-1)


class PixelCNN(nn.Module):
    """Small CNN on pooled log images, its features joined with the observables, -> logit."""

    def __init__(self, n_features: int, size: int, width: int = 32, hidden: int = 64):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(max(1, size // 2)),
            nn.Flatten(),
            nn.Linear(width * max(1, size // 2) ** 2, hidden),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Linear(hidden + n_features, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, obs: torch.Tensor, images: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(torch.cat([self.conv(images), obs], dim=1)).squeeze(-1)


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser and early stopping of one fold's classifier."""

    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 128
    max_epochs: int = 150
    patience: int = 12
    val_fraction: float = 0.2


def _standardise(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    dims = [0] + ([2, 3] if train.ndim == 4 else [])
    mu, sd = train.mean(dim=dims, keepdim=True), train.std(dim=dims, keepdim=True).clamp_min(1e-6)
    return [((t - mu) / sd).clamp(-20, 20) for t in (train, *others)]


def _bce(model: nn.Module, obs: torch.Tensor, img: torch.Tensor | None, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(nn.functional.binary_cross_entropy_with_logits(model(obs, img), y))


def _fit(model: nn.Module, data: tuple, y: torch.Tensor, val: tuple, y_val: torch.Tensor, cfg: TrainConfig, g) -> None:
    """Mini-batch AdamW; keep the weights of the epoch with the lowest validation loss."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    best, best_state, waited = float("inf"), None, 0
    obs, img = data
    for _epoch in range(cfg.max_epochs):
        model.train()
        order = torch.randperm(len(y), generator=g)
        for i in range(0, len(y), cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            logits = model(obs[idx], None if img is None else img[idx])
            loss = nn.functional.binary_cross_entropy_with_logits(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        v = _bce(model, *val, y_val)
        if v < best - 1e-4:
            best, best_state, waited = v, {k: t.clone() for k, t in model.state_dict().items()}, 0
        else:
            waited += 1
            if waited >= cfg.patience:
                break
    model.load_state_dict(best_state)
    model.eval()


def stratified_folds(y: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    """k seeded folds of indices, each class spread evenly over them."""
    rng = np.random.default_rng(seed)
    folds: list[list[np.ndarray]] = [[] for _ in range(k)]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        for f, part in enumerate(np.array_split(idx, k)):
            folds[f].append(part)
    return [np.sort(np.concatenate(f)) for f in folds]


def _make_model(kind: str, n_features: int, size: int) -> nn.Module:
    return ObservableMLP(n_features) if kind == "observables" else PixelCNN(n_features, size)


def _fold_scores(kind: str, obs, img, y, train_idx, test_idx, cfg: TrainConfig, seed: int) -> np.ndarray:
    """Train on ``train_idx`` (minus a validation part), return the logits of ``test_idx``."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(train_idx)
    n_val = max(2, int(cfg.val_fraction * len(perm)))
    fit_idx, val_idx = perm[n_val:], perm[:n_val]
    o_fit, o_val, o_test = _standardise(obs[fit_idx], obs[val_idx], obs[test_idx])
    if img is not None:
        i_fit, i_val, i_test = _standardise(img[fit_idx], img[val_idx], img[test_idx])
    else:
        i_fit = i_val = i_test = None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = _make_model(kind, obs.shape[1], 0 if img is None else img.shape[-1])
    g = torch.Generator().manual_seed(seed)
    _fit(model, (o_fit, i_fit), y[fit_idx], (o_val, i_val), y[val_idx], cfg, g)
    with torch.no_grad():
        return model(o_test, i_test).double().numpy()


def classifier_auc(
    a: torch.Tensor,
    b: torch.Tensor,
    kind: str = "observables",
    folds: int = 5,
    seed: int = 0,
    config: TrainConfig | None = None,
    features: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> dict:
    """Cross-validated ROC AUC of a classifier telling jets ``b`` (positive) from jets ``a`` (N, 3, H, W GeV).

    ``features``: what the MLP reads, jets -> (N, F) float32 (default :func:`observable_features`).

    Returns ``{"auc": mean over folds, "std": spread over folds, "pooled": AUC of all out-of-fold scores,
    "folds": [...], "n": (len(a), len(b))}``.
    """
    if kind not in KINDS:
        raise JetInputError(f"two-sample classifier: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if folds < 2:
        raise JetInputError(f"two-sample classifier: need at least 2 folds, got {folds}")
    a, b = as_images(a, "first jet set"), as_images(b, "second jet set")
    check_same_kind(a, b, "first jet set", "second jet set")
    check_count(min(len(a), len(b)), 2 * folds, "two-sample classifier", f"{folds}-fold cross-validation")
    cfg = config or (TrainConfig() if kind == "observables" else TrainConfig(lr=2e-3, max_epochs=60, patience=8))
    # Callers may hold inference mode (evaluate does): training needs autograd and ordinary tensors.
    with torch.inference_mode(False), torch.enable_grad():
        return _cross_validate(a.clone(), b.clone(), kind, folds, seed, cfg, features or observable_features)


def _cross_validate(
    a: torch.Tensor, b: torch.Tensor, kind: str, folds: int, seed: int, cfg: TrainConfig, features: Callable
) -> dict:
    x = torch.cat([a, b])
    y = torch.cat([torch.zeros(len(a)), torch.ones(len(b))])
    obs = features(x)
    img = pixel_inputs(x) if kind == "pixels" else None
    y_np = y.numpy().astype(int)
    scores, per_fold = np.zeros(len(y)), []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small networks: one thread is faster, and far faster on a shared machine
    try:
        for f, test_idx in enumerate(stratified_folds(y_np, folds, seed)):
            train_idx = np.setdiff1d(np.arange(len(y)), test_idx)
            scores[test_idx] = _fold_scores(kind, obs, img, y, train_idx, test_idx, cfg, seed * 1000 + f)
            per_fold.append(roc_auc(scores[test_idx], y_np[test_idx]))
    finally:
        torch.set_num_threads(threads)
    return {
        "auc": float(np.mean(per_fold)),
        "std": float(np.std(per_fold)),
        "pooled": roc_auc(scores, y_np),
        "folds": per_fold,
        "n": (len(a), len(b)),
    }


def two_sample_test(
    real_a: torch.Tensor,
    generated: torch.Tensor,
    real_b: torch.Tensor,
    kind: str = "observables",
    folds: int = 5,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Classifier AUC of generated vs ``real_a`` (the model) and of ``real_b`` vs ``real_a`` (the floor)."""
    say = progress or (lambda _msg: None)
    say(f"two-sample classifier ({kind}): generated vs real")
    model = classifier_auc(real_a, generated, kind, folds, seed)
    say(f"two-sample classifier ({kind}): real vs real")
    floor = classifier_auc(real_a, real_b, kind, folds, seed)
    return {"model": model, "floor": floor, "kind": kind, "folds": folds}
