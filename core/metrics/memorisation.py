"""Memorisation check: are generated jets closer to the training jets than new real jets are?

For each generated jet, the distance to its nearest training jet; the same for held-out real jets
(never trained on). A model that generalises gives the two the same distribution; one that copies its
training set gives generated distances near zero. Distances are Euclidean between log1p(E / 1 GeV)
images (sparse jets: a copy is at 0, two different jets far apart whatever their energy scale).

Reported: both medians, the two-sample Kolmogorov-Smirnov statistic and p-value, and the fraction of
"near copies": jets whose nearest training jet is less than a third as far as their second nearest
(Yoon et al., 2023), for generated and for held-out jets. A copy sits at ~0 from one training jet and
far from the rest; a new jet, good or bad, sits at similar distances from its two nearest.

A model whose jets are merely wrong (smoother, fainter) can sit closer to every real jet, training or not,
so a shift of the distance distribution alone does not prove memorisation. The verdict therefore also asks
how many generated jets are clearly closer to a training jet than to any held-out reference jet (nearest
training distance below ``CLEARLY`` x the nearest reference distance), against the same fraction for
held-out real jets (the control, which sees the same two sets). Out-of-distribution jets sit at similar
distances from both sets, so this does not fire on bad models; copies and noisy copies fire it.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats

from core.metrics.checks import as_images, check_count, check_same_kind

COPY_RATIO = 1.0 / 3.0  # nearest / second-nearest distance below this: a near copy
COPY_EXCESS = 0.05  # flag when near copies exceed the held-out jets' fraction by this much
CLEARLY = 0.8  # "clearly closer to training": nearest training distance < CLEARLY x nearest reference distance
CLOSER_EXCESS = 0.1  # flag when that fraction exceeds the held-out control's by this much


def _flat_log(x: torch.Tensor) -> torch.Tensor:
    return torch.log1p(x.clamp_min(0)).flatten(1).double()


@torch.no_grad()
def nearest_distances(queries: torch.Tensor, reference: torch.Tensor, chunk: int = 512, k: int = 1) -> np.ndarray:
    """(N,) distance from each query jet to its nearest reference jet ((N, k): the k nearest), on log1p images."""
    q, r = _flat_log(queries), _flat_log(reference)
    r_sq = (r * r).sum(1)
    out = []
    for i in range(0, len(q), chunk):
        qi = q[i : i + chunk]
        d2 = (qi * qi).sum(1, keepdim=True) + r_sq[None, :] - 2.0 * qi @ r.T
        out.append(d2.topk(k, dim=1, largest=False).values.clamp_min(0).sqrt())
    d = torch.cat(out).numpy()
    return d[:, 0] if k == 1 else d


def memorisation_check(
    generated: torch.Tensor,
    heldout: torch.Tensor,
    training: torch.Tensor,
    seed: int = 0,
) -> dict:
    """Nearest-training-jet distances of generated vs held-out real jets (all (N, 3, H, W) GeV), and a verdict.

    ``heldout`` is split at random (seeded) in two: the held-out sample whose distances are compared (and the
    control), and the reference of the "clearly closer to training" test. ``flagged`` is True when near copies
    exceed the held-out fraction by ``COPY_EXCESS``, or when the fraction of generated jets clearly closer to
    training than to the reference exceeds the control's by ``CLOSER_EXCESS``.
    """
    generated = as_images(generated, "generated jets")
    heldout = as_images(heldout, "held-out real jets")
    training = as_images(training, "training jets")
    check_same_kind(training, generated, "training jets", "generated jets")
    check_same_kind(training, heldout, "training jets", "held-out real jets")
    check_count(len(generated), 2, "memorisation check", "comparing two distributions")
    check_count(len(heldout), 4, "memorisation check", "two halves of held-out jets")
    order = torch.from_numpy(np.random.default_rng(seed).permutation(len(heldout)))  # files may be class-sorted
    half = len(heldout) // 2
    queries, reference = heldout[order[:half]], heldout[order[half:]]
    two_gen, two_held = nearest_distances(generated, training, k=2), nearest_distances(queries, training, k=2)
    d_gen, d_held = two_gen[:, 0], two_held[:, 0]
    ks = stats.ks_2samp(d_gen, d_held)
    copies = float(np.mean(d_gen < COPY_RATIO * two_gen[:, 1]))
    copies_held = float(np.mean(d_held < COPY_RATIO * two_held[:, 1]))
    closer = float(np.mean(d_gen < CLEARLY * nearest_distances(generated, reference)))
    closer_held = float(np.mean(d_held < CLEARLY * nearest_distances(queries, reference)))
    med_gen, med_held = float(np.median(d_gen)), float(np.median(d_held))
    return {
        "median_generated": med_gen,
        "median_heldout": med_held,
        "median_ratio": med_gen / med_held if med_held > 0 else float("inf"),
        "ks_statistic": float(ks.statistic),
        "ks_pvalue": float(ks.pvalue),
        "copy_fraction": copies,
        "copy_fraction_heldout": copies_held,
        "closer_to_training": closer,
        "closer_to_training_heldout": closer_held,
        "flagged": bool(copies > copies_held + COPY_EXCESS or closer > closer_held + CLOSER_EXCESS),
        "n_generated": len(generated),
        "n_heldout": half,
        "n_reference": len(reference),
        "n_training": len(training),
        "distances_generated": d_gen,
        "distances_heldout": d_held,
    }
