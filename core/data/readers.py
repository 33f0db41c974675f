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

from core.data import safe_open
from core.data.detector import DetectorConfig, jet_axis, pixelise
from core.data.layout import GLUON, IMAGE_SIZE, QUARK, UNLABELLED, VALID_LABELS
from core.data.sparse import check_offsets, check_sparse, to_dense
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


def _open_h5(path: Path, name: object) -> h5py.File:
    return safe_open.open_hdf5(path, name)


def _read_vector(f: h5py.File, key: str, n: int, name: object, required: bool) -> np.ndarray | None:
    ds = safe_open.dataset(f, key, name, required)
    if ds is None:
        return None
    if ds.shape != (n,):
        raise fail(name, f"key {key!r} has shape {ds.shape}, expected ({n},) to match the jets")
    values = safe_open.read_dataset(ds, key, name)
    if not np.all(np.isfinite(values)):
        raise fail(name, f"key {key!r} holds NaN or infinite values")
    return values


class _HDF5Source(JetSource):
    """An HDF5 reader: opened through the safe opener, checked by the subclass's ``_setup``, closed on failure.

    ``name`` is what error messages call the file (an upload's own name); the default is the path.
    """

    def __init__(self, path: str | Path, name: str | None = None):
        self.path = Path(path)
        self.name = name or str(self.path)
        self._f = _open_h5(self.path, self.name)
        try:
            self._setup()
        except BaseException:
            self._f.close()
            raise

    def _setup(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._f.close()


class CMSFile(_HDF5Source):
    """Lazy reader of a CMS-layout HDF5 file; images are read a slice at a time."""

    def _setup(self) -> None:
        ds = safe_open.dataset(self._f, "X_jets", self.name)
        if ds.ndim != 4:
            raise fail(self.name, f"X_jets has shape {ds.shape}, expected (N, H, W, 3) or (N, 3, H, W)")
        if ds.shape[3] == 3 and ds.shape[1] == ds.shape[2]:
            self.channels_first = False
        elif ds.shape[1] == 3 and ds.shape[2] == ds.shape[3]:
            self.channels_first = True
        else:
            raise fail(self.name, f"X_jets has shape {ds.shape}, expected (N, H, W, 3) or (N, 3, H, W) with H = W")
        if not np.issubdtype(ds.dtype, np.floating):
            raise fail(self.name, f"X_jets has dtype {ds.dtype}, expected floating point")
        self._x = ds
        n = ds.shape[0]
        if n == 0:
            raise fail(self.name, "X_jets holds no jets")
        if ds.shape[2] < 1:
            raise fail(self.name, f"X_jets has shape {ds.shape}: images of zero pixels")
        self.image_size = int(ds.shape[2])
        self.y = check_labels(_read_vector(self._f, "y", n, self.name, required=True), self.name)
        self.pt = _read_vector(self._f, "pt", n, self.name, required=False)
        self.m0 = _read_vector(self._f, "m0", n, self.name, required=False)

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
        except (OSError, ValueError, RuntimeError) as err:
            raise fail(self.name, f"cannot read X_jets: truncated or corrupt ({err.__class__.__name__})") from None
        data = np.asarray(data, dtype=np.float32)
        if self.channels_first:
            data = data.transpose(0, 2, 3, 1)
        out = np.empty_like(data)
        out[order] = data
        return check_images(out, self.name, int(idx.min()))


class SparseJetFile(_HDF5Source):
    """The compact layout (per-jet sparse pixels, HCAL per tower), read and checked once at opening (a few MB)."""

    def _setup(self) -> None:
        if self._f.attrs.get("format") != SPARSE_FORMAT:
            raise fail(self.name, f"not a {SPARSE_FORMAT} file")
        arrays = {}
        for key in ("offsets", "index", "channel", "value"):
            ds = safe_open.dataset(self._f, key, self.name)
            if ds.ndim != 1:
                raise fail(self.name, f"key {key!r} has shape {ds.shape}, expected one dimension")
            arrays[key] = safe_open.read_dataset(ds, key, self.name)
        self._offsets = check_offsets(arrays["offsets"], len(arrays["index"]), self.name)
        n = len(self._offsets) - 1
        self._cache = check_sparse(arrays["index"], arrays["channel"], arrays["value"], self._offsets, self.name)
        self.y = check_labels(_read_vector(self._f, "y", n, self.name, required=True), self.name)
        self.pt = _read_vector(self._f, "pt", n, self.name, required=False)
        self.m0 = _read_vector(self._f, "m0", n, self.name, required=False)
        self.image_size = IMAGE_SIZE

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        entry_slot, pix, chan, val = self.entries(idx)
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

    def entries(self, index) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The stored pixels of the jets in ``index`` at once: (position of the jet in ``index``, pixel,
        channel, value); Tracks and ECAL pixels index the 125 x 125 grid, HCAL ones its 25 x 25 towers."""
        idx = _index_list(index, len(self), self.name)
        pix, chan, val = self._arrays()
        slot = np.full(len(self), -1, np.int64)
        slot[idx] = np.arange(idx.size)
        entry_slot = np.repeat(slot, np.diff(self._offsets))
        keep = entry_slot >= 0
        return entry_slot[keep], pix[keep].astype(np.int64), chan[keep], val[keep]

    def sparse(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pix, chan, val = self._arrays()
        a, b = self._offsets[i], self._offsets[i + 1]
        return pix[a:b], chan[a:b], val[a:b]


class EnergyFlowFile(JetSource):
    """EnergyFlow ``QG_jets*.npz``: ``X`` (N, M, 4) particles (pt, y, phi, pid) zero-padded, ``y`` 1 = quark.

    Each jet is centred on its pT-weighted axis and pixelised by the same detector as the simulation,
    with a detector seed per jet (seed, index), so a jet always gives the same image.
    """

    def __init__(
        self, path: str | Path, seed: int = 0, config: DetectorConfig = DetectorConfig(), name: str | None = None
    ):
        self.path = Path(path)
        self.name = name or str(self.path)
        self._x, y = _load_npz(self.path, self.name)
        self._check(y)
        self.y = check_labels(y, self.name)
        self.seed = seed
        self.config = config
        self.image_size = IMAGE_SIZE
        with np.errstate(over="ignore", invalid="ignore"):
            pt, mass = self._kinematics()
        if not (np.all(np.isfinite(pt)) and np.all(np.isfinite(mass))):
            raise fail(self.name, "key 'X' gives infinite jet momenta (rapidities or pT far too large)")
        self.pt, self.m0 = pt.astype(np.float32), mass.astype(np.float32)

    def _check(self, y: np.ndarray) -> None:
        x, name = self._x, self.name
        if x.dtype.kind not in "iuf":
            raise fail(name, f"key 'X' has dtype {x.dtype}, expected real numbers")
        if y.dtype.kind not in "biuf":
            raise fail(name, f"key 'y' has dtype {y.dtype}, expected numbers")
        if x.ndim != 3 or x.shape[2] != 4:
            raise fail(name, f"key 'X' has shape {x.shape}, expected (N, M, 4) of (pt, y, phi, pid)")
        if x.shape[0] == 0:
            raise fail(name, "key 'X' holds no jets")
        if y.shape != (x.shape[0],):
            raise fail(name, f"key 'y' has shape {y.shape}, expected ({x.shape[0]},)")
        if not np.all(np.isfinite(x)):
            raise fail(name, "key 'X' holds NaN or infinite values")
        if not np.all(np.isfinite(y)):
            raise fail(name, "key 'y' holds NaN or infinite values")
        if (x[..., 0] < 0).any():
            raise fail(name, "key 'X' holds negative pT")
        empty = ~(x[..., 0] > 0).any(axis=1)
        if empty.any():
            raise fail(name, f"key 'X': jet {int(np.flatnonzero(empty)[0])} has no particle with pT > 0")

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


def _load_npz(path: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays ``X`` and ``y`` of a checked regular npz file, refusing a zip bomb before unpacking it."""
    from core.limits import SHARE, available_memory

    with safe_open.open_regular(path, name) as fh:
        if not zipfile.is_zipfile(fh):
            raise fail(name, "not an npz file")
        fh.seek(0)
        try:
            with zipfile.ZipFile(fh) as archive:
                safe_open.check_npz_members(archive, name, int(available_memory() * SHARE))
            fh.seek(0)
            with np.load(fh, allow_pickle=False) as data:
                if "X" not in data or "y" not in data:
                    raise fail(name, f"missing key 'X' or 'y' (found {sorted(data.files)})")
                return data["X"], data["y"]
        except JetInputError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError, RuntimeError) as err:
            raise fail(name, f"truncated or corrupt npz ({err.__class__.__name__})") from None


def open_jets(path: str | Path | None = None, name: str | None = None) -> JetSource:
    """Open a jet file of any supported layout; ``None`` opens the embedded sample.

    Every file goes through :mod:`core.data.safe_open` (regular files only, size cap, no data outside the file);
    ``name`` is what error messages call it (an upload's own name; the default is the path).
    """
    if path is None or str(path) == "":
        if not EMBEDDED_SAMPLE.exists():
            raise fail("embedded sample", "assets/jets_sample.h5 is missing from this build")
        return SparseJetFile(EMBEDDED_SAMPLE, name="embedded sample")
    p = Path(path)
    name = name or str(p)
    safe_open.check_regular_file(p, name)
    if p.suffix.lower() == ".npz" or safe_open.is_zip(p, name):
        return EnergyFlowFile(p, name=name)
    f = _open_h5(p, name)
    is_sparse = f.attrs.get("format") == SPARSE_FORMAT
    f.close()
    return SparseJetFile(p, name) if is_sparse else CMSFile(p, name)


def channels_first(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) numpy in the CMS layout -> (N, 3, H, W) float32 tensor, the layout of every model."""
    return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2))).float()


def load_tensors(
    path: str | Path | None = None,
    size: int = 32,
    max_jets: int | None = None,
    seed: int = 0,
    batch_size: int = 512,
    name: str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, size, size) in GeV, sum-pooled batch by batch, and labels (N,) int64.

    With ``max_jets``, a seeded random subset balanced as the file is; the order is the file's.
    The tensor's size is checked against the memory available before anything is allocated.
    """
    from core.limits import check_allocation

    if max_jets is not None and max_jets < 1:
        raise JetInputError(f"max jets: must be at least 1, got {max_jets}")
    if batch_size < 1:
        raise JetInputError(f"batch size: must be at least 1, got {batch_size}")
    src = open_jets(path, name)
    try:
        n = len(src)
        check_allocation(4.0 * 3 * size * size * min(n, max_jets or n), f"{src.name} at {size} x {size}")
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
