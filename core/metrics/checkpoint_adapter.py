"""Adapters from training checkpoints (core.training), classical or quantum, to :class:`Reconstructor`."""

from __future__ import annotations

import os

import torch

from core.errors import JetInputError
from core.metrics.reconstruct import GaussianReconstructor


def reconstructor_from_checkpoint(
    checkpoint,
    labels: torch.Tensor | None = None,
    sampler: str = "ddim",
    steps: int | None = None,
    device: str = "cpu",
) -> GaussianReconstructor:
    """A reconstructor over a DDPM / seed-baseline checkpoint (a directory or a loaded ``Checkpoint``).

    One-step: the EMA network's x0 prediction (as its samplers clip it). Reverse: the checkpoint's own
    ``sampler`` started at t with ``steps`` network evaluations (default: the sampler's default, at most t + 1).
    ``labels`` (N,) conditions a class-conditional model on the true labels of the jets. Images go in and
    come out on the CPU; the network runs on the device of its weights (``device`` when loading a directory).
    """
    from core.diffusion.samplers import run_sampler
    from core.training.checkpoint import Checkpoint, load_checkpoint

    if isinstance(checkpoint, Checkpoint):  # already loaded: used where it is, never moved
        ckpt, net = checkpoint, checkpoint.ema
    else:
        ckpt = load_checkpoint(os.fspath(checkpoint), device=device)
        net = ckpt.ema.eval()
    task = ckpt.task
    if labels is not None and not task.conditional:
        labels = None
    schedule = task.schedule

    net_device = next(net.parameters()).device
    if labels is not None:
        labels = labels.to(net_device)
    eps_fn = task.eps_fn(net, labels, 1.0)

    # The metrics work on CPU tensors; the network runs where its weights are.
    def x0_fn(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        xd, td = xt.to(net_device), t.to(net_device)
        return schedule.x0_from_eps(xd, td, eps_fn(xd, td)).to(xt.device)

    def reverse_fn(xt: torch.Tensor, t: int, generator: torch.Generator) -> torch.Tensor:
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        g = torch.Generator(net_device).manual_seed(seed)
        return run_sampler(sampler, eps_fn, xt.to(net_device), schedule, steps, g, start=int(t)).to(xt.device)

    # The task's own maps: its size check on the way in, its clamp and zero suppression on the way out.
    to_model = getattr(task, "prepare", None) or (lambda x: task.transform.forward(x.float()))
    to_gev = getattr(task, "to_gev", None) or (lambda z: task.transform.inverse(z.float()))
    return GaussianReconstructor(
        schedule=schedule, x0_fn=x0_fn, to_model=to_model, to_gev=to_gev, reverse_fn=reverse_fn
    )


def reconstructor_for(checkpoint, labels: torch.Tensor | None = None, device: str = "cpu", **options):
    """A :class:`Reconstructor` for any checkpoint family: the quantum model's own, else the Gaussian adapter.

    ``checkpoint`` is a loaded ``Checkpoint`` or a directory; ``options`` go to the Gaussian adapter.
    The quantum model is class-conditional and needs the jets' ``labels``.
    """
    from core.training.checkpoint import Checkpoint, load_checkpoint

    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(os.fspath(checkpoint), device=device)
    if getattr(ckpt.task, "family", None) == "quantum":
        from core.quantum.reconstruct import QuantumReconstructor

        if labels is None:
            raise JetInputError("quantum reconstruction: the jets' labels are needed (the model is class-conditional)")
        return QuantumReconstructor(ckpt.task, ckpt.ema, labels.cpu())
    return reconstructor_from_checkpoint(ckpt, labels=labels, device=device, **options)
