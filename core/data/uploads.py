"""Files uploaded through the dashboard: saved under their content hash, pruned so the folder cannot grow forever.

Each visitor (browser session) has a folder of their own (:func:`save_visitor_upload`), capped in file size,
file count and total size; :func:`prune_visitors` removes the folders of sessions that ended or idled out.

Every page run that holds an upload saves it again (a no-op when the file is there), so pruning a file another
visitor still has open is harmless: their open handle keeps reading it (POSIX), and their next run rewrites it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from core.atomic import atomic_path
from core.errors import JetInputError

KEEP_SECONDS = 24 * 3600
MAX_BYTES = 2 * 1024**3
UPLOAD_SUFFIXES = (".h5", ".hdf5", ".npz")


def save_upload(
    directory: str | os.PathLike,
    name: str,
    data: bytes,
    keep_seconds: float = KEEP_SECONDS,
    max_bytes: int = MAX_BYTES,
) -> Path:
    """Write ``data`` once as ``<sha256[:16]><suffix>`` (atomically), then prune older uploads around it."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    suffix = Path(name).suffix.lower()
    path = Path(directory) / f"{digest}{suffix if suffix in UPLOAD_SUFFIXES else '.bin'}"
    if not path.exists():
        with atomic_path(path, suffix=".part") as tmp:
            tmp.write_bytes(data)
        prune_uploads(directory, keep_seconds, max_bytes, keep=[path])
    else:
        os.utime(path)  # still in use: age counts from the last use, not the first upload
    return path


_VISITOR = re.compile(r"[A-Za-z0-9_-]{1,64}")


def visitor_dir(root: str | os.PathLike, visitor: str) -> Path:
    """The upload folder of one visitor (a browser session id: letters, digits, '-' and '_' only)."""
    if not _VISITOR.fullmatch(visitor or ""):
        raise JetInputError("upload: invalid visitor session id")
    return Path(root) / visitor


def save_visitor_upload(root: str | os.PathLike, visitor: str, name: str, data: bytes, caps) -> Path:
    """Save one visitor's upload in their own folder within ``caps`` (a :class:`core.hosting.UploadCaps`).

    A file over the size cap is refused (the message names the visitor's file); beyond the count or total cap
    the visitor's oldest uploads go first. The folder's time stamp marks the visitor as active.
    """
    shown = Path(name).name or "upload"
    if len(data) > caps.max_file_bytes:
        raise JetInputError(
            f"{shown}: {len(data) / 1024**2:.0f} MB, over the {caps.max_file_bytes / 1024**2:.0f} MB upload limit"
        )
    folder = visitor_dir(root, visitor)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = save_upload(folder, name, data, keep_seconds=caps.idle_seconds, max_bytes=caps.max_total_bytes)
    others = sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p != path),
        key=lambda p: p.stat().st_mtime,
    )
    for old in others[: max(0, len(others) - (caps.max_files - 1))]:
        old.unlink(missing_ok=True)
    touch_visitor(root, visitor)
    return path


def touch_visitor(root: str | os.PathLike, visitor: str) -> None:
    """Mark a visitor as active now (their folder's time stamp), so idle pruning spares them."""
    folder = visitor_dir(root, visitor)
    if folder.is_dir():
        os.utime(folder)


def prune_visitors(
    root: str | os.PathLike,
    idle_seconds: float,
    active: Iterable[str] | None = None,
    grace_seconds: float = 120.0,
    now: float | None = None,
) -> list[Path]:
    """Remove visitor folders idle for ``idle_seconds``, and (when the live sessions are known, ``active``) those
    of ended sessions once ``grace_seconds`` old. Returns the removed folders."""
    folder = Path(root)
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    live = None if active is None else set(active)
    removed = []
    for entry in folder.iterdir():
        if entry.is_symlink() or not entry.is_dir() or not _VISITOR.fullmatch(entry.name):
            continue
        try:
            age = now - entry.stat().st_mtime
        except FileNotFoundError:
            continue
        if age > idle_seconds or (live is not None and entry.name not in live and age > grace_seconds):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def prune_uploads(
    directory: str | os.PathLike,
    keep_seconds: float = KEEP_SECONDS,
    max_bytes: int = MAX_BYTES,
    keep: Iterable[str | os.PathLike] = (),
    now: float | None = None,
) -> list[Path]:
    """Remove uploads older than ``keep_seconds``, then the oldest ones until the rest fit in ``max_bytes``.

    Files in ``keep`` (the one just written) are never removed, even when they alone exceed ``max_bytes``.
    Hidden files (half-written temporaries of another visitor's upload) go only by age, never for space.
    Returns the removed paths, oldest first; a missing folder is an empty one.
    """
    if keep_seconds < 0:
        raise JetInputError(f"upload pruning: keep_seconds must be 0 or more, got {keep_seconds}")
    if max_bytes < 0:
        raise JetInputError(f"upload pruning: max_bytes must be 0 or more, got {max_bytes}")
    folder = Path(directory)
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    protected = {Path(p).resolve() for p in keep}
    files: list[tuple[float, int, Path]] = []
    for entry in folder.iterdir():
        try:
            st = entry.stat()
        except FileNotFoundError:  # removed meanwhile by another visitor's pruning
            continue
        if entry.is_file() and entry.resolve() not in protected:
            files.append((st.st_mtime, st.st_size, entry))
    files.sort(key=lambda f: f[0])
    total = sum(size for _, size, p in files if not p.name.startswith("."))
    total += sum(p.stat().st_size for p in protected if p.is_file() and p.parent == folder.resolve())
    removed: list[Path] = []
    for mtime, size, path in files:
        hidden = path.name.startswith(".")
        too_old = now - mtime > keep_seconds
        if too_old or (not hidden and total > max_bytes):
            path.unlink(missing_ok=True)
            removed.append(path)
            if not hidden:
                total -= size
    return removed
