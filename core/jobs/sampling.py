"""Sampling as a job: a worker process over the command line's sampling functions, writing a run directory.

``python -m core.jobs.sampling --out RUN_DIR`` reads ``RUN_DIR/request.json`` (a ``SampleRequest``), samples
batch by batch with ``core.training.sampling.sample_images`` (as ``python -m core sample`` does), logging a
progress event after each batch, records a short reverse process, and writes ``samples.h5`` (CMS layout),
``trajectory.safetensors`` and ``info.json``. SIGTERM / SIGINT stop it between batches (status "stopped").
``load_result`` reads it back for the Generate page.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from core.errors import JetInputError
from core.jobs.rundir import FINISHED, REQUEST, RUNNING, STOPPED, RunWriter
from core.requests import SampleRequest

SAMPLES, TRAJECTORY, INFO, REPORT = "samples.h5", "trajectory.safetensors", "info.json", "report.json"


def request_of(body: dict) -> tuple[SampleRequest, dict]:
    """The ``SampleRequest`` in a run's request.json, and the measurement settings beside it (data, n_real)."""
    names = {f.name for f in fields(SampleRequest)}
    req = SampleRequest(**{k: v for k, v in body.items() if k in names})
    return req, {"data": body.get("data"), "n_real": int(body.get("n_real") or 0)}


@dataclass
class SampleResult:
    """Samples (N, 3, H, W) GeV with their labels (None: unconditional) and the recorded reverse process."""

    samples: torch.Tensor
    labels: torch.Tensor | None
    trajectory: object | None
    request: SampleRequest
    info: dict = field(default_factory=dict)


def sample_argv(req: SampleRequest, threads: int | None = None) -> list[str]:
    """The worker's module and arguments (the job table adds ``--out RUN_DIR``)."""
    if req.n < 1:
        raise JetInputError(f"number of samples: must be at least 1, got {req.n}")
    return ["core.jobs.sampling", *(["--threads", str(threads)] if threads else [])]


def _sample(req: SampleRequest, measure: dict, log: RunWriter, stop: threading.Event) -> str:
    from core.data.layout import UNLABELLED
    from core.data.writers import write_cms
    from core.training.checkpoint import load_checkpoint
    from core.training.sampling import check_readout, labels_for, sample_images, sample_trajectory
    from core.training.task import describe

    log.phase("loading the checkpoint")
    ckpt = load_checkpoint(os.fspath(req.checkpoint), device=req.device)
    check_readout(ckpt, req.shots)
    labels = labels_for(ckpt, req.label, req.n)
    parts = []
    log.phase(f"sampling {req.n} jets")
    for start in range(0, req.n, req.batch_size):
        if stop.is_set():
            return STOPPED
        k = min(req.batch_size, req.n - start)
        args = (ckpt, k, req.sampler, req.sampler_steps, req.label, req.guidance, req.seed + start, req.device)
        options = {"shots": req.shots, "guidance_from": req.guidance_from, "logsnr_floor": req.logsnr_floor}
        parts.append(sample_images(*args, **options))
        log.step = start + k
        log.event("progress", done=start + k, total=req.n)
    samples = torch.cat(parts)
    if labels is not None and req.label == "mixed":
        labels = torch.cat([(torch.arange(p.shape[0]) % 2).long() for p in parts])
    if req.trajectory_n > 0 and not stop.is_set():
        log.phase("recording the reverse process")
        n = min(req.trajectory_n, req.n)
        args = (ckpt, n, req.sampler, req.sampler_steps, req.label, req.guidance, req.seed, req.device)
        traj = sample_trajectory(*args, shots=req.shots, guidance_from=req.guidance_from, logsnr_floor=req.logsnr_floor)
        _save_trajectory(log.dir / TRAJECTORY, traj)
    log.phase("saving")
    info = {**describe(ckpt.task), "checkpoint": str(ckpt.path), "step": ckpt.step}
    levels = ckpt.task.signal_levels()
    info["alpha_bar"] = None if levels is None else [float(v) for v in levels]
    y = labels if labels is not None else torch.full((req.n,), UNLABELLED, dtype=torch.long)
    attrs = {"checkpoint": str(ckpt.path), "sampler": str(req.sampler), "seed": req.seed, "label": str(req.label)}
    attrs["command"] = req.command()
    write_cms(log.dir / SAMPLES, samples.permute(0, 2, 3, 1).numpy(), y.numpy(), attrs=attrs)
    from core.atomic import write_text_atomic

    write_text_atomic(log.dir / INFO, json.dumps({**info, "conditional_labels": labels is not None}, default=str))
    if measure["n_real"] > 0 and not stop.is_set():
        _measure(measure, samples, labels, log)
    return FINISHED


def _measure(measure: dict, samples: torch.Tensor, labels: torch.Tensor | None, log: RunWriter) -> None:
    """The set distances of the samples to real jets, beside the real-vs-real floor, into report.json."""
    from core.atomic import write_text_atomic
    from core.data.readers import load_tensors

    log.phase(f"preparing {measure['n_real']} real jets")
    real, y_real = load_tensors(measure["data"], size=int(samples.shape[-1]), max_jets=measure["n_real"], seed=1)
    log.phase(f"computing set distances (FID, W1) on {len(samples)} jets")
    report = measure_sets(real, samples, y_real, labels, seed=0, progress=log.phase)
    write_text_atomic(log.dir / REPORT, json.dumps(report_body(report), default=str))


def measure_sets(real, samples, y_real, labels, seed: int = 0, progress=None):
    """``evaluate_sets`` with the shipped jet classifier's features when it is there and the images are at
    least 8 x 8, else (or when the classifier cannot take them) without it."""
    from core.metrics.report import evaluate_sets

    shipped = (Path(__file__).resolve().parents[2] / "checkpoints" / "jet_classifier").is_dir()
    classifier = None if shipped and samples.shape[-1] >= 8 else False
    try:
        return evaluate_sets(real, samples, y_real, labels, classifier=classifier, seed=seed, progress=progress)
    except Exception:
        if classifier is not None:
            raise
        return evaluate_sets(real, samples, y_real, labels, classifier=False, seed=seed, progress=progress)


def report_body(report) -> dict:
    """An ``EvaluationReport`` as JSON-ready data (rows, info, observables; its details stay out)."""
    return {
        "rows": [asdict(r) for r in report.rows],
        "info": report.info,
        "observables_real": {k: list(map(float, v)) for k, v in report.observables_real.items()},
        "observables_generated": {k: list(map(float, v)) for k, v in report.observables_generated.items()},
    }


def report_of(body: dict):
    """The ``EvaluationReport`` that ``report_body`` wrote."""
    import numpy as np

    from core.metrics.report import EvaluationReport, MetricRow

    return EvaluationReport(
        rows=[MetricRow(**r) for r in body["rows"]],
        details={},
        info=body["info"],
        observables_real={k: np.asarray(v) for k, v in body["observables_real"].items()},
        observables_generated={k: np.asarray(v) for k, v in body["observables_generated"].items()},
    )


def load_report(run_dir: str | os.PathLike):
    """The sampling run's ``EvaluationReport`` (rows, info, observables), or None when it was not measured."""
    path = Path(run_dir) / REPORT
    return report_of(json.loads(path.read_text())) if path.exists() else None


def _save_trajectory(path: Path, traj) -> None:
    from safetensors.torch import save_file

    from core.atomic import atomic_path

    # Copies: a family may hand back one tensor for both (safetensors refuses shared storage).
    tensors = {
        "x0": traj.x0.float().contiguous().clone(),
        "xt": traj.xt.float().contiguous().clone(),
        "t": torch.tensor(list(traj.t), dtype=torch.long),
    }
    with atomic_path(path, ".safetensors") as tmp:
        save_file(tensors, str(tmp))


def load_result(run_dir: str | os.PathLike) -> SampleResult | None:
    """A finished sampling run's samples, labels, reverse process and info; None while it has none."""
    from core.data.readers import open_jets
    from core.training.task import Trajectory

    root = Path(run_dir)
    if not (root / SAMPLES).exists() or not (root / INFO).exists():
        return None
    info = json.loads((root / INFO).read_text())
    src = open_jets(root / SAMPLES)
    try:
        x = torch.from_numpy(src.images(list(range(len(src))))).permute(0, 3, 1, 2).float().contiguous()
        y = torch.as_tensor(src.y).long()
    finally:
        src.close()
    traj = None
    if (root / TRAJECTORY).exists():
        from safetensors.torch import load_file

        t = load_file(str(root / TRAJECTORY))
        traj = Trajectory(t=t["t"].tolist(), xt=t["xt"], x0=t["x0"], final=t["x0"][-1])
    req, _ = request_of(json.loads((root / REQUEST).read_text()).get("request") or {})
    labels = y if info.get("conditional_labels") else None
    return SampleResult(x, labels, traj, req, info)


def _work(body: dict, log: RunWriter, stop: threading.Event) -> tuple[str, str]:
    from core.training.device import resolve_device

    req, measure = request_of(body)
    req.device = str(resolve_device(req.device))
    log.total = req.n
    log.status(RUNNING, "sampling")
    state = _sample(req, measure, log, stop)
    return state, f"{state}: {log.step} of {req.n} jets"


def main(argv: list[str] | None = None) -> int:
    """The worker: sample what ``--out``'s request.json asks, logging into that run directory."""
    from core.jobs.worker import run_worker

    return run_worker("python -m core.jobs.sampling", "sample", _work, argv)


if __name__ == "__main__":
    sys.exit(main())
