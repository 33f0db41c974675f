"""One convention for jets with no class (y = -1): written by every writer, read by every reader and consumer."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from core.cli import main
from core.data.layout import UNLABELLED, class_counts_text, label_name
from core.data.readers import open_jets, summary
from core.data.writers import write_cms
from core.errors import JetInputError

ROOT = Path(__file__).resolve().parents[1]
SEED_BASELINE = ROOT / "checkpoints" / "seed_baseline_32"


def _jets(n: int, size: int = 16, seed: int = 0) -> np.ndarray:
    """(n, size, size, 3) sparse positive deposits in GeV."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, size, size, 3)) ** 8 * 40 * (rng.random((n, size, size, 3)) > 0.6)).astype(np.float32)


def test_label_names_and_counts_include_unlabelled():
    assert [label_name(v) for v in (1, 0, -1)] == ["quark", "gluon", "unlabelled"]
    assert label_name(torch.tensor(-1)) == "unlabelled"
    with pytest.raises(ValueError, match="label 2"):
        label_name(2)
    assert class_counts_text(np.array([1, 0, 0])) == "1 quark, 2 gluon"
    assert class_counts_text(np.array([1, -1, -1])) == "1 quark, 0 gluon, 2 unlabelled"


def test_dashboard_download_of_unconditional_samples_reads_back(tmp_path, capsys):
    from core.viz.export import samples_h5

    x = torch.rand(5, 3, 8, 8)
    path = tmp_path / "uncond.h5"
    path.write_bytes(samples_h5(x, None))
    src = open_jets(path)
    assert src.y.tolist() == [UNLABELLED] * 5
    info = summary(src)
    src.close()
    assert (info["jets"], info["quark"], info["gluon"], info["unlabelled"]) == (5, 0, 0, 5)
    with h5py.File(path) as f:
        assert f.attrs["label"] == "none" and f.attrs["y_meaning"].startswith("-1 = unlabelled")
    assert main(["info", str(path)]) == 0
    assert "5 (0 quark, 0 gluon, 5 unlabelled (y = -1))" in capsys.readouterr().out


def test_summary_of_a_labelled_file_has_no_unlabelled_count(tmp_path):
    path = tmp_path / "labelled.h5"
    write_cms(path, _jets(4), np.array([1, 0, 0, 0]))
    info = summary(open_jets(path))
    assert (info["quark"], info["gluon"]) == (1, 3) and "unlabelled" not in info


@pytest.mark.skipif(not (SEED_BASELINE / "config.json").exists(), reason="no shipped seed-baseline checkpoint")
def test_cli_sample_of_an_unconditional_checkpoint_writes_minus_one_and_evaluate_reads_it(tmp_path):
    from core.commands.evaluate import load_generated

    out = tmp_path / "seed.h5"
    args = ["sample", "--checkpoint", str(SEED_BASELINE), "--n", "3", "--out", str(out), "--steps", "2"]
    assert main(args) == 0
    with h5py.File(out) as f:
        assert f["y"][()].tolist() == [-1, -1, -1]
        assert f.attrs["label"] == "none" and f.attrs["y_meaning"].startswith("-1 = unlabelled")
    x, y, conditional = load_generated(str(out), max_jets=10, seed=0)
    assert x.shape == (3, 3, 32, 32) and y.tolist() == [-1, -1, -1] and conditional is False


def test_evaluate_still_reads_old_placeholder_files(tmp_path):
    from core.commands.evaluate import load_generated

    old = tmp_path / "old.h5"  # before y = -1: a placeholder 0 and the attribute label = "none"
    write_cms(old, _jets(4), np.zeros(4), attrs={"label": "none", "y_meaning": "placeholder 0"})
    _, y, conditional = load_generated(str(old), max_jets=10, seed=0)
    assert y.tolist() == [-1] * 4 and conditional is False
    labelled = tmp_path / "labelled.h5"
    write_cms(labelled, _jets(4), np.array([0, 1, 0, 1]), attrs={"label": "mixed"})
    _, y, conditional = load_generated(str(labelled), max_jets=10, seed=0)
    assert y.tolist() == [0, 1, 0, 1] and conditional is True


def test_a_label_other_than_1_0_or_minus_1_is_refused_naming_file_key_and_value(tmp_path):
    bad = tmp_path / "bad.h5"
    write_cms(bad, _jets(3), np.array([1, 2, -1]))
    with pytest.raises(JetInputError) as err:
        open_jets(bad)
    message = str(err.value)
    assert str(bad) in message and "key 'y'" in message and "holds 2" in message and "\n" not in message
    npz = tmp_path / "QG_jets_bad.npz"
    parts = np.zeros((2, 3, 4))
    parts[:, 0] = (100.0, 0.0, 0.0, 21)
    np.savez(npz, X=parts, y=np.array([0.5, 1.0]))
    with pytest.raises(JetInputError, match=r"QG_jets_bad\.npz: key 'y' holds 0\.5"):
        open_jets(npz)
    ok = tmp_path / "QG_jets_unlabelled.npz"
    np.savez(ok, X=parts, y=np.array([-1, 1]))
    assert open_jets(ok).y.tolist() == [-1, 1]


def test_class_overview_keeps_unlabelled_jets_as_their_own_class(tmp_path):
    from core.viz.images import class_means, observable_histograms
    from core.viz.stats import class_overview

    path = tmp_path / "mixed.h5"
    write_cms(path, _jets(6), np.array([1, 0, -1, -1, 1, 0]))
    src = open_jets(path)
    means, obs, y = class_overview(src, np.arange(6))
    assert list(means) == ["quark", "gluon", "unlabelled"] and y.tolist() == [1, 0, -1, -1, 1, 0]
    assert list(class_means(torch.zeros(2, 3, 4, 4), np.array([-1, -1]))) == ["unlabelled"]
    names = {trace.name for trace in observable_histograms(obs, y).data}
    assert names == {"quark", "gluon", "unlabelled"}


@pytest.fixture(scope="module")
def unlabelled16(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "unlabelled16.h5"
    write_cms(path, _jets(12), np.full(12, UNLABELLED))
    return path


def _train(data: Path, out: Path, model: str) -> int:
    args = ["train", "--model", model, "--data", str(data), "--size", "16", "--steps", "1", "--out", str(out)]
    return main([*args, "--batch", "4", "--device", "cpu", "--threads", "1"])


def test_conditional_training_on_unlabelled_jets_is_refused(unlabelled16, tmp_path, capsys):
    assert _train(unlabelled16, tmp_path / "ddpm", "ddpm") == 2
    err = capsys.readouterr().err
    assert "12 of 12 jets have no label (y = -1)" in err and "needs quark/gluon labels" in err
    assert str(unlabelled16) in err and not (tmp_path / "ddpm" / "config.json").exists()


def test_unconditional_training_accepts_unlabelled_jets(unlabelled16, tmp_path):
    assert _train(unlabelled16, tmp_path / "seed", "seed-baseline") == 0
    card = json.loads((tmp_path / "seed" / "config.json").read_text())
    assert card["task"]["family"] == "seed-baseline"


def test_trainer_itself_refuses_unlabelled_jets_for_a_conditional_task():
    from core.training.loop import TrainConfig, Trainer, check_labels_for_task

    class Conditional:
        family, conditional = "stub", True

    check_labels_for_task(Conditional(), torch.tensor([0, 1]))  # labelled: fine
    with pytest.raises(JetInputError, match=r"1 of 2 jets have no label \(y = -1\)"):
        Trainer(Conditional(), torch.zeros(2, 3, 8, 8), torch.tensor([1, -1]), TrainConfig(steps=1))
