"""Checkpoints: round trips give the same outputs, inference-only checkpoints sample, and missing or
corrupt directories, wrong sizes and unknown labels fail with one clear line."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from core.diffusion.task import build_task, default_config
from core.errors import JetInputError
from core.training.checkpoint import load_checkpoint, save_checkpoint
from core.training.loop import TrainConfig, Trainer
from core.training.sampling import sample_images, sample_trajectory

torch.set_num_threads(1)


def _data(n=12, size=16):
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(n, 3, size, size, generator=gen) ** 8 * 40) * (torch.rand(n, 3, size, size, generator=gen) > 0.6)
    return x, torch.arange(n) % 2


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny U-Net trained 3 steps, saved with optimizer state."""
    x, y = _data()
    torch.manual_seed(0)
    task = build_task(default_config("ddpm", 16), x)
    out = tmp_path_factory.mktemp("ck") / "unet"
    trainer = Trainer(
        task,
        x,
        y,
        TrainConfig(steps=3, batch_size=4, device="cpu", lr=1e-3, warmup=1),
        out_dir=out,
        card={"command": "pytest"},
    )
    list(trainer.run())
    return trainer, out


def test_round_trip_gives_the_same_network_outputs_and_samples(trained):
    trainer, out = trained
    ckpt = load_checkpoint(out)
    assert ckpt.step == 3 and ckpt.task.family == "ddpm" and not ckpt.ema.training
    xt, t, y, c = torch.randn(2, 3, 16, 16), torch.tensor([5, 700]), torch.tensor([0, 1]), torch.randn(2, 3)
    with torch.no_grad():
        assert torch.equal(ckpt.ema(xt, t, y, c), trainer.ema(xt, t, y, c))
        assert torch.equal(ckpt.task.model(xt, t, y, c), trainer.task.model(xt, t, y, c))
    assert ckpt.task.transform == trainer.task.transform
    a = sample_images(out, 3, "ddim", 4, "quark", seed=7)
    b = trainer.task.sample(
        trainer.ema,
        3,
        labels=torch.ones(3, dtype=torch.long),
        sampler="ddim",
        sampler_steps=4,
        generator=torch.Generator().manual_seed(7),
    )
    assert torch.equal(a, b) and a.shape == (3, 3, 16, 16) and a.min() >= 0
    assert torch.equal(sample_images(ckpt, 3, "ddim", 4, "quark", seed=7), a)  # a loaded Checkpoint works too
    card = json.loads((out / "model_card.json").read_text())
    assert (
        card["steps"] == 3
        and card["command"] == "pytest"
        and card["device"].startswith("cpu")
        and card["parameters"] > 0
    )


def test_batched_sampling_and_mixed_labels_and_trajectory(trained):
    _, out = trained
    ckpt = load_checkpoint(out)
    assert torch.equal(
        sample_images(ckpt, 5, "fast", 4, "mixed", seed=1, batch_size=2),
        sample_images(ckpt, 5, "fast", 4, "mixed", seed=1, batch_size=2),
    )
    traj = sample_trajectory(ckpt, 2, "ddim", 5, "gluon", seed=2)
    assert (
        traj.xt.shape == (6, 2, 3, 16, 16) and traj.x0.shape == (5, 2, 3, 16, 16) and traj.final.shape == (2, 3, 16, 16)
    )
    assert traj.t == [999, 749, 500, 250, 0]
    assert torch.equal(traj.final, sample_images(ckpt, 2, "ddim", 5, "gluon", seed=2))


def test_inference_only_checkpoint_is_small_and_samples_the_same(trained, tmp_path):
    trainer, out = trained
    small = tmp_path / "small"
    save_checkpoint(small, trainer.task, trainer.ema, state={"step": 3}, inference_only=True)
    assert not (small / "model.safetensors").exists() and not (small / "optimizer.pt").exists()
    assert torch.equal(
        sample_images(small, 2, "ddim", 3, "quark", seed=0), sample_images(out, 2, "ddim", 3, "quark", seed=0)
    )
    x, y = _data()
    again = Trainer(load_checkpoint(small).task, x, y, TrainConfig(steps=5, device="cpu"))
    with pytest.raises(JetInputError, match="cannot be resumed"):
        again.restore(load_checkpoint(small, with_optimizer=True))


def _copy(out, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    return bad


def test_missing_and_corrupt_checkpoints_fail_clearly(trained, tmp_path):
    _, out = trained
    with pytest.raises(JetInputError, match="no such checkpoint directory"):
        load_checkpoint(tmp_path / "nowhere")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(JetInputError, match="is a directory"):
        load_checkpoint(tmp_path / "file.txt")
    bad = _copy(out, tmp_path)
    (bad / "config.json").unlink()
    with pytest.raises(JetInputError, match="config.json is missing"):
        load_checkpoint(bad)
    shutil.rmtree(bad)
    bad = _copy(out, tmp_path)
    (bad / "config.json").write_text("{not json")
    with pytest.raises(JetInputError, match="corrupt JSON"):
        load_checkpoint(bad)
    shutil.rmtree(bad)
    bad = _copy(out, tmp_path)
    data = (bad / "ema.safetensors").read_bytes()
    (bad / "ema.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(JetInputError, match="corrupt weights file"):
        load_checkpoint(bad)
    shutil.rmtree(bad)
    bad = _copy(out, tmp_path)
    (bad / "trainer_state.json").write_text(json.dumps({"step": 99}))
    with pytest.raises(JetInputError, match="interrupted save"):
        load_checkpoint(bad)
    shutil.rmtree(bad)
    bad = _copy(out, tmp_path)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["task"]["network"]["base"] = 32
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(JetInputError, match="do not match the config"):
        load_checkpoint(bad)
    cfg["task"]["family"] = "gan"
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(JetInputError, match="model 'gan'"):
        load_checkpoint(bad)


def test_bad_sampling_requests_fail_clearly(trained):
    _, out = trained
    with pytest.raises(JetInputError, match="label 'top'"):
        sample_images(out, 2, label="top")
    with pytest.raises(JetInputError, match="labels are 0"):
        sample_images(out, 2, label=5)
    with pytest.raises(JetInputError, match="at least 1"):
        sample_images(out, 0)
    with pytest.raises(JetInputError, match="sampler 'euler'"):
        sample_images(out, 1, sampler="euler")
    with pytest.raises(JetInputError, match="steps"):
        sample_images(out, 1, sampler="ddim", sampler_steps=5000)


def test_update_card_adds_fields_atomically(trained, tmp_path):
    from core.training.checkpoint import update_card

    _, out = trained
    bad = _copy(out, tmp_path)
    card = update_card(bad, evaluation={"width_quark": 0.07}, note="x")
    assert json.loads((bad / "model_card.json").read_text()) == card and card["steps"] == 3 and card["note"] == "x"
    with pytest.raises(JetInputError, match="model_card.json is missing"):
        update_card(tmp_path / "nowhere")


@pytest.mark.parametrize("name", ["unet_32", "seed_baseline_32"])
def test_shipped_checkpoints_load_sample_and_say_how_they_were_made(name):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "checkpoints" / name
    ckpt = load_checkpoint(path)
    card = json.loads((path / "model_card.json").read_text())
    assert card["command"].startswith("python -m core train") and f"--out checkpoints/{name}" in card["command"]
    assert card["data"]["jets"] == 10_000 and card["evaluation"]["summary"]
    assert sum(f.stat().st_size for f in path.iterdir()) < 5_000_000
    label = "quark" if ckpt.task.conditional else None
    x = sample_images(ckpt, 2, "fast", 5, label, seed=0)
    assert x.shape == (2, 3, 32, 32) and x.min() >= 0 and torch.isfinite(x).all()
