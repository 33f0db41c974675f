"""The Jets page's averages over many jets as a job: ``class_overview`` in a worker process.

``python -m core.jobs.overview --out RUN_DIR`` reads the jet file and the selected jets' indices from
``RUN_DIR/request.json``, reads the images a batch at a time (a progress event after each), and writes
``overview.npz`` (the average image per class, every selected jet's observables, their labels). The page
runs this only for what it cannot do in about a second (see ``core.viz.stats``); a finished run answers the
same selection of the same file again without a job (``finished_overview``).
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import numpy as np

from core.jobs.keys import finished_run, request_key
from core.jobs.rundir import FINISHED, RUNNING, STOPPED, RunWriter

RESULT = "overview.npz"


class _Stopped(Exception):
    """Raised between batches once the job has been asked to stop."""


def overview_request(path: str | None, name: str | None, index: np.ndarray) -> dict:
    """The request.json body for averaging the jets ``index`` of the file ``path`` (None: the embedded sample)."""
    idx = [int(i) for i in np.asarray(index, dtype=np.int64)]
    return {"data": path, "data_name": name, "index": idx, "key": request_key({"index": idx}, [path])}


def run_name(request: dict) -> str:
    return f"overview-{request['key']}"


def overview_argv(threads: int | None = None) -> list[str]:
    """The worker's module and arguments (the job table adds ``--out RUN_DIR``)."""
    return ["core.jobs.overview", *(["--threads", str(threads)] if threads else [])]


def finished_overview(runs_dir: str | os.PathLike, request: dict) -> Path | None:
    """The newest finished run of this selection of this file (unchanged since), if any."""
    return finished_run(runs_dir, run_name(request))


def load_overview(run_dir: str | os.PathLike):
    """(means per class, observables per jet, labels) as ``class_overview`` returns them, or None."""
    path = Path(run_dir) / RESULT
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as z:
        means = {k[len("mean_") :]: z[k] for k in z.files if k.startswith("mean_")}
        obs = {k[len("obs_") :]: z[k] for k in z.files if k.startswith("obs_")}
        return means, obs, z["y"]


def _work(body: dict, log: RunWriter, stop: threading.Event) -> tuple[str, str]:
    from core.atomic import atomic_path
    from core.data.readers import open_jets
    from core.viz.stats import class_overview

    index = np.asarray(body["index"], dtype=np.int64)
    log.total = int(index.size)
    log.status(RUNNING, f"averaging {index.size:,} jets")
    log.phase(f"reading and averaging {index.size:,} jets")

    def progress(done: int, total: int) -> None:
        log.step = done
        log.event("progress", done=done, total=total)
        if stop.is_set():
            raise _Stopped

    src = open_jets(body.get("data"), body.get("data_name"))
    try:
        means, obs, y = class_overview(src, index, progress=progress)
    except _Stopped:
        return STOPPED, f"stopped after {log.step:,} of {index.size:,} jets"
    finally:
        src.close()
    log.phase("saving")
    arrays = {f"mean_{k}": v for k, v in means.items()} | {f"obs_{k}": v for k, v in obs.items()}
    with atomic_path(log.dir / RESULT, ".npz") as tmp, open(tmp, "wb") as f:
        np.savez(f, y=np.asarray(y), **arrays)
    return FINISHED, f"finished: {index.size:,} jets"


def main(argv: list[str] | None = None) -> int:
    from core.jobs.worker import run_worker

    return run_worker("python -m core.jobs.overview", "overview", _work, argv)


if __name__ == "__main__":
    sys.exit(main())
