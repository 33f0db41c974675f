"""Checkpoints: a directory that alone rebuilds a trained model, written as one whole set atomically.

    config.json        {"format", "task": task.config(), "train": TrainConfig as dict}
    model.safetensors  raw weights            (optional in inference-only checkpoints)
    ema.safetensors    EMA weights, the ones that sample
    optimizer.pt       optimizer state_dict   (torch.save; loaded with weights_only=True; optional)
    trainer_state.json step, wall time, losses: what resume needs besides the tensors
    model_card.json    config, data set, steps, wall time, device, metrics, the re-create command

The set is written into a temporary sibling directory, fsynced and exchanged with the previous one in one step,
so a kill at any instant leaves a whole set. Every weights file still carries the step in its metadata and
``load_checkpoint`` refuses a directory whose files disagree (a set mixed by hand), so resume never mixes two
steps. Nothing is unpickled.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from torch import nn

from core.atomic import atomic_directory, recover_directory, write_text_atomic
from core.data.safe_open import check_directory, check_regular_file
from core.errors import JetInputError, fail
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
SET_FILES = (CONFIG, MODEL, EMA, OPTIMIZER, STATE, CARD)  # one checkpoint set: replaced together, never mixed


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
    save_file(tensors, str(path), metadata={"step": str(step), "format": FORMAT})


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
    """Write a checkpoint directory as one complete new set; ``inference_only`` keeps only the EMA weights.

    The files go into a temporary sibling directory, are fsynced, and replace the previous set in one atomic
    exchange (core.atomic.atomic_directory): a kill at any instant leaves either the old or the new whole set.
    """
    out = Path(directory)
    state = dict(state or {})
    step = int(state.get("step", 0))
    ema = ema if ema is not None else task.model
    config = {"format": FORMAT, "task": task.config(), "train": dict(train_config or {})}
    state["inference_only"] = inference_only
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
    with atomic_directory(out, owned=SET_FILES) as tmp:
        (tmp / CONFIG).write_text(json.dumps(config, indent=2))
        _save_weights(tmp / EMA, ema, step)
        if not inference_only:
            _save_weights(tmp / MODEL, task.model, step)
            if optimizer is not None:
                torch.save({"step": step, "optimizer": optimizer.state_dict()}, tmp / OPTIMIZER)
        (tmp / STATE).write_text(json.dumps(state, indent=2))
        (tmp / CARD).write_text(json.dumps(full_card, indent=2, default=str))
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
    if meta.get("step") is not None and meta["step"] != str(step):
        raise fail(path, f"holds step {meta['step']} but trainer_state.json says {step} (interrupted save?)")
    bad = next((k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:
        raise fail(path, f"tensor {bad!r} holds NaN or infinite weights; the model cannot sample")
    try:
        module.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise fail(path, f"weights do not match the config's network ({str(err).splitlines()[0][:100]})") from None


def _numbers(value: object, where: str = "") -> list[tuple[str, object]]:
    if isinstance(value, dict):
        return [item for k, v in value.items() for item in _numbers(v, f"{where}.{k}" if where else str(k))]
    if isinstance(value, list):
        return [item for i, v in enumerate(value) for item in _numbers(v, f"{where}[{i}]")]
    return [(where, value)] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def check_task_config(task: dict, where: object) -> None:
    """Refuse a hand-edited task config before building anything: an image size the data cannot have, a network
    size that disagrees with it, a negative count or width, a NaN or infinite number (one line naming the key)."""
    from core.data.transforms import SIZES

    sizes = sorted({*SIZES, 4})  # 4: the quantum model's smallest jets
    size = task.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size not in sizes):
        raise fail(where, f"task size {size!r}: use one of {', '.join(map(str, sizes))}")
    net_size = (task.get("network") or {}).get("size") if isinstance(task.get("network"), dict) else None
    if net_size is not None and size is not None and net_size != size:
        raise fail(where, f"network size {net_size!r} differs from the task size {size}")
    for key, value in _numbers(task):
        if isinstance(value, float) and not math.isfinite(value):
            raise fail(where, f"{key} is {value}; a config holds finite numbers only")
        if isinstance(value, int) and value < 0 and key.split(".")[0] in ("network", "hybrid", "schedule"):
            raise fail(where, f"{key} is {value}; sizes and counts cannot be negative")


def load_checkpoint(
    directory: str | os.PathLike, device: str | torch.device = "cpu", with_optimizer: bool = False
) -> Checkpoint:
    """Rebuild the task and its EMA network from a checkpoint directory, ready to sample (eval mode)."""
    path = Path(directory)
    check_directory(path)
    recover_directory(path)  # a save killed between the two renames of the fallback
    if not path.exists():
        raise fail(path, "no such checkpoint directory")
    if not path.is_dir():
        raise fail(path, "a checkpoint is a directory (config.json + *.safetensors), not a file")
    config = _read_json(path / CONFIG)
    if config.get("format") != FORMAT or not isinstance(config.get("task"), dict):
        raise fail(path / CONFIG, f"not a {FORMAT} config")
    state = _read_json(path / STATE) if (path / STATE).exists() else {"step": 0}
    card = _read_json(path / CARD) if (path / CARD).exists() else {}
    step = state.get("step", 0)
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise fail(path / STATE, f"step {step!r}: expected a whole number of steps, 0 or more")
    check_task_config(config["task"], path / CONFIG)
    try:
        task = build_task(config["task"])
    except JetInputError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError, AttributeError, IndexError, ZeroDivisionError) as err:
        detail = str(err).splitlines()[0][:120] if str(err) else ""
        raise fail(path / CONFIG, f"invalid task config ({err.__class__.__name__}: {detail})") from None
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
        if not isinstance(blob, dict) or not isinstance(blob.get("optimizer"), dict):
            raise fail(path / OPTIMIZER, f"corrupt optimizer state (a {type(blob).__name__}, expected a dict)")
        if blob.get("step") != step:
            raise fail(path / OPTIMIZER, f"holds step {blob.get('step')} but trainer_state.json says {step}")
        opt_state = blob["optimizer"]
    device = torch.device(device)
    task.model.to(device)
    ema.to(device).eval()
    return Checkpoint(path, task, ema, config, state, card, opt_state, has_raw)


def load_initial_weights(task: Task, source: str | os.PathLike) -> dict:
    """Start ``task``'s network from the EMA weights of the checkpoint ``source`` (``train --init-from``).

    Only the network's tensors are taken: everything the task fitted on its own training jets (transform, energy
    model, readout tables, data layout) stays the new task's. Why: a trained network carries over to another data
    layout (a U-Net moved to ``--hcal-towers``) in far fewer steps than a start from scratch. The family and every
    tensor's name and shape must agree, except that the network's condition input may grow (``--region-condition``
    on a network trained without it: the new inputs start at zero weight); returns the source's path, family, step
    and any widened tensor for the model card."""
    ckpt = load_checkpoint(source)
    if ckpt.task.family != task.family:
        raise JetInputError(f"--init-from {source}: holds a {ckpt.task.family!r} model, not {task.family!r}")
    theirs, ours = ckpt.ema.state_dict(), task.model.state_dict()
    missing, extra = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    if missing or extra:
        names = ", ".join((missing or extra)[:3])
        raise JetInputError(
            f"--init-from {source}: its network differs ({'lacks' if missing else 'has extra'} {names}); "
            "train with the same preset and network options"
        )
    widened = []
    for name, tensor in ours.items():
        if theirs[name].shape == tensor.shape:
            continue
        if name != CONDITION_INPUT or not _widens(theirs[name], tensor):
            raise JetInputError(
                f"--init-from {source}: {name} has shape {tuple(theirs[name].shape)} there and "
                f"{tuple(tensor.shape)} here; train with the same preset and network options"
            )
        # More condition numbers here (--region-condition): the new inputs start with zero weight, so the
        # network starts as the source's, the extra numbers ignored until training uses them.
        theirs[name] = torch.cat(
            [theirs[name], tensor.new_zeros(len(tensor), tensor.shape[1] - theirs[name].shape[1])], 1
        )
        widened.append(name)
    task.model.load_state_dict(theirs)
    return {
        "path": str(source),
        "family": ckpt.task.family,
        "step": ckpt.step,
        **({"widened": widened} if widened else {}),
    }


CONDITION_INPUT = "cond_mlp.0.weight"  # the U-Net's first layer on its condition numbers (emb, cond_dim)


def _widens(theirs: torch.Tensor, ours: torch.Tensor) -> bool:
    return theirs.ndim == ours.ndim == 2 and theirs.shape[0] == ours.shape[0] and theirs.shape[1] < ours.shape[1]
