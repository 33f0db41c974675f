"""``python -m core sample --shots``: finite-shot readout of the quantum model, refused for classical models."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from core.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUANTUM = ROOT / "checkpoints" / "quantum_hybrid"
SEED_BASELINE = ROOT / "checkpoints" / "seed_baseline_32"


def _sample(checkpoint: Path, out: Path, *extra: str) -> int:
    return main(["sample", "--checkpoint", str(checkpoint), "--n", "6", "--out", str(out), "--seed", "1", *extra])


def _lit_pixels(path: Path) -> np.ndarray:
    """Non-zero pixels per jet and channel (6, 3): energies may change with the decoder, their support may not."""
    with h5py.File(path) as f:
        x = f["X_jets"][()]
    assert x.shape == (6, 8, 8, 3)
    return (x > 0).sum(axis=(1, 2))


@pytest.mark.skipif(not (QUANTUM / "config.json").exists(), reason="no shipped quantum checkpoint")
def test_few_shots_light_at_most_that_many_pixels_and_are_recorded(tmp_path):
    born, shots = tmp_path / "born.h5", tmp_path / "shots.h5"
    assert _sample(QUANTUM, born) == 0
    assert _sample(QUANTUM, shots, "--shots", "3") == 0
    # The shipped model holds one state per channel: 3 outcomes per channel state light at most 3 pixels each.
    assert (_lit_pixels(shots) <= 3).all() and (_lit_pixels(shots) >= 1).all()
    assert (_lit_pixels(born).sum(1) > 9).all()  # exact probabilities: as many as a training jet near in energy
    with h5py.File(shots) as f:
        assert f.attrs["shots"] == 3 and f.attrs["sampler"] == "born"
        assert "--shots 3" in f.attrs["command"] and "3 shots per state" in f.attrs["readout"]
    with h5py.File(born) as f:
        assert f.attrs["shots"] == -1 and "--shots" not in f.attrs["command"]


@pytest.mark.parametrize("value", ["0", "-5"])
def test_shots_must_be_a_positive_integer(value, tmp_path, capsys):
    assert _sample(QUANTUM, tmp_path / "q.h5", "--shots", value) == 2
    assert f"--shots: must be a positive integer, got {value}" in capsys.readouterr().err
    assert not (tmp_path / "q.h5").exists()


def test_shots_that_are_not_a_number_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        _sample(QUANTUM, tmp_path / "q.h5", "--shots", "many")
    assert exit_.value.code == 2 and "--shots" in capsys.readouterr().err


@pytest.mark.skipif(not (SEED_BASELINE / "config.json").exists(), reason="no shipped seed-baseline checkpoint")
def test_shots_with_a_classical_checkpoint_name_option_and_family(tmp_path, capsys):
    assert _sample(SEED_BASELINE, tmp_path / "s.h5", "--shots", "100") == 2
    err = capsys.readouterr().err
    assert "--shots" in err and "'seed-baseline' checkpoint" in err
    assert not (tmp_path / "s.h5").exists()
