"""Readers that give every jet file the CMS layout, lazily: nothing reads a whole 26 GB file.

- :class:`CMSFile`: ``X_jets`` (N, H, W, 3) or channels-first (N, 3, H, W), told apart by shape.
- :class:`SparseJetFile`: the compact layout of the embedded sample (core.data.writers).
- :class:`EnergyFlowFile`: EnergyFlow ``QG_jets*.npz`` particles pixelised through core.data.detector.
``open_jets(path)`` picks one; ``open_jets()`` is the embedded sample.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import torch

from core.data.detector import DetectorConfig, jet_axis, pixelise
from core.data.layout import GLUON, IMAGE_SIZE, QUARK, UNLABELLED, VALID_LABELS
from core.data.sparse import to_dense
from core.data.transforms import downsample
from core.data.writers import SPARSE_FORMAT
from core.errors import JetInputError, fail

ASSETS = Path(__file__).resolve().parents[2] / "assets"
EMBEDDED_SAMPLE = ASSETS / "jets_sample.h5"


def _index_list(index: int | slice | np.ndarray | list, n: int, name: str) -> np.ndarray:
    if isinstance(index, slice):
        return np.arange(n)[index]
    idx = np.atleast_1d(np.asarray(index))
    if idx.dtype == bool:
        if idx.shape != (n,):
            raise fail(name, f"boolean index of shape {idx.shape} does not match {n} jets")
        return np.flatnonzero(idx)
    if not np.issubdtype(idx.dtype, np.integer):
        raise fail(name, f"jet index must be integers, got {idx.dtype}")
    idx = np.where(idx < 0, idx + n, idx)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise fail(name, f"jet index out of range 0..{n - 1}")
    return idx


def check_labels(y: np.ndarray, name: str) -> np.ndarray:
    """Labels as int64, refusing anything but 1 (quark), 0 (gluon) and -1 (unlabelled), naming the bad values."""
    bad = ~np.isin(y, VALID_LABELS)
    if bad.any():
        values = ", ".join(f"{v:g}" for v in np.unique(y[bad])[:5])
        raise fail(name, f"key 'y' holds {values}; use 1 (quark), 0 (gluon) or -1 (unlabelled) only")
    return y.astype(np.int64)


def check_images(images: np.ndarray, name: str, first: int = 0) -> np.ndarray:
    """Refuse NaN, infinite or negative energies, naming the first bad jet."""
    if not np.all(np.isfinite(images)):
        bad = int(np.flatnonzero((~np.isfinite(images.reshape(images.shape[0], -1))).any(axis=1))[0])
        raise fail(name, f"X_jets holds NaN or infinite values (jet {first + bad})")
    if images.size and images.min() < 0:
        bad = int(np.flatnonzero((images.reshape(images.shape[0], -1) < 0).any(axis=1))[0])
        raise fail(name, f"X_jets holds negative energies (jet {first + bad}, min {images.min():.4g} GeV)")
    return images


class JetSource:
    """What every reader offers: labels and kinematics in memory, images on demand (N, H, W, 3) GeV."""

    name: str
    y: np.ndarray
    pt: np.ndarray | None
    m0: np.ndarray | None
    image_size: int

    def __len__(self) -> int:
        return len(self.y)

    def images(self, index: int | slice | np.ndarray | list) -> np.ndarray:
        raise NotImplementedError

    def batches(
        self, batch_size: int = 512, index: np.ndarray | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (indices, images) a batch at a time, in order."""
        idx = np.arange(len(self)) if index is None else np.asarray(index)
        for start in range(0, len(idx), batch_size):
            part = idx[start : start + batch_size]
            yield part, self.images(part)

    def close(self) -> None:
        pass


def _open_h5(path: Path) -> h5py.File:
    if not path.exists():
        raise fail(path, "no such file")
    if path.is_dir():
        raise fail(path, "is a directory, not a jet file")
    if path.stat().st_size == 0:
        raise fail(path, "file is empty")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        kind = "truncated or corrupt HDF5" if h5py.is_hdf5(path) else "not an HDF5 file"
        raise fail(path, f"{kind} ({err.__class__.__name__})") from None


def _read_vector(f: h5py.File, key: str, n: int, path: Path, required: bool) -> np.ndarray | None:
    if key not in f:
        if required:
            raise fail(path, f"missing key {key!r} (found {sorted(f.keys())})")
        return None
    ds = f[key]
    if ds.shape != (n,):
        raise fail(path, f"key {key!r} has shape {ds.shape}, expected ({n},) to match X_jets")
    try:
        values = ds[()]
    except OSError as err:
        raise fail(path, f"cannot read {key!r}: truncated or corrupt ({err.__class__.__name__})") from None
    if not np.issubdtype(values.dtype, np.number):
        raise fail(path, f"key {key!r} has dtype {values.dtype}, expected numbers")
    if not np.all(np.isfinite(values)):
        raise fail(path, f"key {key!r} holds NaN or infinite values")
    return values


class CMSFile(JetSource):
    """Lazy reader of a CMS-layout HDF5 file; images are read a slice at a time."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = str(self.path)
        self._f = _open_h5(self.path)
        if "X_jets" not in self._f:
            keys = sorted(self._f.keys())
            self._f.close()
            raise fail(self.path, f"missing key 'X_jets' (found {keys})")
        ds = self._f["X_jets"]
        if ds.ndim != 4:
            raise fail(self.path, f"X_jets has shape {ds.shape}, expected (N, H, W, 3) or (N, 3, H, W)")
        if ds.shape[3] == 3 and ds.shape[1] == ds.shape[2]:
            self.channels_first = False
        elif ds.shape[1] == 3 and ds.shape[2] == ds.shape[3]:
            self.channels_first = True
        else:
            raise fail(self.path, f"X_jets has shape {ds.shape}, expected (N, H, W, 3) or (N, 3, H, W) with H = W")
        if not np.issubdtype(ds.dtype, np.floating):
            raise fail(self.path, f"X_jets has dtype {ds.dtype}, expected floating point")
        self._x = ds
        n = ds.shape[0]
        if n == 0:
            raise fail(self.path, "X_jets holds no jets")
        self.image_size = int(ds.shape[2])
        self.y = check_labels(_read_vector(self._f, "y", n, self.path, required=True), self.name)
        self.pt = _read_vector(self._f, "pt", n, self.path, required=False)
        self.m0 = _read_vector(self._f, "m0", n, self.path, required=False)

    def images(self, index) -> np.ndarray:
        idx = _index_list(index, len(self), self.name)
        if idx.size == 0:
            s = self.image_size
            return np.zeros((0, s, s, 3), np.float32)
        order = np.argsort(idx)
        sorted_idx = idx[order]
        try:
            if np.all(np.diff(sorted_idx) == 1):
                data = self._x[int(sorted_idx[0]) : int(sorted_idx[-1]) + 1]
            else:
                uniq, inverse = np.unique(sorted_idx, return_inverse=True)
                data = self._x[uniq][inverse]
        except OSError as err:
            raise fail(self.path, f"cannot read X_jets: truncated or corrupt ({err.__class__.__name__})") from None
        data = np.asarray(data, dtype=np.float32)
        if self.channels_first:
            data = data.transpose(0, 2, 3, 1)
        out = np.empty_like(data)
        out[order] = data
        return check_images(out, self.name, int(idx.min()))

    def close(self) -> None:
        self._f.close()


class SparseJetFile(JetSource):
    """The compact layout (per-jet sparse pixels, HCAL per tower); offsets are read once, pixels on demand."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.name = str(self.path)
        self._f = _open_h5(self.path)
        if self._f.attrs.get("format") != SPARSE_FORMAT:
            raise fail(self.path, f"not a {SPARSE_FORMAT} file")
        for key in ("offsets", "index", "channel", "value", "y"):
            if key not in self._f:
                raise fail(self.path, f"missing key {key!r}")
        try:
            self._offsets = self._f["offsets"][()].astype(np.int64)
        except OSError as err:
            raise fail(self.path, f"cannot read offsets: truncated or corrupt ({err.__class__.__name__})") from None
        n = len(self._offsets) - 1
        self.y = check_labels(_read_vector(self._f, "y", n, self.path, required=True), self.name)
        self.pt = _read_vector(self._f, "pt", n, self.path, required=False)
        self.m0 = _read_vector(self._f, "m0", n, self.path, required=False)
        self.image_size = IMAGE_SIZE
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._cache is None:  # a few MB: read once
            try:
                self._cache = (self._f["index"][()], self._f["channel"][()], self._f["value"][()])
            except OSError as err:
                raise fail(self.path, f"cannot read pixels: truncated or corrupt ({err.__class__.__name__})") from None
        return self._cache

    def images(self, index) -> np.ndarray:
        idx = _index_list(index, len(self), self.name)
        pix, chan, val = self._arrays()
        out = np.empty((idx.size, IMAGE_SIZE, IMAGE_SIZE, 3), np.float32)
        for k, i in enumerate(idx):
            a, b = self._offsets[i], self._offsets[i + 1]
            out[k] = to_dense(pix[a:b], chan[a:b], val[a:b])
        return check_images(out, self.name, int(idx.min()) if idx.size else 0)

    def downsampled(self, index, size: int) -> torch.Tensor:
        """(n, 3, size, size) GeV straight from the sparse pixels, never making a dense 125 x 125 image.

        Tracks and ECAL deposits are added into their coarse pixels; HCAL towers are filled into a
        (25, 25) grid per jet and mapped to the coarse grid by a tower-to-pixel overlap matrix W
        (pixels of tower t in coarse pixel c), as W^T T W, which conserves energy exactly.
        """
        from core.data.layout import HCAL_TOWER
        from core.data.transforms import coarse_index

        idx = _index_list(index, len(self), self.name)
        pix, chan, val = self._arrays()
        slot = np.full(len(self), -1, np.int64)
        slot[idx] = np.arange(idx.size)
        entry_slot = np.repeat(slot, np.diff(self._offsets))
        keep = entry_slot >= 0
        pix, chan, val, entry_slot = pix[keep].astype(np.int64), chan[keep], val[keep], entry_slot[keep]
        coarse = coarse_index(size).numpy()
        out = torch.zeros(idx.size, 3, size, size)
        fine = chan < 2
        row, col = pix[fine] // IMAGE_SIZE, pix[fine] % IMAGE_SIZE
        flat = ((entry_slot[fine] * 3 + chan[fine]) * size + coarse[row]) * size + coarse[col]
        out.view(-1).index_add_(0, torch.from_numpy(flat), torch.from_numpy(val[fine]))
        ntow = IMAGE_SIZE // HCAL_TOWER
        towers = torch.zeros(idx.size, ntow * ntow)
        tow = ~fine
        towers.view(-1).index_put_(
            (torch.from_numpy(entry_slot[tow] * ntow * ntow + pix[tow]),), torch.from_numpy(val[tow]), accumulate=True
        )
        overlap = torch.zeros(ntow, size)
        overlap.index_put_(
            (torch.arange(IMAGE_SIZE) // HCAL_TOWER, torch.from_numpy(coarse)), torch.ones(IMAGE_SIZE), accumulate=True
        )
        out[:, 2] = overlap.T @ towers.view(-1, ntow, ntow) @ overlap
        return out

    def sparse(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pix, chan, val = self._arrays()
        a, b = self._offsets[i], self._offsets[i + 1]
        return pix[a:b], chan[a:b], val[a:b]

    def close(self) -> None:
        self._f.close()


class EnergyFlowFile(JetSource):
    """EnergyFlow ``QG_jets*.npz``: ``X`` (N, M, 4) particles (pt, y, phi, pid) zero-padded, ``y`` 1 = quark.

    Each jet is centred on its pT-weighted axis and pixelised by the same detector as the simulation,
    with a detector seed per jet (seed, index), so a jet always gives the same image.
    """

    def __init__(self, path: str | Path, seed: int = 0, config: DetectorConfig = DetectorConfig()):
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.exists():
            raise fail(self.path, "no such file")
        if not zipfile.is_zipfile(self.path):
            raise fail(self.path, "not an npz file")
        try:
            data = np.load(self.path, allow_pickle=False)
            if "X" not in data or "y" not in data:
                raise fail(self.path, f"missing key 'X' or 'y' (found {sorted(data.files)})")
            self._x = data["X"]
            y = data["y"]
        except (OSError, ValueError, zipfile.BadZipFile) as err:
            if isinstance(err, JetInputError):
                raise
            raise fail(self.path, f"truncated or corrupt npz ({err.__class__.__name__})") from None
        if self._x.ndim != 3 or self._x.shape[2] != 4:
            raise fail(self.path, f"key 'X' has shape {self._x.shape}, expected (N, M, 4) of (pt, y, phi, pid)")
        if y.shape != (self._x.shape[0],):
            raise fail(self.path, f"key 'y' has shape {y.shape}, expected ({self._x.shape[0]},)")
        if not np.all(np.isfinite(self._x)):
            raise fail(self.path, "key 'X' holds NaN or infinite values")
        if (self._x[..., 0] < 0).any():
            raise fail(self.path, "key 'X' holds negative pT")
        if not np.issubdtype(y.dtype, np.number):
            raise fail(self.path, f"key 'y' has dtype {y.dtype}, expected numbers")
        self.y = check_labels(y, self.name)
        self.seed = seed
        self.config = config
        self.image_size = IMAGE_SIZE
        pt, mass = self._kinematics()
        self.pt, self.m0 = pt.astype(np.float32), mass.astype(np.float32)

    def _kinematics(self) -> tuple[np.ndarray, np.ndarray]:
        pt, rap, phi = self._x[..., 0], self._x[..., 1], self._x[..., 2]
        px, py = (pt * np.cos(phi)).sum(1), (pt * np.sin(phi)).sum(1)
        pz, e = (pt * np.sinh(rap)).sum(1), (pt * np.cosh(rap)).sum(1)
        return np.hypot(px, py), np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0))

    def images(self, index) -> np.ndarray:
        idx = _index_list(index, len(self), self.name)
        out = np.empty((idx.size, IMAGE_SIZE, IMAGE_SIZE, 3), np.float32)
        for k, i in enumerate(idx):
            parts = self._x[i]
            parts = parts[parts[:, 0] > 0]
            axis = jet_axis(parts[:, 0], parts[:, 1], parts[:, 2])
            rng = np.random.default_rng([self.seed, int(i)])
            out[k] = pixelise(
                parts[:, 0], parts[:, 1], parts[:, 2], parts[:, 3].astype(np.int64), *axis, rng, self.config
            )
        return out


def open_jets(path: str | Path | None = None) -> JetSource:
    """Open a jet file of any supported layout; ``None`` opens the embedded sample."""
    if path is None or str(path) == "":
        if not EMBEDDED_SAMPLE.exists():
            raise fail(EMBEDDED_SAMPLE, "the embedded sample is missing from assets/")
        return SparseJetFile(EMBEDDED_SAMPLE)
    p = Path(path)
    if not p.exists():
        raise fail(p, "no such file")
    if p.suffix == ".npz" or zipfile.is_zipfile(p):
        return EnergyFlowFile(p)
    f = _open_h5(p)
    is_sparse = f.attrs.get("format") == SPARSE_FORMAT
    f.close()
    return SparseJetFile(p) if is_sparse else CMSFile(p)


def channels_first(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) numpy in the CMS layout -> (N, 3, H, W) float32 tensor, the layout of every model."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float()


def load_tensors(
    path: str | Path | None = None,
    size: int = 32,
    max_jets: int | None = None,
    seed: int = 0,
    batch_size: int = 512,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, size, size) in GeV, sum-pooled batch by batch, and labels (N,) int64.

    With ``max_jets``, a seeded random subset balanced as the file is; the order is the file's.
    """
    src = open_jets(path)
    try:
        n = len(src)
        index = np.arange(n)
        if max_jets is not None and max_jets < n:
            index = np.sort(np.random.default_rng(seed).choice(n, size=max_jets, replace=False))
        if isinstance(src, SparseJetFile):
            x = src.downsampled(index, size)
        else:
            parts = [downsample(channels_first(imgs), size) for _, imgs in src.batches(batch_size, index)]
            x = torch.cat(parts) if parts else torch.zeros(0, 3, size, size)
        return x, torch.from_numpy(src.y[index]).long()
    finally:
        src.close()


class JetDataset(torch.utils.data.Dataset):
    """A torch Dataset over any JetSource: (image (3, size, size) GeV, label), one jet read at a time."""

    def __init__(self, source: JetSource, size: int | None = None, transform=None):
        self.source = source
        self.size = size
        self.transform = transform

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x = channels_first(self.source.images([i]))
        if self.size is not None:
            x = downsample(x, self.size)
        if self.transform is not None:
            x = self.transform.forward(x)
        return x[0], int(self.source.y[i])


def summary(source: JetSource, batch_size: int = 512) -> dict:
    """What a file holds: counts per class, shapes, channel sums, pT and mass ranges (reads images in batches).

    ``unlabelled`` (jets with y = -1, e.g. unconditional samples) appears only when the file has some.
    """
    sums = np.zeros(3)
    for _, imgs in source.batches(batch_size):
        sums += imgs.sum(axis=(0, 1, 2), dtype=np.float64)
    n = len(source)
    n_unlabelled = int((source.y == UNLABELLED).sum())
    out = {
        "file": source.name,
        "layout": type(source).__name__,
        "jets": n,
        "quark": int((source.y == QUARK).sum()),
        "gluon": int((source.y == GLUON).sum()),
        **({"unlabelled": n_unlabelled} if n_unlabelled else {}),
        "image_shape": [source.image_size, source.image_size, 3],
        "channel_sum_gev": {"Tracks": float(sums[0]), "ECAL": float(sums[1]), "HCAL": float(sums[2])},
        "channel_mean_gev_per_jet": {k: float(v / n) for k, v in zip(("Tracks", "ECAL", "HCAL"), sums, strict=True)},
    }
    for key in ("pt", "m0"):
        values = getattr(source, key)
        if values is not None:
            out[f"{key}_range_gev"] = [float(values.min()), float(values.max())]
    return out
