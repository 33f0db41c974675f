"""The simulator is real Pythia 8 + FastJet, seeded, and writes the CMS layout atomically."""

import json

import h5py
import numpy as np

from core.cli import main
from core.data.layout import LABEL_CONVENTION
from core.data.readers import open_jets
from core.data.simulate import GeneratorSettings, plan_chunks


def test_simulated_file_has_the_cms_layout_and_settings(small_sim):
    with h5py.File(small_sim) as f:
        assert f["X_jets"].shape == (20, 125, 125, 3) and f["X_jets"].dtype == np.float32
        assert set(f) == {"X_jets", "y", "pt", "m0"}
        assert f.attrs["y_convention"] == LABEL_CONVENTION
        settings = json.loads(f.attrs["settings"])
        assert settings["ecm_gev"] == 14000 and settings["jet_radius"] == 0.4
        assert json.loads(f.attrs["versions"])["fastjet"].startswith("3.")
        assert int(f.attrs["seed"]) == 5
    src = open_jets(small_sim)
    assert int(src.y.sum()) == 10
    assert np.all((src.pt > 500) & (src.pt < 550))
    assert np.all(src.m0 > 0)
    images = src.images(slice(None))
    assert np.all(images.sum(axis=(1, 2))[:, 1:].sum(axis=1) > 300)  # calorimeters see most of the jet


def test_same_seed_gives_the_same_jets_whatever_the_worker_count(small_sim, tmp_path):
    again = tmp_path / "again.h5"
    assert main(["simulate", "--jets", "20", "--out", str(again), "--seed", "5", "--workers", "2"]) == 0
    a, b = open_jets(small_sim), open_jets(again)
    np.testing.assert_array_equal(a.images(slice(None)), b.images(slice(None)))
    np.testing.assert_array_equal(a.pt, b.pt)


def test_different_seeds_give_different_jets(small_sim, tmp_path):
    other = tmp_path / "other.h5"
    assert main(["simulate", "--jets", "4", "--out", str(other), "--seed", "6"]) == 0
    assert not np.allclose(open_jets(other).pt, open_jets(small_sim).pt[[0, 1, 10, 11]])


def test_chunks_split_classes_evenly():
    tasks = plan_chunks(250, 1, GeneratorSettings())
    per_class = {}
    for label, n, *_ in tasks:
        per_class[label] = per_class.get(label, 0) + n
    assert per_class == {1: 125, 0: 125}


def test_failed_simulation_leaves_no_file(tmp_path, capsys):
    out = tmp_path / "none.h5"
    assert main(["simulate", "--jets", "0", "--out", str(out)]) == 2
    assert not out.exists() and not list(tmp_path.iterdir())
    assert "--jets must be at least 1" in capsys.readouterr().err
