"""Pruning the runs folder: the pages' answer-only runs (sampling, compare, overview, finals, device) are kept
to the newest N per kind; training runs are never pruned here (they are the user's models).

The job table calls ``prune_runs`` for a kind each time it starts a job of that kind (``JETLAB_KEEP_RUNS``,
default 50; 0 keeps every run). Only runs that have ended count and go: a running job's directory is never
touched. A pruned run is first renamed to a hidden name (so no page finds it half-deleted), then removed.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from core.jobs.rundir import ENDED, REQUEST, read_status

PRUNED_KINDS = ("sample", "compare", "overview", "finals", "device")
KEEP_RUNS = 50


def _kind_and_time(run_dir: Path) -> tuple[str, float] | None:
    try:
        body = json.loads((run_dir / REQUEST).read_text())
        return str(body.get("kind")), float(body.get("created") or 0.0)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def prune_runs(runs_dir: str | os.PathLike, kind: str, keep: int | None = KEEP_RUNS) -> list[str]:
    """Remove the ended runs of ``kind`` beyond the newest ``keep`` (None or 0: keep all); returns their ids.

    Training runs (and any kind not in ``PRUNED_KINDS``) are never removed, nor a run that is still running."""
    root = Path(runs_dir)
    if kind not in PRUNED_KINDS or not keep or keep < 0 or not root.is_dir():
        return []
    ended = []
    for run in root.iterdir():
        if run.name.startswith(".") or run.is_symlink() or not run.is_dir():
            continue
        found = _kind_and_time(run)
        if found is None or found[0] != kind:
            continue
        if read_status(run).state in ENDED:
            ended.append((found[1], run.name, run))
    ended.sort(reverse=True)  # newest first (created time, then the id's time)
    removed = []
    for _, name, run in ended[int(keep) :]:
        hidden = run.with_name(f".pruned-{name}-{uuid.uuid4().hex[:6]}")
        try:
            run.rename(hidden)
        except OSError:
            continue  # gone already (another server pruned it)
        shutil.rmtree(hidden, ignore_errors=True)
        removed.append(name)
    return removed
