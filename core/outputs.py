"""Never destroy work: an output that is an input, or lies inside a checkpoint, is refused before any work starts,
and an existing checkpoint is replaced only when asked (``--resume`` continues it, ``--force`` replaces it).

All comparisons use resolved paths, so ``./a/../b`` and a symlink to an input are caught as well.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from core.errors import JetInputError

CHECKPOINT_MARKERS = ("config.json", "ema.safetensors")


def _real(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve(strict=False)


def is_checkpoint(path: str | os.PathLike) -> bool:
    """A directory holding a checkpoint set (config.json and ema.safetensors)."""
    p = Path(path)
    return p.is_dir() and all((p / name).is_file() for name in CHECKPOINT_MARKERS)


def checkpoint_containing(path: str | os.PathLike) -> Path | None:
    """The checkpoint directory ``path`` is, or lies inside (a file of it, a folder in it); None if none."""
    real = _real(path)
    for candidate in (real, *real.parents):
        if is_checkpoint(candidate):
            return candidate
    return None


def _refuse_inputs(out: Path, flag: str, inputs: Mapping[str, str | os.PathLike | None]) -> None:
    for in_flag, value in inputs.items():
        if not value:
            continue
        src = _real(value)
        if out == src:
            raise JetInputError(f"{flag} {out}: is the input of {in_flag}; writing it would destroy the input")


def check_output_file(flag: str, out: str | os.PathLike, inputs: Mapping[str, str | os.PathLike | None]) -> Path:
    """An output file: not a directory, not any input, not inside a checkpoint; its folder must be writable."""
    real = _real(out)
    if real.is_dir():
        raise JetInputError(f"{flag} {out}: is a directory; give a file name")
    _refuse_inputs(real, flag, inputs)
    ckpt = checkpoint_containing(real.parent)
    if ckpt is not None:
        raise JetInputError(f"{flag} {out}: lies inside the checkpoint {ckpt}; write it elsewhere")
    _check_writable_parent(flag, real)
    return real


def check_output_dir(flag: str, out: str | os.PathLike, inputs: Mapping[str, str | os.PathLike | None]) -> Path:
    """An output folder (reports, figures): not a file, not any input, not a checkpoint nor inside one."""
    real = _real(out)
    if real.exists() and not real.is_dir():
        raise JetInputError(f"{flag} {out}: is a file; give a folder")
    _refuse_inputs(real, flag, inputs)
    ckpt = checkpoint_containing(real)
    if ckpt is not None:
        raise JetInputError(f"{flag} {out}: lies inside the checkpoint {ckpt}; write it elsewhere")
    _check_writable_parent(flag, real / "x")
    return real


def check_train_out(out: str | os.PathLike, data: str | os.PathLike | None, resume: bool, force: bool) -> Path:
    """The checkpoint directory of ``train``: refused when it is the data file, a file, a folder of other things,
    inside another checkpoint, or an existing checkpoint without ``--resume`` / ``--force``; ``--resume`` needs one.
    """
    real = _real(out)
    _refuse_inputs(real, "--out", {"--data": data})
    if data and real in _real(data).parents:
        raise JetInputError(f"--out {out}: holds the --data file {data}; choose another folder")
    if real.exists() and not real.is_dir():
        raise JetInputError(f"--out {out}: is a file, not a checkpoint directory")
    outer = checkpoint_containing(real.parent)
    if outer is not None:
        raise JetInputError(f"--out {out}: lies inside the checkpoint {outer}; choose another folder")
    has_checkpoint = (real / "config.json").is_file()
    if resume and not has_checkpoint:
        raise JetInputError(f"--resume: {out} holds no checkpoint (config.json is missing); drop --resume to start")
    if has_checkpoint and not (resume or force):
        raise JetInputError(
            f"--out {out}: holds a checkpoint; --resume continues it, --force replaces it, or choose a new folder"
        )
    from core.jobs.rundir import RUN_FILES  # a run directory's own log (the job table writes it first) is no clash

    others = (
        [p for p in real.iterdir() if not p.name.startswith(".") and p.name not in RUN_FILES] if real.is_dir() else []
    )
    if not has_checkpoint and others:
        raise JetInputError(f"--out {out}: is a folder of other files, not a checkpoint; choose a new folder")
    _check_writable_parent("--out", real)
    return real


def _check_writable_parent(flag: str, real: Path) -> None:
    """The nearest existing folder above ``real`` must be writable (else the work would be lost at the end)."""
    for folder in real.parents:
        if folder.exists():
            if not folder.is_dir():
                raise JetInputError(f"{flag} {real}: {folder} is a file, not a folder")
            if not os.access(folder, os.W_OK | os.X_OK):
                raise JetInputError(f"{flag} {real}: cannot write in {folder} (permission denied)")
            return
