"""A checkpoint survives SIGKILL at any instant: `train` killed at random moments (many inside saves, with a
checkpoint every step) always resumes from its last saved step, and the final weights equal an uninterrupted
run's exactly.

``JETLAB_KILL_TESTS`` sets the number of kills (default 12 here; the issue's acceptance run uses 50).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
KILLS = int(os.environ.get("JETLAB_KILL_TESTS", "12"))
STEPS = 3 * KILLS + 10


def command(out: Path, resume: bool) -> list[str]:
    args = [sys.executable, "-m", "core", "train", "--model", "seed-baseline", "--size", "16", "--steps", str(STEPS)]
    args += ["--max-jets", "64", "--batch", "8", "--warmup", "5", "--seed", "3", "--threads", "1"]
    args += ["--checkpoint-every", "1", "--out", str(out)]
    return args + (["--resume"] if resume else [])


def saved_step(out: Path) -> int:
    try:
        return int(json.loads((out / "trainer_state.json").read_text())["step"])
    except (OSError, ValueError, KeyError):
        return -1


def run(out: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        command(out, (out / "config.json").exists()), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
def test_train_killed_at_random_instants_resumes_to_the_same_weights(tmp_path):
    from core.training.checkpoint import load_checkpoint

    reference = tmp_path / "reference"
    run(reference)
    out = tmp_path / "killed"
    rng = random.Random(2026)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    kills = 0
    while kills < KILLS and saved_step(out) < STEPS:
        before = saved_step(out)
        proc = subprocess.Popen(
            command(out, (out / "config.json").exists()),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.time() + 300
        while proc.poll() is None and saved_step(out) <= before and time.time() < deadline:
            time.sleep(0.02)  # wait until this run has saved at least once: kills then hit steps and saves
        time.sleep(rng.uniform(0.0, 0.8))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        _, err = proc.communicate()
        assert proc.returncode in (0, -signal.SIGKILL), err.decode()[-2000:]
        ckpt = load_checkpoint(out, with_optimizer=True)  # resumable after every kill
        assert ckpt.step >= max(before, 1) and ckpt.optimizer_state is not None
    assert kills == KILLS or saved_step(out) == STEPS
    run(out)
    assert saved_step(out) == STEPS
    for name in ("model.safetensors", "ema.safetensors"):
        got, want = load_file(str(out / name)), load_file(str(reference / name))
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k], want[k]) for k in want), name
    state, ref_state = (json.loads((d / "trainer_state.json").read_text()) for d in (out, reference))
    assert state["losses"] == ref_state["losses"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".killed")]  # no stray temporaries left
