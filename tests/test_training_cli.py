"""``python -m core train`` and ``sample``: train, resume, sample to a CMS file, and clear errors (exit 2)."""

from __future__ import annotations

import json

import h5py
import pytest
from metrics_synth import write_random_jets

from core.cli import main


@pytest.fixture(scope="module")
def jets16(tmp_path_factory):
    return write_random_jets(tmp_path_factory.mktemp("data") / "jets16.h5", 12, 16)


def _train(data, out, model, steps, *extra):
    return main(
        [
            "train",
            "--model",
            model,
            "--data",
            str(data),
            "--size",
            "16",
            "--steps",
            str(steps),
            "--out",
            str(out),
            "--batch",
            "4",
            "--device",
            "cpu",
            "--threads",
            "1",
            *extra,
        ]
    )


def test_train_resume_and_sample_from_the_command_line(jets16, tmp_path, capsys):
    out = tmp_path / "unet"
    assert _train(jets16, out, "ddpm", 2) == 0
    assert _train(jets16, out, "ddpm", 3, "--resume") == 0
    card = json.loads((out / "model_card.json").read_text())
    assert card["steps"] == 3 and card["command"].startswith("python -m core train --model ddpm")
    assert "--steps 3" in card["command"] and card["data"]["jets"] == 12
    assert len(json.loads((out / "trainer_state.json").read_text())["losses"]) == 3
    task = json.loads((out / "config.json").read_text())["task"]
    table = task["multiplicity_table"]  # the multiplicity readout is on by default, fitted on the 12 jets
    assert task["multiplicity"] and table["neighbours"] == min(len(table[k]["counts"]) for k in ("0", "1")) < 20
    config = json.loads((out / "config.json").read_text())
    config["task"]["guidance"] = 1.25  # a checkpoint's own weight: used, and named in the file's command
    (out / "config.json").write_text(json.dumps(config))
    assert (
        main(["sample", "--checkpoint", str(out), "--n", "2", "--out", str(tmp_path / "own.h5"), "--steps", "2"]) == 0
    )
    with h5py.File(tmp_path / "own.h5") as f:
        assert f.attrs["guidance"] == 1.25 and "--guidance 1.25" in f.attrs["command"]
    plain = tmp_path / "plain"
    assert _train(jets16, plain, "ddpm", 1, "--no-multiplicity") == 0
    assert "multiplicity_table" not in json.loads((plain / "config.json").read_text())["task"]
    assert "--no-multiplicity" in json.loads((plain / "model_card.json").read_text())["command"]
    samples = tmp_path / "s.h5"
    assert (
        main(
            [
                "sample",
                "--checkpoint",
                str(out),
                "--n",
                "4",
                "--out",
                str(samples),
                "--sampler",
                "ddim",
                "--steps",
                "3",
                "--label",
                "quark",
                "--guidance",
                "2",
                "--guidance-from",
                "0.3",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    with h5py.File(samples) as f:
        assert f["X_jets"].shape == (4, 16, 16, 3) and (f["X_jets"][()] >= 0).all()
        assert f["y"][()].tolist() == [1, 1, 1, 1]
        assert (
            f.attrs["sampler"] == "ddim"
            and f.attrs["sampler_steps"] == 3
            and f.attrs["guidance"] == 2.0
            and f.attrs["guidance_from"] == 0.3
            and f.attrs["label"] == "quark"
        )
        assert "--guidance-from 0.3" in f.attrs["command"]
    assert "wrote 4 jets" in capsys.readouterr().out
    # The fast sampler's log-SNR floor reaches the file and its command; asked of DDIM it is one line, no file.
    floored = tmp_path / "floor.h5"
    argv = ["sample", "--checkpoint", str(out), "--n", "2", "--steps", "5", "--logsnr-floor", "-3"]
    assert main([*argv, "--out", str(floored)]) == 0
    with h5py.File(floored) as f:
        assert f.attrs["logsnr_floor"] == -3.0 and "--logsnr-floor -3" in f.attrs["command"]
    capsys.readouterr()
    assert main([*argv, "--sampler", "ddim", "--out", str(tmp_path / "no.h5")]) == 2
    assert "log-SNR floor: for the fast sampler only, not 'ddim'" in capsys.readouterr().err
    assert not (tmp_path / "no.h5").exists()


def test_seed_baseline_trains_and_samples_unconditionally(jets16, tmp_path):
    out = tmp_path / "seed"
    assert _train(jets16, out, "seed-baseline", 2) == 0
    assert json.loads((out / "config.json").read_text())["task"]["schedule"] == {
        "kind": "linear",
        "timesteps": 50,
        "beta_start": 1e-4,
        "beta_end": 0.02,
    }
    samples = tmp_path / "s.h5"
    assert main(["sample", "--checkpoint", str(out), "--n", "3", "--out", str(samples), "--sampler", "ddpm"]) == 0
    with h5py.File(samples) as f:
        assert f["X_jets"].shape == (3, 16, 16, 3) and f.attrs["label"] == "none"


def test_command_line_errors_exit_2_with_one_line(jets16, tmp_path, capsys):
    assert _train(jets16, tmp_path / "x", "gan", 2) == 2
    assert "model 'gan': unknown" in capsys.readouterr().err
    assert _train(tmp_path / "missing.h5", tmp_path / "x", "ddpm", 2) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["sample", "--checkpoint", str(tmp_path / "none"), "--n", "2", "--out", str(tmp_path / "s.h5")]) == 2
    assert "no such checkpoint directory" in capsys.readouterr().err
    out = tmp_path / "seed"
    assert _train(jets16, out, "seed-baseline", 1) == 0
    capsys.readouterr()
    assert (
        main(["sample", "--checkpoint", str(out), "--n", "2", "--out", str(tmp_path / "s.h5"), "--label", "quark"]) == 2
    )
    assert "unconditional" in capsys.readouterr().err
    assert (
        main(["sample", "--checkpoint", str(out), "--n", "2", "--out", str(tmp_path / "s.h5"), "--guidance-from", "1"])
        == 2
    )
    assert "guidance from: expected a fraction of T in [0, 1), got 1.0" in capsys.readouterr().err
    assert not (tmp_path / "s.h5").exists()
    assert _train(jets16, out, "ddpm", 2, "--resume") == 2
    assert "holds a 'seed-baseline' model" in capsys.readouterr().err


def test_wrong_sizes_are_refused_before_reading_data(tmp_path, capsys):
    assert main(["train", "--model", "ddpm", "--size", "48", "--steps", "1", "--out", str(tmp_path / "a")]) == 2
    assert "--size 48" in capsys.readouterr().err
