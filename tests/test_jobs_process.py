"""Jobs in their own processes: the job table spawns the command line into run directories that pages read.

Each test spawns real ``python -m core train`` / sampling workers on a tiny 16 x 16 file (a few seconds each).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from metrics_synth import write_random_jets

from core.cli import main
from core.data.writers import write_cms
from core.jobs import FINISHED, KILLED, STOPPED, JobLimitError, JobLimits, JobTable, read_status
from core.jobs.rundir import list_runs, read_events
from core.jobs.runner import JOB_NICE, new_run_id
from core.jobs.sampling import load_result, sample_argv
from core.requests import SampleRequest


@pytest.fixture(scope="module")
def jets16(tmp_path_factory) -> Path:
    return write_random_jets(tmp_path_factory.mktemp("data") / "jets16.h5", 40, 16, seed=0, empty=0.6)


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
    # One core: this one job fills the machine, so its session group is lowered too (``session_nice_for``).
    table = JobTable(JobLimits(max_concurrent=2, max_per_visitor=1), cores=1, watch_every=None)
    job = table.start("alice", "train", _train_argv(jets16, 100_000), tmp_path / new_run_id("train"))
    assert job.pid != os.getpid() and job.running  # its own process, not a thread of the server
    # Below the server's priority (page views first), and `nice` exec'd: the table's pid is the job itself.
    niced = min(19, os.getpriority(os.PRIO_PROCESS, 0) + JOB_NICE)
    _wait(lambda: os.getpriority(os.PRIO_PROCESS, job.pid) == niced, 10, f"job at nice {niced}")
    # Its own session, whose scheduling group (where the kernel has them) runs at the jobs' niceness too:
    # otherwise the job's nice ranks it only within its own session and page views wait for it anyway.
    assert os.getsid(job.pid) == job.pid != os.getsid(0)
    group = Path(f"/proc/{job.pid}/autogroup")
    if group.exists():
        assert group.read_text().split()[-1] == str(JOB_NICE), group.read_text()
        table.cores = 4  # a core is free again (as when another job ends): the group goes back to the server's level
        table.running()
        assert group.read_text().split()[-1] == "0" and job.session_nice == 0, group.read_text()
        table.cores = 1

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


# ---------------------------------------------------------------- Compare as a job; a restarted server


@pytest.fixture(scope="module")
def jets32(tmp_path_factory) -> Path:
    return write_random_jets(tmp_path_factory.mktemp("data32") / "jets32.h5", 40, 32, seed=1, empty=0.7)


@pytest.fixture(scope="module")
def tiny_checkpoint(jets32, tmp_path_factory) -> Path:
    """A 2-step 16 x 16 seed-baseline checkpoint (the command line, in this process)."""
    out = tmp_path_factory.mktemp("ckpt") / "seed-baseline-tiny"
    assert main([*_train_argv(jets32, 2)[1:], "--out", str(out)]) == 0
    return out


def test_a_compare_job_is_a_process_and_the_limit_counts_it_with_training_and_sampling(
    jets16, jets32, tiny_checkpoint, tmp_path
):
    from core.jobs.compare import (
        RECONSTRUCT,
        CompareRequest,
        compare_argv,
        finished_run,
        load_reconstructions,
        run_name,
    )

    table = JobTable(JobLimits(max_concurrent=2, max_per_visitor=1), watch_every=None)
    train = table.start("alice", "train", _train_argv(jets16, 100_000), tmp_path / new_run_id("train"))
    req = CompareRequest(RECONSTRUCT, (("seed-baseline", str(tiny_checkpoint)),), data=str(jets32), n=4)
    job = table.start("bob", "compare", compare_argv(1), tmp_path / new_run_id(run_name(req)), request=req.to_dict())
    assert job.pid != os.getpid() and job.pid != train.pid and job.running

    # Two jobs of two kinds fill the server: a third visitor's sampling is refused, and so is a second job of
    # the visitor who compares (before any run directory is made).
    sample = SampleRequest(checkpoint=str(tiny_checkpoint), n=4, sampler_steps=2, label=None)
    with pytest.raises(JobLimitError, match="server busy: 2 of 2"):
        table.start("carol", "sample", sample_argv(sample), tmp_path / "refused-sample", request=sample.to_dict())
    with pytest.raises(JobLimitError, match="1 at a time per visitor"):
        table.start("bob", "compare", compare_argv(1), tmp_path / "refused-compare", request=req.to_dict())
    assert not (tmp_path / "refused-sample").exists() and not (tmp_path / "refused-compare").exists()
    assert {j.kind for j in table.running()} == {"train", "compare"}

    assert job.wait(180), "the compare job did not end"
    status = read_status(job.run_dir)
    assert status.state == FINISHED and status.kind == "compare", (job.run_dir / "log.txt").read_text()[-800:]
    phases = [e["phase"] for e in read_events(job.run_dir) if e["type"] == "phase"]
    assert "reconstructing 4 jets with seed-baseline (1 of 1)" in phases and phases[-1] == FINISHED
    result = load_reconstructions(job.run_dir)
    assert result.real.shape == (4, 3, 16, 16) and result.recs[0].shape == (4, 3, 16, 16)
    assert result.models[0]["family"] == "seed-baseline" and 0 <= result.rows[0]["SSIM mean"] <= 1
    assert finished_run(tmp_path, req) == job.run_dir  # the same request again needs no job
    assert table.running_count() == 1  # the ended compare job frees its place
    table.stop(train.run_id)
    assert train.wait(60)


def _sleeper(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", *args])


def _fake_running_run(run_dir: Path, pid: int, owner: str | None, pid_start: int | None) -> None:
    run_dir.mkdir(parents=True)
    (run_dir / "request.json").write_text(json.dumps({"kind": "train", "owner": owner, "created": time.time()}))
    (run_dir / "status.json").write_text(json.dumps({"state": "running", "pid": pid, "pid_start": pid_start}))


def test_a_restarted_server_counts_the_jobs_left_running_and_stops_abandoned_ones(jets16, tmp_path):
    from core.jobs.rundir import process_start

    runs = tmp_path / "runs"
    limits = JobLimits(max_concurrent=1, max_per_visitor=1, abandon_seconds=600)
    before = JobTable(limits, watch_every=None)  # the server before its restart
    job = before.start("alice", "train", _train_argv(jets16, 100_000), runs / new_run_id("train"))
    _wait(lambda: len(_steps(job.run_dir)) >= 2, what="two training steps")

    # Runs that must not count: a reused pid (alive, names the run, but started at another time), a pid whose
    # process does not name the run, and a command-line run (no owner).
    reused, other, cli = runs / "train-reused", runs / "train-other", runs / "train-cli"
    sleepers = [_sleeper("--out", str(reused)), _sleeper(), _sleeper("--out", str(cli))]
    try:
        _fake_running_run(reused, sleepers[0].pid, "mallory", (process_start(sleepers[0].pid) or 0) + 7)
        _fake_running_run(other, sleepers[1].pid, "mallory", process_start(sleepers[1].pid))
        _fake_running_run(cli, sleepers[2].pid, None, process_start(sleepers[2].pid))
        assert read_status(reused).state == KILLED  # a reused pid does not make a dead run look alive

        now = [0.0]
        after = JobTable(limits, clock=lambda: now[0], watch_every=None, runs_dir=runs)  # the restarted server
        (adopted,) = after.running()
        assert (adopted.run_id, adopted.pid, adopted.owner, adopted.kind) == (job.run_id, job.pid, "alice", "train")
        with pytest.raises(JobLimitError, match="server busy: 1 of 1"):
            after.check("bob")
        with pytest.raises(JobLimitError, match="1 at a time per visitor"):
            after.check("alice")

        now[0] = 500.0
        after.adopt(job.run_id, "alice-reloaded")  # she came back through the run's URL (a new session)
        now[0] = 1000.0
        assert after.reap() == []  # 500 s since her last sign of life
        now[0] = 1150.0
        assert after.reap() == [adopted]  # gone for 650 s: stopped, checkpoint kept
        assert adopted.wait(60)
        status = read_status(job.run_dir)
        assert status.state == STOPPED and status.has_checkpoint
        assert any("visitor has been gone" in e.get("phase", "") for e in read_events(job.run_dir))
        assert after.running() == []
        after.check("bob")  # the place is free again
    finally:
        for p in sleepers:
            p.kill()
            p.wait()
        job.proc.wait(30)


def test_the_jets_overview_of_many_jets_is_a_job_and_its_answer_is_kept(jets16, tmp_path):
    from core.data.readers import open_jets
    from core.jobs.overview import finished_overview, load_overview, overview_argv, overview_request, run_name
    from core.viz.stats import class_overview

    table = JobTable(JobLimits(max_concurrent=1), watch_every=None)
    index = np.arange(0, 40, 2)
    request = overview_request(str(jets16), "jets16.h5", index)
    job = table.start("dave", "overview", overview_argv(1), tmp_path / new_run_id(run_name(request)), request)
    assert job.pid != os.getpid()
    assert job.wait(120) and read_status(job.run_dir).state == FINISHED, (job.run_dir / "log.txt").read_text()[-800:]
    progress = [e for e in read_events(job.run_dir) if e["type"] == "progress"]
    assert progress[-1]["done"] == progress[-1]["total"] == 20
    means, obs, y = load_overview(job.run_dir)
    ref_means, ref_obs, ref_y = class_overview(open_jets(jets16), index)
    np.testing.assert_array_equal(y, ref_y)
    assert set(means) == set(ref_means) and set(obs) == set(ref_obs)
    for k in ref_means:
        np.testing.assert_allclose(means[k], ref_means[k])
    assert finished_overview(tmp_path, request) == job.run_dir  # the same selection again needs no job
    assert finished_overview(tmp_path, overview_request(str(jets16), None, index[:-1])) is None


@pytest.mark.slow
def test_a_compare_generation_job_samples_and_measures_each_model(tiny_checkpoint, tmp_path):
    from core.jobs.compare import GENERATE, CompareRequest, compare_argv, load_generation, run_name

    rng = np.random.default_rng(2)
    x = (rng.random((120, 16, 16, 3)) ** 8 * 40 * (rng.random((120, 16, 16, 3)) > 0.6)).astype(np.float32)
    real = tmp_path / "real120.h5"  # enough real jets for the floors (two halves of 60)
    write_cms(real, x, np.arange(120) % 2)
    table = JobTable(JobLimits(max_concurrent=1), watch_every=None)
    req = CompareRequest(GENERATE, (("A", str(tiny_checkpoint)), ("B", str(tiny_checkpoint))), str(real), n=24)
    job = table.start("erin", "compare", compare_argv(1), tmp_path / new_run_id(run_name(req)), request=req.to_dict())
    assert job.wait(300) and read_status(job.run_dir).state == FINISHED, (job.run_dir / "log.txt").read_text()[-800:]
    result = load_generation(job.run_dir)
    assert [m["name"] for m in result["models"]] == ["A", "B"] and result["models"][0]["native_size"] == 16
    for name in ("A", "B"):
        rows = {r["metric"]: r for r in result["reports"][name]["rows"]}
        assert any(m.startswith("W1 jet mass") for m in rows) and all("floor" in r for r in rows.values())
    events = read_events(job.run_dir)
    phases = [e["phase"] for e in events if e["type"] == "phase"]
    assert "sampling 24 jets from B (2 of 2)" in phases and any(p.startswith("computing set distances") for p in phases)
    progress = [e for e in events if e["type"] == "progress" and e.get("model") == "A"]
    assert [e["done"] for e in progress] == [24] and progress[-1]["total"] == 24


def test_the_runs_pages_final_samples_are_a_job_and_each_checkpoint_is_answered_again(tmp_path):
    """The job's samples equal sampling in place (same seed); any finished run that sampled a checkpoint answers
    for it, until the checkpoint's files change."""
    import shutil

    import torch

    from core.jobs.finals import SAMPLE_N, finals_argv, finals_request, finished_finals, load_finals, run_name
    from core.training.sampling import sample_images

    shipped = Path(__file__).resolve().parents[1] / "checkpoints"
    if not all((shipped / n / "config.json").exists() for n in ("seed_baseline_32", "quantum_hybrid")):
        pytest.skip("shipped checkpoints missing")
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(shipped / "seed_baseline_32", a)
    shutil.copytree(shipped / "quantum_hybrid", b)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")  # fails alone: the others are still sampled
    runs = tmp_path / "runs"
    table = JobTable(JobLimits(max_concurrent=1), watch_every=None)
    request = finals_request([a, bad, b])
    job = table.start("fay", "finals", finals_argv(1), runs / new_run_id(run_name(request)), request)
    assert job.pid != os.getpid()
    assert job.wait(120) and read_status(job.run_dir).state == FINISHED, (job.run_dir / "log.txt").read_text()[-800:]
    key_a, key_bad, key_b = request["keys"]
    why = load_finals(job.run_dir, [key_bad])[key_bad]
    assert isinstance(why, str) and why.startswith("bad: ") and "\n" not in why, why
    assert finished_finals(runs, [key_bad]) == {key_bad: job.run_dir}  # answered (with its error): no new job
    got = load_finals(job.run_dir, [key_a])[key_a]
    want = sample_images(a, SAMPLE_N, sampler_steps=10, seed=0)
    assert got.shape == (SAMPLE_N, 3, 32, 32)
    torch.testing.assert_close(got, want)
    assert finished_finals(runs, finals_request([b])["keys"]) == {key_b: job.run_dir}  # a subset: no new job
    time.sleep(0.01)
    (a / "config.json").write_text((a / "config.json").read_text())  # the checkpoint saved again
    assert finished_finals(runs, finals_request([a])["keys"]) == {}


def _fake_run(runs: Path, name: str, kind: str, created: float, status: dict) -> Path:
    run = runs / name
    run.mkdir(parents=True)
    (run / "request.json").write_text(json.dumps({"kind": kind, "owner": "gus", "created": created}))
    (run / "status.json").write_text(json.dumps(status))
    return run


def test_starting_a_job_prunes_the_ended_answer_runs_of_its_kind_beyond_the_cap(tmp_path, monkeypatch):
    """JETLAB_KEEP_RUNS=2: starting a compare job leaves the 2 newest ended compare runs, the running one, every
    training run and the other kinds' runs; 0 keeps everything."""
    from core.jobs.prune import prune_runs
    from core.jobs.rundir import process_start

    runs = tmp_path / "runs"
    done = {"state": FINISHED, "pid": 0}
    old = [_fake_run(runs, f"compare-k{i}-2026", "compare", 1000.0 + i, done) for i in range(5)]
    failed = _fake_run(runs, "compare-bad-2026", "compare", 900.0, {"state": "failed", "pid": 0})
    sleeper = _sleeper()
    try:
        alive = {"state": "running", "pid": sleeper.pid, "pid_start": process_start(sleeper.pid)}
        running = _fake_run(runs, "compare-live-2026", "compare", 1.0, alive)  # the oldest, but running
        trains = [_fake_run(runs, f"ddpm-{i}", "train", float(i), done) for i in range(4)]
        overviews = [_fake_run(runs, f"overview-{i}", "overview", float(i), done) for i in range(3)]
        monkeypatch.setenv("JETLAB_KEEP_RUNS", "2")
        table = JobTable(JobLimits.from_env(), watch_every=None)
        assert table.limits.keep_runs == 2
        job = table.start("gus", "compare", ["core.jobs.compare"], runs / new_run_id("compare-new"), request={})
        job.wait(60)  # an empty request: the worker fails at once (a failed run is an ended run like any other)
        left = {p.name for p in runs.iterdir()}
        assert left == {p.name for p in [*old[3:], running, *trains, *overviews]} | {job.run_id}
        assert not failed.exists() and not any(p.name.startswith(".") for p in runs.iterdir())
        assert prune_runs(runs, "train", 1) == [] and prune_runs(runs, "overview", 0) == []
        assert sorted(prune_runs(runs, "overview", 1)) == ["overview-0", "overview-1"]
    finally:
        sleeper.kill()
        sleeper.wait()


def test_jobs_sessions_are_lowered_only_once_their_threads_fill_every_core(monkeypatch):
    """``session_nice_for``: page views need priority over jobs only when the jobs leave no core free."""
    from core.jobs.runner import session_nice_for

    assert session_nice_for(jobs=1, threads_per_job=1, cores=2) == 0  # a core left for the server
    assert session_nice_for(jobs=2, threads_per_job=1, cores=2) == JOB_NICE
    assert session_nice_for(jobs=1, threads_per_job=2, cores=2) == JOB_NICE
    assert session_nice_for(jobs=0, threads_per_job=1, cores=1) == 0
    assert session_nice_for(jobs=3, threads_per_job=1, cores=4) == 0
    monkeypatch.setenv("JETLAB_JOB_NICE", "0")  # niceness off: nothing is lowered
    assert session_nice_for(jobs=2, threads_per_job=1, cores=2) == 0
