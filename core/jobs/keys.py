"""Requests named by their inputs, so a finished run answers the same request again without a new job.

A key is a short hash of the request and of the identity of the files it reads (path, modification time,
size): a file replaced under the same name gets a new key. Runs of keyed requests are named
``<kind>-<key>-<time>-<random>`` (``core.jobs.runner.new_run_id``), so the newest finished one is found by
its name alone, without reading every run of the runs folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from core.jobs.rundir import FINISHED, read_status


def file_stamp(path: str | os.PathLike | None) -> list:
    """[path, modification time in ns, size] of a file (None: the embedded sample); zeros when it is missing."""
    if path is None:
        from core.data.readers import EMBEDDED_SAMPLE

        path = EMBEDDED_SAMPLE
    try:
        st = os.stat(path)
    except OSError:
        return [str(path), 0, 0]
    return [str(path), st.st_mtime_ns, st.st_size]


def request_key(request: object, files: list[str | os.PathLike | None]) -> str:
    """16 hex digits naming ``request`` (JSON-able) together with the current identity of ``files``."""
    text = json.dumps([request, [file_stamp(f) for f in files]], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def finished_run(runs_dir: str | os.PathLike, prefix: str) -> Path | None:
    """The newest finished run whose id starts with ``prefix-`` (the id's time sorts them), or None."""
    root = Path(runs_dir)
    if not root.is_dir():
        return None
    runs = sorted(root.glob(prefix + "-*"), reverse=True)
    return next((p for p in runs if read_status(p).state == FINISHED), None)
