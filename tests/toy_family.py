"""A toy model family for tests: one module and one registry line, nothing else in the project changes.

The model is a learnable mean jet image; samples are that image with log-normal noise. It answers every
question of ``core.training.task.Task`` so the toy-family test can drive it through the CLI and the pages.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.diffusion.schedules import make_schedule
from core.errors import JetInputError
from core.metrics.reconstruct import GaussianReconstructor
from core.training.task import Trajectory

TITLE = "toy mean-image model"
TRAIN_OPTIONS = ("size",)
STEPS = 4


class MeanImage(nn.Module):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.log_mean = nn.Parameter(torch.zeros(1, 3, size, size))

    def forward(self, n: int) -> torch.Tensor:
        return self.log_mean.exp().expand(n, -1, -1, -1)


class ToyTask:
    family = "toy"
    conditional = False
    samplers = ("noisy",)
    default_sampler = "noisy"
    default_sampler_steps = None
    readouts = ("exact",)
    takes_guidance = False
    timesteps = STEPS

    def __init__(self, config: dict) -> None:
        self._config = config
        self.size = int(config["size"])
        self.model = MeanImage(self.size)

    def config(self) -> dict:
        return dict(self._config)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log1p(x.float())

    def loss(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return ((torch.log1p(net(len(x))) - x) ** 2).mean()

    def sample(
        self, net, n, *, labels=None, sampler=None, sampler_steps=None, guidance=1.0, generator=None, trajectory=False
    ):
        if (sampler or self.default_sampler) not in self.samplers:
            raise JetInputError(f"toy sampler {sampler!r}: use 'noisy'")
        with torch.no_grad():
            mean = net(n).detach().cpu()
            noise = torch.randn(mean.shape, generator=generator)
        final = mean * (0.1 * noise).exp()
        if not trajectory:
            return final
        xs = torch.stack([final * (1 - k / STEPS) for k in range(STEPS, -1, -1)])
        return Trajectory(t=list(range(STEPS - 1, -1, -1)), xt=xs, x0=xs[1:], final=final)

    def reconstructor(self, net: nn.Module, labels=None, **_options):
        schedule = make_schedule("linear", STEPS)
        return GaussianReconstructor(
            schedule, lambda xt, t: torch.log1p(net(len(xt)).detach()), self.prepare, torch.expm1
        )

    def signal_levels(self) -> np.ndarray:
        return np.linspace(1.0, 0.0, STEPS)

    def card(self) -> dict:
        return {"image_size": self.size, "what": "a learnable mean image with log-normal noise"}


def config_from_request(req) -> dict:
    return {"family": "toy", "size": int(req.size)}


def build_task(config: dict, x_train: torch.Tensor | None = None, y_train: torch.Tensor | None = None) -> ToyTask:
    return ToyTask(dict(config))
