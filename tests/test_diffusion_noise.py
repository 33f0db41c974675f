"""Diffusion noise correlated between a pixel's channels: its covariance, the draws it reproduces at 0, and the
task that trains and samples with it (x_T, the loss's noise, every stochastic step, the card)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from core.diffusion.noise import channel_noise, check_correlation
from core.diffusion.samplers import run_sampler
from core.diffusion.schedules import make_schedule
from core.diffusion.task import build_task, config_from_request, default_config
from core.errors import JetInputError
from core.requests import TrainRequest
from tests.test_diffusion_models import OracleNet, _jets

torch.set_num_threads(1)


def _channel_correlations(x: torch.Tensor) -> np.ndarray:
    """(N, 3, H, W) -> the 3 x 3 correlation matrix of the channels over every pixel of every image."""
    return np.corrcoef(x.transpose(0, 1).reshape(3, -1).double().numpy())


@pytest.mark.parametrize("rho", [0.3, 0.7])
def test_noise_has_unit_variance_and_the_asked_correlation_between_channels(rho):
    noise = channel_noise((4000, 3, 8, 8), rho, torch.Generator().manual_seed(0))
    c = _channel_correlations(noise)
    assert noise.var(dim=(0, 2, 3)).numpy() == pytest.approx([1.0, 1.0, 1.0], abs=0.01)
    assert c[np.triu_indices(3, 1)] == pytest.approx([rho] * 3, abs=0.01)
    # Neighbouring pixels stay independent: the correlation is within a pixel only.
    shifted = np.corrcoef(noise[:, 0, :, :-1].reshape(-1).numpy(), noise[:, 1, :, 1:].reshape(-1).numpy())[0, 1]
    assert abs(shifted) < 0.01


def test_zero_correlation_draws_exactly_what_torch_randn_draws():
    a = channel_noise((5, 3, 4, 4), 0.0, torch.Generator().manual_seed(7))
    assert torch.equal(a, torch.randn((5, 3, 4, 4), generator=torch.Generator().manual_seed(7)))


@pytest.mark.parametrize("bad", [1.0, -0.1, math.nan, math.inf])
def test_a_correlation_outside_zero_to_one_is_refused_by_name(bad):
    with pytest.raises(JetInputError, match="noise correlation: must be in \\[0, 1\\)"):
        check_correlation(bad)
    with pytest.raises(JetInputError, match="noise correlation"):
        config_from_request(TrainRequest(family="ddpm", size=16, noise_correlation=bad))


@pytest.mark.parametrize("sampler", ["ddpm", "ddim"])
def test_stochastic_steps_draw_their_noise_with_the_correlation(sampler):
    """A network that predicts no noise from x_T = 0: what the sampler ends with is its own noise, mapped the
    same way in every channel, so its channel correlation is the one asked for (0 when none is)."""
    schedule = make_schedule("cosine", 100)
    options = {"eta": 1.0} if sampler == "ddim" else {}
    for rho in (0.0, 0.6):
        out = run_sampler(
            sampler,
            lambda x, t: torch.zeros_like(x),
            torch.zeros(2000, 3, 4, 4),
            schedule,
            5,
            torch.Generator().manual_seed(1),
            correlation=rho,
            **options,
        )
        assert _channel_correlations(out)[np.triu_indices(3, 1)] == pytest.approx([rho] * 3, abs=0.02)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "fast"])
def test_a_correlated_noise_model_still_maps_an_oracle_network_back_to_the_images(sampler):
    x = _jets(4)
    task = build_task(default_config("ddpm", 16, energy_condition=False, noise_correlation=0.5), x)
    out = task.sample(
        OracleNet(task, task.prepare(x)),
        4,
        sampler=sampler,
        sampler_steps=12,
        generator=torch.Generator().manual_seed(0),
    )
    assert torch.allclose(out, x, atol=1e-3 * x.max().item())


def test_the_task_trains_and_starts_sampling_from_correlated_noise_and_says_so(monkeypatch):
    x = _jets(64)
    task = build_task(default_config("ddpm", 16, energy_condition=False, noise_correlation=0.5), x)
    assert task.noise_correlation == 0.5 and task.card()["noise_correlation"] == 0.5
    assert build_task(task.config(), x).noise_correlation == 0.5  # a checkpoint's config rebuilds it
    import core.diffusion.task as diffusion_task

    seen = []
    monkeypatch.setattr(
        diffusion_task, "channel_noise", lambda *a, **k: seen.append(channel_noise(*a, **k)) or seen[-1]
    )
    task.loss(OracleNet(task, task.prepare(x)), task.prepare(x), torch.zeros(64).long(), torch.Generator())
    assert _channel_correlations(seen[0])[0, 1] == pytest.approx(0.5, abs=0.05)
    traj = task.sample(
        OracleNet(task, task.prepare(x[:1]).expand(400, -1, -1, -1)),
        400,
        sampler="fast",
        sampler_steps=2,
        generator=torch.Generator().manual_seed(0),
        trajectory=True,
    )
    assert _channel_correlations(traj.xt[0])[np.triu_indices(3, 1)] == pytest.approx([0.5] * 3, abs=0.02)
    plain = build_task(default_config("ddpm", 16, energy_condition=False), x)
    assert plain.noise_correlation == 0.0 and "noise_correlation" not in plain.card()
