"""Noise schedules of the forward process q(xt | x0) and the quantities every sampler needs.

Ho et al. (2020): q(xt | x0) = N(sqrt(alpha_bar_t) x0, (1 - alpha_bar_t) I), with
alpha_bar_t = prod_{s<=t} (1 - beta_s). Step ``t`` is an integer in [0, T - 1]; step 0 is the first
noising step (beta_1 in the paper). "Clean" (alpha_bar = 1) is the end of every reverse process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.errors import JetInputError

KINDS = ("linear", "cosine")


def linear_betas(timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """DDPM's betas, evenly spaced from beta_start to beta_end."""
    return torch.linspace(beta_start, beta_end, timesteps, dtype=torch.float64)


def cosine_alpha_bar(timesteps: int, s: float = 0.008) -> torch.Tensor:
    """Improved DDPM (Nichol & Dhariwal 2021): alpha_bar(t) = f(t) / f(0), f(t) = cos^2((t/T + s) / (1 + s) pi/2)."""
    steps = torch.arange(timesteps + 1, dtype=torch.float64) / timesteps
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    return f[1:] / f[0]


def posterior_coefficients(ab_t, ab_s):
    """q(x_s | x_t, x0) between two steps s < t of one schedule (alpha_bar ``ab_t``, ``ab_s``; floats or
    tensors): mean = c0 x0 + ct xt, and its variance. With s = t - 1 this is DDPM's posterior; with a respaced
    s it is the posterior of the respaced chain. ``ab_s`` = 1 (the clean end) gives variance 0."""
    beta = 1 - ab_t / ab_s
    c0 = ab_s**0.5 * beta / (1 - ab_t)
    ct = (1 - beta) ** 0.5 * (1 - ab_s) / (1 - ab_t)
    return c0, ct, beta * (1 - ab_s) / (1 - ab_t)


def x0_from_eps(xt: torch.Tensor, eps: torch.Tensor, ab) -> torch.Tensor:
    """x0 = (xt - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar), for alpha_bar a float or a broadcastable tensor."""
    return (xt - (1 - ab) ** 0.5 * eps) / ab**0.5


def _extract(values: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """values[t] shaped (N, 1, 1, 1) in x's dtype and device."""
    out = values.to(x.device)[t.to(x.device).long()]
    return out.to(x.dtype).view(-1, *([1] * (x.ndim - 1)))


@dataclass(frozen=True)
class NoiseSchedule:
    """betas, alphas and alpha_bar of a T-step schedule (float64), plus the closed forms that use them."""

    kind: str
    timesteps: int
    betas: torch.Tensor
    alpha_bar: torch.Tensor
    beta_start: float = 1e-4
    beta_end: float = 0.02

    @property
    def alphas(self) -> torch.Tensor:
        return 1.0 - self.betas

    def config(self) -> dict:
        """Everything ``make_schedule`` needs to rebuild this schedule (the betas apply to ``linear``)."""
        return {
            "kind": self.kind,
            "timesteps": self.timesteps,
            "beta_start": self.beta_start,
            "beta_end": self.beta_end,
        }

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """xt = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) eps."""
        ab = _extract(self.alpha_bar, t, x0)
        return ab.sqrt() * x0 + (1.0 - ab).sqrt() * eps

    def posterior(self, x0: torch.Tensor, xt: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and variance of q(x_{t-1} | xt, x0); at t = 0 the mean is x0 and the variance 0."""
        ab = _extract(self.alpha_bar, t, xt)
        ab_prev = _extract(torch.cat([self.alpha_bar.new_ones(1), self.alpha_bar[:-1]]), t, xt)
        c0, ct, var = posterior_coefficients(ab, ab_prev)
        return c0 * x0 + ct * xt, var

    def x0_from_eps(self, xt: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        return x0_from_eps(xt, eps, _extract(self.alpha_bar, t, xt))

    def eps_from_x0(self, xt: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        ab = _extract(self.alpha_bar, t, xt)
        return (xt - ab.sqrt() * x0) / (1.0 - ab).sqrt()

    def v_target(self, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """v = sqrt(alpha_bar) eps - sqrt(1 - alpha_bar) x0 (Salimans & Ho 2022)."""
        ab = _extract(self.alpha_bar, t, x0)
        return ab.sqrt() * eps - (1.0 - ab).sqrt() * x0

    def eps_from_v(self, xt: torch.Tensor, t: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """eps = sqrt(alpha_bar) v + sqrt(1 - alpha_bar) xt."""
        ab = _extract(self.alpha_bar, t, xt)
        return ab.sqrt() * v + (1.0 - ab).sqrt() * xt


def make_schedule(
    kind: str = "linear", timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
) -> NoiseSchedule:
    """Build a schedule by name; the seed baseline uses ``make_schedule("linear", 50)``."""
    if timesteps < 1:
        raise JetInputError(f"schedule: timesteps must be at least 1, got {timesteps}")
    if not 0 < beta_start <= beta_end < 1:
        raise JetInputError(f"schedule: need 0 < beta_start <= beta_end < 1, got {beta_start:g} and {beta_end:g}")
    if kind == "linear":
        betas = linear_betas(timesteps, beta_start, beta_end)
        alpha_bar = torch.cumprod(1.0 - betas, dim=0)
    elif kind == "cosine":
        alpha_bar = cosine_alpha_bar(timesteps)
        prev = torch.cat([alpha_bar.new_ones(1), alpha_bar[:-1]])
        betas = (1.0 - alpha_bar / prev).clamp(max=0.999)
        alpha_bar = torch.cumprod(1.0 - betas, dim=0)
    else:
        raise JetInputError(f"schedule {kind!r}: unknown; use one of {', '.join(KINDS)}")
    return NoiseSchedule(kind, timesteps, betas, alpha_bar, float(beta_start), float(beta_end))
