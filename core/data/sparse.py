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


def _jet_of(offsets: np.ndarray, entry: int) -> int:
    return int(np.searchsorted(offsets, entry, side="right") - 1)


def check_offsets(offsets: np.ndarray, n_entries: int, name: object) -> np.ndarray:
    """Per-jet offsets as int64: start at 0, never decrease, end at the number of stored pixels, >= 1 jet."""
    from core.errors import fail

    if offsets.dtype.kind not in "iu":
        raise fail(name, f"key 'offsets' has dtype {offsets.dtype}, expected integers")
    off = offsets.astype(np.int64)
    if off.size < 2:
        raise fail(name, "key 'offsets' holds no jets (need at least 2 entries)")
    if off[0] != 0:
        raise fail(name, f"key 'offsets' starts at {off[0]}, expected 0")
    step = np.diff(off)
    if (step < 0).any():
        raise fail(name, f"key 'offsets' decreases at jet {int(np.flatnonzero(step < 0)[0])}")
    if off[-1] != n_entries:
        raise fail(name, f"key 'offsets' ends at {off[-1]} but {n_entries} pixels are stored")
    return off


def check_sparse(
    index: np.ndarray, channel: np.ndarray, value: np.ndarray, offsets: np.ndarray, name: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Refuse sparse pixels that would land outside their image (or in another jet) or hold bad energies.

    Tracks and ECAL index pixels 0 .. 15624, HCAL towers 0 .. 624; channels are 0, 1, 2; values finite, >= 0.
    The first bad entry is named by its jet.
    """
    from core.errors import fail

    if not (len(index) == len(channel) == len(value)):
        raise fail(
            name, f"keys 'index', 'channel', 'value' differ in length ({len(index)}, {len(channel)}, {len(value)})"
        )
    for key, arr, kinds in (("index", index, "iu"), ("channel", channel, "iu"), ("value", value, "iuf")):
        if arr.dtype.kind not in kinds:
            raise fail(
                name, f"key {key!r} has dtype {arr.dtype}, expected {'integers' if kinds == 'iu' else 'numbers'}"
            )
    idx, chan = index.astype(np.int64), channel.astype(np.int64)
    bad = np.flatnonzero((chan < 0) | (chan > 2))
    if bad.size:
        raise fail(name, f"key 'channel' holds {chan[bad[0]]} (jet {_jet_of(offsets, bad[0])}); use 0, 1 or 2")
    limit = np.where(chan == 2, NTOW * NTOW, NPIX)
    bad = np.flatnonzero((idx < 0) | (idx >= limit))
    if bad.size:
        k = bad[0]
        raise fail(
            name,
            f"key 'index' holds {idx[k]} for channel {chan[k]} (jet {_jet_of(offsets, k)}); range 0..{limit[k] - 1}",
        )
    val = value.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(val))
    if bad.size:
        raise fail(name, f"key 'value' holds NaN or infinite values (jet {_jet_of(offsets, bad[0])})")
    bad = np.flatnonzero(val < 0)
    if bad.size:
        raise fail(name, f"key 'value' holds negative energies (jet {_jet_of(offsets, bad[0])}, {val[bad[0]]:.4g} GeV)")
    return idx.astype(np.uint16 if idx.size == 0 or idx.max() < 2**16 else np.int64), chan.astype(np.uint8), val
