"""The server's job table: every long piece of work runs in its own process, limited per visitor and in all.

A job is a child process (``python -m core train ...`` or a worker module over the same functions) writing
into its run directory (``core.jobs.rundir``). The table only starts, counts, signals and reaps processes:
it holds no data and no model, and pages read the run directory, never the table's memory. Limits are
checked before anything is prepared, so a refused click costs nothing. A visitor's page calls ``touch``
while it is open; a job whose visitor has been gone longer than ``abandon_seconds`` is sent SIGTERM, which
makes it save its checkpoint and exit. A new table (a restarted server) given the runs folder counts the jobs
an earlier server left running (``adopt_running``), so the limits and the grace time hold across restarts.
Nothing here knows about streamlit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.atomic import write_text_atomic
from core.errors import JetInputError
from core.jobs.rundir import ENDED, REQUEST, RUNNING, STATUS, RunWriter, pid_alive, process_start, same_process

ROOT = Path(__file__).resolve().parents[2]


class JobLimitError(JetInputError):
    """A job could not start because a limit (per visitor, or in all) is reached."""


def _env_number(name: str, default: float | None, cast: type = int) -> float | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = cast(raw)
    except ValueError as err:
        raise JetInputError(f"environment variable {name}={raw!r}: not a number") from err
    return None if value <= 0 else value


def cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


JOB_NICE = 5  # jobs are batch work: page views of every visitor come first (JETLAB_JOB_NICE overrides)


def niced() -> list[str]:
    """The ``nice`` prefix of a job's command line: the server answers pages at its own priority, jobs below it.

    A job never waits for the server (it only writes its run directory), but a page view waits for the CPU
    a job holds; on a small machine that is what made page reruns slow while jobs ran. ``nice`` execs, so
    the job keeps the pid the table records."""
    level = job_nice()
    nice = shutil.which("nice")
    return [nice, "-n", str(level)] if level > 0 and nice else []


def job_nice() -> int:
    """The niceness jobs run at (``JETLAB_JOB_NICE``, default ``JOB_NICE``; 0: the server's own)."""
    return max(0, min(19, int(_env_number("JETLAB_JOB_NICE", JOB_NICE) or 0)))


def spawn_job_process(command: list[str], **popen: object) -> subprocess.Popen:
    """Start ``command`` as jobs start: at the jobs' niceness, in a session of its own (so that a stop reaches its
    children). Its session's scheduling group is the job table's to set (``JobTable`` and ``set_session_nice``)."""
    return subprocess.Popen([*niced(), *command], start_new_session=True, **popen)  # type: ignore[arg-type]


def set_session_nice(pid: int, level: int) -> bool:
    """Set the niceness of the scheduling group of the session ``pid`` leads (a job: it starts its own); True
    where applied.

    Why ``nice`` alone is not enough: where the kernel schedules sessions as groups (``sched_autogroup``, on by
    default in most distribution and VM kernels: ``/proc/sys/kernel/sched_autogroup_enabled``), a process's
    nice ranks it only within its session. A job alone in its own session then competes with the server's
    session as an equal whatever its nice: measured here, two nice-19 busy loops in their own sessions slowed a
    third program 1.3x, the same loops with their sessions at nice 19 1.08x. The session's nice is
    ``/proc/<pid>/autogroup``; without it (no autogroup, or a container's cgroup) there is nothing to do and
    ``nice`` does the work."""
    group = Path(f"/proc/{pid}/autogroup")
    if not group.exists():
        return False
    try:
        group.write_text(str(int(level)))
    except OSError:
        # Not permitted, rate-limited (the kernel refuses an unprivileged writer more often than about every 0.1 s;
        # the table retries at its next balance) or already gone: the job runs on at its process nice.
        return False
    return True


def session_nice_for(jobs: int, threads_per_job: int, cores: int) -> int:
    """The niceness of the jobs' session groups: the jobs' niceness once their threads fill every core (page views
    must come first then), 0 while a core is left free (the server's page views take that one, and a lowered job
    would only lose CPU to bursts from other programs on the machine)."""
    return job_nice() if jobs > 0 and jobs * max(1, threads_per_job) >= cores else 0


@dataclass(frozen=True)
class JobLimits:
    """Jobs at once (in all, per visitor: every kind counts), steps and seconds per job (None: no limit),
    and how long a job outlives its visitor's last sign of life."""

    max_concurrent: int = 2
    max_per_visitor: int = 1
    max_steps: int | None = 2000
    max_seconds: float | None = 600.0
    abandon_seconds: float = 600.0
    keep_runs: int | None = 50  # ended runs kept per kind of the pages' answer-only jobs (core.jobs.prune)

    @classmethod
    def from_env(cls, on_gpu: bool = False) -> JobLimits:
        """JETLAB_MAX_JOBS, JETLAB_MAX_JOBS_PER_VISITOR, JETLAB_MAX_STEPS, JETLAB_MAX_SECONDS (0 lifts a limit),
        JETLAB_ABANDON_SECONDS, JETLAB_KEEP_RUNS. Step and time limits apply on the CPU only unless set explicitly."""
        steps_default = None if on_gpu else cls.max_steps
        seconds_default = None if on_gpu else cls.max_seconds
        return cls(
            max_concurrent=int(_env_number("JETLAB_MAX_JOBS", cls.max_concurrent) or 10**6),
            max_per_visitor=int(_env_number("JETLAB_MAX_JOBS_PER_VISITOR", cls.max_per_visitor) or 10**6),
            max_steps=_env_number("JETLAB_MAX_STEPS", steps_default),
            max_seconds=_env_number("JETLAB_MAX_SECONDS", seconds_default, float),
            abandon_seconds=float(_env_number("JETLAB_ABANDON_SECONDS", cls.abandon_seconds, float) or 10**9),
            keep_runs=_env_number("JETLAB_KEEP_RUNS", cls.keep_runs),
        )

    def clamp_steps(self, steps: int) -> int:
        """The number of steps a job may actually run."""
        return int(steps if self.max_steps is None else min(int(steps), int(self.max_steps)))


class AdoptedProcess:
    """A job process an earlier server started (not this server's child): watched and signalled by its pid,
    which counts only while the process that holds it started when the run's status says (no pid reuse)."""

    def __init__(self, pid: int, start: int | None) -> None:
        self.pid, self.start = int(pid), start

    def poll(self) -> int | None:
        """None while it runs, else 0 (the exit status of another's child is not ours to know)."""
        return None if same_process(self.pid, self.start) else 0

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"pid {self.pid}", timeout or 0)
            time.sleep(0.05)
        return 0


@dataclass
class Job:
    """One running child process (or one adopted from an earlier server) and the run directory it writes."""

    run_id: str
    run_dir: Path
    owner: str
    kind: str
    proc: subprocess.Popen | AdoptedProcess
    started: float = field(default_factory=time.monotonic)
    abandoned: bool = False
    session_nice: int | None = None  # the niceness last given to its session's scheduling group

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        """Alive and not yet done: a job that wrote its final status is over, even while its process exits."""
        if self.proc.poll() is not None:
            return False
        try:
            state = json.loads((self.run_dir / STATUS).read_text()).get("state")
        except (OSError, ValueError):
            return True
        return state not in ENDED

    def stop(self) -> None:
        """SIGTERM: the job saves its checkpoint and exits (its status says 'stopped at step k')."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float | None = None) -> bool:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True


def new_run_id(name: str) -> str:
    """A readable, unguessable run id: <name>-<yyyymmdd-hhmmss>-<8 hex>."""
    return f"{name}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:8]}"


class JobTable:
    """Start, count, stop and reap the server's jobs; one table per server process."""

    def __init__(
        self,
        limits: JobLimits | None = None,
        cores: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        watch_every: float | None = 5.0,
        runs_dir: str | os.PathLike | None = None,
    ) -> None:
        self.limits = limits or JobLimits()
        self.cores = cores or cpu_cores()
        self._clock = clock
        self._jobs: dict[str, Job] = {}
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        if runs_dir is not None:
            self.adopt_running(runs_dir)
        if watch_every:
            threading.Thread(target=self._watch, args=(watch_every,), name="jetlab-jobs", daemon=True).start()

    def threads_per_job(self) -> int:
        """Torch threads for one job: the cores shared by as many jobs as may run at once."""
        return max(1, self.cores // max(1, self.limits.max_concurrent))

    def touch(self, owner: str) -> None:
        """The visitor is still there (every page run calls this)."""
        with self._lock:
            self._seen[owner] = self._clock()

    def running(self, owner: str | None = None) -> list[Job]:
        with self._lock:
            self._reap_locked()
            return [j for j in self._jobs.values() if owner is None or j.owner == owner]

    def running_count(self) -> int:
        return len(self.running())

    def get(self, run_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(run_id)

    def check(self, owner: str) -> None:
        """Raise JobLimitError if ``owner`` may not start a job now (called before any data is prepared)."""
        with self._lock:
            self._check_locked(owner)

    def _check_locked(self, owner: str) -> None:
        self._reap_locked()
        mine = [j for j in self._jobs.values() if j.owner == owner]
        if len(mine) >= self.limits.max_per_visitor:
            raise JobLimitError(
                f"you already run {len(mine)} job(s) ({', '.join(j.kind for j in mine)}); "
                f"{self.limits.max_per_visitor} at a time per visitor: stop it or wait for it to end"
            )
        if len(self._jobs) >= self.limits.max_concurrent:
            raise JobLimitError(
                f"server busy: {len(self._jobs)} of {self.limits.max_concurrent} jobs are running; try again soon"
            )

    def start(self, owner: str, kind: str, argv: list[str], run_dir: Path, request: dict | None = None) -> Job:
        """Spawn ``python -m <argv...> --out <run_dir>`` as ``owner``'s job, after the limits allow it.

        ``argv`` starts with the module (``core`` for the command line). The request is written to the run
        directory first, then the process starts with ``threads_per_job`` torch threads.
        """
        run_dir = Path(run_dir)
        with self._lock:
            self._check_locked(owner)
            run_dir.mkdir(parents=True, exist_ok=False)
            command = [sys.executable, "-m", *argv, "--out", str(run_dir)]
            body = {"kind": kind, "argv": command[2:], "owner": owner, "created": time.time(), "request": request}
            write_text_atomic(run_dir / REQUEST, json.dumps(body, indent=1))
            threads = str(self.threads_per_job())
            env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads, JETLAB_JOB="1")
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
            with open(run_dir / "log.txt", "ab") as out:
                proc = spawn_job_process(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            writer = RunWriter(run_dir, kind)
            if not (run_dir / STATUS).exists():
                body = {"state": RUNNING, "kind": kind, "pid": proc.pid, "pid_start": process_start(proc.pid)}
                body.update(step=0, message="preparing data")
                write_text_atomic(run_dir / STATUS, json.dumps(body))
            writer.phase("preparing data")
            job = Job(run_id=run_dir.name, run_dir=run_dir, owner=owner, kind=kind, proc=proc, started=self._clock())
            self._jobs[job.run_id] = job
            self._seen[owner] = self._clock()
            self._balance_locked()
        self._prune(run_dir.parent, kind)
        return job

    def _prune(self, runs_dir: Path, kind: str) -> None:
        """Keep the runs folder bounded: the ended runs of this kind beyond ``limits.keep_runs`` go (never
        training runs, never a running one; see ``core.jobs.prune``). A failure here never fails the job."""
        from core.jobs.prune import prune_runs

        try:
            prune_runs(runs_dir, kind, self.limits.keep_runs)
        except OSError:
            pass

    def adopt_running(self, runs_dir: str | os.PathLike) -> list[Job]:
        """Count the jobs an earlier server left running in ``runs_dir`` (this server restarted under them).

        A run is one of them when its request names an owner (a server started it; a command-line run names
        none), its status says running, and its pid is alive, started when the status says and runs a command
        naming the run directory (a reused pid fails these). Their visitors get the grace time from now: back
        on the page (the run id is in its URL) they adopt the job, else it is stopped as abandoned.
        """
        root, found = Path(runs_dir), []
        if not root.is_dir():
            return found
        for run_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            job = _running_job(run_dir, self._clock())
            if job is None:
                continue
            with self._lock:
                if job.run_id not in self._jobs:
                    self._jobs[job.run_id] = job
                    self._seen.setdefault(job.owner, self._clock())
                    found.append(job)
        return found

    def adopt(self, run_id: str, owner: str) -> None:
        """A visitor who reloaded (a new session) and came back by the run's URL owns its job again."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is not None and job.owner != owner:
                job.owner = owner
            self._seen[owner] = self._clock()

    def stop(self, run_id: str, run_dir: Path | None = None) -> bool:
        """Ask a job to save and stop; a run of an earlier server is signalled through its status' pid."""
        job = self.get(run_id)
        if job is not None:
            job.stop()
            return True
        return signal_run(run_dir) if run_dir is not None else False

    def reap(self) -> list[Job]:
        """Forget ended jobs; stop the ones whose visitor is gone. Returns the jobs stopped as abandoned."""
        with self._lock:
            return self._reap_locked()

    def _reap_locked(self) -> list[Job]:
        now, stopped = self._clock(), []
        for run_id, job in list(self._jobs.items()):
            if not job.running:
                del self._jobs[run_id]
            elif not job.abandoned and now - self._seen.get(job.owner, job.started) > self.limits.abandon_seconds:
                job.abandoned = True
                RunWriter(job.run_dir, job.kind).phase("stopping: the visitor has been gone too long")
                job.stop()
                stopped.append(job)
        live = {j.owner for j in self._jobs.values()}
        for owner, seen in list(self._seen.items()):
            if owner not in live and now - seen > self.limits.abandon_seconds:
                del self._seen[owner]
        self._balance_locked()
        return stopped

    def _balance_locked(self) -> None:
        """Give every running job's session group the niceness ``session_nice_for`` asks for now (on each start,
        and as ended jobs are reaped: every page run and every few seconds)."""
        level = session_nice_for(len(self._jobs), self.threads_per_job(), self.cores)
        for job in self._jobs.values():
            if job.session_nice != level and set_session_nice(job.pid, level):
                job.session_nice = level

    def _watch(self, every: float) -> None:
        while True:
            time.sleep(every)
            try:
                self.reap()
            except Exception:  # the watcher must outlive any one bad run directory
                pass


def _read(path: Path) -> dict:
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _running_job(run_dir: Path, now: float) -> Job | None:
    """The job of an earlier server still running in ``run_dir``, or None (see ``JobTable.adopt_running``)."""
    status, request = _read(run_dir / STATUS), _read(run_dir / REQUEST)
    owner = request.get("owner")
    if status.get("state") != RUNNING or not owner or not _runs_in(status.get("pid"), run_dir):
        return None
    try:
        pid, start = int(status["pid"]), status.get("pid_start")
    except (KeyError, TypeError, ValueError):
        return None
    if not same_process(pid, start):
        return None
    proc = AdoptedProcess(pid, start if start is not None else process_start(pid))
    kind = str(request.get("kind") or status.get("kind") or "train")
    return Job(run_id=run_dir.name, run_dir=run_dir, owner=str(owner), kind=kind, proc=proc, started=now)


def _runs_in(pid: object, run_dir: Path) -> bool:
    """True when process ``pid`` is alive and one of its arguments is the run directory (``--out RUN_DIR``;
    compared by its unique name, so a relative and an absolute path agree)."""
    try:
        pid = int(pid or 0)
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0") if pid > 0 else []
    except (OSError, ValueError, TypeError):
        return False
    return pid_alive(pid) and any(a and Path(a).name == Path(run_dir).name for a in args)


def signal_run(run_dir: Path | None, sig: int = signal.SIGTERM) -> bool:
    """Signal the process a run's status names, if it is alive and really that run's (its command names it)."""
    if run_dir is None:
        return False
    status = _read(Path(run_dir) / STATUS)
    pid = status.get("pid")
    if not _runs_in(pid, Path(run_dir)) or not same_process(int(pid), status.get("pid_start")):
        return False
    os.kill(int(pid), sig)
    return True
