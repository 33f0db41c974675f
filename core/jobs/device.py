"""The Quantum lab's device run as a job: a quantum model on a fake IBM device's noise, in a worker process.

``python -m core.jobs.device --out RUN_DIR`` reads ``RUN_DIR/request.json`` (checkpoint, fake device, jets per
class, shots, seed, jet file) and does what the Quantum lab's device section shows
(``core.quantum.device_sampling``): it transpiles the model's reverse chain to the device and writes the
circuit costs and the drawing of one transpiled step to ``transpiled.json`` at once (a fraction of a second),
then runs the chain on Aer for each noise condition (device errors x 0, 0.1, 1 and a depolarising p per gate:
a minute or more, a progress event after each), measures each against real jets, reads the model out with 256
to 65,536 shots, and writes ``device.json`` (the tables) and ``device_jets.safetensors`` (the generated jets of
each condition). A request's key names its inputs (the checkpoint's and the jet file's identity included), so a
finished run answers the same request again without a job (``finished_device``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

from core.errors import JetInputError
from core.jobs.keys import finished_run, request_key
from core.jobs.rundir import FINISHED, RUNNING, STOPPED, RunWriter

PREFIX = "device"
TRANSPILED, RESULT, JETS = "transpiled.json", "device.json", "device_jets.safetensors"
REAL_JETS = 2000  # real jets the distances compare with (seeded subset of the chosen file, pooled)
SHOT_JETS = 64  # jets per class for the quality-against-shots curve (at least; more when asked)
QUANTUM_FAMILIES = ("quantum",)  # families whose checkpoints export a circuit a device runs


def has_circuit(path: str | os.PathLike) -> bool:
    """Whether a checkpoint exports a circuit, from its config.json alone (no weights loaded)."""
    try:
        return json.loads((Path(path) / "config.json").read_text())["task"]["family"] in QUANTUM_FAMILIES
    except (OSError, ValueError, KeyError, TypeError):
        return False


def device_request(
    checkpoint: str, backend: str, n: int, shots: int, seed: int = 0, data: str | None = None, name: str | None = None
) -> dict:
    """The request.json body for running ``checkpoint`` on the fake device ``backend``."""
    from core.quantum.devices import canonical_name

    if not 1 <= int(n) <= 64:
        raise JetInputError(f"device run: jets per class must be 1 to 64, got {n}")
    if int(shots) < 1:
        raise JetInputError(f"device run: shots must be a positive integer, got {shots}")
    body = {"checkpoint": str(checkpoint), "backend": canonical_name(backend), "n": int(n), "shots": int(shots)}
    body.update(seed=int(seed), data=data)
    files = [Path(checkpoint) / "config.json", Path(checkpoint) / "ema.safetensors", data]
    return {**body, "data_name": name, "key": request_key(body, files)}


def run_name(request: dict) -> str:
    return f"{PREFIX}-{request['key']}"


def device_argv(threads: int | None = None) -> list[str]:
    """The worker's module and arguments (the job table adds ``--out RUN_DIR``)."""
    return ["core.jobs.device", *(["--threads", str(threads)] if threads else [])]


def finished_device(runs_dir: str | os.PathLike, request: dict) -> Path | None:
    """The newest finished run of this very request (same key), if any."""
    return finished_run(runs_dir, run_name(request))


def load_transpiled(run_dir: str | os.PathLike) -> dict | None:
    """{"attrs": circuit costs, "step_text": the transpiled step drawn as text}, once transpiling is done."""
    path = Path(run_dir) / TRANSPILED
    return json.loads(path.read_text()) if path.exists() else None


def load_device(run_dir: str | os.PathLike) -> dict | None:
    """A finished run's report: attrs, step_text, rows (one per noise condition), labels, images (condition ->
    jets (N, 3, s, s) GeV), shots (the quality-against-shots rows); None while it has not finished."""
    from safetensors.torch import load_file

    root = Path(run_dir)
    if not (root / RESULT).exists() or not (root / JETS).exists():
        return None
    body = json.loads((root / RESULT).read_text())
    jets = load_file(str(root / JETS))
    body["images"] = {name: jets[f"condition_{i}"] for i, name in enumerate(body["conditions"])}
    return body


def _transpile(ckpt, body: dict, log: RunWriter) -> object:
    from core.atomic import write_text_atomic
    from core.quantum.device_sampling import prepare
    from core.viz.quantum import circuit_text

    log.phase(f"transpiling the reverse chain to {body['backend']}")
    prepared = prepare(ckpt.ema, body["backend"], seed=int(body["seed"]))
    text = circuit_text(prepared.step_circuit)
    write_text_atomic(log.dir / TRANSPILED, json.dumps({"attrs": prepared.attrs(), "step_text": text}))
    return prepared


def _save(log: RunWriter, out: dict, images: dict) -> None:
    import torch
    from safetensors.torch import save_file

    from core.atomic import atomic_path, write_text_atomic

    log.phase("saving")
    tensors = {f"condition_{i}": torch.as_tensor(x).float().contiguous() for i, x in enumerate(images.values())}
    with atomic_path(log.dir / JETS, ".safetensors") as tmp:
        save_file(tensors, str(tmp))
    write_text_atomic(log.dir / RESULT, json.dumps({**out, "conditions": list(images)}, default=float))


def _work(body: dict, log: RunWriter, stop: threading.Event) -> tuple[str, str]:
    import torch

    from core.data.readers import load_tensors
    from core.quantum.device_sampling import noise_conditions, noise_table
    from core.quantum.encoders import prepare_images
    from core.quantum.shot_study import quality_vs_shots
    from core.training.checkpoint import load_checkpoint

    conditions, n, seed = noise_conditions(), int(body["n"]), int(body["seed"])
    log.total = len(conditions) + 1
    log.status(RUNNING, f"running on {body['backend']}")
    log.phase("loading the checkpoint and the real jets")
    ckpt = load_checkpoint(body["checkpoint"])
    x, _ = load_tensors(body.get("data"), size=32, max_jets=REAL_JETS, seed=0, name=body.get("data_name"))
    real = prepare_images(x, ckpt.task.size)
    prepared = _transpile(ckpt, body, log)
    labels = torch.tensor([1] * n + [0] * n)
    rows, images, noiseless = [], {}, None  # the zero-noise jets, which every later row is compared with
    for k, condition in enumerate(conditions):
        if stop.is_set():
            return STOPPED, f"stopped after {k} of {len(conditions)} noise conditions"
        log.phase(f"running the chain on Aer: {condition[0]} noise x {condition[1]:g} ({k + 1} of {len(conditions)})")
        r, im = noise_table(
            ckpt.task, ckpt.ema, prepared, labels, real, int(body["shots"]), seed, [condition], noiseless
        )
        noiseless = next(iter(im.values())) if noiseless is None and condition[1] == 0 else noiseless
        rows += r
        images.update(im)
        log.step = k + 1
        log.event("progress", done=k + 1, total=log.total)
    log.phase(f"reading the model out with 256 to 65,536 shots ({max(n, SHOT_JETS)} jets per class)")
    shot_labels = [1] * max(n, SHOT_JETS) + [0] * max(n, SHOT_JETS)
    shots = quality_vs_shots(ckpt.task, ckpt.ema, shot_labels, real, seed=seed)
    log.step = log.total
    log.event("progress", done=log.total, total=log.total)
    out = {"attrs": prepared.attrs(), "rows": rows, "labels": labels.tolist(), "shots": shots}
    _save(log, {**out, "step_text": load_transpiled(log.dir)["step_text"]}, images)
    return FINISHED, f"finished: {len(conditions)} noise conditions on {body['backend']}"


def main(argv: list[str] | None = None) -> int:
    from core.jobs.worker import run_worker

    return run_worker("python -m core.jobs.device", PREFIX, _work, argv)


if __name__ == "__main__":
    sys.exit(main())
