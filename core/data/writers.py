"""Writers for jet files: the CMS layout (dense) and the compact sparse layout of the embedded sample.

Both write under a temporary name and rename when the file is whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping

import h5py
import numpy as np

from core.atomic import atomic_path
from core.data.layout import CHANNELS, IMAGE_SIZE, LABEL_CONVENTION, PIXEL_WIDTH
from core.data.sparse import to_dense

SPARSE_FORMAT = "jetlab-sparse-v1"


def _attrs(f: h5py.File, attrs: Mapping[str, object] | None) -> None:
    f.attrs["y_convention"] = LABEL_CONVENTION
    f.attrs["channels"] = ",".join(CHANNELS)
    f.attrs["units"] = "GeV (pT deposited per pixel)"
    f.attrs["pixel_width_eta_phi"] = PIXEL_WIDTH
    for key, value in (attrs or {}).items():
        f.attrs[key] = value if isinstance(value, (str, int, float, np.number)) else json.dumps(value)


def write_cms(
    path: str | os.PathLike,
    images: np.ndarray,
    y: np.ndarray,
    pt: np.ndarray | None = None,
    m0: np.ndarray | None = None,
    attrs: Mapping[str, object] | None = None,
) -> None:
    """Write ``X_jets`` (N, H, W, 3) float32 in GeV and ``y`` (plus ``pt``, ``m0`` if given)."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be (N, H, W, 3), got {images.shape}")
    n = images.shape[0]
    with atomic_path(path, ".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            chunk = (max(1, min(n, 64)),) + images.shape[1:]
            f.create_dataset("X_jets", data=images, chunks=chunk, compression="gzip", compression_opts=4, shuffle=True)
            f.create_dataset("y", data=np.asarray(y, dtype=np.float32))
            if pt is not None:
                f.create_dataset("pt", data=np.asarray(pt, dtype=np.float32))
            if m0 is not None:
                f.create_dataset("m0", data=np.asarray(m0, dtype=np.float32))
            _attrs(f, attrs)


def write_cms_from_sparse(
    path: str | os.PathLike,
    sparse_images: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    y: np.ndarray,
    pt: np.ndarray,
    m0: np.ndarray,
    attrs: Mapping[str, object] | None = None,
    batch: int = 256,
) -> None:
    """Write the CMS layout from sparse images, densifying a batch at a time (never all at once)."""
    n = len(y)
    with atomic_path(path, ".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            ds = f.create_dataset(
                "X_jets",
                shape=(n, IMAGE_SIZE, IMAGE_SIZE, 3),
                dtype=np.float32,
                chunks=(min(n, 64), IMAGE_SIZE, IMAGE_SIZE, 3),
                compression="gzip",
                compression_opts=4,
                shuffle=True,
            )
            buf, start = [], 0
            for item in sparse_images:
                buf.append(to_dense(*item))
                if len(buf) == batch:
                    ds[start : start + batch] = np.stack(buf)
                    start += batch
                    buf = []
            if buf:
                ds[start : start + len(buf)] = np.stack(buf)
                start += len(buf)
            if start != n:
                raise ValueError(f"got {start} images for {n} labels")
            f.create_dataset("y", data=np.asarray(y, dtype=np.float32))
            f.create_dataset("pt", data=np.asarray(pt, dtype=np.float32))
            f.create_dataset("m0", data=np.asarray(m0, dtype=np.float32))
            _attrs(f, attrs)


def write_sparse(
    path: str | os.PathLike,
    sparse_images: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    y: np.ndarray,
    pt: np.ndarray,
    m0: np.ndarray,
    attrs: Mapping[str, object] | None = None,
) -> None:
    """Write the compact layout: per-jet offsets into flat (index, channel, value) arrays."""
    counts = np.array([len(v) for _, _, v in sparse_images], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    opts = dict(compression="gzip", compression_opts=9, shuffle=True)
    with atomic_path(path, ".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("offsets", data=offsets, **opts)
            f.create_dataset("index", data=np.concatenate([i for i, _, _ in sparse_images]).astype(np.uint16), **opts)
            f.create_dataset("channel", data=np.concatenate([c for _, c, _ in sparse_images]).astype(np.uint8), **opts)
            f.create_dataset("value", data=np.concatenate([v for _, _, v in sparse_images]).astype(np.float32), **opts)
            f.create_dataset("y", data=np.asarray(y, dtype=np.float32))
            f.create_dataset("pt", data=np.asarray(pt, dtype=np.float32))
            f.create_dataset("m0", data=np.asarray(m0, dtype=np.float32))
            f.attrs["format"] = SPARSE_FORMAT
            f.attrs["image_shape"] = (IMAGE_SIZE, IMAGE_SIZE, 3)
            _attrs(f, attrs)
