"""Checkpoints: a directory that alone rebuilds a trained model, written file by file atomically.

    config.json        {"format", "task": task.config(), "train": TrainConfig as dict}
    model.safetensors  raw weights            (optional in inference-only checkpoints)
    ema.safetensors    EMA weights, the ones that sample
    optimizer.pt       optimizer state_dict   (torch.save; loaded with weights_only=True; optional)
    trainer_state.json step, wall time, losses: what resume needs besides the tensors
    model_card.json    config, data set, steps, wall time, device, metrics, the re-create command

Every weights file carries the step in its metadata; ``load_checkpoint`` refuses a directory whose
files disagree (a save interrupted half way), so resume never mixes two steps. Nothing is unpickled.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from core.atomic import atomic_path, write_text_atomic
from core.data.safe_open import check_directory, check_regular_file
from core.errors import fail
from core.training.ema import ema_copy
from core.training.registry import build_task
from core.training.task import Task, describe

FORMAT = "jetlab-checkpoint-v1"
CONFIG, MODEL, EMA, OPTIMIZER, STATE, CARD = (
    "config.json",
    "model.safetensors",
    "ema.safetensors",
    "optimizer.pt",
    "trainer_state.json",
    "model_card.json",
)


@dataclass
class Checkpoint:
    """A loaded checkpoint: the task (raw weights in ``task.model``), the EMA network, and the rest."""

    path: Path
    task: Task
    ema: nn.Module
    config: dict
    state: dict
    card: dict
    optimizer_state: dict | None = None
    has_raw_weights: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def step(self) -> int:
        return int(self.state.get("step", 0))


def _save_weights(path: Path, module: nn.Module, step: int) -> None:
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(path, ".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"step": str(step), "format": FORMAT})
        os.chmod(tmp, 0o644)


def save_checkpoint(
    directory: str | os.PathLike,
    task: Task,
    ema: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    state: dict | None = None,
    train_config: dict | None = None,
    card: dict | None = None,
    inference_only: bool = False,
) -> Path:
    """Write a checkpoint directory; ``inference_only`` keeps only the EMA weights (the shipped, small form)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    state = dict(state or {})
    step = int(state.get("step", 0))
    ema = ema if ema is not None else task.model
    config = {"format": FORMAT, "task": task.config(), "train": dict(train_config or {})}
    write_text_atomic(out / CONFIG, json.dumps(config, indent=2))
    _save_weights(out / EMA, ema, step)
    if inference_only:
        for name in (MODEL, OPTIMIZER):
            (out / name).unlink(missing_ok=True)
    else:
        _save_weights(out / MODEL, task.model, step)
        if optimizer is not None:
            with atomic_path(out / OPTIMIZER, ".pt") as tmp:
                torch.save({"step": step, "optimizer": optimizer.state_dict()}, tmp)
    state["inference_only"] = inference_only
    write_text_atomic(out / STATE, json.dumps(state, indent=2))
    full_card = {
        **describe(task),
        "config": config["task"],
        "train": config["train"],
        "steps": step,
        "wall_time_s": round(float(state.get("wall_time_s", 0.0)), 1),
        "saved_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "torch": torch.__version__,
        "inference_only": inference_only,
        **(card or {}),
    }
    write_text_atomic(out / CARD, json.dumps(full_card, indent=2, default=str))
    return out


def update_card(directory: str | os.PathLike, **fields) -> dict:
    """Add or replace model-card fields (evaluation results, notes) in place, atomically; returns the card."""
    path = Path(directory) / CARD
    card = _read_json(path)
    card.update(fields)
    write_text_atomic(path, json.dumps(card, indent=2, default=str))
    return card


def _read_json(path: Path) -> dict:
    if not path.exists():
        raise fail(path.parent, f"not a checkpoint: {path.name} is missing")
    check_regular_file(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise fail(path, f"corrupt JSON ({err.__class__.__name__})") from None
    if not isinstance(data, dict):
        raise fail(path, "corrupt JSON (not an object)")
    return data


def _load_weights(path: Path, module: nn.Module, step: int) -> None:
    check_regular_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise fail(path, f"corrupt weights file ({err.__class__.__name__}: {str(err)[:80]})") from None
    if meta.get("step") is not None and int(meta["step"]) != step:
        raise fail(path, f"holds step {meta['step']} but trainer_state.json says {step} (interrupted save?)")
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise fail(path, f"weights do not match the config's network ({str(err).splitlines()[0][:100]})") from None


def load_checkpoint(
    directory: str | os.PathLike, device: str | torch.device = "cpu", with_optimizer: bool = False
) -> Checkpoint:
    """Rebuild the task and its EMA network from a checkpoint directory, ready to sample (eval mode)."""
    path = Path(directory)
    check_directory(path)
    if not path.exists():
        raise fail(path, "no such checkpoint directory")
    if not path.is_dir():
        raise fail(path, "a checkpoint is a directory (config.json + *.safetensors), not a file")
    config = _read_json(path / CONFIG)
    if config.get("format") != FORMAT or not isinstance(config.get("task"), dict):
        raise fail(path / CONFIG, f"not a {FORMAT} config")
    state = _read_json(path / STATE) if (path / STATE).exists() else {"step": 0}
    card = _read_json(path / CARD) if (path / CARD).exists() else {}
    step = int(state.get("step", 0))
    try:
        task = build_task(config["task"])
    except (KeyError, TypeError) as err:
        raise fail(path / CONFIG, f"incomplete task config ({err.__class__.__name__}: {err})") from None
    if not (path / EMA).exists():
        raise fail(path, f"not a checkpoint: {EMA} is missing")
    ema = ema_copy(task.model)
    _load_weights(path / EMA, ema, step)
    has_raw = (path / MODEL).exists()
    _load_weights(path / MODEL, task.model, step) if has_raw else task.model.load_state_dict(ema.state_dict())
    opt_state = None
    if with_optimizer and (path / OPTIMIZER).exists():
        check_regular_file(path / OPTIMIZER)
        try:
            blob = torch.load(path / OPTIMIZER, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any unreadable file is a corrupt checkpoint
            raise fail(path / OPTIMIZER, f"corrupt optimizer state ({err.__class__.__name__})") from None
        if int(blob.get("step", -1)) != step:
            raise fail(path / OPTIMIZER, f"holds step {blob.get('step')} but trainer_state.json says {step}")
        opt_state = blob["optimizer"]
    device = torch.device(device)
    task.model.to(device)
    ema.to(device).eval()
    return Checkpoint(path, task, ema, config, state, card, opt_state, has_raw)
