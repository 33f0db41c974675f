"""Background jobs: run an event stream (training, sampling) in a thread so a page never blocks on it.

The dashboard starts one job per browser session and reads the recorded events on every rerun;
a hosted demo caps how many jobs run at once and how long each may run on a CPU. Nothing here
knows about streamlit: a job is a thread consuming an iterator of events, and any reader (a page,
a test) looks at ``Job.events`` and ``Job.status``.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from core.errors import JetInputError

RUNNING, DONE, STOPPED, FAILED, TIMED_OUT = "running", "done", "stopped", "failed", "timed out"
FINISHED = (DONE, STOPPED, FAILED, TIMED_OUT)

EventFactory = Callable[[threading.Event], Iterable[Any]]


class JobLimitError(JetInputError):
    """A job could not start because a limit (one per session, global count) is reached."""


def _env_number(name: str, default: float | None, cast: type = int) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError as err:
        raise JetInputError(f"environment variable {name}={raw!r}: not a number") from err
    return None if value <= 0 else value


@dataclass(frozen=True)
class JobLimits:
    """How many jobs may run at once, and the steps and seconds one job may take (None: no limit)."""

    max_concurrent: int = 2
    max_steps: int | None = 2000
    max_seconds: float | None = 600.0

    @classmethod
    def from_env(cls, on_gpu: bool = False) -> JobLimits:
        """Read JETLAB_MAX_JOBS, JETLAB_MAX_STEPS, JETLAB_MAX_SECONDS (0 lifts a limit).

        Step and time limits apply on the CPU only unless set explicitly, so a GPU workstation trains freely.
        """
        steps_default = None if on_gpu else cls.max_steps
        seconds_default = None if on_gpu else cls.max_seconds
        return cls(
            max_concurrent=int(_env_number("JETLAB_MAX_JOBS", cls.max_concurrent) or 10**6),
            max_steps=_env_number("JETLAB_MAX_STEPS", steps_default),
            max_seconds=_env_number("JETLAB_MAX_SECONDS", seconds_default, float),
        )

    def clamp_steps(self, steps: int) -> int:
        """The number of steps a job may actually run."""
        return int(steps if self.max_steps is None else min(int(steps), int(self.max_steps)))


@dataclass
class Job:
    """One background run: its events so far, its state, and the handle to stop it."""

    owner: str
    kind: str
    max_seconds: float | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    status: str = RUNNING
    error: str | None = None
    events: list[Any] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def elapsed(self) -> float:
        """Seconds since the start, frozen when the job ends."""
        return (self.finished or time.monotonic()) - self.started

    @property
    def last(self) -> Any:
        return self.events[-1] if self.events else None

    def stop(self) -> None:
        """Ask the job to stop after its current event; the thread ends soon after."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (tests and the CLI use this); True if it ended."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def _run(self, make_events: EventFactory) -> None:
        stream: Iterator[Any] | None = None
        try:
            stream = iter(make_events(self._stop))
            for event in stream:
                self.events.append(event)
                if self._stop.is_set():
                    self.status = STOPPED
                    break
                if self.max_seconds is not None and self.elapsed > self.max_seconds:
                    self.status = TIMED_OUT
                    break
            else:
                self.status = STOPPED if self._stop.is_set() else DONE
        except Exception as err:  # a failed job must not take the page (or other visitors) down
            self.status = FAILED
            self.error = f"{type(err).__name__}: {err}"
            self.meta["traceback"] = traceback.format_exc()
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # closing a generator that failed: nothing more to report
                    pass
            self.finished = time.monotonic()


class JobManager:
    """Start and find jobs: one per owner (a browser session), at most ``limits.max_concurrent`` running."""

    def __init__(self, limits: JobLimits | None = None) -> None:
        self.limits = limits or JobLimits()
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def running_count(self) -> int:
        with self._lock:
            return sum(job.running for job in self._jobs.values())

    def get(self, owner: str) -> Job | None:
        """The owner's latest job (running or finished), or None."""
        with self._lock:
            return self._jobs.get(owner)

    def start(self, owner: str, kind: str, make_events: EventFactory, meta: dict[str, Any] | None = None) -> Job:
        """Start ``make_events(stop_event)`` in a daemon thread as the owner's job.

        Raises JobLimitError if the owner already has a running job or the global limit is reached.
        """
        with self._lock:
            current = self._jobs.get(owner)
            if current is not None and current.running:
                raise JobLimitError(f"job {current.id}: this session already runs a {current.kind} job; stop it first")
            running = sum(job.running for job in self._jobs.values())
            if running >= self.limits.max_concurrent:
                raise JobLimitError(
                    f"server busy: {running} of {self.limits.max_concurrent} background jobs are running; try again soon"
                )
            job = Job(owner=owner, kind=kind, max_seconds=self.limits.max_seconds, meta=dict(meta or {}))
            self._jobs[owner] = job
            job._thread = threading.Thread(
                target=job._run, args=(make_events,), name=f"jetlab-{kind}-{job.id}", daemon=True
            )
            job._thread.start()
        return job

    def stop(self, owner: str) -> None:
        job = self.get(owner)
        if job is not None:
            job.stop()

    def forget(self, owner: str) -> None:
        """Drop a finished job (its events and result) to free memory."""
        with self._lock:
            job = self._jobs.get(owner)
            if job is not None and not job.running:
                del self._jobs[owner]
