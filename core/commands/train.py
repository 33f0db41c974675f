"""``train``: train a model family (``--model``) with the one training loop, writing a checkpoint directory.

The options are generated from ``core.requests.TrainRequest``: the Train page fills the same request.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "Train a diffusion model (ddpm U-Net, the seed baseline, ...) on jet images; writes a checkpoint directory."


def add_arguments(p: argparse.ArgumentParser) -> None:
    from core.requests import TrainRequest

    TrainRequest.add_arguments(p, required=("out",))
    p.add_argument("--force", action="store_true", help="replace an existing checkpoint in --out (else refused)")


def _load(req, out: Path):
    """The data and, with ``--resume`` and a checkpoint in ``--out``, that checkpoint (errors before reading)."""
    from core.data.readers import load_tensors
    from core.data.transforms import SIZES
    from core.errors import JetInputError
    from core.training.checkpoint import load_checkpoint

    resuming = req.resume and (out / "config.json").exists()
    size = req.task_config()["size"]  # bad options for the family -> error before reading
    if size not in SIZES:
        raise JetInputError(f"--size {size}: use one of {', '.join(map(str, SIZES))}")
    x, y = load_tensors(req.data, size=size, max_jets=req.max_jets, seed=req.seed)
    return x, y, load_checkpoint(out, with_optimizer=True) if resuming else None


def _check_init_from(req) -> None:
    """``--init-from``: a checkpoint directory other than ``--out``, and not with ``--resume`` (one line, before
    any data is read)."""
    from core.errors import JetInputError

    if not req.init_from:
        return
    source = Path(req.init_from)
    if req.resume:
        raise JetInputError(
            "--init-from starts a new run from another checkpoint's weights; --resume continues --out: use one of them"
        )
    if not (source / "config.json").is_file():
        raise JetInputError(f"--init-from {source}: not a checkpoint directory (config.json is missing)")
    if source.resolve() == Path(req.out).resolve():
        raise JetInputError(f"--init-from {source}: is --out itself; write the new checkpoint to another folder")


def _run_log(req, out: Path):
    """The run directory's log in ``--out`` (request, events, status: ``core.jobs.rundir``); rank 0 only."""
    from core.jobs.rundir import RUNNING, RunWriter
    from core.training.distributed import env_info

    if not env_info().is_main:
        return None
    log = RunWriter(out, "train", req.steps)
    log.request(["train", *req.to_argv()], req.to_dict())
    log.status(RUNNING, "preparing the model")
    log.phase("preparing the model")
    return log


def _run_trainer(trainer, family: str, log=None, time_limit: float | None = None) -> None:
    from tqdm import tqdm

    from core.jobs.training import run_logged
    from core.training.distributed import env_info, shutdown

    main = env_info().is_main
    try:
        with tqdm(
            total=trainer.cfg.steps, initial=trainer.step, desc=f"train {family}", unit="step", disable=not main
        ) as bar:

            def progress(event) -> None:
                bar.update(event.step - bar.n)
                bar.set_postfix(loss=f"{event.loss:.4f}", img_s=f"{event.images_per_s:.0f}", refresh=False)

            if log is not None:  # events, status, SIGTERM / SIGINT = save and stop, the time limit
                run_logged(trainer, log, time_limit, progress)
            else:
                for event in trainer.run():
                    progress(event)
    finally:
        shutdown()
    if main:
        recent = trainer.losses[-50:]
        print(f"wrote {trainer.out_dir} (step {trainer.step}, loss {sum(recent) / max(1, len(recent)):.4f})")


def run(args: argparse.Namespace) -> int:
    """Train; an error or an interrupt before the loop takes over is recorded in the run's status too."""
    try:
        return _train(args)
    except BaseException as err:
        from core.jobs.rundir import mark_ended

        if getattr(args, "out", None):
            mark_ended(args.out, err)
        raise


def _train(args: argparse.Namespace) -> int:
    import torch

    from core.jobs.rundir import interrupt_on_sigterm
    from core.requests import TrainRequest
    from core.training.prepare import prepare_training

    req = TrainRequest.from_namespace(args)
    req.check()  # unknown family, bad choice -> one line before anything is read
    from core.outputs import check_train_out

    _check_init_from(req)
    check_train_out(req.out, req.data, req.resume, getattr(args, "force", False))  # never destroy work
    req.train_config()  # EMA, warm-up, checkpoint interval ranges: one line before any work
    if req.threads:
        torch.set_num_threads(req.threads)
    out = Path(req.out)
    from core.limits import check_allocation

    size = int(req.size)  # a rough bound on the activations: ~100 x the batch's images
    check_allocation(100.0 * req.batch_size * 3 * size * size * 4, f"--batch {req.batch_size} at {size} x {size}")
    interrupt_on_sigterm()  # a stop while the data is read ends the run at once
    x, y, ckpt = _load(req, out)  # refusals come before anything is written into --out
    log = _run_log(req, out)
    name = req.data or "embedded sample (assets/jets_sample.h5)"
    prepared = prepare_training(req, x, y, name, resumed=ckpt, on_phase=log.phase if log else None)
    if req.init_from:
        from core.training.checkpoint import load_initial_weights

        prepared.card["initialised_from"] = load_initial_weights(prepared.task, req.init_from)
    trainer = prepared.trainer(out, inference_only=req.inference_only)
    if ckpt is not None:
        trainer.restore(ckpt)
    _run_trainer(trainer, req.family, log, req.time_limit)
    sys.stdout.flush()
    return 0
