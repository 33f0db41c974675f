"""The Runs page's samples of each run's final weights as a job: the checkpoints sampled in a worker process.

``python -m core.jobs.finals --out RUN_DIR`` reads the checkpoints from ``RUN_DIR/request.json``, samples
``n`` jets from each (mixed classes when the model is conditional, 10 sampler steps where the model has a
fast sampler, seed 0: the Runs page's grid), a progress event after each model, and writes
``finals.safetensors`` with one tensor per checkpoint, named by that checkpoint's key. The key names the
checkpoint's files (path, modification time, size) and the sampling settings, so any finished run that
sampled the same checkpoint answers for it again without a job (``finished_finals``), whatever else that run
sampled; the page starts a job only for the checkpoints no run has sampled yet. A checkpoint that fails to
load or sample is recorded with its one-line reason (the others are still sampled), and answered with it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from core.jobs.keys import request_key
from core.jobs.rundir import FINISHED, RUNNING, STOPPED, RunWriter, read_status

RESULT = "finals.safetensors"
PREFIX = "finals"
SAMPLE_N = 8
FAST_STEPS = 10  # sampler steps for models with a fast sampler (the grid is a look, not a measurement)


def model_key(path: str | os.PathLike, n: int = SAMPLE_N, seed: int = 0) -> str:
    """16 hex digits naming one checkpoint's samples: its config and weights files and the settings."""
    files = [Path(path) / "config.json", Path(path) / "ema.safetensors"]
    return request_key({"what": "final samples", "n": int(n), "seed": int(seed), "steps": FAST_STEPS}, files)


def finals_request(paths: Sequence[str | os.PathLike], n: int = SAMPLE_N, seed: int = 0) -> dict:
    """The request.json body for sampling the final weights of the checkpoints ``paths``."""
    models = [str(p) for p in paths]
    keys = [model_key(p, n, seed) for p in models]
    return {"models": models, "keys": keys, "n": int(n), "seed": int(seed), "key": request_key(keys, [])}


def run_name(request: dict) -> str:
    return f"{PREFIX}-{request['key']}"


def finals_argv(threads: int | None = None) -> list[str]:
    """The worker's module and arguments (the job table adds ``--out RUN_DIR``)."""
    return ["core.jobs.finals", *(["--threads", str(threads)] if threads else [])]


def finished_finals(runs_dir: str | os.PathLike, keys: Sequence[str]) -> dict[str, Path]:
    """For each key, the newest finished run that holds its samples (keys no run holds are left out).

    Only the runs' request files are read (their number is bounded by pruning, ``core.jobs.prune``)."""
    root, wanted, found = Path(runs_dir), set(keys), {}
    if not wanted or not root.is_dir():
        return found
    for run in sorted(root.glob(PREFIX + "-*"), reverse=True):  # the id's time sorts them, newest first
        status = read_status(run)
        if status.state != FINISHED or not (run / RESULT).exists():
            continue
        for key in set(status.request.get("keys") or ()) & (wanted - set(found)):
            found[key] = run
        if len(found) == len(wanted):
            break
    return found


def load_finals(run_dir: str | os.PathLike, keys: Sequence[str]) -> dict:
    """By key: the samples (n, 3, H, W) GeV of each checkpoint ``keys`` names that the run sampled, or the one
    line saying why it could not (a checkpoint that does not load fails alone, not the run)."""
    from safetensors import safe_open

    with safe_open(str(Path(run_dir) / RESULT), framework="pt") as f:
        failed = json.loads((f.metadata() or {}).get("failed") or "{}")
        return {k: f.get_tensor(k) if k in f.keys() else failed.get(k, "not sampled") for k in keys}


def _one(path: str, n: int, seed: int, device: str):
    from core.training.checkpoint import load_checkpoint
    from core.training.sampling import sample_images

    ckpt = load_checkpoint(path, device=device)
    label = "mixed" if ckpt.task.conditional else None
    steps = None if ckpt.task.default_sampler_steps is None else FAST_STEPS
    return sample_images(ckpt, n, sampler_steps=steps, label=label, seed=seed, device=device).cpu()


def _work(body: dict, log: RunWriter, stop: threading.Event) -> tuple[str, str]:
    from safetensors.torch import save_file

    from core.atomic import atomic_path
    from core.training.device import resolve_device

    models, keys = list(body["models"]), list(body["keys"])
    n, seed = int(body.get("n") or SAMPLE_N), int(body.get("seed") or 0)
    device = str(resolve_device("auto"))
    log.total = len(models)
    log.status(RUNNING, f"sampling the final weights of {len(models)} run(s)")
    out, failed = {}, {}
    for k, (path, key) in enumerate(zip(models, keys, strict=True)):
        if stop.is_set():
            return STOPPED, f"stopped after {k} of {len(models)} run(s)"
        log.phase(f"sampling {n} jets from {Path(path).name} ({k + 1} of {len(models)})")
        try:
            out[key] = _one(path, n, seed, device).float().contiguous()
        except Exception as err:  # one checkpoint that does not load or sample must not cost the others theirs
            failed[key] = f"{Path(path).name}: {(str(err).strip() or type(err).__name__).splitlines()[0]}"
            log.event("error", key=key, message=failed[key])
        log.step = k + 1
        log.event("progress", done=k + 1, total=len(models))
    log.phase("saving")
    with atomic_path(log.dir / RESULT, ".safetensors") as tmp:
        save_file(out, str(tmp), metadata={"failed": json.dumps(failed)})
    return FINISHED, f"finished: {len(out)} of {len(models)} run(s) sampled"


def main(argv: list[str] | None = None) -> int:
    from core.jobs.worker import run_worker

    return run_worker("python -m core.jobs.finals", PREFIX, _work, argv)


if __name__ == "__main__":
    sys.exit(main())
