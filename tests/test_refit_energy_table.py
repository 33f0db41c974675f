"""scripts/refit_energy_table.py: a refit on the card's own jets changes only the fitted tables, and is idempotent."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("refit_energy_table", ROOT / "scripts" / "refit_energy_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _close(a, b) -> bool:
    """Equal JSON trees, numbers to 1e-6 (the mixture's EM fit may differ in the last bits between BLAS builds)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=1e-6, abs=1e-9)
    return a == b


def test_refit_of_the_shipped_unet_is_a_fixed_point_and_keeps_the_weights(tmp_path):
    refit = _script()
    ckpt = tmp_path / "unet_32"
    shutil.copytree(ROOT / "checkpoints" / "unet_32", ckpt)
    before = json.loads((ckpt / "config.json").read_text())
    weights = (ckpt / "ema.safetensors").read_bytes()
    refit.refit(ckpt)
    after = json.loads((ckpt / "config.json").read_text())
    assert _close(after, before)  # the shipped table is already today's fit of the same jets
    assert (ckpt / "ema.safetensors").read_bytes() == weights
    assert "levels" in after["task"]["energies"]["all"] and after["task"]["hard_threshold"] == [True, False, False]


def test_refit_refuses_a_table_of_other_jets(tmp_path):
    refit = _script()
    ckpt = tmp_path / "unet_32"
    shutil.copytree(ROOT / "checkpoints" / "unet_32", ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    config["task"]["energies"]["all"]["jets"] = 123
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(SystemExit, match="not describe the same jets"):
        refit.refit(ckpt)
    assert json.loads((ckpt / "config.json").read_text()) == config  # nothing written


def test_refit_with_multiplicity_adds_the_counts_keeps_the_weights_and_is_then_a_fixed_point(tmp_path):
    refit = _script()
    ckpt = tmp_path / "unet_32"
    shutil.copytree(ROOT / "checkpoints" / "unet_32", ckpt)
    weights = (ckpt / "ema.safetensors").read_bytes()
    config = json.loads((ckpt / "config.json").read_text())
    for key in ("multiplicity", "multiplicity_table"):  # the checkpoint as shipped before the table
        config["task"].pop(key, None)
    (ckpt / "config.json").write_text(json.dumps(config))
    before = config["task"]
    refit.refit(ckpt, multiplicity=True)
    once = json.loads((ckpt / "config.json").read_text())
    task = once["task"]
    assert task["multiplicity"] and set(task["multiplicity_table"]) >= {"0", "1", "scale", "neighbours"}
    assert _close(task["energies"], before["energies"])  # the energy table is unchanged
    assert (ckpt / "ema.safetensors").read_bytes() == weights
    assert "--multiplicity" in json.loads((ckpt / "model_card.json").read_text())["energy_table_refit"]
    refit.refit(ckpt)  # the flag lives in the config now: a plain refit keeps the counts
    assert _close(json.loads((ckpt / "config.json").read_text()), once)
    shipped = json.loads((ROOT / "checkpoints" / "unet_32" / "config.json").read_text())["task"]
    assert _close(task["multiplicity_table"], shipped["multiplicity_table"])  # the shipped table is today's fit
    assert len(task["multiplicity_table"]["scale"]) == 9  # energies and channel widths
    # A table fitted before the widths (energies alone) is refitted by --multiplicity, not kept.
    table = task["multiplicity_table"]
    table["scale"] = table["scale"][:6]
    for group in ("0", "1"):
        table[group].pop("widths")
    (ckpt / "config.json").write_text(json.dumps(once))
    refit.refit(ckpt, multiplicity=True)
    again = json.loads((ckpt / "config.json").read_text())["task"]["multiplicity_table"]
    assert _close(again, shipped["multiplicity_table"])
    refit.main([str(ckpt), "--multiplicity", "--guidance", "1.5"])  # the sampling default, recorded with it
    assert json.loads((ckpt / "config.json").read_text())["task"]["guidance"] == 1.5
    assert json.loads((ckpt / "model_card.json").read_text())["energy_table_refit"].endswith(
        "--multiplicity --guidance 1.5"
    )
    assert shipped["guidance"] == 1.5  # the shipped U-Net's own weight (see its model card)
    quantum = tmp_path / "quantum"
    shutil.copytree(ROOT / "checkpoints" / "quantum_hybrid", quantum)
    flat = json.loads((ckpt / "config.json").read_text())
    flat["task"]["energies"]["coordinates"] = "channels"  # a U-Net table of channel totals: no cone to count in
    (ckpt / "config.json").write_text(json.dumps(flat))
    with pytest.raises(SystemExit, match="--multiplicity needs a U-Net whose energy table is in cone coordinates"):
        refit.refit(ckpt, multiplicity=True)
    with pytest.raises(SystemExit, match="--guidance needs a U-Net"):
        refit.refit(quantum, guidance=1.5)


def test_refit_keeps_the_cone_energies_an_energy_context_circuit_was_trained_for(tmp_path):
    refit = _script()
    ckpt = tmp_path / "quantum"
    shutil.copytree(ROOT / "checkpoints" / "quantum_hybrid", ckpt)
    config = json.loads((ckpt / "config.json").read_text())
    config["task"]["hybrid"]["energy_context"] = 6  # as a model trained with --energy-context would say
    (ckpt / "config.json").write_text(json.dumps(config))
    with pytest.raises(SystemExit, match="energy context"):
        refit.refit(ckpt, energy="channels")
    assert json.loads((ckpt / "config.json").read_text()) == config  # nothing written
