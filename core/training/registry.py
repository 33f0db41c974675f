"""Model families by name: ``--model`` on the command line and ``config.json`` both look them up here.

Values are ``"module:function"`` strings, imported only when used, so a family's heavy imports (qiskit)
never load for another family. A builder is ``build_task(config, x_train, y_train) -> Task``
(see ``core.training.task``). To add a family, add one line.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import torch

from core.errors import JetInputError
from core.training.task import Task

TASK_BUILDERS: dict[str, str] = {
    "ddpm": "core.diffusion.task:build_task",
    "seed-baseline": "core.diffusion.task:build_task",
    "quantum": "core.quantum.task:build_task",
}


def builder(family: str) -> Callable[[dict, torch.Tensor | None], Task]:
    """The builder function of a family; JetInputError names the known ones."""
    if family not in TASK_BUILDERS:
        raise JetInputError(f"model {family!r}: unknown; use one of {', '.join(sorted(TASK_BUILDERS))}")
    module, _, name = TASK_BUILDERS[family].partition(":")
    return getattr(importlib.import_module(module), name)


def build_task(config: dict, x_train: torch.Tensor | None = None, y_train: torch.Tensor | None = None) -> Task:
    """Build a task from its config (``config["family"]`` picks the builder); ``y_train``: the training labels,
    for families that fit per-class tables (the channel-energy copula)."""
    family = config.get("family")
    if not isinstance(family, str):
        raise JetInputError("task config: missing 'family'")
    return builder(family)(config, x_train, y_train)
