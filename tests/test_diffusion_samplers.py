"""Samplers: an oracle network recovers x0 exactly, DDIM(eta=0) is deterministic and inverts, and on Gaussian
data (where the optimal eps is known in closed form) every sampler draws the right distribution."""

from __future__ import annotations

import pytest
import torch

from core.diffusion.samplers import SAMPLERS, ddim_invert, network_evaluations, run_sampler, timesteps_for
from core.diffusion.schedules import make_schedule
from core.errors import JetInputError


def _ab(s, t, x):
    return s.alpha_bar.to(x.dtype)[t].view(-1, 1, 1, 1)


def oracle(s, x0):
    """The network that predicts the true noise of x0: eps = (xt - sqrt(ab) x0) / sqrt(1 - ab)."""
    return lambda xt, t: (xt - _ab(s, t, xt).sqrt() * x0) / (1 - _ab(s, t, xt)).sqrt()


def gaussian_eps(s, mu, sd):
    """Optimal eps for data N(mu, sd^2): E[eps | xt] = sqrt(1 - ab) (xt - sqrt(ab) mu) / (ab sd^2 + 1 - ab)."""

    def fn(xt, t):
        ab = _ab(s, t, xt)
        return (1 - ab).sqrt() * (xt - ab.sqrt() * mu) / (ab * sd**2 + 1 - ab)

    return fn


CASES = [
    ("ddpm", None, {}),
    ("ddpm", 25, {}),
    ("ddim", 10, {}),
    ("ddim", 10, {"eta": 0.5}),
    ("ddim", 7, {"eta": 1.0}),
    ("fast", 10, {}),
    ("fast", 3, {}),
]


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("name,steps,opts", CASES)
def test_oracle_network_recovers_x0_through_every_sampler(kind, name, steps, opts):
    s = make_schedule(kind, 100)
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 3, 8, 8, generator=gen, dtype=torch.float64) * 2 - 1
    x_T = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    out = run_sampler(name, oracle(s, x0), x_T, s, steps, generator=gen, **opts)
    assert torch.allclose(out, x0, atol=1e-9)


def test_ddim_eta0_is_deterministic_and_inverts():
    s = make_schedule("linear", 1000)
    eps_fn = gaussian_eps(s, 0.3, 0.5)
    x_T = torch.randn(64, 1, 4, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    a = run_sampler("ddim", eps_fn, x_T, s, 200, generator=torch.Generator().manual_seed(1))
    b = run_sampler("ddim", eps_fn, x_T, s, 200, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    # Inverting the ODE and running it back returns the starting noise; both are first-order
    # discretisations, so the error falls as 1 / steps.
    errors = {}
    for steps in (200, 1000):
        x0 = run_sampler("ddim", eps_fn, x_T, s, steps)
        errors[steps] = (ddim_invert(eps_fn, x0, s, steps) - x_T).abs().max().item()
    assert errors[1000] < 0.03
    assert 3.5 < errors[200] / errors[1000] < 6.5
    # With the oracle network the inversion is exact.
    x0 = a[:4]
    assert torch.allclose(
        run_sampler("ddim", oracle(s, x0), ddim_invert(oracle(s, x0), x0, s, 20), s, 20), x0, atol=1e-9
    )


def test_ddim_eta1_is_ddpm_ancestral_sampling():
    s = make_schedule("cosine", 200)
    eps_fn = lambda xt, t: 0.5 * torch.tanh(xt) + 0.01 * t.view(-1, 1, 1, 1)  # noqa: E731 - any network
    x_T = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = run_sampler("ddpm", eps_fn, x_T, s, 20, generator=torch.Generator().manual_seed(9))
    b = run_sampler("ddim", eps_fn, x_T, s, 20, generator=torch.Generator().manual_seed(9), eta=1.0)
    assert torch.allclose(a, b, atol=1e-9)


# Few-step samplers under-disperse (ddim, ddpm) by a discretisation error that falls with the steps;
# tolerances: the measured error at these steps plus ~3 standard errors of the sample std.
@pytest.mark.parametrize(
    "name,steps,n,rel", [("ddpm", 250, 5000, 0.07), ("ddim", 200, 20000, 0.04), ("fast", 20, 20000, 0.03)]
)
def test_samplers_draw_the_gaussian_data_distribution(name, steps, n, rel):
    mu, sd = 0.4, 0.3
    s = make_schedule("linear", 1000)
    gen = torch.Generator().manual_seed(5)
    x_T = torch.randn(n, 1, 1, 1, generator=gen, dtype=torch.float64)
    x = run_sampler(name, gaussian_eps(s, mu, sd), x_T, s, steps, generator=gen)
    assert x.mean().item() == pytest.approx(mu, abs=0.015)
    assert x.std().item() == pytest.approx(sd, rel=rel)


def test_trajectory_records_every_step():
    s = make_schedule("linear", 50)
    x0 = torch.zeros(2, 3, 4, 4, dtype=torch.float64)
    x_T = torch.randn(x0.shape, dtype=torch.float64)
    for name in SAMPLERS:
        out, trace = run_sampler(name, oracle(s, x0), x_T, s, 5, trajectory=True)
        assert trace.t[0] == 49 and trace.t[-1] == 0 and trace.t == sorted(trace.t, reverse=True)
        assert len(trace.xt) == len(trace.t) + 1 and torch.equal(trace.xt[0], x_T) and torch.equal(trace.xt[-1], out)
        assert len(trace.x0) == len(trace.t)


def test_bad_sampler_settings_name_the_problem():
    s = make_schedule("linear", 50)
    fn = oracle(s, torch.zeros(1, 1, 2, 2))
    x = torch.zeros(1, 1, 2, 2)
    with pytest.raises(JetInputError, match="sampler 'euler'"):
        run_sampler("euler", fn, x, s, 5)
    with pytest.raises(JetInputError, match="steps"):
        run_sampler("ddim", fn, x, s, 51)
    with pytest.raises(JetInputError, match="eta"):
        run_sampler("ddim", fn, x, s, 5, eta=1.5)


def test_a_logsnr_floor_spends_every_step_where_the_jet_forms():
    """On the cosine schedule lambda(T - 1) = -9.9: an even log-SNR grid of 20 merges into 17 steps, 5 of them at
    t >= 991. From a floor of -3 the grid keeps T - 1, then steps evenly from lambda = -3 to the clean end."""
    s = make_schedule("cosine", 1000)
    lam = 0.5 * torch.log(s.alpha_bar / (1 - s.alpha_bar))
    plain = timesteps_for(s, 20, spacing="logsnr")
    assert len(plain) == 17 and sum(t >= 991 for t in plain) == 5
    ts = timesteps_for(s, 14, spacing="logsnr", logsnr_floor=-3.0)
    assert len(ts) == 14 and ts[0] == 999 and ts[-1] == 0
    assert abs(float(lam[ts[1]]) + 3.0) < 0.01  # the first jump lands on the floor
    gaps = torch.diff(lam[torch.tensor(ts[1:])].double())
    assert torch.allclose(gaps[:-3], gaps[:-3].mean(), rtol=0.05)  # even in lambda (near t = 0 integers round)
    assert timesteps_for(s, 2, spacing="logsnr", logsnr_floor=-3.0) == [999, 0]
    assert timesteps_for(s, 14, spacing="logsnr", logsnr_floor=-20.0) == timesteps_for(s, 14, spacing="logsnr")
    assert network_evaluations("fast", s, 14, True, 0.5, logsnr_floor=-3.0) == 20  # 6 of 14 at t >= 500
    for bad in (float("nan"), float("inf")):
        with pytest.raises(JetInputError, match="log-SNR floor"):
            timesteps_for(s, 14, spacing="logsnr", logsnr_floor=bad)
    with pytest.raises(JetInputError, match="log-SNR floor"):
        timesteps_for(s, 14, spacing="time", logsnr_floor=-3.0)
    # The sampler itself walks those steps: an oracle network still lands on x0.
    x0 = torch.randn(2, 3, 4, 4)
    out = run_sampler("fast", oracle(s, x0), torch.randn(2, 3, 4, 4), s, 14, logsnr_floor=-3.0)
    assert torch.allclose(out, x0, atol=1e-4)
