"""Sampling as a background job: generated jets batch by batch, then one recorded reverse process.

Events are ``SampleProgress`` (after each batch) and one final ``SampleResult``; a stop between batches
ends the job with what was generated so far discarded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from core.errors import JetInputError
from core.jobs.runner import EventFactory
from core.requests import SampleRequest


@dataclass
class SampleProgress:
    done: int
    total: int


@dataclass
class SampleResult:
    """Samples (N, 3, H, W) GeV with their labels (None: unconditional) and the recorded reverse process."""

    samples: torch.Tensor
    labels: torch.Tensor | None
    trajectory: object | None
    request: SampleRequest
    info: dict = field(default_factory=dict)


def sampling_events(req: SampleRequest, device: str = "cpu") -> EventFactory:
    """The job body: load the checkpoint, sample in batches (seed + batch offset), record a short trajectory."""
    if req.n < 1:
        raise JetInputError(f"number of samples: must be at least 1, got {req.n}")

    def make(stop):
        from core.training.checkpoint import load_checkpoint
        from core.training.sampling import labels_for, sample_images, sample_trajectory
        from core.training.task import describe

        ckpt = load_checkpoint(os.fspath(req.checkpoint), device=device)
        labels = labels_for(ckpt, req.label, req.n)
        parts = []
        for start in range(0, req.n, req.batch_size):
            if stop.is_set():
                return
            k = min(req.batch_size, req.n - start)
            parts.append(
                sample_images(
                    ckpt, k, req.sampler, req.sampler_steps, req.label, req.guidance, req.seed + start, device,
                    shots=req.shots,
                )
            )  # fmt: skip
            yield SampleProgress(start + k, req.n)
        samples = torch.cat(parts)
        if labels is not None and req.label == "mixed":
            labels = torch.cat([(torch.arange(p.shape[0]) % 2).long() for p in parts])
        traj = None
        if req.trajectory_n > 0 and not stop.is_set():
            traj = sample_trajectory(
                ckpt, min(req.trajectory_n, req.n), req.sampler, req.sampler_steps, req.label, req.guidance, req.seed,
                device, shots=req.shots,
            )  # fmt: skip
        info = {**describe(ckpt.task), "checkpoint": str(ckpt.path), "step": ckpt.step}
        info["alpha_bar"] = ckpt.task.signal_levels()
        yield SampleResult(samples, labels, traj, req, info)

    return make
