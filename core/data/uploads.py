"""Files uploaded through the dashboard: saved under their content hash, pruned so the folder cannot grow forever.

Every page run that holds an upload saves it again (a no-op when the file is there), so pruning a file another
visitor still has open is harmless: their open handle keeps reading it (POSIX), and their next run rewrites it.
"""

from __future__ import annotations

import hashlib
import os
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
    return path


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
