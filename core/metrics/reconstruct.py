"""What a reconstruction is, so SSIM and PSNR mean something.

Take a real jet x0 (GeV), noise it to step ``t`` with the model's own forward process, and recover
x0_hat either in one step (the network's x0 prediction at ``t``) or by running the reverse process
from ``t`` down to 0. Beside the model, two trivial reconstructions give the floor a reader must
compare against: the noisy xt itself (mapped back to GeV) and an empty image (sparse jets make SSIM
of an empty image look high).

Any model plugs in through :class:`Reconstructor` (classical or quantum); Gaussian diffusion models
only need :class:`GaussianReconstructor`, built from a schedule and a callable (xt, t) -> x0_hat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import torch

from core.diffusion.noise import channel_noise
from core.errors import JetInputError
from core.metrics.checks import as_images
from core.metrics.paired import paired_metrics

MODES = ("one_step", "reverse")
X0Fn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@runtime_checkable
class Reconstructor(Protocol):
    """The small interface a model offers to be scored on reconstructions.

    ``noise`` maps x0 in GeV to xt in the model's space; ``noisy_gev`` maps xt back to a GeV image
    (the trivial reconstruction); ``predict_x0`` and ``reverse_from`` return x0_hat in GeV. A model may
    also set ``first_step`` (the smallest t with something to reconstruct; 0 when absent) and ``extras``
    (per-jet numbers of its last ``reverse_from``, e.g. a state fidelity).
    """

    timesteps: int

    def noise(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator) -> torch.Tensor: ...

    def noisy_gev(self, xt: torch.Tensor) -> torch.Tensor: ...

    def predict_x0(self, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor: ...

    def reverse_from(self, xt: torch.Tensor, t: int, generator: torch.Generator) -> torch.Tensor: ...


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


@dataclass
class GaussianReconstructor:
    """A DDPM-style model: q(xt | x0) from ``schedule`` and the network's x0 prediction ``x0_fn(xt, t)``.

    ``schedule`` needs ``timesteps``, ``alpha_bar``, ``q_sample(x0, t, eps)`` and ``posterior(x0, xt, t)``
    (core.diffusion.schedules.NoiseSchedule). ``to_model`` / ``to_gev`` are the intensity transform and
    its inverse (identity by default). ``x0_fn`` works in model space. ``reverse_fn(xt, t, generator)``
    runs the model's own sampler from t (model space); without it, every ancestral step t..0 is taken.
    """

    schedule: object
    x0_fn: X0Fn
    to_model: Callable[[torch.Tensor], torch.Tensor] = _identity
    to_gev: Callable[[torch.Tensor], torch.Tensor] = _identity
    reverse_fn: Callable[[torch.Tensor, int, torch.Generator], torch.Tensor] | None = None
    correlation: float = 0.0  # of the forward noise between channels (core.diffusion.noise)

    @property
    def timesteps(self) -> int:
        return int(self.schedule.timesteps)

    def noise(self, x0: torch.Tensor, t: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        z0 = self.to_model(x0)
        eps = channel_noise(z0.shape, self.correlation, generator, dtype=z0.dtype)
        return self.schedule.q_sample(z0, t, eps)

    def noisy_gev(self, xt: torch.Tensor) -> torch.Tensor:
        return self.to_gev(xt).clamp_min(0)

    @torch.no_grad()
    def predict_x0(self, xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.to_gev(self.x0_fn(xt, t)).clamp_min(0)

    @torch.no_grad()
    def reverse_from(self, xt: torch.Tensor, t: int, generator: torch.Generator) -> torch.Tensor:
        if self.reverse_fn is not None:  # the model's own sampler, started at t
            return self.to_gev(self.reverse_fn(xt, int(t), generator)).clamp_min(0)
        # Ancestral DDPM steps t, t-1, ..., 0 (the ddpm sampler, fed the x0 prediction as eps).
        from core.diffusion.samplers import run_sampler

        def eps_fn(x: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
            return self.schedule.eps_from_x0(x, ts, self.x0_fn(x, ts))

        x = run_sampler(
            "ddpm", eps_fn, xt, self.schedule, int(t) + 1, generator, start=int(t), correlation=self.correlation
        )
        return self.to_gev(x).clamp_min(0)


@dataclass
class Reconstruction:
    """Images of one reconstruction run, all (N, C, H, W) in GeV, for the metrics and the page."""

    t: int
    mode: str
    x0: torch.Tensor
    xt_gev: torch.Tensor
    x0_hat: torch.Tensor


def reconstruct(
    model: Reconstructor, x0: torch.Tensor | np.ndarray, t: int, mode: str = "one_step", seed: int = 0
) -> Reconstruction:
    """Noise real jets ``x0`` (GeV) to step ``t`` and recover them in one step or by the reverse process."""
    x0 = as_images(x0, "jets")
    if mode not in MODES:
        raise JetInputError(f"reconstruction mode {mode!r}: unknown; use one of {', '.join(MODES)}")
    if not 0 <= int(t) < model.timesteps:
        raise JetInputError(f"reconstruction step t: must be in 0..{model.timesteps - 1}, got {t}")
    generator = torch.Generator().manual_seed(int(seed))
    ts = torch.full((x0.shape[0],), int(t), dtype=torch.long)
    xt = model.noise(x0, ts, generator)
    x0_hat = model.predict_x0(xt, ts) if mode == "one_step" else model.reverse_from(xt, int(t), generator)
    return Reconstruction(int(t), mode, x0, model.noisy_gev(xt).float(), x0_hat.float())


def reconstruction_metrics(rec: Reconstruction, data_range: float | list[float] | None = None) -> dict:
    """SSIM / PSNR of the model's x0_hat and of the two trivial reconstructions (noisy xt, empty image).

    Returns ``{"t", "mode", "model": {...}, "noisy_xt": {...}, "empty": {...}}``; each entry is
    :func:`core.metrics.paired.paired_metrics` with the same data range (from the real jets by default).
    """
    return {
        "t": rec.t,
        "mode": rec.mode,
        "model": paired_metrics(rec.x0, rec.x0_hat, data_range),
        "noisy_xt": paired_metrics(rec.x0, rec.xt_gev, data_range),
        "empty": paired_metrics(rec.x0, torch.zeros_like(rec.x0), data_range),
    }
