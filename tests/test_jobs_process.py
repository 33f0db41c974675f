"""Jobs in their own processes: the job table spawns the command line into run directories that pages read.

Each test spawns real ``python -m core train`` / sampling workers on a tiny 16 x 16 file (a few seconds each).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.data.writers import write_cms
from core.jobs import FINISHED, KILLED, STOPPED, JobLimitError, JobLimits, JobTable, read_status
from core.jobs.rundir import list_runs, read_events
from core.jobs.runner import JOB_NICE, new_run_id
from core.jobs.sampling import load_result, sample_argv
from core.requests import SampleRequest


@pytest.fixture(scope="module")
def jets16(tmp_path_factory) -> Path:
    rng = np.random.default_rng(0)
    x = (rng.random((40, 16, 16, 3)) ** 8 * 40 * (rng.random((40, 16, 16, 3)) > 0.6)).astype(np.float32)
    path = tmp_path_factory.mktemp("data") / "jets16.h5"
    write_cms(path, x, np.arange(40) % 2)
    return path


def _train_argv(data: Path, steps: int, *extra: str) -> list[str]:
    head = ["core", "train", "--model", "seed-baseline", "--data", str(data), "--size", "16", "--steps", str(steps)]
    return [*head, "--batch", "4", "--device", "cpu", "--threads", "1", *extra]


def _wait(predicate, timeout: float = 120.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} not reached within {timeout:.0f} s")


def _steps(run_dir: Path) -> list[dict]:
    return [e for e in read_events(run_dir) if e["type"] == "step"]


def test_a_job_is_a_process_stop_saves_and_the_limit_counts_every_kind(jets16, tmp_path, monkeypatch):
    table = JobTable(JobLimits(max_concurrent=2, max_per_visitor=1), watch_every=None)
    job = table.start("alice", "train", _train_argv(jets16, 100_000), tmp_path / new_run_id("train"))
    assert job.pid != os.getpid() and job.running  # its own process, not a thread of the server
    # Below the server's priority (page views first), and `nice` exec'd: the table's pid is the job itself.
    niced = min(19, os.getpriority(os.PRIO_PROCESS, 0) + JOB_NICE)
    _wait(lambda: os.getpriority(os.PRIO_PROCESS, job.pid) == niced, 10, f"job at nice {niced}")

    # A second job of any kind for the same visitor is refused before anything is prepared.
    import core.data.readers as readers

    monkeypatch.setattr(readers, "load_tensors", lambda *a, **k: pytest.fail("data prepared for a refused job"))
    sample_dir = tmp_path / new_run_id("sample")
    req = SampleRequest(checkpoint=str(job.run_dir), n=8, sampler_steps=2, label=None, trajectory_n=2)
    with pytest.raises(JobLimitError, match="1 at a time per visitor"):
        table.start("alice", "sample", sample_argv(req), sample_dir, request=req.to_dict())
    assert not sample_dir.exists()
    monkeypatch.undo()

    _wait(lambda: len(_steps(job.run_dir)) >= 3, what="three training steps")
    assert table.stop(job.run_id)
    assert job.wait(60)
    status = read_status(job.run_dir)
    assert status.state == STOPPED and status.message == f"stopped at step {status.step:,}"
    assert 3 <= status.step < 100_000 and status.has_checkpoint
    assert json.loads((job.run_dir / "trainer_state.json").read_text())["step"] == status.step
    assert table.running("alice") == []

    # Now the visitor may sample from the stopped run's checkpoint: a worker process writes the result.
    job = table.start("alice", "sample", sample_argv(req, 1), sample_dir, request=req.to_dict())
    assert job.wait(120) and read_status(sample_dir).state == FINISHED, (sample_dir / "log.txt").read_text()[-800:]
    result = load_result(sample_dir)
    assert result.samples.shape == (8, 3, 16, 16) and result.trajectory is not None
    kinds = {r.kind for r in list_runs(tmp_path)}
    assert kinds == {"train", "sample"}


def test_sigkill_leaves_a_resumable_run(jets16, tmp_path):
    table = JobTable(JobLimits(max_concurrent=1), watch_every=None)
    run_dir = tmp_path / "killed"
    job = table.start("bob", "train", _train_argv(jets16, 100_000, "--checkpoint-every", "3"), run_dir)
    _wait(lambda: any(e["type"] == "checkpoint" for e in read_events(run_dir)), what="a periodic checkpoint")
    job.proc.kill()
    job.wait(30)
    status = read_status(run_dir)
    assert status.state == KILLED and "resumable from step" in status.message
    saved = json.loads((run_dir / "trainer_state.json").read_text())["step"]
    assert saved >= 3 and saved % 3 == 0
    argv = _train_argv(jets16, saved + 2, "--resume")[1:] + ["--out", str(run_dir)]
    assert main(argv) == 0
    status = read_status(run_dir)
    assert status.state == FINISHED and status.step == saved + 2


def test_an_abandoned_job_is_stopped_after_the_grace_time(jets16, tmp_path):
    now = [0.0]
    table = JobTable(JobLimits(max_concurrent=1, abandon_seconds=600), clock=lambda: now[0], watch_every=None)
    job = table.start("carol", "train", _train_argv(jets16, 100_000), tmp_path / "abandoned")
    _wait(lambda: len(_steps(job.run_dir)) >= 2, what="two training steps")
    now[0] = 590.0
    table.touch("carol")  # the page is still open: nothing happens
    now[0] = 1100.0
    assert table.reap() == []
    now[0] = 1200.0  # 610 s since the last sign of life
    assert table.reap() == [job]
    assert job.wait(60)
    status = read_status(job.run_dir)
    assert status.state == STOPPED and status.has_checkpoint
    assert any("visitor has been gone" in e.get("phase", "") for e in read_events(job.run_dir))


def test_the_time_limit_saves_and_says_so(jets16, tmp_path):
    from core.jobs import TIME_LIMIT

    out = tmp_path / "limited"
    argv = _train_argv(jets16, 100_000, "--time-limit", "1", "--checkpoint-every", "0")[1:]
    assert main([*argv, "--out", str(out)]) == 0
    status = read_status(out)
    assert status.state == TIME_LIMIT and status.message.startswith(f"time limit reached at step {status.step:,}")
    assert status.has_checkpoint and 0 < status.step < 100_000
    phases = [e["phase"] for e in read_events(out) if e["type"] == "phase"]
    assert phases[0] == "preparing the model" and "training" in phases and phases[-1] == TIME_LIMIT
