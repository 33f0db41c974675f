"""Per-class summaries of a jet file for the Jets page: average images and observables, one pass in batches."""

from __future__ import annotations

import functools

import numpy as np

from core.data.layout import VALID_LABELS, label_name
from core.data.observables import jet_observables
from core.data.readers import JetSource, channels_first


def class_overview(
    source: JetSource, index: np.ndarray, batch_size: int = 256
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
    """Average (3, H, W) image per class, observables per jet and labels, for the jets in ``index``.

    Classes are keyed 'quark', 'gluon' and, for jets with y = -1, 'unlabelled' (only those present).

    Reads images a batch at a time, so memory stays at one batch whatever the number of jets.
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
    means = {label_name(k): (sums[k] / counts[k]).astype(np.float32) for k in VALID_LABELS if counts[k]}
    observables = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    return means, observables, source.y[index]


def seeded_subset(index: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """``n`` of the indices in ``index``, drawn without replacement by a seeded generator, sorted."""
    index = np.asarray(index, dtype=np.int64)
    n = min(int(n), index.size)
    return np.sort(np.random.default_rng(seed).choice(index, size=n, replace=False))


@functools.lru_cache(maxsize=8)
def file_overview(path: str | None, stamp: float, index: tuple[int, ...]):
    """:func:`class_overview` of a jet file (None: the embedded sample), kept per process for the last 8
    selections: ``scripts/serve.py`` computes the Jets page's default one before the first visitor comes.
    ``stamp``: the file's modification time, so a changed file is read again."""
    from core.data.readers import open_jets

    return class_overview(open_jets(path), np.asarray(index, dtype=np.int64))


def default_overview_index(source: JetSource, n: int = 500) -> tuple[int, ...]:
    """The Jets page's first selection: every jet passes its filters, ``n`` of them drawn with seed 0."""
    return tuple(int(k) for k in seeded_subset(np.arange(len(source)), min(n, len(source))))
