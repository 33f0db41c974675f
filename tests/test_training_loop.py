"""The training loop: events, a stop between steps, resume equal to an uninterrupted run, data order."""

from __future__ import annotations

import threading

import pytest
import torch

from core.diffusion.task import build_task, default_config
from core.errors import JetInputError
from core.training.checkpoint import load_checkpoint
from core.training.loop import TrainConfig, Trainer, batch_indices, learning_rate, train

torch.set_num_threads(1)


def _data(n=10, size=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 3, size, size, generator=gen) ** 8 * 40) * (torch.rand(n, 3, size, size, generator=gen) > 0.6)
    return x, torch.arange(n) % 2


def _task(x, family="ddpm"):
    torch.manual_seed(0)
    return build_task(default_config(family, 16), x)


CFG = dict(batch_size=4, lr=1e-3, warmup=2, device="cpu", ema_decay=0.9, seed=3)


def test_events_carry_step_loss_lr_rate_metrics_and_preview():
    x, y = _data()
    calls = []

    def metrics(task, ema, step):
        calls.append(step)
        assert not ema.training
        return {"fake_ssim": 0.5}

    cfg = TrainConfig(steps=4, metrics_every=2, preview_every=4, preview_n=2, preview_steps=3, **CFG)
    events = list(Trainer(_task(x), x, y, cfg, metrics_fn=metrics).run())
    assert [e.step for e in events] == [1, 2, 3, 4]
    assert all(e.loss > 0 and e.images_per_s > 0 for e in events)
    assert events[0].lr == pytest.approx(5e-4) and events[-1].lr == pytest.approx(1e-3)
    assert calls == [2, 4] and events[1].metrics == {"fake_ssim": 0.5} and events[0].metrics is None
    assert events[-1].preview.shape == (2, 3, 16, 16) and events[-1].preview.min() >= 0
    assert events[-1].preview_labels.tolist() == [0, 1]
    assert events[-1].done and events[-1].epoch == pytest.approx(1.6)


def test_data_order_covers_each_epoch_once_and_is_a_function_of_the_step():
    idx = torch.cat([batch_indices(s, 10, 4, seed=1) for s in range(5)])
    assert sorted(idx[:10].tolist()) == list(range(10)) and sorted(idx[10:20].tolist()) == list(range(10))
    assert torch.equal(batch_indices(3, 10, 4, seed=1), idx[12:16])
    assert not torch.equal(batch_indices(0, 10, 4, seed=1), batch_indices(0, 10, 4, seed=2))


def test_learning_rate_warms_up_then_holds_or_decays():
    cfg = TrainConfig(steps=100, lr=1.0, warmup=10)
    assert [learning_rate(s, cfg) for s in (0, 4, 9, 50)] == pytest.approx([0.1, 0.5, 1.0, 1.0])
    cfg = TrainConfig(steps=100, lr=1.0, warmup=10, lr_schedule="cosine")
    assert learning_rate(99, cfg) == pytest.approx(0.1, abs=1e-3) and learning_rate(10, cfg) == pytest.approx(1.0)


@pytest.mark.parametrize("family", ["ddpm", "seed-baseline"])
def test_resume_equals_an_uninterrupted_run(tmp_path, family):
    x, y = _data()
    full = Trainer(_task(x, family), x, y, TrainConfig(steps=6, **CFG))
    losses_full = [e.loss for e in full.run()]

    first = Trainer(_task(x, family), x, y, TrainConfig(steps=3, **CFG), out_dir=tmp_path / "ck")
    losses_a = [e.loss for e in first.run()]
    ckpt = load_checkpoint(tmp_path / "ck", with_optimizer=True)
    second = Trainer(ckpt.task, x, y, TrainConfig(steps=6, **CFG), out_dir=tmp_path / "ck")
    second.restore(ckpt)
    losses_b = [e.loss for e in second.run()]

    assert losses_a + losses_b == losses_full
    for a, b in zip(full.task.model.state_dict().values(), second.task.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(full.ema.state_dict().values(), second.ema.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert load_checkpoint(tmp_path / "ck").step == 6


def test_stop_between_steps_saves_a_resumable_checkpoint(tmp_path):
    x, y = _data()
    stop = threading.Event()
    events = []
    for event in train(_task(x), x, y, TrainConfig(steps=50, **CFG), out_dir=tmp_path / "ck", stop=stop):
        events.append(event)
        if event.step == 2:
            stop.set()
    assert events[-1].step == 3 and events[-1].stopped and not events[-1].done
    assert events[-1].checkpoint == str(tmp_path / "ck")
    assert load_checkpoint(tmp_path / "ck").step == 3
    # Closing the generator early (a reader that walks away) also leaves a checkpoint.
    gen = train(_task(x), x, y, TrainConfig(steps=50, **CFG), out_dir=tmp_path / "ck2")
    next(gen), next(gen)
    gen.close()
    assert load_checkpoint(tmp_path / "ck2").step == 2
    # train(resume=True) continues from it.
    ckpt = load_checkpoint(tmp_path / "ck2")
    steps = [e.step for e in train(ckpt.task, x, y, TrainConfig(steps=4, **CFG), out_dir=tmp_path / "ck2", resume=True)]
    assert steps == [3, 4]


def test_bad_training_input_is_named():
    x, y = _data()
    with pytest.raises(JetInputError, match="batch size"):
        Trainer(_task(x), x, y, TrainConfig(steps=1, batch_size=0, device="cpu"))
    with pytest.raises(JetInputError, match="3 labels"):
        Trainer(_task(x), x, y[:3], TrainConfig(steps=1, device="cpu"))
    with pytest.raises(JetInputError, match="device 'tpu'"):
        Trainer(_task(x), x, y, TrainConfig(steps=1, device="tpu"))
    with pytest.raises(JetInputError, match=r"expected \(N, 3, 16, 16\)"):
        Trainer(_task(x), torch.zeros(10, 3, 32, 32), y, TrainConfig(steps=1, device="cpu"))
