"""The region condition: a U-Net told each region's lit pixels and energy share, as the multiplicity readout
will light them (``core.diffusion.task.region_features``, ``train --region-condition``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.cli import main
from core.data.energies import region_energies
from core.data.multiplicity import region_counts
from core.diffusion.task import build_task, default_config, region_features
from core.training.checkpoint import load_checkpoint


def _sparse_jets(n: int, size: int, seed: int) -> torch.Tensor:
    """(n, 3, size, size) GeV: about one pixel in eight lit, values over three decades."""
    g = torch.Generator().manual_seed(seed)
    values = 10 ** (3 * torch.rand(n, 3, size, size, generator=g) - 1)
    return values * (torch.rand(n, 3, size, size, generator=g) < 0.12)


def _task(size: int = 16, **extra):
    x = _sparse_jets(120, size, seed=1) * torch.linspace(5, 50, 120).view(-1, 1, 1, 1)
    y = (torch.arange(120) % 2).long()
    config = {**default_config("ddpm", size, region_condition=True), "multiplicity": True, **extra}
    return build_task({**config, "hard_threshold": [False, False, False]}, x, y), x, y


def test_region_features_closed_form():
    energies = torch.tensor([[[3.0, 0.0, 1.0], [1.0, 0.0, 3.0]]])  # inside, outside; ECAL empty
    counts = torch.tensor([[[4, 0, 1], [0, 0, 7]]])
    f = region_features(energies, counts)
    expected = [np.log(5), 0, np.log(2), 0, 0, np.log(8), 0.75, 0.0, 0.25]
    assert f.shape == (1, 9) and f[0].tolist() == pytest.approx(expected, rel=1e-6)


def test_the_condition_read_off_training_images_is_that_of_their_regions():
    task, x, _ = _task()
    assert task.model.config.cond_dim == 12
    got = task.image_condition(task.prepare(x[:10]))
    # The same numbers from the GeV images directly: every deposit survives the model-space round trip.
    energies = torch.from_numpy(region_energies(task.to_gev(task.prepare(x[:10])), 0.4))
    expected = task.condition(energies, torch.from_numpy(region_counts(x[:10], 0.4)))
    assert torch.allclose(got, expected, atol=1e-5)
    norm = task.config()["region_norm"]
    raw = got[:, 3:] * torch.tensor(norm["std"]) + torch.tensor(norm["mean"])
    assert torch.allclose(raw[:, :6].exp() - 1, torch.from_numpy(region_counts(x[:10], 0.4)).reshape(10, 6).float(),
                          atol=1e-3)  # fmt: skip


def test_sampled_jets_are_lit_with_the_counts_the_network_was_told():
    task, _, y = _task()
    told = []
    forward = task.model.forward

    def spy(xt, t, labels=None, cond=None):
        told.append(cond.detach().clone())
        return forward(xt, t, labels, cond)

    task.model.forward = spy
    labels = y[:6]
    out = task.sample(task.model, 6, labels=labels, sampler_steps=3, generator=torch.Generator().manual_seed(2))
    norm = task.config()["region_norm"]
    counts = (told[0][:, 3:9] * torch.tensor(norm["std"][:6]) + torch.tensor(norm["mean"][:6])).exp() - 1
    assert all(torch.equal(c, told[0]) for c in told)  # one condition through every step
    got, told_counts = region_counts(out, 0.4).reshape(6, 6), counts.round().numpy()
    assert np.array_equal(got, told_counts)


def test_init_from_a_network_without_it_widens_the_condition_input(tmp_path, capsys):
    common = ["--size", "32", "--max-jets", "64", "--batch", "8", "--threads", "1", "--checkpoint-every", "0"]
    source, widened = tmp_path / "plain", tmp_path / "regions"
    assert main(["train", "--model", "ddpm", "--steps", "1", "--out", str(source), *common]) == 0
    args = ["--init-from", str(source), "--region-condition", "--lr", "1e-12"]
    assert main(["train", "--model", "ddpm", "--steps", "1", "--out", str(widened), *common, *args]) == 0
    capsys.readouterr()
    old, new = load_checkpoint(source), load_checkpoint(widened)
    card = json.loads((widened / "model_card.json").read_text())
    assert card["initialised_from"]["widened"] == ["cond_mlp.0.weight"] and card["region_condition"] is True
    # The new condition inputs start at zero weight: the network computes what the source's did, whatever they hold.
    g = torch.Generator().manual_seed(0)
    xt, t, lab = torch.randn(4, 3, 32, 32, generator=g), torch.tensor([10, 200, 500, 900]), torch.tensor([0, 1, 0, 2])
    cond = torch.randn(4, 3, generator=g)
    extra = torch.randn(4, 9, generator=g)
    with torch.no_grad():
        a = old.ema(xt, t, lab, cond)
        b = new.ema(xt, t, lab, torch.cat([cond, extra], 1))
    assert torch.allclose(a, b, atol=1e-5)


def test_region_condition_without_the_readout_is_refused_in_one_line(tmp_path, capsys):
    for off in ("--no-multiplicity", "--no-energy-condition"):
        argv = ["train", "--model", "ddpm", "--steps", "1", "--out", str(tmp_path / "x"), "--region-condition", off]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "--region-condition" in err and off in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_reconstructions_are_conditioned_on_the_jets_own_regions():
    task, x, y = _task()
    rec = task.reconstructor(task.model, y[:4])
    g = torch.Generator().manual_seed(3)
    t = torch.tensor([100, 300, 500, 700])
    xt = rec.noise(x[:4], t, g)  # reads the jets' own condition
    out = rec.predict_x0(xt, t)
    assert out.shape == x[:4].shape and torch.isfinite(out).all()
    told = []
    forward = task.model.forward
    task.model.forward = lambda xt, t, labels=None, cond=None: told.append(cond) or forward(xt, t, labels, cond)
    rec.predict_x0(xt, t)
    assert torch.allclose(told[0], task.image_condition(task.prepare(x[:4])))
