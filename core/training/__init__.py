"""One training loop for every model family, checkpoints, and sampling from checkpoints.

Public API:
    Task, Trajectory                      core.training.task      the model-family contract
    TASK_BUILDERS, build_task             core.training.registry  families by name
    TrainConfig, TrainEvent, Trainer, train   core.training.loop
    save_checkpoint, load_checkpoint, Checkpoint   core.training.checkpoint
    sample_images, sample_trajectory      core.training.sampling
    resolve_device                        core.training.device
"""

from core.training.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from core.training.device import resolve_device
from core.training.loop import TrainConfig, Trainer, TrainEvent, train
from core.training.registry import TASK_BUILDERS, build_task
from core.training.sampling import sample_images, sample_trajectory
from core.training.task import Task, Trajectory

__all__ = [
    "Checkpoint",
    "TASK_BUILDERS",
    "Task",
    "TrainConfig",
    "TrainEvent",
    "Trainer",
    "Trajectory",
    "build_task",
    "load_checkpoint",
    "resolve_device",
    "sample_images",
    "sample_trajectory",
    "save_checkpoint",
    "train",
]
