"""The loss weight on bright pixels (``--bright-weight W``): 0 is the plain MSE, W > 0 weighs each pixel's squared
error by 1 + W x its clean brightness, an oracle still has zero loss, and a bad weight is refused."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.diffusion.task import build_task, config_from_request, default_config
from core.errors import JetInputError
from core.requests import TrainRequest

torch.set_num_threads(1)


def _jets(n=16, size=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=gen) ** 8 * 50
    return x * (torch.rand(n, 3, size, size, generator=gen) > 0.7)


class Fixed(nn.Module):
    """A network that always answers ``out`` (to read the loss's weighting off known errors)."""

    def __init__(self, out: torch.Tensor):
        super().__init__()
        self.out = out
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, xt, t, y=None, cond=None):
        return self.out


def _loss_and_target(weight: float, answer: torch.Tensor):
    x = _jets()
    y = torch.zeros(16, dtype=torch.long)
    task = build_task(default_config("ddpm", 16, prediction="eps", bright_weight=weight), x, y)
    z = task.prepare(x)
    loss = task.loss(Fixed(answer), z, y, torch.Generator().manual_seed(0))
    # The same draws as the loss: t, then the noise (eps is the target).
    g = torch.Generator().manual_seed(0)
    torch.randint(0, task.schedule.timesteps, (16,), generator=g)
    eps = torch.randn(z.shape, generator=g)
    return task, z, loss, eps


def test_zero_weight_is_the_plain_mse_and_a_weight_counts_bright_pixels_more():
    answer = torch.zeros(16, 3, 16, 16)
    task, z, plain, eps = _loss_and_target(0.0, answer)
    assert plain.item() == pytest.approx(float((eps**2).mean()), rel=1e-6)
    task, z, weighted, eps = _loss_and_target(4.0, answer)
    brightness = ((z + 1) / 2).clamp(0, 1)
    expected = ((1 + 4.0 * brightness) * eps**2).mean()
    assert weighted.item() == pytest.approx(float(expected), rel=1e-6)
    assert weighted.item() > plain.item()  # the lit pixels add weight; empty ones (brightness 0) keep 1
    assert brightness[z == -1].max() == 0 and task.card()["bright_weight"] == 4.0


def test_an_oracle_still_has_zero_loss():
    x = _jets()
    task = build_task(default_config("ddpm", 16, prediction="eps", bright_weight=4.0), x)
    z = task.prepare(x)

    class Oracle(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, xt, t, y=None, cond=None):
            return task.schedule.eps_from_x0(xt, t, z)

    assert task.loss(Oracle(), z, torch.zeros(16, dtype=torch.long), torch.Generator().manual_seed(0)).item() < 1e-6


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_a_negative_or_non_finite_weight_is_refused(bad):
    with pytest.raises(JetInputError, match="bright weight"):
        build_task(default_config("ddpm", 16, bright_weight=bad), _jets(4))
    with pytest.raises(JetInputError, match="bright weight"):
        config_from_request(TrainRequest(family="ddpm", size=16, bright_weight=bad))
