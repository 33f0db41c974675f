"""Compact storage of sparse jet images: per-jet lists of (pixel, channel, value).

Jet images are more than 97 % empty, so the embedded sample stores only non-empty pixels;
HCAL is stored per 5 x 5 tower (its pixels share one value by construction), which is exact.
"""

from __future__ import annotations

import numpy as np

from core.data.layout import HCAL_TOWER, IMAGE_SIZE

NPIX = IMAGE_SIZE * IMAGE_SIZE
NTOW = IMAGE_SIZE // HCAL_TOWER


def to_sparse(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(125, 125, 3) image -> (index uint16, channel uint8, value float32).

    Tracks and ECAL index pixels (row * 125 + col); HCAL indexes towers (row * 25 + col) and
    stores the per-pixel value, which must be constant over each tower.
    """
    idx, chans, vals = [], [], []
    for c in (0, 1):
        flat = image[..., c].reshape(-1)
        nz = np.flatnonzero(flat)
        idx.append(nz.astype(np.uint16))
        chans.append(np.full(nz.size, c, np.uint8))
        vals.append(flat[nz].astype(np.float32))
    towers = image[..., 2].reshape(NTOW, HCAL_TOWER, NTOW, HCAL_TOWER)
    tower_val = towers[:, 0, :, 0]
    if not np.array_equal(np.broadcast_to(tower_val[:, None, :, None], towers.shape), towers):
        raise ValueError("HCAL channel is not constant over 5 x 5 towers; it cannot be stored per tower")
    flat = tower_val.reshape(-1)
    nz = np.flatnonzero(flat)
    idx.append(nz.astype(np.uint16))
    chans.append(np.full(nz.size, 2, np.uint8))
    vals.append(flat[nz].astype(np.float32))
    return np.concatenate(idx), np.concatenate(chans), np.concatenate(vals)


def to_dense(index: np.ndarray, channel: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_sparse`: one (125, 125, 3) float32 image."""
    out = np.zeros((3, NPIX), np.float32)
    for c in (0, 1):
        m = channel == c
        out[c, index[m].astype(np.int64)] = value[m]
    m = channel == 2
    towers = np.zeros(NTOW * NTOW, np.float32)
    towers[index[m].astype(np.int64)] = value[m]
    out[2] = np.kron(towers.reshape(NTOW, NTOW), np.ones((HCAL_TOWER, HCAL_TOWER), np.float32)).reshape(-1)
    return out.reshape(3, IMAGE_SIZE, IMAGE_SIZE).transpose(1, 2, 0)
