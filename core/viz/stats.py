"""Per-class summaries of a jet file for the Jets page: average images and observables.

Three ways, by cost (the page must not spend more than about a second of the server's CPU on them):

- ``quick_overview``: a sparse file (the embedded sample) with its observable table beside it
  (``<file>.observables.npz``, every jet's observables, written once by ``write_observable_table``): the
  averages are summed from the stored pixels alone and the observables looked up, whatever the number of jets;
- ``inline_ok``: a selection small enough to average in the server (``INLINE_PIXELS`` jet-pixels);
- anything else runs ``class_overview`` as a job in its own process (``core.jobs.overview``).
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from core.data.layout import HCAL_TOWER, IMAGE_SIZE, VALID_LABELS, label_name
from core.data.observables import OBSERVABLES, jet_observables
from core.data.readers import EMBEDDED_SAMPLE, JetSource, SparseJetFile, channels_first

# Jets x pixels per image averaged image by image in the server at most: 500 jets of 125 x 125, measured at
# 0.38-0.44 s of CPU with one thread on the 2-core development machine (1,000 jets: 0.6 s; every jet of the
# embedded sample would be about 6 s); larger selections of files without an observable table run as a job.
INLINE_PIXELS = 500 * IMAGE_SIZE * IMAGE_SIZE
TABLE_SUFFIX = ".observables.npz"


def class_overview(
    source: JetSource,
    index: np.ndarray,
    batch_size: int = 256,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """Average (3, H, W) image per class, observables per jet and labels, for the jets in ``index``.

    Classes are keyed 'quark', 'gluon' and, for jets with y = -1, 'unlabelled' (only those present).

    Reads images a batch at a time, so memory stays at one batch whatever the number of jets; ``progress``
    hears (jets done, jets in all) after each batch (and may raise to stop).
    """
    index = np.asarray(index, dtype=np.int64)
    if index.size == 0:
        raise ValueError(f"{source.name}: no jets pass the selection")
    size = source.image_size
    sums = {k: np.zeros((3, size, size), np.float64) for k in VALID_LABELS}
    counts = dict.fromkeys(VALID_LABELS, 0)
    parts: list[dict[str, np.ndarray]] = []
    for idx, imgs in source.batches(batch_size, index):
        x = channels_first(imgs).numpy()
        labels = source.y[idx]
        for k in VALID_LABELS:
            sel = labels == k
            if sel.any():
                sums[k] += x[sel].sum(axis=0, dtype=np.float64)
                counts[k] += int(sel.sum())
        parts.append(jet_observables(x))
        if progress is not None:
            progress(sum(len(p["pt"]) for p in parts), index.size)
    means = {label_name(k): (sums[k] / counts[k]).astype(np.float32) for k in VALID_LABELS if counts[k]}
    observables = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return means, observables, source.y[index]


def sparse_class_means(source: SparseJetFile, index: np.ndarray) -> dict[str, np.ndarray]:
    """The average (3, 125, 125) image per class of the jets in ``index``, summed from the stored pixels
    alone (no dense image is made: the cost grows with the pixels stored, a few hundred per jet)."""
    index = np.asarray(index, dtype=np.int64)
    slot, pix, chan, val = source.entries(index)
    y = source.y[index]
    npix, ntow = IMAGE_SIZE * IMAGE_SIZE, IMAGE_SIZE // HCAL_TOWER
    out = {}
    for k in VALID_LABELS:
        jets = int((y == k).sum())
        if not jets:
            continue
        mine = y[slot] == k
        fine, tow = mine & (chan < 2), mine & (chan == 2)
        flat = np.bincount(chan[fine].astype(np.int64) * npix + pix[fine], weights=val[fine], minlength=2 * npix)
        towers = np.bincount(pix[tow], weights=val[tow], minlength=ntow * ntow).reshape(ntow, ntow)
        hcal = np.kron(towers, np.ones((HCAL_TOWER, HCAL_TOWER)))  # each pixel of a tower holds its value
        image = np.concatenate([flat.reshape(2, IMAGE_SIZE, IMAGE_SIZE), hcal[None]])
        out[label_name(k)] = (image / jets).astype(np.float32)
    return out


def _table_path(path: str | os.PathLike | None) -> Path:
    source = Path(EMBEDDED_SAMPLE if path is None else path)
    return source.with_name(source.name.rsplit(".", 1)[0] + TABLE_SUFFIX)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_observable_table(path: str | os.PathLike | None = None, batch_size: int = 256) -> Path:
    """Every jet's observables of a jet file, beside it as ``<name>.observables.npz`` (float32, with the
    file's SHA-256, so a changed file is never paired with an old table); returns the table's path."""
    from core.atomic import atomic_path
    from core.data.readers import open_jets

    src = open_jets(path)
    try:
        _, obs, _ = class_overview(src, np.arange(len(src)), batch_size)
    finally:
        src.close()
    out = _table_path(path)
    source = Path(EMBEDDED_SAMPLE if path is None else path)
    with atomic_path(out, ".npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, sha256=np.array(_sha256(source)), **{k: obs[k].astype(np.float32) for k in obs})
    return out


def observable_table(path: str | None, stamp: float) -> dict[str, np.ndarray] | None:
    """The file's observable table (every jet's observables), or None when it has none or it does not match
    the file's bytes. ``stamp``: the file's modification time, so a changed file is checked again."""
    table = _table_path(path)
    try:
        written = table.stat().st_mtime_ns
    except OSError:
        return None
    return _load_table(path, stamp, written)


@functools.lru_cache(maxsize=4)
def _load_table(path: str | None, stamp: float, written: int) -> dict[str, np.ndarray] | None:
    source = Path(EMBEDDED_SAMPLE if path is None else path)
    with np.load(_table_path(path), allow_pickle=False) as z:
        if str(z["sha256"]) != _sha256(source) or set(OBSERVABLES) - set(z.files):
            return None
        return {k: z[k] for k in OBSERVABLES}


def quick_overview(source: JetSource, path: str | None, stamp: float, index: np.ndarray):
    """:func:`class_overview`'s answer from the stored pixels and the observable table when the file has
    both (a sparse file with its table), else None. Its cost does not depend on the images' size."""
    if not isinstance(source, SparseJetFile):
        return None
    table = observable_table(path, stamp)
    if table is None or len(table["pt"]) != len(source):
        return None
    index = np.asarray(index, dtype=np.int64)
    obs = {k: v[index].astype(np.float64) for k, v in table.items()}
    return sparse_class_means(source, index), obs, source.y[index]


def inline_jets(source: JetSource) -> int:
    """How many jets of this file the server averages image by image in place (``INLINE_PIXELS``)."""
    return max(1, INLINE_PIXELS // source.image_size**2)


def inline_ok(source: JetSource, n: int) -> bool:
    """True when averaging ``n`` jets of this file image by image is cheap enough for the server."""
    return int(n) <= inline_jets(source)


def seeded_subset(index: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` of the indices in ``index``, drawn without replacement by a seeded generator, sorted."""
    index = np.asarray(index, dtype=np.int64)
    n = min(int(n), index.size)
    return np.sort(np.random.default_rng(seed).choice(index, size=n, replace=False))


def default_overview_index(source: JetSource, n: int = 500) -> tuple[int, ...]:
    """The Jets page's first selection: every jet passes its filters, ``n`` of them drawn with seed 0."""
    return tuple(int(k) for k in seeded_subset(np.arange(len(source)), min(n, len(source))))
