"""A small quark-vs-gluon CNN, trained on the embedded sample; its penultimate layer is the jet feature space.

Inception-v3 never saw a jet. This network did: its 64 penultimate activations are what FID and KID
on "jet features" compare, and its output gives a verdict on generated quark and gluon jets.
Input: (N, 3, size, size) images in GeV, mapped inside the network by log1p(E / 1 GeV), so nothing
has to be fitted outside it. Weights ship as safetensors with a JSON model card (test AUC, the
command that re-creates it).

Re-create:  python -m core.metrics.jet_classifier --data assets/jets_sample.h5 --out checkpoints/jet_classifier
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torchmetrics.functional.classification import binary_auroc

from core.atomic import atomic_path, write_text_atomic
from core.errors import JetInputError, fail

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "checkpoints" / "jet_classifier"
WEIGHTS = "model.safetensors"
CARD = "model_card.json"


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture of the classifier; saved in the model card, enough to rebuild it."""

    size: int = 32
    width: int = 16
    features: int = 64
    scale_gev: float = 1.0

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierConfig:
        return cls(**{k: d[k] for k in ("size", "width", "features", "scale_gev") if k in d})


class JetClassifier(nn.Module):
    """Three conv blocks (size -> size/8), a dense feature layer, one logit (quark = 1)."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        if config.size % 8:
            raise JetInputError(f"jet classifier: size must be a multiple of 8, got {config.size}")
        self.config = config
        w = config.width

        def block(c_in: int, c_out: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, padding=1),
                nn.ReLU(),
                nn.Conv2d(c_out, c_out, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
            )

        self.conv = nn.Sequential(block(3, w), block(w, 2 * w), block(2 * w, 4 * w))
        flat = 4 * w * (config.size // 8) ** 2
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(flat, config.features), nn.ReLU())
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(config.features, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate activations (N, features) of images (N, 3, size, size) in GeV."""
        return self.dense(self.conv(torch.log1p(x.clamp_min(0) / self.config.scale_gev)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Quark logit (N,)."""
        return self.head(self.features(x)).squeeze(-1)


@torch.no_grad()
def predict_proba(model: JetClassifier, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Quark probability of each jet (N,), in eval mode, batch by batch."""
    model.eval()
    parts = [torch.sigmoid(model(x[i : i + batch_size])) for i in range(0, len(x), batch_size)]
    return torch.cat(parts) if parts else torch.zeros(0)


def auc(model: JetClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    """Area under the ROC curve of quark vs gluon."""
    return float(binary_auroc(predict_proba(model, x), y.long()))


def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    # Jets are symmetric under eta -> -eta and phi -> -phi: random flips.
    flip = torch.rand(2, x.shape[0], generator=generator) < 0.5
    x = torch.where(flip[0].view(-1, 1, 1, 1), x.flip(-2), x)
    return torch.where(flip[1].view(-1, 1, 1, 1), x.flip(-1), x)


def split_indices(n: int, seed: int, fractions: tuple[float, float] = (0.8, 0.1)) -> tuple[np.ndarray, ...]:
    """Seeded train / validation / test split of n jets."""
    perm = np.random.default_rng(seed).permutation(n)
    a, b = int(fractions[0] * n), int((fractions[0] + fractions[1]) * n)
    return perm[:a], perm[a:b], perm[b:]


def _check_training_set(x: torch.Tensor, y: torch.Tensor, config: ClassifierConfig) -> None:
    """One line when the images do not fit the network or one class is missing."""
    if x.ndim != 4 or x.shape[1:] != (3, config.size, config.size):
        raise JetInputError(
            f"jet classifier: expected images (N, 3, {config.size}, {config.size}), got {tuple(x.shape)}"
        )
    if len(torch.unique(y)) < 2:
        raise JetInputError("jet classifier: training needs both quark and gluon jets")


def _train_epoch(model, x, y, train_index, opt, loss_fn, batch_size: int, generator: torch.Generator) -> float:
    """One pass over ``train_index`` in a seeded random order, with random flips; the mean training loss."""
    model.train()
    order = train_index[torch.randperm(len(train_index), generator=generator)]
    total = 0.0
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        loss = loss_fn(model(_augment(x[idx], generator)), y[idx].float())
        opt.zero_grad()
        loss.backward()
        opt.step()
        total += float(loss.detach()) * len(idx)
    return total / len(train_index)


def train_classifier(
    x: torch.Tensor,
    y: torch.Tensor,
    config: ClassifierConfig = ClassifierConfig(),
    epochs: int = 15,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    log=print,
) -> tuple[JetClassifier, dict]:
    """Train on a seeded 80 / 10 / 10 split; keep the epoch with the best validation AUC. Returns (model, card)."""
    _check_training_set(x, y, config)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    tr, va, te = (torch.from_numpy(i) for i in split_indices(len(x), seed))
    model = JetClassifier(config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.BCEWithLogitsLoss()
    best, best_state, history, started = -1.0, None, [], time.time()
    for epoch in range(epochs):
        train_loss = _train_epoch(model, x, y, tr, opt, loss_fn, batch_size, generator)
        sched.step()
        val_auc = auc(model, x[va], y[va])
        history.append({"epoch": epoch + 1, "train_loss": train_loss, "val_auc": val_auc})
        log(f"epoch {epoch + 1}/{epochs}  loss {train_loss:.4f}  val AUC {val_auc:.4f}")
        if val_auc > best:
            best, best_state = val_auc, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    model.eval()
    card = {
        "name": "jet_classifier",
        "purpose": "quark (1) vs gluon (0) jet images; penultimate layer = jet features for FID/KID",
        "config": asdict(config),
        "input": f"(N, 3, {config.size}, {config.size}) pT per pixel in GeV (Tracks, ECAL, HCAL), sum-pooled",
        "feature_dim": config.features,
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "split": {"train": len(tr), "validation": len(va), "test": len(te), "fractions": [0.8, 0.1, 0.1]},
        "val_auc": best,
        "test_auc": auc(model, x[te], y[te]),
        "test_accuracy": float(((predict_proba(model, x[te]) > 0.5).long() == y[te]).float().mean()),
        "history": history,
        "train_seconds": round(time.time() - started, 1),
        "torch": torch.__version__,
    }
    return model, card


def save_classifier(model: JetClassifier, card: dict, out: str | Path = DEFAULT_DIR) -> Path:
    """Weights as safetensors and the model card as JSON, each written atomically."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / WEIGHTS, suffix=".safetensors") as tmp:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp))
        tmp.chmod(0o644)  # safetensors writes a private file; a shipped checkpoint is world-readable
    write_text_atomic(out / CARD, json.dumps(card, indent=2) + "\n")
    return out


def load_card(path: str | Path = DEFAULT_DIR) -> dict:
    """The model card of a saved classifier."""
    card_path = Path(path) / CARD
    if not card_path.exists():
        raise fail(card_path, "no model card (is this a jet classifier checkpoint?)")
    try:
        return json.loads(card_path.read_text())
    except json.JSONDecodeError as err:
        raise fail(card_path, f"not valid JSON ({err.msg})") from None


def load_classifier(path: str | Path = DEFAULT_DIR) -> JetClassifier:
    """Rebuild the classifier from its card and safetensors weights (nothing is unpickled)."""
    path = Path(path)
    card = load_card(path)
    weights = path / WEIGHTS
    if not weights.exists():
        raise fail(weights, "missing weights file")
    model = JetClassifier(ClassifierConfig.from_dict(card.get("config", {})))
    try:
        state = load_file(str(weights))
    except Exception as err:  # safetensors raises its own error types for corrupt files
        raise fail(weights, f"cannot read safetensors ({err.__class__.__name__})") from None
    try:
        model.load_state_dict(state)
    except RuntimeError:
        raise fail(weights, "weights do not match the architecture in the model card") from None
    return model.eval()


def main(argv: list[str] | None = None) -> int:
    from core.data.readers import load_tensors

    p = argparse.ArgumentParser(
        prog="python -m core.metrics.jet_classifier", description="Train the jet feature network."
    )
    p.add_argument("--data", default=None, help="jet file (default: the embedded sample)")
    p.add_argument("--out", default=str(DEFAULT_DIR), help="checkpoint folder")
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--max-jets", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    x, y = load_tensors(args.data, size=args.size, max_jets=args.max_jets, seed=args.seed)
    model, card = train_classifier(x, y, ClassifierConfig(size=args.size), epochs=args.epochs, seed=args.seed)
    card["data"] = args.data or "assets/jets_sample.h5 (embedded sample)"
    card["jets"] = len(y)
    card["split"]["how"] = "split_indices(jets, seed) over the file's order (core.metrics.jet_classifier)"
    card["command"] = (
        f"python -m core.metrics.jet_classifier --out {args.out} --size {args.size} --epochs {args.epochs} "
        f"--seed {args.seed}"
        + (f" --data {args.data}" if args.data else "")
        + (f" --max-jets {args.max_jets}" if args.max_jets else "")
    )
    save_classifier(model, card, args.out)
    print(f"test AUC {card['test_auc']:.4f}, accuracy {card['test_accuracy']:.4f}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
