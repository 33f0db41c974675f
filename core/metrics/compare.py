"""Models of any family on the same jets, noised to the same level, side by side.

"The same level" is a fraction f of each model's forward process: step max(first step, round(f (T - 1)))
of the model's reconstructor (T its ``timesteps``; for the quantum model step 0 is the clean state, so this
is step max(1, round(f K)) of its K). Each model runs its own reverse process back from that step (a
diffusion model its sampler with a few steps, the quantum model its reverse chain conditioned on the true
label and decoded with the jet's true energies). All are scored at the smallest resolution among them
(energy-conserving pooling): SSIM and PSNR per channel, and the fidelity of the amplitude-encoded images
F = (sum_i sqrt(p_i q_i))^2 with p, q the normalised pixel energies (equal to the state fidelity of the
amplitude encodings, so it reads the same for every model). Generated sets are compared at one resolution
too (``common_sizes``, ``resolution_note``): the coarsest model's by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from core.data.transforms import SIZES, downsample


@dataclass
class ModelReconstruction:
    """One model's reconstruction of the jets: images (N, 3, s, s) GeV at the scoring size, and its numbers."""

    name: str
    family: str
    parameters: int
    t: int
    timesteps: int
    x0_hat: torch.Tensor
    native_size: int
    extra: dict = field(default_factory=dict)


@torch.no_grad()
def model_reconstruction(
    name: str, ckpt, x0: torch.Tensor, y: torch.Tensor, fraction: float, seed: int = 0, sampler_steps: int = 10
) -> ModelReconstruction:
    """A checkpoint's reconstruction of jets ``x0`` (GeV, at the model's size) noised to the fraction f of its
    forward process; a diffusion model runs ddim back with at most ``sampler_steps`` network evaluations."""
    from core.metrics.reconstruct import reconstruct
    from core.training.task import describe

    size = int(ckpt.task.size)
    x = downsample(x0, size) if x0.shape[-1] != size else x0
    probe = ckpt.task.reconstructor(ckpt.ema.eval(), labels=y)
    t = max(int(getattr(probe, "first_step", 0)), int(round(fraction * (probe.timesteps - 1))))
    model = ckpt.task.reconstructor(ckpt.ema, labels=y, sampler="ddim", sampler_steps=max(1, min(sampler_steps, t + 1)))
    rec = reconstruct(model, x, t, mode="reverse", seed=seed)
    extra = {k: v.numpy() for k, v in getattr(model, "extras", {}).items()}
    return ModelReconstruction(
        name, ckpt.task.family, describe(ckpt.task)["parameters"], t, int(ckpt.task.timesteps), rec.x0_hat, size, extra
    )


def at_common_size(recs: list[ModelReconstruction]) -> list[ModelReconstruction]:
    """The reconstructions pooled to the smallest size among them (energy conserving)."""
    size = min(r.x0_hat.shape[-1] for r in recs)
    for r in recs:
        if r.x0_hat.shape[-1] != size:
            r.x0_hat = downsample(r.x0_hat, size)
    return recs


def common_sizes(native: list[int]) -> list[int]:
    """Resolutions every model's jets can be sum-pooled to, largest first: the smallest native size and below.

    A coarse model's jets cannot be refined, so a comparison at one resolution is at most the coarsest one's.
    No sizes (or a size the pooling grid lacks): none."""
    if not native:
        return []
    smallest = min(int(s) for s in native)
    return [s for s in SIZES if s <= smallest and (smallest % s == 0 or smallest == SIZES[0])]


OWN_RESOLUTION = "each model's own resolution"


def resolution_options(native: list[int]) -> dict[str, int | None]:
    """The page's choices of resolution by label: the common sizes (the coarsest model's first), then each its own."""
    return {**{f"{s} × {s}": s for s in common_sizes(native)}, OWN_RESOLUTION: None}


def resolution_note(size: int | None, native: dict[str, int]) -> str:
    """One line saying at which resolution generated sets are compared, and why (``size`` None: each its own)."""
    own = ", ".join(f"{name} {s} × {s}" for name, s in native.items())
    if size is None:
        return (
            f"Each model is measured at its own resolution ({own}), against real jets pooled to it: numbers of "
            "models at different resolutions are not comparable (pooling hides structure)."
        )
    pooled = [name for name, s in native.items() if s > size]
    smallest = min(native.values())
    why = (
        "the coarsest model's resolution, since a finer model's jets can be sum-pooled to it but a coarse one's "
        "cannot be refined"
        if size == smallest
        else "coarser than every model"
    )
    what = f"{' and '.join(pooled)} samples and the real jets are" if pooled else "the real jets are"
    return f"Compared at {size} × {size}, {why}: {what} sum-pooled to it (energy conserved); native sizes: {own}."


def amplitude_fidelity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(sum_i sqrt(p_i q_i))^2 of the normalised pixel energies of two image batches (N,)."""
    p = a.reshape(len(a), -1).double().clamp_min(0)
    q = b.reshape(len(b), -1).double().clamp_min(0)
    p = p / p.sum(-1, keepdim=True).clamp_min(1e-30)
    q = q / q.sum(-1, keepdim=True).clamp_min(1e-30)
    return ((p * q).sqrt().sum(-1) ** 2).float()


def compare_rows(x0: torch.Tensor, recs: list[ModelReconstruction]) -> list[dict]:
    """One table row per model: step, SSIM / PSNR per channel and mean, fidelity, parameter count."""
    from core.metrics.paired import paired_metrics

    rows = []
    size = recs[0].x0_hat.shape[-1]
    ref = downsample(x0, size) if x0.shape[-1] != size else x0
    for rec in recs:
        m = paired_metrics(ref, rec.x0_hat)
        row = {
            "model": rec.name,
            "family": rec.family,
            "parameters": rec.parameters,
            "t": f"{rec.t} of {rec.timesteps}",
            "native size": rec.native_size,
        }
        for k, v in m["ssim"].items():
            row[f"SSIM {k}"] = float(v)
        for k, v in m["psnr"].items():
            row[f"PSNR {k} [dB]"] = float(v)
        row["fidelity (amplitude-encoded)"] = float(amplitude_fidelity(ref, rec.x0_hat).mean())
        if "state_fidelity" in rec.extra:
            row["state fidelity"] = float(np.mean(rec.extra["state_fidelity"]))
        rows.append(row)
    return rows
