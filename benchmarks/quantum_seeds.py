"""Quantum checkpoints side by side, each averaged over several samples: shape distances in floor units, the
channel-width correlation gaps and the observables AUC, on the held-out jets.

One sample of 2,000 jets is not enough to rank two checkpoints: the shipped weights' in-cone jet mass reads
1.6x-3.2x its floor between sampling seeds. Each row here is the mean over ``--samples`` samples (seeds 0, 1, ...),
each scored over ``--splits`` splits of the held-out jets into halves (the ratio of the mean W1 to the mean floor).

    python -m benchmarks.quantum_seeds checkpoints/quantum_hybrid OTHER_CKPT ... [--samples 5] [--auc-samples 2]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import torch

from core.data.readers import load_tensors
from core.metrics.channel_correlation import width_correlations
from core.metrics.report import evaluate_sets, text_table
from core.metrics.splits import rows_over_splits
from core.training.checkpoint import load_checkpoint
from core.training.sampling import sample_images

HELDOUT = Path(__file__).resolve().parents[1] / "assets" / "jets_heldout.h5"
SHAPES = (
    "W1 jet mass [GeV]",
    "W1 jet width (girth)",
    "W1 pT dispersion pTD",
    "W1 jet mass [GeV], whole image",
    "W1 jet width (girth), whole image",
    "W1 pT dispersion pTD, whole image",
)


def correlation_gaps(generated: torch.Tensor, real: dict, radius: float | None) -> list[float]:
    """|generated - real| width correlation per pair of channels (Tracks-ECAL, ECAL-HCAL, Tracks-HCAL)."""
    gen = width_correlations(generated, radius)
    return [abs(gen[k] - real[k]) for k in gen]


def three(values, fmt: str = "{:.3f}") -> str:
    """Three numbers (one per pair of channels, or mass / width / pTD) as one table cell."""
    return " / ".join(fmt.format(v) for v in values)


def score(path: str, real: torch.Tensor, n: int, samples: int, auc_samples: int, splits: int) -> dict:
    """Means over ``samples`` samples of ``n`` jets (half quark, half gluon) of one checkpoint."""
    ckpt = load_checkpoint(path)
    wanted = {radius: width_correlations(real, radius) for radius in (0.4, None)}
    cone, whole, w1, aucs = [], [], [], []
    for seed in range(samples):
        jets = sample_images(ckpt, n, label="mixed", seed=seed)
        cone.append(correlation_gaps(jets, wanted[0.4], 0.4))
        whole.append(correlation_gaps(jets, wanted[None], None))
        rows = {r["metric"]: r["ratio_of_means"] for r in rows_over_splits(real, jets, list(range(splits)), n)}
        w1.append([rows[k] for k in SHAPES])
        if seed < auc_samples:
            report = evaluate_sets(real, jets, classifier=False, two_sample=("observables",), max_jets=n, seed=seed)
            aucs += [r.model for r in report.rows if "AUC" in r.metric]
    return {
        "cone": np.mean(cone, 0),
        "whole": np.mean(whole, 0),
        "w1": np.mean(w1, 0),
        "auc": float(np.mean(aucs)) if aucs else float("nan"),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="+", help="quantum checkpoint directories")
    p.add_argument("--real", default=str(HELDOUT), help="held-out real jets (default: assets/jets_heldout.h5)")
    p.add_argument("--n", type=int, default=2000, help="jets per sample (half quark, half gluon)")
    p.add_argument("--samples", type=int, default=5, help="samples per checkpoint (seeds 0, 1, ...)")
    p.add_argument("--auc-samples", type=int, default=2, help="of which this many also get the observables AUC")
    p.add_argument("--splits", type=int, default=3, help="splits of the real jets into halves per sample")
    args = p.parse_args()
    real, _ = load_tensors(args.real, size=8)
    print(f"# quantum_seeds: load average {os.getloadavg()[0]:.2f} at start; {args.samples} samples of {args.n} jets")
    body = [("checkpoint", "gap T-E / E-H / T-H, R < 0.4", "mass / width / pTD, R < 0.4", "the same, whole image",
             "gap T-E / E-H / T-H, whole", "observables AUC")]  # fmt: skip
    for path in args.checkpoints:
        s = score(path, real, args.n, args.samples, args.auc_samples, args.splits)
        body.append((path, three(s["cone"]), three(s["w1"][:3], "{:.2f}x"), three(s["w1"][3:], "{:.2f}x"),
                     three(s["whole"]), f"{s['auc']:.3f}"))  # fmt: skip
    print(text_table(body))
    print(f"# load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
