"""Quality and cost of each sampler on a trained checkpoint: jet observables of generated quark and gluon
jets against the real ones, and seconds per jet.

    python -m benchmarks.bench_samples --checkpoint checkpoints/unet_32 [--n 256] [--samplers fast,ddim]

Observables come from ``core.data.observables`` (within R = 0.4 of the axis); the real jets are the
embedded sample at the checkpoint's size. The real-vs-real line is the floor: two halves of the data.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from core.data.observables import jet_observables
from core.data.readers import load_tensors
from core.training.checkpoint import load_checkpoint
from core.training.sampling import sample_images

KEYS = ("pt", "mass", "width", "ptd", "mult_tracks", "mult_ecal", "mult_hcal")


def summary(x: torch.Tensor) -> dict[str, float]:
    obs = jet_observables(x)
    return {k: float(np.mean(obs[k])) for k in KEYS}


def row(name: str, s: dict[str, float]) -> str:
    return f"{name:<24}" + "".join(f"{s[k]:>12.4g}" for k in KEYS)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default="checkpoints/unet_32")
    p.add_argument("--data", default=None)
    p.add_argument("--n", type=int, default=256, help="generated jets per class (or in all, unconditional)")
    p.add_argument("--samplers", default="fast,ddim", help="comma-separated: ddpm, ddim, fast")
    p.add_argument("--steps", type=int, default=None, help="network evaluations (default: each sampler's own)")
    p.add_argument("--guidance", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.checkpoint)
    x, y = load_tensors(args.data, size=ckpt.task.size)
    print(f"# {args.checkpoint} ({ckpt.task.family}, step {ckpt.step}); means over jets; guidance {args.guidance}")
    print(f"{'':<24}" + "".join(f"{k:>12}" for k in KEYS) + f"{'s / jet':>10}")
    classes = ((1, "quark"), (0, "gluon")) if ckpt.task.conditional else ((None, "all"),)
    for label, name in classes:
        real = x if label is None else x[y == label]
        print(row(f"real {name}", summary(real)))
        a, b = summary(real[0::2]), summary(real[1::2])
        print(row("  |real - real| (floor)", {k: abs(a[k] - b[k]) for k in KEYS}))
        for sampler in args.samplers.split(","):
            t0 = time.perf_counter()
            gen = sample_images(ckpt, args.n, sampler, args.steps, label, args.guidance, seed=args.seed)
            sec = (time.perf_counter() - t0) / args.n
            print(row(f"  {sampler} {name}", summary(gen)) + f"{sec:>10.4f}")


if __name__ == "__main__":
    main()
