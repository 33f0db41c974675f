"""Compare's measurements as a job: models side by side in a worker process, writing a run directory.

``python -m core.jobs.compare --out RUN_DIR`` reads ``RUN_DIR/request.json`` (a ``CompareRequest``) and does
one of two things the Compare page asks for:

- ``reconstruct``: the same jets, noised to the same fraction of each model's forward process, reconstructed
  by each model (``core.metrics.compare``); writes ``compare.json`` (the table's rows and each model's step,
  size, family) and ``reconstructions.safetensors`` (the jets at the scoring size, their labels and each
  model's reconstruction);
- ``generate``: N jets sampled from each model and measured against real jets beside the real-vs-real floor,
  at one resolution ``size`` (each model's samples and the real jets sum-pooled to it) or, with None, each at
  its own; writes ``generation.json`` (each model's rows and info, as ``core.jobs.sampling.report_body``).

Each model is a phase with its own progress ("reconstructing 16 jets with quantum (2 of 2)", "sampling 64 jets
from unet (1 of 2)", then "computing set distances ..."). A request's ``key`` names its inputs (the models'
and the data file's modification times included), so a finished run answers the same request again without a
job (``finished_run``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from core.data.transforms import SIZES
from core.errors import JetInputError
from core.jobs.keys import finished_run as keyed_run
from core.jobs.keys import request_key
from core.jobs.rundir import FINISHED, RUNNING, STOPPED, RunWriter

RECONSTRUCT, GENERATE = "reconstruct", "generate"
RESULT, IMAGES, GENERATION = "compare.json", "reconstructions.safetensors", "generation.json"
SAMPLE_BATCH = 32  # jets per sampling call: the unit of progress and of stopping


@dataclass(frozen=True)
class CompareRequest:
    """What the Compare page asks: ``what`` (reconstruct | generate), the models as (column name, checkpoint
    directory), the jet file (None: the embedded sample), N jets, the noise fraction f, the seed and (generate)
    the resolution ``size`` the sets are compared at (None: each model at its own)."""

    what: str
    models: tuple[tuple[str, str], ...]
    data: str | None = None
    data_name: str | None = None
    n: int = 16
    fraction: float = 0.3
    seed: int = 0
    size: int | None = None

    def check(self) -> CompareRequest:
        if self.what not in (RECONSTRUCT, GENERATE):
            raise JetInputError(f"compare: what must be {RECONSTRUCT!r} or {GENERATE!r}, got {self.what!r}")
        if not 1 <= len(self.models) <= 4:
            raise JetInputError(f"compare: 1 to 4 models, got {len(self.models)}")
        if not 2 <= int(self.n) <= 1024:
            raise JetInputError(f"compare: number of jets must be 2 to 1024, got {self.n}")
        if not 0.0 < float(self.fraction) <= 1.0:
            raise JetInputError(f"compare: noise fraction must be in (0, 1], got {self.fraction}")
        if self.size is not None and self.size not in SIZES:
            raise JetInputError(f"compare: resolution must be one of {', '.join(map(str, SIZES))}, got {self.size}")
        return self

    def to_dict(self) -> dict:
        return {**asdict(self), "models": [list(m) for m in self.models], "key": self.key()}

    @classmethod
    def from_dict(cls, body: dict) -> CompareRequest:
        names = set(cls.__dataclass_fields__)
        fields = {k: v for k, v in body.items() if k in names}
        fields["models"] = tuple((str(a), str(b)) for a, b in body.get("models", ()))
        return cls(**fields).check()

    def key(self) -> str:
        """16 hex digits naming the inputs: the request, and the identity of the checkpoints and the jet file."""
        what = {k: v for k, v in asdict(self).items() if k != "data_name"}
        if self.what == GENERATE:
            what.pop("fraction")
        if self.what == RECONSTRUCT or self.size is None:
            what.pop("size")  # requests from before there was a choice keep their keys
        return request_key(what, [Path(p) / "config.json" for _, p in self.models] + [self.data])


def compare_argv(threads: int | None = None) -> list[str]:
    """The worker's module and arguments (the job table adds ``--out RUN_DIR``)."""
    return ["core.jobs.compare", *(["--threads", str(threads)] if threads else [])]


def run_name(req: CompareRequest) -> str:
    """The run id's prefix (``core.jobs.runner.new_run_id`` adds the time and a random part)."""
    return f"compare-{req.key()}"


def finished_run(runs_dir: str | os.PathLike, req: CompareRequest) -> Path | None:
    """The newest finished run of this very request (same key), if any: its answer needs no new job."""
    return keyed_run(runs_dir, run_name(req))


def _task_field(path: str | os.PathLike, field: str, what: str):
    config = Path(path) / "config.json"
    try:
        return json.loads(config.read_text())["task"][field]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise JetInputError(f"{config}: no readable {what} ({type(err).__name__})") from err


def model_family(path: str | os.PathLike) -> str:
    """A checkpoint's family from its config.json alone (no weights loaded)."""
    return str(_task_field(path, "family", "model family"))


def model_size(path: str | os.PathLike) -> int:
    """The image size a checkpoint generates, from its config.json alone."""
    return int(_task_field(path, "size", "image size"))


# ---------------------------------------------------------------- the work (in the worker process)


def _reconstruct(req: CompareRequest, log: RunWriter, stop: threading.Event) -> str:
    from safetensors.torch import save_file

    from core.atomic import atomic_path, write_text_atomic
    from core.data.readers import load_tensors
    from core.data.transforms import downsample
    from core.metrics.compare import at_common_size, compare_rows, model_reconstruction
    from core.training.checkpoint import load_checkpoint

    log.phase(f"preparing {req.n} jets")
    jets = {32: load_tensors(req.data, size=32, max_jets=req.n, seed=1000 + req.seed, name=req.data_name)}
    x, y = jets[32]
    recs = []
    for k, (name, path) in enumerate(req.models):
        if stop.is_set():
            return STOPPED
        log.phase(f"reconstructing {len(x)} jets with {name} ({k + 1} of {len(req.models)})")
        ckpt = load_checkpoint(path)
        size = int(ckpt.task.size)
        if size > 32 and size not in jets:
            jets[size] = load_tensors(req.data, size=size, max_jets=req.n, seed=1000 + req.seed, name=req.data_name)
        xm = x if size <= 32 else jets[size][0]
        recs.append(model_reconstruction(name, ckpt, xm, y, req.fraction, req.seed))
        log.step = k + 1
        log.event("progress", done=k + 1, total=len(req.models))
    recs = at_common_size(recs)
    log.phase("computing SSIM, PSNR and fidelity")
    rows = compare_rows(x, recs)
    size = int(recs[0].x0_hat.shape[-1])
    log.phase("saving")
    tensors = {"real": (downsample(x, size) if x.shape[-1] != size else x).float().contiguous(), "labels": y.long()}
    tensors.update({f"model_{i}": r.x0_hat.float().contiguous() for i, r in enumerate(recs)})
    with atomic_path(log.dir / IMAGES, ".safetensors") as tmp:
        save_file(tensors, str(tmp))
    models = [
        {"name": r.name, "family": r.family, "t": r.t, "timesteps": r.timesteps, "native_size": r.native_size}
        for r in recs
    ]
    write_text_atomic(log.dir / RESULT, json.dumps({"rows": rows, "models": models, "size": size}, default=float))
    return FINISHED


def _samples(ckpt, name: str, req: CompareRequest, log: RunWriter, stop: threading.Event):
    """N jets from one model, a batch at a time (progress, and a stop between batches); labels when mixed."""
    from core.training.sampling import sample_images

    label = "mixed" if ckpt.task.conditional else None
    steps = ckpt.task.default_sampler_steps
    parts = []
    for start in range(0, req.n, SAMPLE_BATCH):
        if stop.is_set():
            return None, None
        k = min(SAMPLE_BATCH, req.n - start)
        parts.append(sample_images(ckpt, k, label=label, seed=req.seed + start, sampler_steps=steps))
        log.event("progress", done=start + k, total=req.n, model=name)
    labels = torch.cat([(torch.arange(len(p)) % 2).long() for p in parts]) if label else None
    return torch.cat(parts), labels


def _generate(req: CompareRequest, log: RunWriter, stop: threading.Event) -> str:
    from core.atomic import write_text_atomic
    from core.data.readers import load_tensors
    from core.data.transforms import downsample
    from core.jobs.sampling import measure_sets, report_body
    from core.training.checkpoint import load_checkpoint

    out = {"models": [], "reports": {}}
    for k, (name, path) in enumerate(req.models):
        log.phase(f"sampling {req.n} jets from {name} ({k + 1} of {len(req.models)})")
        ckpt = load_checkpoint(path)
        x, y = _samples(ckpt, name, req, log, stop)
        if x is None:
            return STOPPED
        native = int(x.shape[-1])
        if req.size is not None and req.size != native:
            x = downsample(x, req.size)  # energy conserving
        n_real = max(400, 2 * req.n)
        log.phase(f"preparing {n_real} real jets for {name}")
        real, y_real = load_tensors(req.data, size=int(x.shape[-1]), max_jets=n_real, seed=1, name=req.data_name)
        log.phase(f"computing set distances (FID, W1) of {name} on {len(x)} jets")
        report = measure_sets(real, x, y_real, y, seed=req.seed, progress=log.phase)
        out["models"].append(
            {"name": name, "family": ckpt.task.family, "native_size": native, "size": int(x.shape[-1])}
        )
        out["reports"][name] = report_body(report)
        log.step = k + 1
    log.phase("saving")
    write_text_atomic(log.dir / GENERATION, json.dumps(out, default=str))
    return FINISHED


def _work(body: dict, log: RunWriter, stop: threading.Event) -> tuple[str, str]:
    req = CompareRequest.from_dict(body)
    log.total = len(req.models)
    log.status(RUNNING, f"{req.what}: {len(req.models)} model(s)")
    state = (_reconstruct if req.what == RECONSTRUCT else _generate)(req, log, stop)
    return state, f"{state}: {log.step} of {len(req.models)} model(s)"


# ---------------------------------------------------------------- reading the results (the page)


@dataclass
class Reconstructions:
    """A finished reconstruct run: the jets (N, 3, s, s) GeV at the scoring size, their labels, each model's
    reconstruction, the table rows and each model's numbers (name, family, t, timesteps, native size)."""

    real: torch.Tensor
    labels: torch.Tensor
    recs: list[torch.Tensor]
    rows: list[dict]
    models: list[dict]


def load_reconstructions(run_dir: str | os.PathLike) -> Reconstructions | None:
    """What ``reconstruct`` wrote, or None while it has not (yet)."""
    from safetensors.torch import load_file

    root = Path(run_dir)
    if not (root / RESULT).exists() or not (root / IMAGES).exists():
        return None
    body = json.loads((root / RESULT).read_text())
    t = load_file(str(root / IMAGES))
    recs = [t[f"model_{i}"] for i in range(len(body["models"]))]
    return Reconstructions(t["real"], t["labels"], recs, body["rows"], body["models"])


def load_generation(run_dir: str | os.PathLike) -> dict | None:
    """What ``generate`` wrote: {"models": [{name, family, native_size, size}], "reports": {name: report body}}
    (``size``: the resolution the model was measured at)."""
    path = Path(run_dir) / GENERATION
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> int:
    from core.jobs.worker import run_worker

    return run_worker("python -m core.jobs.compare", "compare", _work, argv)


if __name__ == "__main__":
    sys.exit(main())
