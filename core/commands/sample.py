"""``sample``: generate jets from a checkpoint into a CMS-layout HDF5 file (X_jets in GeV, y; -1 = unlabelled)."""

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
    p.add_argument(
        "--shots",
        type=int,
        default=None,
        help="quantum checkpoints only: measurement shots per state from the final Born distribution "
        "(default: exact Born probabilities)",
    )
    p.add_argument(
        "--backend",
        default=None,
        help="quantum checkpoints only: run the reverse chain transpiled to this fake IBM device "
        "(qiskit-ibm-runtime, offline) with its noise on Aer, e.g. nairobi, torino; shots default 4096",
    )
    p.add_argument("--noise-scale", type=float, default=1.0, help="with --backend: device error rates times this")


def run(args: argparse.Namespace) -> int:
    import time

    import torch
    from tqdm import tqdm

    from core.data.layout import UNLABELLED, UNLABELLED_MEANING
    from core.data.writers import write_cms
    from core.errors import JetInputError
    from core.training.checkpoint import load_checkpoint
    from core.training.device import resolve_device
    from core.training.sampling import labels_for, sample_images

    if args.n < 1:
        raise JetInputError(f"--n: must be at least 1, got {args.n}")
    if args.shots is not None and args.shots < 1:
        raise JetInputError(f"--shots: must be a positive integer, got {args.shots}")
    if args.backend is not None:
        from core.quantum.devices import canonical_name

        args.backend = canonical_name(args.backend)  # an unknown name: one line listing the choices
    device = resolve_device(args.device)
    ckpt = load_checkpoint(args.checkpoint, device=device)
    sampler = args.sampler
    if args.shots is not None:
        if ckpt.task.family != "quantum":
            raise JetInputError(
                f"--shots: only quantum checkpoints measure shots; {args.checkpoint} is a "
                f"{ckpt.task.family!r} checkpoint (drop --shots)"
            )
        sampler = f"shots:{args.shots}"  # QuantumTask.sample draws these shots per state from the Born distribution
    label = args.label
    if label is None:
        label = "mixed" if ckpt.task.conditional else None
    elif label.strip().lower() == "none":
        label = None
    labels = labels_for(ckpt, label, args.n)
    started = time.time()
    if args.backend is not None:
        from core.quantum.device_sampling import device_run

        x, device_attrs = device_run(ckpt, labels, args)  # transpiled chain, device noise, shots on Aer
        sampler = f"device:{args.backend}"
    else:
        device_attrs = {}
        with tqdm(total=args.n, desc=f"sample {sampler}", unit="jet") as bar:
            x = sample_images(
                ckpt,
                args.n,
                sampler,
                args.steps,
                label,
                args.guidance,
                args.seed,
                device,
                args.batch,
                args.eta,
                progress=bar.update,
            )
    y = labels if labels is not None else torch.full((args.n,), UNLABELLED, dtype=torch.long)
    attrs = {
        "generator": f"core.diffusion ({ckpt.task.family}) from {ckpt.path}",
        "checkpoint": str(ckpt.path),
        "checkpoint_step": ckpt.step,
        "sampler": sampler,
        "steps": -1 if args.steps is None else args.steps,
        "eta": -1.0 if args.eta is None else args.eta,
        "label": "none" if label is None else str(label),
        "guidance": args.guidance,
        "seed": args.seed,
        "y_meaning": "requested label (1 = quark, 0 = gluon)" if labels is not None else UNLABELLED_MEANING,
        "wall_time_s": round(time.time() - started, 2),
        "command": f"python -m core sample --checkpoint {args.checkpoint} --n {args.n} --out {args.out} --sampler {args.sampler}"
        + (f" --steps {args.steps}" if args.steps is not None else "")
        + (f" --eta {args.eta}" if args.eta is not None else "")
        + (f" --label {args.label}" if args.label is not None else "")
        + f" --guidance {args.guidance} --seed {args.seed}"
        + (f" --shots {args.shots}" if args.shots is not None else "")
        + (f" --backend {args.backend} --noise-scale {args.noise_scale}" if args.backend else ""),
        **device_attrs,
    }
    if ckpt.task.family == "quantum":
        attrs["shots"] = device_attrs.get("shots", -1 if args.shots is None else args.shots)
        attrs["readout"] = device_attrs.get("readout") or (
            "exact Born probabilities"
            if args.shots is None
            else f"{args.shots} shots per state (per channel with one state per channel) from the final Born distribution"
        )
    write_cms(args.out, x.permute(0, 2, 3, 1).numpy(), y.numpy(), attrs=attrs)
    print(f"wrote {args.n} jets ({x.shape[-1]} x {x.shape[-1]}, {sampler}) to {args.out}")
    return 0
