"""Model families by name: ``--model`` on the command line and ``config.json`` both look them up here.

Values are ``"module:function"`` strings, imported only when used, so a family's heavy imports (qiskit)
never load for another family. A builder is ``build_task(config, x_train, y_train) -> Task``
(see ``core.training.task``). To add a family, add one line.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import ModuleType

import torch

from core.errors import JetInputError
from core.training.task import Task

TASK_BUILDERS: dict[str, str] = {
    "ddpm": "core.diffusion.task:build_task",
    "seed-baseline": "core.diffusion.task:build_task",
    "quantum": "core.quantum.task:build_task",
}
# Families outside this repository: JETLAB_FAMILIES="name=module:function,..." (read at import, so the
# dashboard's job processes, which run `python -m core train`, see the same families as the server).
FAMILIES_ENV = "JETLAB_FAMILIES"


def _plugin_families(spec: str) -> dict[str, str]:
    out = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, target = item.partition("=")
        if not sep or ":" not in target:
            raise JetInputError(f"{FAMILIES_ENV}: expected name=module:function, got {item!r}")
        out[name.strip()] = target.strip()
    return out


TASK_BUILDERS.update(_plugin_families(os.environ.get(FAMILIES_ENV, "")))


def builder(family: str) -> Callable[[dict, torch.Tensor | None], Task]:
    """The builder function of a family; JetInputError names the known ones."""
    if family not in TASK_BUILDERS:
        raise JetInputError(f"model {family!r}: unknown; use one of {', '.join(sorted(TASK_BUILDERS))}")
    module, _, name = TASK_BUILDERS[family].partition(":")
    return getattr(importlib.import_module(module), name)


def family_module(family: str) -> ModuleType:
    """The module a family's builder lives in: it may also define ``config_from_request(request)``,
    ``TRAIN_OPTIONS`` (the request fields the family reads) and ``TITLE`` (its name in the UI)."""
    builder(family)  # unknown family -> the one-line error
    return importlib.import_module(TASK_BUILDERS[family].partition(":")[0])


def build_task(config: dict, x_train: torch.Tensor | None = None, y_train: torch.Tensor | None = None) -> Task:
    """Build a task from its config (``config["family"]`` picks the builder)."""
    family = config.get("family")
    if not isinstance(family, str):
        raise JetInputError("task config: missing 'family'")
    return builder(family)(config, x_train, y_train)


def _per_family(family: str, name: str, default):
    """A module attribute that is either one value or a dict keyed by family (a module may host several)."""
    value = getattr(family_module(family), name, default)
    return value.get(family, default) if isinstance(value, dict) else value


def train_options(family: str) -> tuple[str, ...]:
    """The ``TrainRequest`` fields a family reads beyond the common ones (the Train page shows these)."""
    return tuple(_per_family(family, "TRAIN_OPTIONS", ()))


def family_title(family: str) -> str:
    """A family's name in the UI (its registry key when the module gives none)."""
    return str(_per_family(family, "TITLES", None) or getattr(family_module(family), "TITLE", None) or family)


def family_loss_title(family: str) -> str:
    """What a family's training loss is (``LOSS_TITLE``/``LOSS_TITLES`` of its module), for the loss plot."""
    try:
        return str(_per_family(family, "LOSS_TITLES", None) or getattr(family_module(family), "LOSS_TITLE", "loss"))
    except JetInputError:  # a family this build does not know: the plain word
        return "loss"
