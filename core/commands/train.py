"""``train``: train a model family (``--model``) with the one training loop, writing a checkpoint directory."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

HELP = "Train a diffusion model (ddpm U-Net, the seed baseline, ...) on jet images; writes a checkpoint directory."


def _families() -> list[str]:
    from core.training.registry import TASK_BUILDERS

    return sorted(TASK_BUILDERS)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="ddpm", help=f"model family: {', '.join(_families())} (default ddpm)")
    p.add_argument(
        "--data", default=None, help="jet file (CMS HDF5, sparse HDF5 or EnergyFlow .npz); default: the embedded sample"
    )
    p.add_argument("--size", type=int, default=32, help="image size after energy-conserving pooling: 16, 32, 64 or 125")
    p.add_argument("--steps", type=int, default=2000, help="total optimisation steps (with --resume: the new total)")
    p.add_argument("--out", required=True, help="checkpoint directory")
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
    p.add_argument("--preset", default="tiny", choices=("tiny", "small", "base"), help="U-Net size (ddpm only)")
    p.add_argument("--batch", type=int, default=32, help="batch size per process")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (AdamW)")
    p.add_argument("--warmup", type=int, default=200, help="linear warm-up steps")
    p.add_argument(
        "--schedule", default="cosine", choices=("linear", "cosine"), help="noise schedule (ddpm only; default cosine)"
    )
    p.add_argument(
        "--prediction",
        default="v",
        choices=("eps", "v"),
        help="network target (ddpm only; default v: learns much faster here)",
    )
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay")
    p.add_argument("--max-jets", type=int, default=None, help="train on a seeded random subset of the file")
    p.add_argument("--seed", type=int, default=0, help="seed of initialisation, data order and noise")
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints (0: only at the end)")
    p.add_argument(
        "--inference-only",
        action="store_true",
        help="the final checkpoint keeps only the EMA weights (small, not resumable)",
    )
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument(
        "--metrics-every", type=int, default=0, help="steps between SSIM/PSNR/FID on held-out jets (0: never)"
    )
    p.add_argument(
        "--preview-every", type=int, default=0, help="steps between preview samples in the run log (0: never)"
    )
    p.add_argument("--held-out", type=float, default=0.1, help="fraction of jets held out for --metrics-every")
    p.add_argument("--time-limit", type=float, default=None, help="seconds; then save and stop (status: time limit)")
    from core.quantum.cli import add_quantum_arguments

    add_quantum_arguments(p)


def recreate_command(args: argparse.Namespace) -> str:
    """The command line that re-creates this checkpoint (recorded in the model card)."""
    parts = ["python -m core train", f"--model {args.model}"]
    if args.data:
        parts.append(f"--data {shlex.quote(str(args.data))}")
    parts += [f"--size {args.size}", f"--steps {args.steps}", f"--out {shlex.quote(str(args.out))}"]
    if args.model == "ddpm":
        parts += [f"--preset {args.preset}", f"--schedule {args.schedule}", f"--prediction {args.prediction}"]
    parts += [
        f"--batch {args.batch}",
        f"--lr {args.lr:g}",
        f"--warmup {args.warmup}",
        f"--ema {args.ema:g}",
        f"--seed {args.seed}",
    ]
    if args.model == "quantum":
        from core.quantum.cli import quantum_recreate_args

        parts += quantum_recreate_args(args)
    if args.max_jets:
        parts.append(f"--max-jets {args.max_jets}")
    if args.inference_only:
        parts.append("--inference-only")
    return " ".join(parts)


def task_config(args: argparse.Namespace) -> dict:
    """The task config for a family: classical families know their defaults; others take size and seed."""
    if args.model in ("ddpm", "seed-baseline"):
        from core.diffusion.task import default_config

        return default_config(
            args.model,
            args.size,
            args.preset,
            args.schedule,
            prediction=args.prediction if args.model == "ddpm" else "eps",
        )
    if args.model == "quantum":
        from core.quantum.cli import quantum_task_config

        return quantum_task_config(args)
    return {"family": args.model, "size": args.size, "preset": args.preset}


def _run_log(args: argparse.Namespace, out: Path):
    """The run directory's log (request, events, status: ``core.jobs.rundir``) in ``--out``."""
    from core.jobs.rundir import RUNNING, RunWriter, interrupt_on_sigterm

    log = RunWriter(out, "train", args.steps)
    log.request(["train", *sys.argv[2:]] if sys.argv[1:2] == ["train"] else [], vars(args))
    log.status(RUNNING, "preparing data")
    log.phase("preparing data")
    interrupt_on_sigterm()  # a stop while the data is prepared ends the run at once (the loop then saves)
    return log


def run(args: argparse.Namespace) -> int:
    """Train; an error or an interrupt before the loop takes over is recorded in the run's status too."""
    try:
        return _train(args)
    except BaseException as err:
        from core.jobs.rundir import mark_ended

        mark_ended(args.out, err)
        raise


def _train(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from core.data.layout import QUARK, UNLABELLED
    from core.data.readers import load_tensors
    from core.errors import JetInputError
    from core.jobs.training import run_logged
    from core.training.checkpoint import load_checkpoint
    from core.training.distributed import env_info, shutdown
    from core.training.loop import TrainConfig, Trainer, check_labels_for_task
    from core.training.registry import build_task, builder

    if args.threads:
        torch.set_num_threads(args.threads)
    builder(args.model)  # unknown family -> clear error before reading data
    if args.steps < 1:
        raise JetInputError(f"--steps: must be at least 1, got {args.steps}")
    if args.model == "quantum":
        from core.quantum.cli import quantum_size

        args.size = quantum_size(args)  # the quantum model works on 8 x 8 jets
    from core.data.transforms import SIZES

    if args.size not in SIZES:
        raise JetInputError(f"--size {args.size}: use one of {', '.join(map(str, SIZES))}")
    out = Path(args.out)
    resuming = args.resume and (out / "config.json").exists()
    config = None if resuming else task_config(args)  # bad size or preset for the family -> error before reading
    log = _run_log(args, out) if env_info().is_main else None
    x, y = load_tensors(args.data, size=args.size, max_jets=args.max_jets, seed=args.seed)
    cfg = TrainConfig(
        steps=args.steps,
        batch_size=args.batch,
        lr=args.lr,
        warmup=args.warmup,
        ema_decay=args.ema,
        seed=args.seed,
        device=args.device,
        log_every=1,
        checkpoint_every=args.checkpoint_every,
        metrics_every=args.metrics_every,
        preview_every=args.preview_every,
    )
    ckpt = None
    if resuming:
        ckpt = load_checkpoint(out, with_optimizer=True)
        if ckpt.task.family != args.model:
            raise JetInputError(f"{out}: holds a {ckpt.task.family!r} model, not {args.model!r}")
        task = ckpt.task
    else:
        torch.manual_seed(args.seed)
        task = build_task(config, x)
    check_labels_for_task(task, y, args.data or "embedded sample")  # names the file, before any step runs
    card = {
        "data": {
            "file": args.data or "embedded sample (assets/jets_sample.h5)",
            "jets": len(y),
            "quark": int((y == QUARK).sum()),
            **({"unlabelled": int((y == UNLABELLED).sum())} if (y == UNLABELLED).any() else {}),
            "size": args.size,
        },
        "command": recreate_command(args),
    }
    metrics_fn = None
    if args.metrics_every > 0:
        from core.jobs.live_metrics import make_metrics_fn
        from core.jobs.training import split_held_out

        x, y, x_held, y_held = split_held_out(x, y, args.held_out, args.seed)
        metrics_fn = make_metrics_fn(x_held, y_held, seed=args.seed, on_phase=log.phase if log else None)
    trainer = Trainer(task, x, y, cfg, out, metrics_fn, card, inference_only_checkpoint=args.inference_only)
    if ckpt is not None:
        trainer.restore(ckpt)
    main = env_info().is_main
    try:
        with tqdm(
            total=cfg.steps, initial=trainer.step, desc=f"train {args.model}", unit="step", disable=not main
        ) as bar:

            def progress(event) -> None:
                bar.update(event.step - bar.n)
                bar.set_postfix(loss=f"{event.loss:.4f}", img_s=f"{event.images_per_s:.0f}", refresh=False)

            if log is not None:
                run_logged(trainer, log, args.time_limit, progress)
            else:
                for event in trainer.run():
                    progress(event)
    finally:
        shutdown()
    if main:
        print(
            f"wrote {out} (step {trainer.step}, loss {sum(trainer.losses[-50:]) / max(1, len(trainer.losses[-50:])):.4f})",
            file=sys.stdout,
        )
    return 0
