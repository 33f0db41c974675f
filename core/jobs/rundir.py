"""Run directories: what a job (or a command-line run) leaves on disk, and the only thing pages read.

A run is a folder (TensorBoard-style: the folder *is* the run, the server keeps nothing else)::

    <runs>/<run id>/
      request.json      what was asked: {"kind": "train" | "sample", "argv": [...], "owner": str | null,
                        "created": unix time, "request": {...}}  (written once, before the work starts)
      events.jsonl      append-only, one JSON object a line, each with "t" (unix time) and "type":
                          {"type": "phase", "phase": "preparing data" | "training" | "computing SSIM/PSNR on 16 jets"
                                   | "computing FID on 32 jets" | "saving checkpoint" | "sampling" | ..., "step": k}
                          {"type": "step", "step": k, "total": n, "loss", "lr", "images_per_s", "epoch", "wall_time_s"}
                          {"type": "metrics", "step": k, "metrics": {"ssim": ..., "psnr": ..., "fid_jet": ...}}
                          {"type": "preview", "step": k, "file": "previews/step-000050.safetensors"}
                          {"type": "checkpoint", "step": k}
                          {"type": "progress", "done": d, "total": n}          (sampling)
      status.json       the latest state, replaced atomically: {"state", "pid", "pid_start", "step", "total",
                        "message", "error", "updated"}; state is "running", "finished", "stopped", "time limit" or
                        "failed"; "pid_start" (the process's start time) tells the job from a later process that
                        reuses its pid
      previews/         preview images (safetensors, GeV, key "images" and optionally "labels")
      config.json, ema.safetensors, ...   the checkpoint (train runs; see core.training.checkpoint)
      samples.h5, trajectory.safetensors, info.json   the result (sample runs)

A run whose status says "running" but whose process is gone was killed: ``read_status`` reports it as
"killed at step k" and its last periodic checkpoint resumes it (``python -m core train --resume --out DIR``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.atomic import write_text_atomic

REQUEST, EVENTS, STATUS, PREVIEWS = "request.json", "events.jsonl", "status.json", "previews"
RUNNING, FINISHED, STOPPED, TIME_LIMIT, FAILED, KILLED = (
    "running",
    "finished",
    "stopped",
    "time limit",
    "failed",
    "killed",
)
ENDED = (FINISHED, STOPPED, TIME_LIMIT, FAILED, KILLED)
RUN_FILES = (REQUEST, EVENTS, STATUS, PREVIEWS, "log.txt")  # what a run directory holds besides its checkpoint


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


class RunWriter:
    """Writes one run's request, events and status; used inside the job's process (CLI or worker)."""

    def __init__(self, run_dir: str | os.PathLike, kind: str, total: int = 0) -> None:
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.kind, self.total, self.step = kind, int(total), 0
        self._lock = threading.Lock()
        self._pid_start = process_start(os.getpid())

    def request(self, argv: list[str], request: dict | None = None, owner: str | None = None) -> None:
        """Record what was asked, unless the job table already did (it writes it before spawning)."""
        path = self.dir / REQUEST
        if path.exists():
            return
        body = {"kind": self.kind, "argv": list(argv), "owner": owner, "created": time.time(), "request": request}
        write_text_atomic(path, json.dumps(body, indent=1))

    def event(self, type_: str, **fields: Any) -> None:
        """Append one event line (flushed at once, so a reader or a kill never sees half a line)."""
        line = json.dumps({"t": round(time.time(), 3), "type": type_, **fields}, default=float) + "\n"
        with self._lock, open(self.dir / EVENTS, "a") as f:
            f.write(line)
            f.flush()

    def phase(self, name: str) -> None:
        self.event("phase", phase=name, step=self.step)

    def status(self, state: str, message: str = "", error: str | None = None) -> None:
        body = {
            "state": state,
            "kind": self.kind,
            "pid": os.getpid(),
            "pid_start": self._pid_start,
            "step": self.step,
            "total": self.total,
            "message": message,
            "error": error,
            "updated": time.time(),
        }
        write_text_atomic(self.dir / STATUS, json.dumps(body, indent=1))

    def preview(self, step: int, images, labels=None) -> None:
        """Save a preview grid (N, 3, H, W) GeV beside the events and log where it is."""
        from safetensors.torch import save_file

        from core.atomic import atomic_path

        tensors = {"images": images.detach().cpu().float().contiguous()}
        if labels is not None:
            tensors["labels"] = labels.detach().cpu().long().contiguous()
        rel = f"{PREVIEWS}/step-{int(step):06d}.safetensors"
        with atomic_path(self.dir / rel, ".safetensors") as tmp:
            save_file(tensors, str(tmp))
        self.event("preview", step=int(step), file=rel)


def interrupt_on_sigterm() -> None:
    """Let SIGTERM interrupt like Ctrl-C (KeyboardInterrupt) in the main thread, e.g. while data is prepared."""
    import signal

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def mark_ended(run_dir: str | os.PathLike, err: BaseException) -> None:
    """Record why this process's run ended early (an error, or a stop before training began)."""
    path = Path(run_dir) / STATUS
    st = _read_json(path)
    if st.get("state") != RUNNING or st.get("pid") != os.getpid():
        return
    writer = RunWriter(run_dir, st.get("kind", "train"), st.get("total", 0))
    writer.step = int(st.get("step", 0) or 0)
    if isinstance(err, KeyboardInterrupt):
        writer.status(STOPPED, f"stopped at step {writer.step:,} (before training)")
    else:
        text = (str(err).strip() or type(err).__name__).splitlines()[0]
        writer.status(FAILED, f"failed: {text}", error=f"{type(err).__name__}: {text}")


@dataclass
class RunStatus:
    """What a page shows about a run: its state word, step, phase and message (all read from disk)."""

    run_id: str
    path: Path
    kind: str
    state: str
    step: int = 0
    total: int = 0
    phase: str = ""
    message: str = ""
    error: str | None = None
    owner: str | None = None
    created: float = 0.0
    request: dict = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def has_checkpoint(self) -> bool:
        return (self.path / "config.json").exists()


def pid_alive(pid: int | None) -> bool:
    """True while a process with this pid exists and is not a zombie (a finished child not yet reaped)."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def process_start(pid: int | None) -> int | None:
    """When the process started (clock ticks since boot, field 22 of /proc/<pid>/stat); None when unknown.

    A pid alone does not name a process for long: after it ends, the system may give its number to another.
    The pair (pid, start time) does, so a run's status records both.
    """
    if not pid:
        return None
    try:
        return int(Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def same_process(pid: int | None, start: int | None) -> bool:
    """True while the process ``pid`` lives and is the one that started at ``start`` (None: not recorded)."""
    if not pid_alive(pid):
        return False
    now = process_start(pid)
    return start is None or now is None or int(start) == now


def read_status(run_dir: str | os.PathLike) -> RunStatus:
    """The run's state from status.json, its request and its last phase; a dead 'running' process is 'killed'."""
    path = Path(run_dir)
    req = _read_json(path / REQUEST)
    st = _read_json(path / STATUS)
    events = read_events(path)
    phases = [e for e in events if e.get("type") == "phase"]
    steps = [e for e in events if e.get("type") == "step"]
    state = st.get("state") or (FINISHED if (path / "config.json").exists() and not req else RUNNING)
    step = int(steps[-1]["step"]) if steps else int(st.get("step", 0) or 0)
    total = int(st.get("total") or (steps[-1].get("total", 0) if steps else 0) or 0)
    message = st.get("message", "")
    if (
        state == RUNNING
        and not same_process(st.get("pid"), st.get("pid_start"))
        and (st or time.time() - req.get("created", 0) > 120)
    ):
        saved = [e for e in events if e.get("type") == "checkpoint"]
        resumable = f"; resumable from step {saved[-1]['step']:,}" if saved else ""
        state, message = KILLED, f"killed at step {step:,}{resumable}"
    return RunStatus(
        run_id=path.name,
        path=path,
        kind=req.get("kind") or st.get("kind") or "train",
        state=state,
        step=step,
        total=total,
        phase=phases[-1]["phase"] if phases else "",
        message=message,
        error=st.get("error"),
        owner=req.get("owner"),
        created=float(req.get("created") or _mtime(path)),
        request=req.get("request") or {},
    )


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


# Incremental reads: a page polls a growing log once a second; only the new bytes are parsed.
_CACHE: OrderedDict[Path, tuple[int, list[dict]]] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_RUNS = 16


def read_events(run_dir: str | os.PathLike) -> list[dict]:
    """Every complete event line of the run so far (a half-written last line waits for the next read)."""
    path = Path(run_dir) / EVENTS
    try:
        size = path.stat().st_size
    except OSError:
        return []
    with _CACHE_LOCK:
        offset, events = _CACHE.get(path, (0, []))
        if size < offset:  # the log was replaced: start again
            offset, events = 0, []
        if size > offset:
            with open(path, "rb") as f:
                f.seek(offset)
                chunk = f.read(size - offset)
            end = chunk.rfind(b"\n") + 1
            events = events + [json.loads(line) for line in chunk[:end].splitlines() if line.strip()]
            offset += end
        _CACHE[path] = (offset, events)
        _CACHE.move_to_end(path)
        while len(_CACHE) > _CACHE_RUNS:
            _CACHE.popitem(last=False)
        return events


def load_preview(run_dir: str | os.PathLike, rel: str):
    """A preview's images and labels (None when unconditional)."""
    from safetensors.torch import load_file

    tensors = load_file(str(Path(run_dir) / rel))
    return tensors["images"], tensors.get("labels")


def list_runs(runs_dir: str | os.PathLike, kind: str | None = None, owner: str | None = None) -> list[RunStatus]:
    """Every run under ``runs_dir`` (newest first), from its files alone: survives a server restart.

    A folder counts as a run when it holds a request, an event log or a checkpoint (a plain
    ``python -m core train --out RUNS/name`` writes all three). ``owner`` keeps only that visitor's runs.
    """
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    out = []
    for p in root.iterdir():
        if p.is_dir() and any((p / n).exists() for n in (REQUEST, EVENTS, "config.json")):
            s = read_status(p)
            if (kind is None or s.kind == kind) and (owner is None or s.owner == owner):
                out.append(s)
    return sorted(out, key=lambda s: s.created, reverse=True)
