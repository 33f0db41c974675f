"""Adding a model family is one module plus one registry line: a toy family goes through train, sample and
evaluate on the command line, and through the Train and Generate pages, with nothing else changed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import pytest
from test_app_pages import (  # noqa: F401 (fixtures, one of them autouse)
    _navigation_v2,
    _wait_for,
    assert_clean,
    data_path,
    make_app,
    runs_dir,
)

from core.cli import main
from core.errors import JetInputError
from core.training.registry import TASK_BUILDERS


@pytest.fixture()
def toy(monkeypatch):
    monkeypatch.setitem(TASK_BUILDERS, "toy", "toy_family:build_task")  # the one registry line
    # The dashboard trains in a separate `python -m core train` process: it finds the family through the
    # plug-in variable that the registry reads, and the module through PYTHONPATH.
    monkeypatch.setenv("JETLAB_FAMILIES", "toy=toy_family:build_task")
    tests = str(Path(__file__).resolve().parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH", "")) if p))


def test_plugin_families_are_read_from_the_environment():
    from core.training.registry import _plugin_families

    assert _plugin_families("toy=toy_family:build_task, b=m:f") == {"toy": "toy_family:build_task", "b": "m:f"}
    with pytest.raises(JetInputError, match="JETLAB_FAMILIES"):
        _plugin_families("toy")


@pytest.fixture(scope="module")
def jets(tmp_path_factory):
    from metrics_synth import write_random_jets

    return write_random_jets(tmp_path_factory.mktemp("toy") / "jets16.h5", 160, 16)


def test_toy_family_trains_samples_and_evaluates_from_the_command_line(toy, jets, tmp_path):
    out = tmp_path / "toy"
    argv = ["train", "--model", "toy", "--data", str(jets), "--size", "16", "--steps", "3", "--out", str(out)]
    assert main([*argv, "--batch", "4", "--threads", "1"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == {"family": "toy", "size": 16}
    card = json.loads((out / "model_card.json").read_text())
    assert card["command"].startswith("python -m core train --model toy")
    samples = tmp_path / "s.h5"
    assert main(["sample", "--checkpoint", str(out), "--n", "4", "--out", str(samples)]) == 0
    with h5py.File(samples) as f:
        assert f["X_jets"].shape == (4, 16, 16, 3) and f.attrs["sampler"] == "noisy"
    assert main(["sample", "--checkpoint", str(out), "--n", "2", "--out", str(samples), "--shots", "5"]) == 2
    ev = tmp_path / "eval"
    common = ["--jets", "60", "--inception-jets", "0", "--no-classifier", "--no-figures", "--real", str(jets)]
    assert main(["evaluate", "--checkpoint", str(out), "--n", "60", "--out", str(ev), *common]) == 0
    assert (ev / "report.json").exists()


@pytest.mark.slow
def test_toy_family_on_the_train_and_generate_pages(toy, data_path, runs_dir):  # noqa: F811
    at = make_app("pages/train.py", data_path)
    at.selectbox(key="train_family").set_value("toy").run()
    assert_clean(at)
    assert at.selectbox(key="train_toy_size").value == 32
    at.number_input(key="train_steps").set_value(3)
    at.number_input(key="train_batch").set_value(4)
    at.number_input(key="train_jets").set_value(60)
    at.number_input(key="train_every").set_value(0)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert_clean(at)
    at = _wait_for(at, lambda a: any("Checkpoint saved" in s.value for s in a.success))
    runs = list(runs_dir.rglob("config.json"))
    assert len(runs) == 1 and json.loads(runs[0].read_text())["task"]["family"] == "toy"

    at.switch_page("pages/generate.py").run()
    trained = [o for o in at.selectbox(key="gen_choice").options if o.startswith("trained here")]
    at.selectbox(key="gen_choice").set_value(trained[0]).run()
    assert_clean(at)
    assert {m.label: m.value for m in at.metric}["Family"] == "toy"
    at.number_input(key="gen_n").set_value(24)
    next(b for b in at.button if b.label == "Generate").click().run()
    at = _wait_for(at, lambda a: any("HDF5" in b.label for b in a.get("download_button")))
    assert not at.exception
    assert any(m.startswith("W1 jet mass") for m in at.dataframe[0].value["metric"])
