"""``sample``: generate jets from a checkpoint into a CMS-layout HDF5 file (X_jets in GeV, y)."""

from __future__ import annotations

import argparse

HELP = "Generate jets from a trained checkpoint into a CMS-layout HDF5 file, with the sampler settings as attributes."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, help="checkpoint directory (from `train`, or checkpoints/...)")
    p.add_argument("--n", type=int, default=100, help="number of jets")
    p.add_argument("--out", required=True, help="output HDF5 file")
    p.add_argument(
        "--sampler",
        default="fast",
        choices=("ddpm", "ddim", "fast"),
        help="ddpm ancestral, ddim, or fast (DPM-Solver++ 2M)",
    )
    p.add_argument(
        "--steps", type=int, default=None, help="network evaluations (default: ddpm all T, ddim 50, fast 20)"
    )
    p.add_argument("--eta", type=float, default=None, help="DDIM eta in [0, 1] (0: deterministic)")
    p.add_argument(
        "--label", default=None, help="quark, gluon, mixed (half each) or none; default: mixed for conditional models"
    )
    p.add_argument(
        "--guidance", type=float, default=1.0, help="classifier-free guidance weight (0 unconditional, 1 conditional)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same jets)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")
    p.add_argument("--batch", type=int, default=256, help="jets per sampling batch")


def run(args: argparse.Namespace) -> int:
    import time

    import torch
    from tqdm import tqdm

    from core.data.writers import write_cms
    from core.errors import JetInputError
    from core.training.checkpoint import load_checkpoint
    from core.training.device import resolve_device
    from core.training.sampling import labels_for, sample_images

    if args.n < 1:
        raise JetInputError(f"--n: must be at least 1, got {args.n}")
    device = resolve_device(args.device)
    ckpt = load_checkpoint(args.checkpoint, device=device)
    label = args.label
    if label is None:
        label = "mixed" if ckpt.task.conditional else None
    elif label.strip().lower() == "none":
        label = None
    labels = labels_for(ckpt, label, args.n)
    started = time.time()
    with tqdm(total=args.n, desc=f"sample {args.sampler}", unit="jet") as bar:
        x = sample_images(
            ckpt,
            args.n,
            args.sampler,
            args.steps,
            label,
            args.guidance,
            args.seed,
            device,
            args.batch,
            args.eta,
            progress=bar.update,
        )
    y = labels if labels is not None else torch.zeros(args.n, dtype=torch.long)
    attrs = {
        "generator": f"core.diffusion ({ckpt.task.family}) from {ckpt.path}",
        "checkpoint": str(ckpt.path),
        "checkpoint_step": ckpt.step,
        "sampler": args.sampler,
        "steps": -1 if args.steps is None else args.steps,
        "eta": -1.0 if args.eta is None else args.eta,
        "label": "none" if label is None else str(label),
        "guidance": args.guidance,
        "seed": args.seed,
        "y_meaning": "requested label" if labels is not None else "placeholder 0: unconditional samples have no label",
        "wall_time_s": round(time.time() - started, 2),
        "command": f"python -m core sample --checkpoint {args.checkpoint} --n {args.n} --out {args.out} --sampler {args.sampler}"
        + (f" --steps {args.steps}" if args.steps is not None else "")
        + (f" --eta {args.eta}" if args.eta is not None else "")
        + (f" --label {args.label}" if args.label is not None else "")
        + f" --guidance {args.guidance} --seed {args.seed}",
    }
    write_cms(args.out, x.permute(0, 2, 3, 1).numpy(), y.numpy(), attrs=attrs)
    print(f"wrote {args.n} jets ({x.shape[-1]} x {x.shape[-1]}, {args.sampler}) to {args.out}")
    return 0
