"""Jobs: long work (training, sampling) in its own process, writing a run directory that pages read."""

from core.jobs.rundir import ENDED, FAILED, FINISHED, KILLED, RUNNING, STOPPED, TIME_LIMIT, RunStatus, read_status
from core.jobs.runner import Job, JobLimitError, JobLimits, JobTable

__all__ = [
    "ENDED",
    "FAILED",
    "FINISHED",
    "KILLED",
    "RUNNING",
    "STOPPED",
    "TIME_LIMIT",
    "Job",
    "JobLimitError",
    "JobLimits",
    "JobTable",
    "RunStatus",
    "read_status",
]
