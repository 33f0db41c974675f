"""Sampling from a checkpoint: what the command line and the dashboard call.

``checkpoint`` is a directory or an already loaded ``Checkpoint`` (load once, sample many times).
Samples use the EMA weights and come back as (N, 3, H, W) float32 GeV on the CPU.
"""

from __future__ import annotations

import os

import torch

from core.errors import JetInputError
from core.training.checkpoint import Checkpoint, load_checkpoint
from core.training.task import Trajectory, as_labels
from core.training.task import check_guidance_from as check_fraction

MIXED = "mixed"


def _checkpoint(checkpoint: str | os.PathLike | Checkpoint, device: str | torch.device) -> Checkpoint:
    if isinstance(checkpoint, Checkpoint):
        return checkpoint
    return load_checkpoint(checkpoint, device=device)


def labels_for(ckpt: Checkpoint, label: int | str | None, n: int) -> torch.Tensor | None:
    """None = unconditional; 'mixed' = alternating gluon / quark (conditional models only); else one label."""
    if isinstance(label, str) and label.strip().lower() == MIXED:
        if not ckpt.task.conditional:
            raise JetInputError(f"{ckpt.path}: model {ckpt.task.family!r} is unconditional; it takes no label")
        return (torch.arange(n) % 2).long()
    labels = as_labels(label, n)
    if labels is not None and not ckpt.task.conditional:
        raise JetInputError(f"{ckpt.path}: model {ckpt.task.family!r} is unconditional; it takes no label")
    return labels


def check_readout(ckpt: Checkpoint, shots: int | None, option: str = "shots") -> None:
    """Refuse a shot readout for a model that does not measure, naming the option and the model."""
    if shots is None:
        return
    if "shots" not in ckpt.task.readouts:
        raise JetInputError(
            f"{option}: only models that measure take shots; {ckpt.path} is a {ckpt.task.family!r} checkpoint "
            f"(drop {option})"
        )
    if int(shots) < 1:
        raise JetInputError(f"{option}: must be a positive integer, got {shots}")


def default_guidance(ckpt: Checkpoint) -> float:
    """The guidance weight a checkpoint samples at when none is asked: the one its config names (chosen for it
    on held-out jets, see its model card), else 1, the conditional model itself."""
    return float(getattr(ckpt.task, "default_guidance", 1.0))


def check_guidance_from(ckpt: Checkpoint, guidance_from: float, option: str = "guidance from") -> None:
    """Refuse a guidance interval for a model without classifier-free guidance, or a value outside [0, 1)."""
    check_fraction(guidance_from)
    if guidance_from and not getattr(ckpt.task, "takes_guidance", False):
        raise JetInputError(
            f"{option}: {ckpt.path} is a {ckpt.task.family!r} checkpoint without classifier-free guidance "
            f"(drop {option})"
        )


def _setup(
    checkpoint,
    n: int,
    label,
    shots: int | None,
    seed: int,
    device,
    guidance_from: float = 0.0,
    logsnr_floor: float | None = None,
) -> tuple[Checkpoint, torch.Tensor | None, dict]:
    """Checks and what every sampling call starts from: the checkpoint, the labels, the generator, the readout,
    the guidance interval and the fast sampler's log-SNR floor."""
    if n < 1:
        raise JetInputError(f"number of samples: must be at least 1, got {n}")
    ckpt = _checkpoint(checkpoint, device)
    check_readout(ckpt, shots)
    check_guidance_from(ckpt, guidance_from)
    labels = labels_for(ckpt, label, n)
    options = {"generator": torch.Generator(torch.device(device)).manual_seed(int(seed))}
    if shots is not None:
        options["shots"] = int(shots)
    if guidance_from:
        options["guidance_from"] = float(guidance_from)
    if logsnr_floor is not None:
        if ckpt.task.default_sampler_steps is None:
            raise JetInputError(
                f"log-SNR floor: {ckpt.path} is a {ckpt.task.family!r} checkpoint, which runs its own reverse steps "
                "(drop the floor)"
            )
        options["logsnr_floor"] = float(logsnr_floor)
    return ckpt, labels, options


def sample_images(
    checkpoint: str | os.PathLike | Checkpoint,
    n: int,
    sampler: str | None = None,
    sampler_steps: int | None = None,
    label: int | str | None = None,
    guidance: float | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    batch_size: int = 256,
    eta: float | None = None,
    progress=None,
    shots: int | None = None,
    guidance_from: float = 0.0,
    logsnr_floor: float | None = None,
) -> torch.Tensor:
    """``n`` generated jets (n, 3, H, W) in GeV. Same arguments and seed, same images.

    ``label``: None (unconditional), 'quark' / 'gluon' / 1 / 0, or 'mixed'. ``guidance``: classifier-free
    weight (0 unconditional, 1 conditional, >1 sharper classes; None: the model's, :func:`default_guidance`).
    ``progress(k)`` is called per batch.
    ``sampler``: None means the model's default. ``shots``: readout by that many measurements per state
    (models whose ``readouts`` include "shots"; None: exact). ``guidance_from``: the guidance weight applies
    only while t / T >= this (0: every step; models with classifier-free guidance). ``logsnr_floor``: where
    the fast sampler's log-SNR grid starts (``core.diffusion.samplers.timesteps_for``; None: the whole range).
    """
    ckpt, labels, options = _setup(checkpoint, n, label, shots, seed, device, guidance_from, logsnr_floor)
    guidance = default_guidance(ckpt) if guidance is None else guidance
    if eta is not None:
        options["eta"] = eta
    net = ckpt.ema.to(device)
    out = []
    for start in range(0, n, batch_size):
        k = min(batch_size, n - start)
        lab = labels[start : start + k] if labels is not None else None
        out.append(
            ckpt.task.sample(
                net, k, labels=lab, sampler=sampler, sampler_steps=sampler_steps, guidance=guidance, **options
            )
        )
        if progress is not None:
            progress(k)
    return torch.cat(out)


def sample_trajectory(
    checkpoint: str | os.PathLike | Checkpoint,
    n: int,
    sampler: str | None = None,
    sampler_steps: int | None = None,
    label: int | str | None = None,
    guidance: float | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    shots: int | None = None,
    guidance_from: float = 0.0,
    logsnr_floor: float | None = None,
) -> Trajectory:
    """The reverse process of ``n`` samples, step by step (see ``core.training.task.Trajectory``)."""
    ckpt, labels, options = _setup(checkpoint, n, label, shots, seed, device, guidance_from, logsnr_floor)
    guidance = default_guidance(ckpt) if guidance is None else guidance
    net = ckpt.ema.to(device)
    return ckpt.task.sample(
        net,
        n,
        labels=labels,
        sampler=sampler,
        sampler_steps=sampler_steps,
        guidance=guidance,
        trajectory=True,
        **options,
    )
