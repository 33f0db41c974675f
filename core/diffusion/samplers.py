"""Reverse-process samplers behind one interface: ``run_sampler(name, eps_fn, x_T, schedule, sampler_steps)``.

A sampler sees the network only through ``eps_fn(xt, t) -> eps`` (t an (N,) int64 tensor of steps),
so eps- and v-prediction, guidance and clipping all live in the task, and any sampler can be swapped
at run time. Each walks a descending subset of ``sampler_steps`` integer steps from T - 1 to 0 and ends on the
clean image (alpha_bar = 1). Samplers (``network_evaluations`` counts what one costs, guidance included):

- ``ddpm``: ancestral sampling from the posterior q(x_s | x_t, x0_hat) (Ho et al. 2020), respaced;
- ``ddim``: Song et al. (2021), ``eta`` from 0 (deterministic ODE) to 1 (same law as ddpm);
- ``fast``: DPM-Solver++(2M) (Lu et al. 2022), second-order multistep in log-SNR, data prediction.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from core.diffusion.noise import channel_noise
from core.diffusion.schedules import NoiseSchedule, posterior_coefficients, x0_from_eps
from core.errors import JetInputError

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SPACING = {"ddpm": "time", "ddim": "time", "fast": "logsnr"}  # how each sampler spaces its steps


@dataclass
class Trace:
    """What a sampler visited: integer steps, the states (first is x_T, last the sample), the x0 estimates."""

    t: list[int] = field(default_factory=list)
    xt: list[torch.Tensor] = field(default_factory=list)
    x0: list[torch.Tensor] = field(default_factory=list)


def timesteps_for(
    schedule: NoiseSchedule,
    sampler_steps: int,
    start: int | None = None,
    spacing: str = "time",
    logsnr_floor: float | None = None,
) -> list[int]:
    """``sampler_steps`` integer steps from ``start`` (default T - 1) down to 0, descending.

    ``spacing="time"`` spaces them evenly in t; ``"logsnr"`` evenly in lambda = log(alpha / sigma), which
    multistep solvers need (a few huge steps in lambda near the clean end make them overshoot). Steps that
    round to the same integer are merged, so ``logsnr`` may return fewer than ``sampler_steps``.

    ``logsnr_floor``: the log-SNR grid starts no lower than this, after ``start`` itself. The cosine schedule's
    lambda runs down to -9.9 at T - 1, and an even grid spends several steps below -3 (SNR under 0.25 %), where
    the network sees noise alone: of 20 asked, 17 distinct steps remain and 5 of them lie at t >= 991. With a
    floor the first step jumps from ``start`` straight to it and every other step goes where the jet forms.
    """
    start = schedule.timesteps - 1 if start is None else int(start)
    if not 0 <= start < schedule.timesteps:
        raise JetInputError(f"sampler start step: must be between 0 and {schedule.timesteps - 1}, got {start}")
    if sampler_steps < 1 or sampler_steps > start + 1:
        raise JetInputError(f"sampler steps: must be between 1 and {start + 1}, got {sampler_steps}")
    if logsnr_floor is not None and (spacing != "logsnr" or not math.isfinite(logsnr_floor)):
        raise JetInputError(f"log-SNR floor: a finite lambda for the fast sampler only, got {logsnr_floor}")
    if spacing == "logsnr" and sampler_steps > 1:
        lam = 0.5 * torch.log(schedule.alpha_bar / (1 - schedule.alpha_bar))[: start + 1]
        first, count, kept = float(lam[start]), sampler_steps, set()
        if logsnr_floor is not None and logsnr_floor > first and sampler_steps > 2:
            first, count, kept = min(float(logsnr_floor), float(lam[0])), sampler_steps - 1, {start}
        targets = torch.linspace(first, float(lam[0]), count, dtype=torch.float64)
        # lambda decreases with t: the nearest integer step of every target.
        ts = (lam[None, :] - targets[:, None]).abs().argmin(dim=1).tolist()
        return sorted({int(t) for t in ts} | kept, reverse=True)
    ts = torch.linspace(start, 0, sampler_steps, dtype=torch.float64).round().long().tolist()
    return [int(t) for t in ts]


def _ab(schedule: NoiseSchedule, t: int | None) -> torch.Tensor:
    """alpha_bar at step t as a 0-d float64 tensor; None means the clean end (1)."""
    value = 1.0 if t is None else float(schedule.alpha_bar[t])
    return torch.tensor(value, dtype=torch.float64)


def _tt(t: int, x: torch.Tensor) -> torch.Tensor:
    return torch.full((x.shape[0],), t, dtype=torch.long, device=x.device)


def _noise(x: torch.Tensor, generator: torch.Generator | None, correlation: float = 0.0) -> torch.Tensor:
    return channel_noise(x.shape, correlation, generator, x.device, x.dtype)


def _predict(eps_fn: EpsFn, x: torch.Tensor, schedule: NoiseSchedule, t: int, s: int | None):
    """One network evaluation at step t on the way to s: (alpha_bar_t, alpha_bar_s, eps_hat, x0_hat)."""
    ab_t, ab_s = _ab(schedule, t), _ab(schedule, s)
    eps = eps_fn(x, _tt(t, x))
    return ab_t, ab_s, eps, x0_from_eps(x, eps, ab_t.item())


def _pairs(ts: list[int]) -> list[tuple[int, int | None]]:
    return list(zip(ts, ts[1:] + [None], strict=True))


def ddpm(
    eps_fn: EpsFn,
    x: torch.Tensor,
    schedule: NoiseSchedule,
    sampler_steps: int,
    generator=None,
    trace: Trace | None = None,
    start: int | None = None,
    correlation: float = 0.0,
) -> torch.Tensor:
    """Ancestral sampling: x_s ~ q(x_s | x_t, x0_hat), the DDPM posterior between two kept steps."""
    for t, s in _pairs(timesteps_for(schedule, sampler_steps, start, SPACING["ddpm"])):
        ab_t, ab_s, eps, x0 = _predict(eps_fn, x, schedule, t, s)
        c0, ct, var = (float(v) for v in posterior_coefficients(ab_t, ab_s))  # the respaced step t -> s
        mean = c0 * x0 + ct * x
        x = mean + var**0.5 * _noise(x, generator, correlation) if s is not None else mean
        if trace is not None:
            trace.t.append(t), trace.x0.append(x0), trace.xt.append(x)
    return x


def ddim(
    eps_fn: EpsFn,
    x: torch.Tensor,
    schedule: NoiseSchedule,
    sampler_steps: int,
    generator=None,
    trace: Trace | None = None,
    eta: float = 0.0,
    start: int | None = None,
    correlation: float = 0.0,
) -> torch.Tensor:
    """DDIM: x_s = sqrt(ab_s) x0_hat + sqrt(1 - ab_s - sigma^2) eps_hat + sigma z; eta = 0 is deterministic."""
    if not 0.0 <= eta <= 1.0:
        raise JetInputError(f"ddim eta: must be between 0 and 1, got {eta}")
    for t, s in _pairs(timesteps_for(schedule, sampler_steps, start, SPACING["ddim"])):
        ab_t, ab_s, eps, x0 = _predict(eps_fn, x, schedule, t, s)
        sigma = (eta * ((1 - ab_s) / (1 - ab_t)).sqrt() * (1 - ab_t / ab_s).sqrt()).item()
        x = ab_s.sqrt().item() * x0 + max(float(1 - ab_s) - sigma**2, 0.0) ** 0.5 * eps
        if sigma > 0:
            x = x + sigma * _noise(x, generator, correlation)
        if trace is not None:
            trace.t.append(t), trace.x0.append(x0), trace.xt.append(x)
    return x


def ddim_invert(eps_fn: EpsFn, x0: torch.Tensor, schedule: NoiseSchedule, sampler_steps: int) -> torch.Tensor:
    """Run the eta = 0 DDIM ODE forwards, clean -> x_T, so ``ddim(eta=0)`` maps the result back to x0."""
    ts = timesteps_for(schedule, sampler_steps)[::-1]
    x = x0
    for s, t in zip([None] + ts[:-1], ts, strict=True):
        ab_s, ab_t = _ab(schedule, s), _ab(schedule, t)
        # Evaluate the network where the reverse step from t would evaluate it, at the current state.
        eps = eps_fn(x, _tt(t if s is None else s, x))
        x0_hat = x0_from_eps(x, eps, ab_s.item())
        x = ab_t.sqrt().item() * x0_hat + (1 - ab_t).sqrt().item() * eps
    return x


def dpm_solver_2m(
    eps_fn: EpsFn,
    x: torch.Tensor,
    schedule: NoiseSchedule,
    sampler_steps: int,
    generator=None,
    trace: Trace | None = None,
    start: int | None = None,
    correlation: float = 0.0,
    logsnr_floor: float | None = None,
) -> torch.Tensor:
    """DPM-Solver++(2M): multistep second order in lambda = log(alpha / sigma), first order on the last step.
    Deterministic: ``correlation`` (of the noise between channels) only shaped x_T. ``logsnr_floor``: see
    :func:`timesteps_for`."""
    pairs = _pairs(timesteps_for(schedule, sampler_steps, start, SPACING["fast"], logsnr_floor=logsnr_floor))
    d_prev, h_prev = None, None
    for i, (t, s) in enumerate(pairs):
        ab_t, ab_s, _, d = _predict(eps_fn, x, schedule, t, s)
        if s is None:
            # Last step lands on the clean image: the data prediction itself.
            x_next = d
        else:
            lam_t = 0.5 * torch.log(ab_t / (1 - ab_t))
            lam_s = 0.5 * torch.log(ab_s / (1 - ab_s))
            h = (lam_s - lam_t).item()
            d_eff = d
            if d_prev is not None and i < len(pairs) - 1:
                # Second-order correction from the previous data prediction.
                r = h_prev / h
                d_eff = (1 + 1 / (2 * r)) * d - (1 / (2 * r)) * d_prev
            sigma_ratio = ((1 - ab_s) / (1 - ab_t)).sqrt().item()
            x_next = sigma_ratio * x - ab_s.sqrt().item() * torch.expm1(torch.tensor(-h)).item() * d_eff
            h_prev = h
        d_prev = d
        x = x_next
        if trace is not None:
            trace.t.append(t), trace.x0.append(d), trace.xt.append(x)
    return x


SAMPLERS: dict[str, Callable[..., torch.Tensor]] = {"ddpm": ddpm, "ddim": ddim, "fast": dpm_solver_2m}


def network_evaluations(
    name: str,
    schedule: NoiseSchedule,
    sampler_steps: int,
    guided: bool = False,
    guidance_from: float = 0.0,
    start: int | None = None,
    logsnr_floor: float | None = None,
) -> int:
    """Network evaluations per jet of sampler ``name``: one per step it visits (``fast`` merges steps that round
    to the same integer), and one more per step where classifier-free guidance runs the null label beside the
    condition (every step with t / T >= ``guidance_from`` when ``guided``)."""
    if name not in SAMPLERS:
        raise JetInputError(f"sampler {name!r}: unknown; use one of {', '.join(SAMPLERS)}")
    ts = timesteps_for(schedule, sampler_steps, start, spacing=SPACING[name], logsnr_floor=logsnr_floor)
    extra = sum(t >= guidance_from * schedule.timesteps for t in ts) if guided else 0
    return len(ts) + extra


def default_sampler_steps(name: str, schedule: NoiseSchedule) -> int:
    """Default network evaluations: all T for ddpm, 50 for ddim, 20 for fast (capped at T)."""
    return min({"ddpm": schedule.timesteps, "ddim": 50, "fast": 20}.get(name, 50), schedule.timesteps)


def run_sampler(
    name: str,
    eps_fn: EpsFn,
    x_T: torch.Tensor,
    schedule: NoiseSchedule,
    sampler_steps: int | None = None,
    generator: torch.Generator | None = None,
    trajectory: bool = False,
    start: int | None = None,
    correlation: float = 0.0,
    **options,
) -> torch.Tensor | tuple[torch.Tensor, Trace]:
    """Run sampler ``name`` from ``x_T`` (a state at step ``start``, default T - 1).

    With ``trajectory`` also return the ``Trace`` of every step. ``correlation``: of the noise a stochastic step
    draws, between channels (the model's, ``core.diffusion.noise``). ``options``: ``eta`` for ddim,
    ``logsnr_floor`` for fast.
    """
    if name not in SAMPLERS:
        raise JetInputError(f"sampler {name!r}: unknown; use one of {', '.join(SAMPLERS)}")
    if sampler_steps is None:
        sampler_steps = min(
            default_sampler_steps(name, schedule), schedule.timesteps if start is None else int(start) + 1
        )
    trace = Trace(xt=[x_T]) if trajectory else None
    with torch.no_grad():
        x = SAMPLERS[name](
            eps_fn,
            x_T,
            schedule,
            int(sampler_steps),
            generator=generator,
            trace=trace,
            start=start,
            correlation=correlation,
            **options,
        )
    return (x, trace) if trajectory else x
