"""``simulate``: generate quark and gluon jets with Pythia 8 + FastJet through the detector."""

from __future__ import annotations

import argparse
import time

from tqdm import tqdm

HELP = "Generate quark/gluon jets with Pythia 8 and FastJet into a CMS-layout HDF5 file."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jets", type=int, required=True, help="number of jets (half quark, half gluon)")
    p.add_argument("--out", required=True, help="output HDF5 file")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same file)")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--compact", action="store_true", help="store sparse (the embedded sample's layout)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from core.data.simulate import GeneratorSettings, simulate, versions
    from core.data.writers import write_cms_from_sparse, write_sparse

    if args.jets < 1:
        raise ValueError(f"--jets must be at least 1, got {args.jets}")
    settings = GeneratorSettings()
    started = time.time()
    ys, pts, masses, images = [], [], [], []
    with tqdm(total=args.jets, desc="simulate", unit="jet") as bar:
        for chunk in simulate(args.jets, args.seed, args.workers, settings, progress=bar.update):
            ys.append(chunk.y)
            pts.append(chunk.pt)
            masses.append(chunk.m0)
            images.extend(chunk.images)
    y, pt, m0 = np.concatenate(ys), np.concatenate(pts), np.concatenate(masses)
    attrs = {
        "generator": "Pythia 8 + FastJet (core.data.simulate)",
        "settings": settings.to_dict(),
        "versions": versions(),
        "seed": args.seed,
        "workers": args.workers,
        "command": f"python -m core simulate --jets {args.jets} --out {args.out} --seed {args.seed} "
        f"--workers {args.workers}" + (" --compact" if args.compact else ""),
        "wall_time_s": round(time.time() - started, 1),
    }
    writer = write_sparse if args.compact else write_cms_from_sparse
    writer(args.out, images, y, pt, m0, attrs)
    print(f"wrote {len(y)} jets ({int(y.sum())} quark, {int(len(y) - y.sum())} gluon) to {args.out}")
    return 0
