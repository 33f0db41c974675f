"""The contract between a model family and the one training loop, the checkpoints and the samplers.

Every trainable model in the project (the classical U-Net, the seed baseline, the hybrid quantum
models) is wrapped in a small ``Task`` object. The loop, ``save_checkpoint`` / ``load_checkpoint``,
``sample_images`` and the command line only ever talk to this interface, so a new family plugs in by
writing one class and adding one line to ``core.training.registry.TASK_BUILDERS``:

    TASK_BUILDERS["quantum"] = "core.quantum.task:build_task"

A builder is ``build_task(config: dict, x_train: Tensor | None, y_train: Tensor | None) -> Task``:
- training from scratch, ``x_train`` holds the training images (N, 3, H, W) in GeV; the builder may
  fit what it needs on them (an intensity transform, an encoder's normalisation) and must record the
  fitted values in ``task.config()``;
- loading a checkpoint, ``x_train`` is ``None`` and ``config`` is exactly what ``task.config()``
  returned, which must be enough to rebuild the same architecture and transforms.

Seed handling: the loop seeds ``torch.manual_seed(train seed)`` before calling the builder, so
parameter initialisation is reproducible; all other randomness goes through the ``generator``
arguments below (never the global RNG), which is what makes resume equal an uninterrupted run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch

from core.errors import JetInputError


@dataclass
class Trajectory:
    """A reverse process recorded step by step (for the animation).

    ``t``: the integer steps evaluated, in order (len S). ``xt``: (S + 1, N, C, H, W) the states in model
    space, starting from pure noise and ending with the sample. ``x0``: (S, N, C, H, W) the network's
    estimate of the clean image at each step, in GeV. ``final``: (N, C, H, W) the sample in GeV.
    """

    t: list[int]
    xt: torch.Tensor
    x0: torch.Tensor
    final: torch.Tensor
    extra: dict = field(default_factory=dict)


@runtime_checkable
class Task(Protocol):
    """One model family: its network, its loss, its config and how it samples.

    Attributes:
        family: the registry key (``"ddpm"``, ``"seed-baseline"``, ``"quantum"``), saved in config.json.
        model: the ``torch.nn.Module`` whose parameters the loop trains. The loop may wrap it in
            DistributedDataParallel and keeps an EMA copy; both are passed back as ``net`` below, so
            a Task must run its forward pass through ``net(...)`` and never through ``self.model``
            inside ``loss`` (otherwise DDP cannot synchronise gradients).
        conditional: True when the family understands quark / gluon labels.
        samplers: the sampler names ``sample`` accepts; ``default_sampler`` the one used for None.
        default_sampler_steps: network evaluations when none are asked, or None when the family always runs
            its own ``timesteps`` reverse steps (then ``sampler_steps`` is ignored).
        timesteps: steps T of the forward process.
        readouts: "exact", plus "shots" for families that measure (``sample(shots=N)``; they also define
            ``readout_description(shots) -> str``).
        takes_guidance: whether ``guidance`` changes anything; such a task may name the weight its samples
            get when none is asked (``default_guidance``, read with ``core.training.sampling.default_guidance``).
        size: the side of the images it generates (and trains on).

    Besides the methods below, a task builds its ``Reconstructor`` (``reconstructor(net, labels=None,
    **options)``, see ``core.metrics.reconstruct``), says what is left of the signal at each step
    (``signal_levels()``, indexable by the trajectory's t) and describes itself for a model card (``card()``).
    Its module (the registry's) turns a ``core.requests.TrainRequest`` into its config
    (``config_from_request``) and lists the request fields it reads (``TRAIN_OPTIONS``).
    """

    family: str
    model: torch.nn.Module
    conditional: bool
    samplers: tuple[str, ...]
    default_sampler: str
    default_sampler_steps: int | None
    readouts: tuple[str, ...]
    takes_guidance: bool
    size: int

    @property
    def timesteps(self) -> int: ...

    def config(self) -> dict:
        """JSON-serialisable dict that rebuilds this task (architecture, size, fitted transforms)."""
        ...

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Map training images (N, 3, H, W) in GeV to what ``loss`` consumes (called once, on all of them)."""
        ...

    def loss(self, net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Scalar training loss of a batch ``x`` (from ``prepare``) with labels ``y``; random draws use ``generator``."""
        ...

    def sample(
        self,
        net: torch.nn.Module,
        n: int,
        *,
        labels: torch.Tensor | None = None,
        sampler: str | None = None,
        sampler_steps: int | None = None,
        guidance: float = 1.0,
        generator: torch.Generator | None = None,
        trajectory: bool = False,
    ) -> torch.Tensor | Trajectory:
        """Generate ``n`` images (N, 3, H, W) in GeV (negative values clamped to 0).

        ``labels``: (n,) int64 of 0 (gluon) / 1 (quark), or None for unconditional. ``sampler`` / ``sampler_steps``:
        a name from the family's sampler table and its number of network evaluations (None = default).
        ``guidance``: classifier-free guidance weight w in eps_uncond + w (eps_cond - eps_uncond); 0 is the
        unconditional model, 1 the conditional one. Families that lack a knob ignore it or raise
        ``JetInputError``. With ``trajectory=True`` returns a ``Trajectory``.
        """
        ...


def describe(task: Task) -> dict:
    """A short dict for model cards and the UI: family, parameter count, conditional, then the task's own
    ``card()`` (what the family says about itself: schedule, encoder, channel, ...)."""
    n_params = sum(p.numel() for p in task.model.parameters())
    own = task.card() if hasattr(task, "card") else {}
    return {"family": task.family, "parameters": int(n_params), "conditional": bool(task.conditional), **own}


def check_guidance_from(value: float) -> float:
    """``guidance_from`` (the fraction of T from which guidance applies) must lie in [0, 1)."""
    if not isinstance(value, (int, float)) or not math.isfinite(value) or not 0.0 <= value < 1.0:
        raise JetInputError(f"guidance from: expected a fraction of T in [0, 1), got {value!r}")
    return float(value)


def as_labels(label: int | str | Sequence[int] | torch.Tensor | None, n: int) -> torch.Tensor | None:
    """Normalise a label argument (None, 'quark', 1, a list) to an (n,) int64 tensor or None."""
    from core.data.layout import label_from_name

    if label is None:
        return None
    if isinstance(label, str):
        try:
            return torch.full((n,), label_from_name(label), dtype=torch.long)
        except ValueError as err:
            raise JetInputError(f"label {label!r}: not a label; use 'quark' or 'gluon'") from err
    if isinstance(label, int):
        labels = torch.full((n,), label, dtype=torch.long)
    else:
        labels = torch.as_tensor(label, dtype=torch.long).reshape(-1)
        if labels.numel() != n:
            raise JetInputError(f"labels: got {labels.numel()} labels for {n} samples")
    if ((labels != 0) & (labels != 1)).any():
        raise JetInputError(f"label {label!r}: labels are 0 (gluon) or 1 (quark)")
    return labels
