"""Several processes (``torchrun``): process group set-up from RANK / WORLD_SIZE, and who does what.

Each process trains on its shard of every global batch; DistributedDataParallel averages gradients,
so the replicas stay identical; only rank 0 writes checkpoints and computes metrics and previews.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def env_info() -> DistInfo:
    """The rank and world size torchrun put in the environment (1 process when absent)."""
    return DistInfo(
        rank=int(os.environ.get("RANK", 0)),
        world_size=int(os.environ.get("WORLD_SIZE", 1)),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group when WORLD_SIZE > 1: NCCL on CUDA, gloo otherwise. Idempotent."""
    info = env_info()
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(info.local_rank)
        dist.init_process_group(backend=backend)
    if dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), info.local_rank)
    return info


def local_device(device: torch.device, info: DistInfo) -> torch.device:
    """One GPU per process: cuda -> cuda:LOCAL_RANK under torchrun."""
    if device.type == "cuda" and info.enabled and device.index is None:
        return torch.device("cuda", info.local_rank)
    return device


def mean_across(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """All-reduce mean of a scalar over the processes (identity with one process)."""
    if not info.enabled:
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / info.world_size


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
