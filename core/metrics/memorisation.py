"""Memorisation check: are generated jets closer to the training jets than new real jets are?

For each generated jet, the distance to its nearest training jet; the same for held-out real jets
(never trained on). A model that generalises gives the two the same distribution; one that copies its
training set gives generated distances near zero. Distances are Euclidean between log1p(E / 1 GeV)
images (sparse jets: a copy is at 0, two different jets far apart whatever their energy scale).

Reported: both medians, the two-sample Kolmogorov-Smirnov statistic and p-value (two-sided, and the
one-sided test that generated jets sit closer), and the fraction of "near copies": generated jets
closer to a training jet than the ``copy_quantile`` (1 %) quantile of the held-out distances, which is
that quantile by construction for a model that does not memorise.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from core.metrics.checks import as_images, check_count, check_same_kind

COPY_QUANTILE = 0.01
COPY_EXCESS = 5.0  # flag when near copies are this many times more frequent than for held-out jets
KS_P_FLAG = 1e-3  # ... or generated jets are significantly closer and their median is below 0.9 x held-out's


def _flat_log(x: torch.Tensor) -> torch.Tensor:
    return torch.log1p(x.clamp_min(0)).flatten(1).double()


@torch.no_grad()
def nearest_distances(queries: torch.Tensor, reference: torch.Tensor, chunk: int = 512) -> np.ndarray:
    """(N,) distance from each query jet to its nearest reference jet, on log1p images, chunk by chunk."""
    q, r = _flat_log(queries), _flat_log(reference)
    r_sq = (r * r).sum(1)
    out = []
    for i in range(0, len(q), chunk):
        qi = q[i : i + chunk]
        d2 = (qi * qi).sum(1, keepdim=True) + r_sq[None, :] - 2.0 * qi @ r.T
        out.append(d2.min(dim=1).values.clamp_min(0).sqrt())
    return torch.cat(out).numpy()


def memorisation_check(
    generated: torch.Tensor,
    heldout: torch.Tensor,
    training: torch.Tensor,
    copy_quantile: float = COPY_QUANTILE,
) -> dict:
    """Nearest-training-jet distances of generated vs held-out real jets (all (N, 3, H, W) GeV), and a verdict.

    ``flagged`` is True when near copies exceed ``COPY_EXCESS`` x ``copy_quantile``, or when generated jets are
    significantly closer to the training set (one-sided KS p < ``KS_P_FLAG``) with a median below 0.9 x held-out's.
    """
    generated = as_images(generated, "generated jets")
    heldout = as_images(heldout, "held-out real jets")
    training = as_images(training, "training jets")
    check_same_kind(training, generated, "training jets", "generated jets")
    check_same_kind(training, heldout, "training jets", "held-out real jets")
    check_count(min(len(generated), len(heldout)), 2, "memorisation check", "comparing two distributions")
    d_gen = nearest_distances(generated, training)
    d_held = nearest_distances(heldout, training)
    ks = stats.ks_2samp(d_gen, d_held)
    closer = stats.ks_2samp(d_gen, d_held, alternative="greater")  # generated CDF above: smaller distances
    threshold = float(np.quantile(d_held, copy_quantile))
    copies = float(np.mean(d_gen <= threshold))
    med_gen, med_held = float(np.median(d_gen)), float(np.median(d_held))
    too_many_copies = copies > COPY_EXCESS * copy_quantile
    closer_flag = bool(closer.pvalue < KS_P_FLAG and med_gen < 0.9 * med_held)
    return {
        "median_generated": med_gen,
        "median_heldout": med_held,
        "median_ratio": med_gen / med_held if med_held > 0 else float("inf"),
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "ks_closer_pvalue": float(closer.pvalue),
        "copy_threshold": threshold,
        "copy_fraction": copies,
        "copy_fraction_expected": copy_quantile,
        "flagged": bool(too_many_copies or closer_flag),
        "n_generated": len(generated),
        "n_heldout": len(heldout),
        "n_training": len(training),
        "distances_generated": d_gen,
        "distances_heldout": d_held,
    }
