"""A classical and a quantum model on the same jets, noised to the same level, side by side.

"The same level" is a fraction f of each model's forward process: step round(f (T - 1)) of the classical
schedule, step max(1, round(f T)) of the quantum one. The classical model runs its own sampler back
from that step; the quantum model runs its reverse chain (PQC, ancillas measured, re-noised between
steps) from the noised state, conditioned on the true label, and is decoded with the jet's true total
energy. Both are scored at the quantum model's resolution (energy-conserving pooling of the classical
result): SSIM and PSNR per channel, and the fidelity of the amplitude-encoded images
F = (sum_i sqrt(p_i q_i))^2 with p, q the normalised pixel energies (equal to the state fidelity
of the amplitude encodings, so it reads the same for both models).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from core.data.transforms import downsample


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


def classical_reconstruction(
    ckpt, x0: torch.Tensor, y: torch.Tensor, fraction: float, seed: int = 0, sampler_steps: int = 10
) -> tuple[torch.Tensor, int]:
    """x0 (GeV) noised to step round(f (T-1)) and brought back by the checkpoint's sampler (ddim, a few steps)."""
    from core.metrics.checkpoint_adapter import reconstructor_from_checkpoint
    from core.metrics.reconstruct import reconstruct

    size = int(ckpt.task.size)
    x = downsample(x0, size) if x0.shape[-1] != size else x0
    t = int(round(fraction * (int(ckpt.task.schedule.timesteps) - 1)))
    steps = max(1, min(sampler_steps, t + 1))
    model = reconstructor_from_checkpoint(
        ckpt, labels=y if ckpt.task.conditional else None, sampler="ddim", steps=steps
    )
    rec = reconstruct(model, x, t, mode="reverse", seed=seed)
    return rec.x0_hat, t


@torch.no_grad()
def quantum_reconstruction(
    ckpt, x0: torch.Tensor, y: torch.Tensor, fraction: float, seed: int = 0
) -> tuple[torch.Tensor, int, torch.Tensor]:
    """Returns (x0_hat (N, 3, s, s) GeV, t, state fidelity (N,) of the final data state to the clean one)."""
    from core.quantum.reconstruct import QuantumReconstructor

    model = QuantumReconstructor(ckpt.task, ckpt.ema.eval(), y)
    t = max(1, int(round(fraction * ckpt.task.hybrid_cfg.steps)))
    gen = torch.Generator().manual_seed(int(seed))
    xt = model.noise(x0, torch.full((len(x0),), t), gen)
    out = model.reverse_states(xt, t, gen)
    x0_hat = model.task.decode(model.probabilities(out), xt.energies)
    return x0_hat, t, model.state_fidelity(out, xt)


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
