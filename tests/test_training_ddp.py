"""Two CPU processes under torchrun (gloo): DistributedDataParallel keeps the replicas identical."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]

WORKER = textwrap.dedent(
    """
    import os, sys
    import torch
    torch.set_num_threads(1)
    from safetensors.torch import save_file
    from core.diffusion.task import build_task, default_config
    from core.training.loop import TrainConfig, Trainer
    from core.training import distributed

    out = sys.argv[1]
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(16, 3, 16, 16, generator=gen) ** 8 * 40) * (torch.rand(16, 3, 16, 16, generator=gen) > 0.6)
    y = torch.arange(16) % 2
    torch.manual_seed(int(os.environ["RANK"]))  # different initial weights: DDP must broadcast rank 0's
    task = build_task(default_config("ddpm", 16), x)
    trainer = Trainer(task, x, y, TrainConfig(steps=3, batch_size=2, lr=1e-3, warmup=1, device="cpu"), out_dir=out + "/ck")
    events = list(trainer.run())
    rank = trainer.dist.rank
    assert trainer.dist.world_size == 2
    save_file({k: v.contiguous() for k, v in task.model.state_dict().items()}, f"{out}/rank{rank}.safetensors")
    save_file({k: v.contiguous() for k, v in trainer.ema.state_dict().items()}, f"{out}/ema{rank}.safetensors")
    with open(f"{out}/loss{rank}.txt", "w") as f:
        f.write(" ".join(str(e.loss) for e in events))
    distributed.shutdown()
    """
)


@pytest.mark.slow
def test_two_gloo_processes_hold_identical_weights(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nnodes",
        "1",
        "--nproc_per_node",
        "2",
        str(script),
        str(tmp_path),
    ]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    w0, w1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    assert w0.keys() == w1.keys()
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    e0, e1 = load_file(tmp_path / "ema0.safetensors"), load_file(tmp_path / "ema1.safetensors")
    assert all(torch.equal(e0[k], e1[k]) for k in e0)
    # The losses in the events are averaged over the processes, so both ranks report the same.
    assert (tmp_path / "loss0.txt").read_text() == (tmp_path / "loss1.txt").read_text()
    # Only rank 0 wrote the checkpoint, and it holds the shared weights.
    ck = load_file(tmp_path / "ck" / "model.safetensors")
    assert all(torch.equal(ck[k], w0[k]) for k in w0)
