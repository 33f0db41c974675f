"""Hosted mode (``JETLAB_HOSTED=1``): what a visitor of a shared dashboard may touch, and how error text is shown.

A hosted dashboard offers no server paths: only the embedded sample, the visitor's own uploads (kept per visitor,
capped, removed when the session ends or idles out) and the visitor's own runs. Error text shown to a visitor
names their file, never a server path (:func:`public_text`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

_TRUE = ("1", "true", "yes", "on")


def hosted() -> bool:
    """Whether the dashboard is shared with visitors (``JETLAB_HOSTED``; on in the Docker image)."""
    return os.environ.get("JETLAB_HOSTED", "").strip().lower() in _TRUE


def _env_number(key: str, default: float) -> float:
    try:
        value = float(os.environ.get(key, default))
    except ValueError:
        return default
    return value if value >= 0 else default


@dataclass(frozen=True)
class UploadCaps:
    """Per-visitor upload limits: one file's size, the files kept, their total size, and the idle time-out."""

    max_file_bytes: int
    max_files: int
    max_total_bytes: int
    idle_seconds: float

    @classmethod
    def from_env(cls, is_hosted: bool | None = None) -> UploadCaps:
        """``JETLAB_UPLOAD_MAX_MB``, ``JETLAB_UPLOADS_PER_VISITOR``, ``JETLAB_UPLOAD_VISITOR_MB``, ``JETLAB_UPLOAD_IDLE_S``;
        hosted defaults are tighter (256 MB a file, 3 files, 512 MB, 1 h idle) than local ones (2 GB, 10, 4 GB, 24 h)."""
        is_hosted = hosted() if is_hosted is None else is_hosted
        file_mb, files, total_mb, idle = (256, 3, 512, 3600) if is_hosted else (2048, 10, 4096, 24 * 3600)
        return cls(
            max_file_bytes=int(_env_number("JETLAB_UPLOAD_MAX_MB", file_mb) * 1024**2),
            max_files=max(1, int(_env_number("JETLAB_UPLOADS_PER_VISITOR", files))),
            max_total_bytes=int(_env_number("JETLAB_UPLOAD_VISITOR_MB", total_mb) * 1024**2),
            idle_seconds=_env_number("JETLAB_UPLOAD_IDLE_S", idle),
        )


_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])(?:/[^\s/:'\"(),]+)+/([^\s/:'\"(),]+)")


def public_text(text: str, names: dict[str, str] | None = None) -> str:
    """``text`` with server paths hidden: each path in ``names`` (server path -> visitor's name) replaced by its
    name, then any other absolute path cut to its last component."""
    for path, name in sorted((names or {}).items(), key=lambda kv: -len(kv[0])):
        if path:
            text = text.replace(path, name)
    return _ABSOLUTE_PATH.sub(r"\1", text)
