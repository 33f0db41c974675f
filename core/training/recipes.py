"""The recipes of the shipped checkpoints, read back from their model cards as requests.

A page whose defaults differ from the shipped model's recipe invites a visitor to train something other than
what the README describes. Each shipped card holds the command that re-creates it; its first stage (a recipe
with several stages continues with ``--resume`` at lower learning rates) parsed by the command line's own
parser is the request the Train page can start from.
"""

from __future__ import annotations

import argparse
import functools
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from core.errors import JetInputError
from core.requests import TrainRequest

CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"
SHIPPED = {"ddpm": "unet_32", "seed-baseline": "seed_baseline_32", "quantum": "quantum_hybrid"}
PREFIX = ("python", "-m", "core", "train")


@dataclass(frozen=True)
class Recipe:
    """The first stage of a shipped checkpoint's command, as a request, and how many stages the command has."""

    checkpoint: str
    request: TrainRequest
    stages: int
    command: str


def parse_train_command(command: str) -> TrainRequest:
    """``python -m core train ...`` -> the ``TrainRequest`` the command line would build from it."""
    argv = shlex.split(command)
    if tuple(argv[: len(PREFIX)]) != PREFIX:
        raise JetInputError(f"recipe: not a 'python -m core train' command: {command[:60]!r}")
    parser = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    TrainRequest.add_arguments(parser)
    parser.add_argument("--force", action="store_true")
    try:
        args = parser.parse_args(argv[len(PREFIX) :])
    except (argparse.ArgumentError, SystemExit) as err:
        raise JetInputError(f"recipe: the command does not parse ({err})") from None
    return TrainRequest.from_namespace(args)


def shipped_recipe(family: str, root: Path = CHECKPOINTS) -> Recipe | None:
    """The recipe of the shipped checkpoint of ``family``; None when there is none or its card has no command.
    Read once per version of the card (parsing the command costs the Train page 0.2 s of server CPU per view)."""
    name = SHIPPED.get(family)
    card_path = root / name / "model_card.json" if name else None
    if card_path is None or not card_path.is_file():
        return None
    stat = card_path.stat()
    return _recipe_of_card(name, card_path, (stat.st_mtime_ns, stat.st_size), family)


@functools.lru_cache(maxsize=16)
def _recipe_of_card(name: str, card_path: Path, version: tuple[int, int], family: str) -> Recipe | None:
    command = json.loads(card_path.read_text()).get("command")
    if not command:
        return None
    steps = [s.strip() for s in command.split("&&") if s.strip()]
    request = parse_train_command(steps[0])
    if request.family != family:
        raise JetInputError(f"recipe of {name}: its command trains {request.family!r}, not {family!r}")
    # Training stages only: a step after them (a readout table refitted on the same jets) trains nothing.
    stages = sum(s.startswith(("python -m core train", "torchrun")) for s in steps)
    return Recipe(name, request, stages, command)


def recipe_note(recipe: Recipe, max_steps: int | None) -> str:
    """What the Train page filled in, and what it could not (steps over the server's limit, later stages, jets)."""
    req = recipe.request
    parts = [f"Filled in from `checkpoints/{recipe.checkpoint}/model_card.json`"]
    if recipe.stages > 1:
        parts.append(
            f": stage 1 of {recipe.stages} ({req.steps:,} steps at learning rate {req.lr:g}); the later stages "
            "resume it at lower rates (the card's command, on the command line)"
        )
    if max_steps is not None and req.steps > max_steps:
        parts.append(f". Steps capped at this server's limit of {int(max_steps):,} (the recipe: {req.steps:,})")
    jets = "all training jets" if req.max_jets is None else f"{req.max_jets:,} jets"
    parts.append(f". The recipe trained on {jets}; the jets field below is yours to set.")
    return "".join(parts)
