"""Background jobs (training, sampling) for the dashboard and anything else that must not block."""

from core.jobs.runner import (
    DONE,
    FAILED,
    FINISHED,
    RUNNING,
    STOPPED,
    TIMED_OUT,
    Job,
    JobLimitError,
    JobLimits,
    JobManager,
)

__all__ = [
    "DONE",
    "FAILED",
    "FINISHED",
    "RUNNING",
    "STOPPED",
    "TIMED_OUT",
    "Job",
    "JobLimitError",
    "JobLimits",
    "JobManager",
]
