"""Per-class summaries of a jet file for the Jets page: average images and observables, one pass in batches."""

from __future__ import annotations

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
