"""The quantum model's multiplicity readout (``core.quantum.lit_pixels``): each channel lights as many pixels as a
training jet of its class near it in energy, its most probable ones, with the drawn channel energies exact."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core.data.energies import cone_mask
from core.data.multiplicity import draw_counts, fit_counts, region_concentrations, region_counts
from core.errors import JetInputError
from core.quantum.lit_pixels import draw_readout, fit_table, light
from core.quantum.task import build_task, default_config

ROOT = Path(__file__).resolve().parents[1]


def _sparse_jets(n: int = 1200, size: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Jets of k = 2..12 deposits of 10 GeV in each channel (k = E / 10 GeV): ~55 jets per class and k, so a
    jet's 20 nearest training jets in energy all have its k."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 3, size, size)
    for i in range(n):
        k = int(torch.randint(2, 13, (1,), generator=g))
        for c in range(3):
            idx = torch.randperm(size * size, generator=g)[:k]
            x[i, c].view(-1)[idx] = 10.0
    return x, (torch.arange(n) % 2).long()


def test_a_table_of_channel_totals_matches_on_three_energies_and_refuses_others():
    x, y = _sparse_jets()
    table = fit_table(x, y, "channels")
    assert table["energy_dims"] == 3 and len(table["scale"]) == 3 and len(table["0"]["log_energies"][0]) == 3
    totals = x.double().sum((-1, -2))
    drawn = draw_counts(table, totals, y, torch.Generator().manual_seed(0))
    # Each channel's energy is 10 GeV per deposit, so the nearest training jets in energy have exactly its counts.
    assert torch.equal(drawn.sum(1), (x > 0).sum((-1, -2)))  # (where in the image they lie may differ)
    with pytest.raises(JetInputError, match="fitted on 3 per jet"):
        draw_counts(table, torch.ones(4, 2, 3), y[:4])
    with pytest.raises(JetInputError, match=r"\(N >= 1, 2, 3\) or \(N, 3\)"):
        fit_counts(np.ones((4, 4)), np.ones((4, 2, 3)), None, 0.4)
    cone = fit_table(x, y, "cone")
    assert "energy_dims" not in cone and len(cone["scale"]) == 6  # the U-Net's kind: inside and outside the cone


def test_light_keeps_the_energies_lights_the_most_probable_pixels_and_never_a_zero_one():
    """The readout before the halo draw and the profiles (tables fitted before 7 December evening)."""
    x, y = _sparse_jets()
    table = fit_table(x, y, "channels", halo_draw=False, profiles=False)
    n = 6
    shapes = torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(1)) + 0.01
    shapes[:, :, 0, :] = 0.0  # a row no shot landed on (outside the cone: room enough for 12 deposits)
    energies = 10.0 * (x[:n] > 0).sum((-1, -2)).double()  # so the counts drawn are jets 0..5's own numbers
    drawn = draw_readout(table, n, (3, 8, 8), torch.Generator().manual_seed(2))
    out = light(table, shapes, energies, y[:n], drawn, [0.0, 0.0, 0.0])
    assert torch.allclose(out.double().sum((-1, -2)), energies, rtol=1e-5)  # each channel keeps its energy
    assert not (out[:, :, 0, :] > 0).any()  # nothing where the state put nothing
    assert torch.equal((out > 0).sum((-1, -2)), (x[:n] > 0).sum((-1, -2)))
    # Each region's energy is shared as in the same training jet: its k deposits are equal (1/k), so the lit
    # pixels come out nearly equal (a power of e^-4 at the bisection's floor leaves 101^0.018: within 9 %): each
    # region's concentration is 1 / its lit pixels.
    lit = torch.from_numpy(region_counts(out, table["radius"])).double()
    want = torch.where(lit > 0, 1.0 / lit.clamp_min(1), 0.0)
    assert torch.allclose(torch.from_numpy(region_concentrations(out, table["radius"])), want, rtol=5e-3)
    # A state with weight on fewer pixels than drawn lights only those.
    one = torch.zeros_like(shapes)
    one[:, :, 7, 7] = 1.0
    assert torch.equal(
        (light(table, one, energies, y[:n], drawn, [0.0] * 3) > 0).sum((-1, -2)), torch.ones(n, 3).long()
    )
    # The lit pixels are the most probable ones of their region: none unlit is above the faintest lit.
    inside = cone_mask(8, table["radius"])
    for j in range(n):
        for c in range(3):
            for region in (inside, ~inside):
                lit, s = (out[j, c] > 0) & region, shapes[j, c]
                unlit = ~lit & region & (s > 0)
                if lit.any() and unlit.any():
                    assert s[unlit].max() < s[lit].min()
    same = light(table, shapes, energies, y[:n], drawn, [0.0, 0.0, 0.0])
    assert torch.equal(out, same)


def test_the_quantum_task_samples_with_the_readout_and_without_it_as_before():
    torch.manual_seed(0)  # the untrained circuit's angles
    x, y = _sparse_jets()
    config = default_config(8, layers=2, diffusion_steps=2, latent=4, hidden=16)
    task = build_task({**config, "multiplicity": True}, x, y)
    plain = build_task(config, x, y)
    plain.model.load_state_dict(task.model.state_dict())
    labels = torch.tensor([0, 1, 0, 1, 1])
    out = task.sample(task.model, 5, labels=labels, generator=torch.Generator().manual_seed(3))
    before = plain.sample(plain.model, 5, labels=labels, generator=torch.Generator().manual_seed(3))
    # Same state, same energies: the readout moves energy between pixels of a channel, never between channels.
    assert torch.allclose(out.sum((-1, -2)), before.sum((-1, -2)), rtol=1e-5)
    table = task.config()["multiplicity_table"]
    # Deposits of exactly 10 GeV: every channel reads out at a hard threshold, and no lit pixel is under it.
    assert task.hard_threshold == [True, True, True] and plain.hard_threshold == [True, True, True]
    levels = torch.tensor(task.zero_below).view(1, 3, 1, 1)
    assert ((out == 0) | (out >= levels * (1 - 1e-5))).all()
    # Every jet lights each channel as some training jet of its class did (counts are bounded by that jet's).
    train_counts = torch.from_numpy(region_counts(x, table["radius"])).view(len(x), -1)
    for jet, label in zip(
        torch.from_numpy(region_counts(out, table["radius"])).view(5, -1), labels.tolist(), strict=True
    ):
        own = train_counts[y == label]
        assert ((jet[None] <= own).all(1)).any()
    g = torch.Generator().manual_seed(3)
    probs, _ = plain.sample_probs(plain.model, labels, generator=g)
    aux = plain.draw_aux(labels, g)
    assert torch.equal(before, plain.decode(probs, aux))  # no table: nothing more drawn
    unsuppressed = plain.decode(probs, aux, zero_suppress=False)  # every pixel with weight lit
    assert (out > 0).sum((-1, -2)).max() <= 12 < (unsuppressed > 0).sum((-1, -2)).min()  # k <= 12 a channel
    assert task.card()["multiplicity_readout"] and not plain.card()["multiplicity_readout"]
    assert "training jet near it" in task.readout_description(None)
    assert "in that jet's shares" in task.readout_description(None) and task.card()["profile_readout"]
    assert "power 1 / 10 (Tracks and HCAL sharing the draw)" in task.readout_description(None)
    assert "in the channels' joint order" in task.readout_description(None) and task.card()["channel_order"]
    assert "as concentrated as" not in task.readout_description(None)  # the profiles, not the concentrations
    few = task.sample(task.model, 5, labels=labels, generator=torch.Generator().manual_seed(3), shots=2)
    assert ((few > 0).sum((-1, -2)) <= 2).all()  # shots light at most as many pixels as they landed on
    with pytest.raises(JetInputError, match="multiplicity readout needs classical channel energies"):
        build_task(default_config(8, encoder="frqi", energy="total", multiplicity=True))


def test_the_train_request_turns_it_on_for_new_amplitude_models():
    from core.quantum.task import config_from_request
    from core.requests import TrainRequest

    assert config_from_request(TrainRequest(family="quantum", size=8)).get("multiplicity") is True
    assert "multiplicity" not in config_from_request(TrainRequest(family="quantum", size=8, no_multiplicity=True))
    assert "multiplicity" not in config_from_request(
        TrainRequest(family="quantum", size=8, encoder="frqi", channel="depolarizing")
    )
    assert "channel_order" not in config_from_request(TrainRequest(family="quantum", size=8))  # on by default
    alone = config_from_request(TrainRequest(family="quantum", size=8, no_channel_order=True))
    assert alone["channel_order"] is False


def _same_numbers(a, b, rel: float = 1e-8) -> bool:
    """Equal nested tables, floats to ``rel``: another numpy / scipy build moves a fitted scale by ~1e-10."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same_numbers(a[k], b[k], rel) for k in a)
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(_same_numbers(u, v, rel) for u, v in zip(a, b, strict=True))
        )
    if isinstance(a, float) or isinstance(b, float):
        return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
    return a == b


def test_refit_adds_the_readout_to_a_quantum_checkpoint_and_keeps_its_weights(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("refit", ROOT / "scripts" / "refit_energy_table.py")
    refit = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(refit)
    ckpt = tmp_path / "quantum_hybrid"
    shutil.copytree(ROOT / "checkpoints" / "quantum_hybrid", ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    shipped = config["task"].pop("multiplicity_table")
    config["task"].pop("multiplicity")
    (ckpt / "config.json").write_text(json.dumps(config, indent=1))
    weights = (ckpt / "ema.safetensors").read_bytes()
    refit.refit(ckpt, multiplicity=True)
    task = json.loads((ckpt / "config.json").read_text())["task"]
    assert task["multiplicity"] and _same_numbers(
        task["multiplicity_table"], shipped
    )  # the shipped table is today's fit
    assert (ckpt / "ema.safetensors").read_bytes() == weights
    assert (ckpt / "config.json").read_text().startswith('{\n "')  # written with the file's own indent
    assert task["energy"] == "cone" and len(task["multiplicity_table"]["scale"]) == 6  # matched on region energies
    refit.refit(ckpt, energy="channels")  # back to channel totals: both tables fitted anew, the weights kept
    task = json.loads((ckpt / "config.json").read_text())["task"]
    assert task["energy"] == "channels" and task["multiplicity_table"]["energy_dims"] == 3
    assert task["channel_energies"].get("coordinates") != "cone"  # a copula of the channel totals
    assert (ckpt / "ema.safetensors").read_bytes() == weights
    assert json.loads((ckpt / "model_card.json").read_text())["energy_table_refit"].endswith("--energy channels")
    with pytest.raises(SystemExit, match="--energy takes 'channels' or 'cone'"):
        refit.refit(ckpt, energy="total")
