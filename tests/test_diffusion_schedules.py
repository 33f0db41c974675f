"""Noise schedules against their closed forms: alpha_bar, q(xt | x0) moments, the posterior by Gaussian conditioning."""

from __future__ import annotations

import math

import pytest
import torch

from core.diffusion.schedules import make_schedule
from core.errors import JetInputError


def test_linear_betas_are_ddpm_and_alpha_bar_is_their_product():
    s = make_schedule("linear", 50)
    assert s.betas[0].item() == pytest.approx(1e-4) and s.betas[-1].item() == pytest.approx(0.02)
    assert torch.allclose(s.alpha_bar, torch.cumprod(1 - s.betas, 0))
    assert (s.alpha_bar[1:] < s.alpha_bar[:-1]).all()


def test_cosine_alpha_bar_follows_improved_ddpm_formula():
    T, sh = 1000, 0.008
    s = make_schedule("cosine", T)
    t = torch.arange(1, T + 1, dtype=torch.float64)
    f = lambda u: torch.cos((u / T + sh) / (1 + sh) * math.pi / 2) ** 2  # noqa: E731
    expected = f(t) / f(torch.zeros(1, dtype=torch.float64))
    # Equal wherever beta is below its 0.999 clip (everything but the very last steps).
    assert torch.allclose(s.alpha_bar[:-5], expected[:-5], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_forward_sample_has_closed_form_mean_and_variance(kind):
    s = make_schedule(kind, 1000)
    gen = torch.Generator().manual_seed(0)
    n = 200_000
    for t_ in (0, 250, 999):
        x0 = torch.full((n, 1, 1, 1), 0.7, dtype=torch.float64)
        t = torch.full((n,), t_)
        xt = s.q_sample(x0, t, torch.randn(x0.shape, generator=gen, dtype=torch.float64))
        ab = s.alpha_bar[t_].item()
        # Standard errors: sqrt(var / n) for the mean, var * sqrt(2 / n) for the variance.
        assert xt.mean().item() == pytest.approx(math.sqrt(ab) * 0.7, abs=5 * math.sqrt((1 - ab) / n) + 1e-12)
        assert xt.var().item() == pytest.approx(1 - ab, abs=5 * (1 - ab) * math.sqrt(2 / n) + 1e-12)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_posterior_equals_gaussian_conditioning_of_the_joint(kind):
    """q(x_{t-1} | xt, x0) from the joint of x_{t-1} ~ q(. | x0) and xt = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) e."""
    s = make_schedule(kind, 200)
    x0 = torch.tensor([0.3, -0.8], dtype=torch.float64).view(2, 1, 1, 1)
    xt = torch.tensor([1.1, 0.2], dtype=torch.float64).view(2, 1, 1, 1)
    for t_ in (1, 57, 199):
        t = torch.full((2,), t_)
        mean, var = s.posterior(x0, xt, t)
        ab_prev, beta = s.alpha_bar[t_ - 1].item(), s.betas[t_].item()
        m1, v1 = math.sqrt(ab_prev) * x0, 1 - ab_prev
        m2, v2 = math.sqrt(1 - beta) * m1, (1 - beta) * v1 + beta
        cov = math.sqrt(1 - beta) * v1
        assert torch.allclose(mean, m1 + cov / v2 * (xt - m2), atol=1e-12)
        assert torch.allclose(var, torch.full_like(var, v1 - cov**2 / v2), atol=1e-12)
    mean, var = s.posterior(x0, xt, torch.zeros(2, dtype=torch.long))
    assert torch.allclose(mean, x0) and torch.all(var == 0)


def test_eps_x0_and_v_conversions_invert_each_other():
    s = make_schedule("cosine", 100)
    gen = torch.Generator().manual_seed(1)
    x0 = torch.randn(4, 3, 8, 8, generator=gen, dtype=torch.float64)
    eps = torch.randn(4, 3, 8, 8, generator=gen, dtype=torch.float64)
    t = torch.tensor([0, 10, 50, 99])
    xt = s.q_sample(x0, t, eps)
    assert torch.allclose(s.x0_from_eps(xt, t, eps), x0, atol=1e-9)
    assert torch.allclose(s.eps_from_x0(xt, t, x0), eps, atol=1e-9)
    assert torch.allclose(s.eps_from_v(xt, t, s.v_target(x0, t, eps)), eps, atol=1e-9)


def test_bad_schedule_names_the_problem():
    with pytest.raises(JetInputError, match="schedule 'quadratic'"):
        make_schedule("quadratic", 10)
    with pytest.raises(JetInputError, match="timesteps"):
        make_schedule("linear", 0)
