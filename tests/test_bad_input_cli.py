"""The command line against bad requests: every one is one line on stderr and exit 2, refused before any work,
and every input (data, checkpoint, generated jets) is left byte-identical."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from core.cli import main

TINY = ["--model", "seed-baseline", "--size", "16", "--max-jets", "32", "--batch", "8", "--threads", "1"]


def tree_digest(path: Path) -> dict[str, str]:
    path = Path(path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def one_line_error(capsys, *expected: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ckpt") / "tiny"
    assert main(["train", *TINY, "--steps", "2", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def generated(tmp_path_factory, checkpoint) -> Path:
    out = tmp_path_factory.mktemp("gen") / "gen.h5"
    assert main(["sample", "--checkpoint", str(checkpoint), "--n", "4", "--out", str(out)]) == 0
    return out


def refused(capsys, argv, *expected, keep=()):
    before = {str(p): tree_digest(p) for p in keep}
    assert main(argv) == 2
    line = one_line_error(capsys, *expected)
    assert {str(p): tree_digest(p) for p in keep} == before
    return line


# ---------------------------------------------------------------- never destroy work


def test_sample_into_its_own_checkpoint_is_refused(capsys, checkpoint):
    refused(
        capsys,
        ["sample", "--checkpoint", str(checkpoint), "--out", str(checkpoint / "ema.safetensors")],
        "lies inside the checkpoint",
        keep=[checkpoint],
    )
    refused(capsys, ["sample", "--checkpoint", str(checkpoint), "--out", str(checkpoint)], "is a directory")


def test_train_out_equal_to_data_is_refused(capsys, generated):
    refused(capsys, ["train", *TINY, "--data", str(generated), "--out", str(generated)], "destroy", keep=[generated])


def test_evaluate_out_equal_to_generated_is_refused(capsys, generated, checkpoint):
    refused(capsys, ["evaluate", "--generated", str(generated), "--out", str(generated)], "is a file", keep=[generated])
    refused(
        capsys,
        ["evaluate", "--generated", str(generated), "--out", str(checkpoint / "eval")],
        "inside the checkpoint",
        keep=[checkpoint],
    )


def test_existing_checkpoint_needs_resume_or_force(capsys, checkpoint, tmp_path):
    refused(capsys, ["train", *TINY, "--steps", "2", "--out", str(checkpoint)], "--resume continues", keep=[checkpoint])
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.tex").write_text("years of work")
    refused(capsys, ["train", *TINY, "--out", str(tmp_path / "notes")], "folder of other files", keep=[tmp_path])
    refused(capsys, ["train", *TINY, "--resume", "--out", str(tmp_path / "empty")], "holds no checkpoint")
    refused(capsys, ["train", *TINY, "--out", str(checkpoint / "inner")], "inside the checkpoint", keep=[checkpoint])


def test_force_replaces_a_checkpoint_as_a_whole_and_keeps_notes(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "2", "--out", str(out)]) == 0
    (out / "NOTES.md").write_text("keep me")
    assert main(["train", *TINY, "--steps", "3", "--out", str(out), "--force", "--seed", "1"]) == 0
    assert json.loads((out / "trainer_state.json").read_text())["step"] == 3
    assert (out / "NOTES.md").read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_inference_only_set_drops_the_raw_weights(tmp_path):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--steps", "2", "--out", str(out)]) == 0
    assert main(["train", *TINY, "--steps", "3", "--out", str(out), "--resume", "--inference-only"]) == 0
    assert not (out / "model.safetensors").exists() and not (out / "optimizer.pt").exists()


# ---------------------------------------------------------------- numbers checked before work


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--ema", "2"], "EMA decay"),
        (["--ema", "nan"], "--ema: must be a finite number"),
        (["--warmup", "-1"], "--warmup"),
        (["--checkpoint-every", "-1"], "--checkpoint-every"),
        (["--threads", "-1"], "--threads"),
        (["--max-jets", "0"], "--max-jets"),
        (["--lr", "inf"], "--lr: must be a finite number"),
        (["--batch", "1000000000"], "--batch 1000000000"),
        (["--batch", "1e9"], "invalid int value"),
        (["--steps", "0"], "--steps"),
        (["--size", "33"], "--size"),
    ],
)
def test_train_numbers(capsys, tmp_path, argv, expected):
    out = tmp_path / "never"
    args = ["train", "--model", "seed-baseline", "--size", "16", "--steps", "2", "--out", str(out), *argv]
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse: its own one line
        code = exit_.code
    assert code == 2
    one_line_error(capsys, expected)
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--guidance", "nan"], "--guidance: must be a finite number"),
        (["--guidance", "-1"], "--guidance"),
        (["--n", "0"], "--n"),
        (["--n", "1000000000000"], "needs about"),
        (["--n", "1e12"], "invalid int value"),
        (["--batch", "0"], "--batch"),
        (["--eta", "nan"], "--eta"),
    ],
)
def test_sample_numbers(capsys, tmp_path, checkpoint, argv, expected):
    out = tmp_path / "s.h5"
    try:
        code = main(["sample", "--checkpoint", str(checkpoint), "--out", str(out), *argv])
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    one_line_error(capsys, expected)
    assert not out.exists()


# ---------------------------------------------------------------- hand-edited checkpoints


def edited(checkpoint: Path, tmp_path: Path, edit) -> Path:
    import shutil

    copy = tmp_path / "edited"
    shutil.copytree(checkpoint, copy)
    config = json.loads((copy / "config.json").read_text())
    edit(config["task"])
    (copy / "config.json").write_text(json.dumps(config))
    return copy


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.__setitem__("size", 33), "task size 33"),
        (lambda t: t["network"].__setitem__("base", -16), "network.base is -16"),
        (lambda t: t["network"].__setitem__("size", 32), "differs from the task size"),
        (lambda t: t.__setitem__("transform", {"kind": "nonsense"}), "config.json"),
        (lambda t: t.__setitem__("family", "nope"), "unknown"),
    ],
)
def test_bad_config(capsys, tmp_path, checkpoint, edit, expected):
    ckpt = edited(checkpoint, tmp_path, edit)
    refused(capsys, ["sample", "--checkpoint", str(ckpt), "--out", str(tmp_path / "s.h5")], expected, keep=[ckpt])


def test_optimizer_holding_a_list_is_refused(capsys, tmp_path, checkpoint):
    import shutil

    ckpt = tmp_path / "opt"
    shutil.copytree(checkpoint, ckpt)
    torch.save([1, 2, 3], ckpt / "optimizer.pt")
    refused(capsys, ["train", *TINY, "--steps", "3", "--resume", "--out", str(ckpt)], "optimizer", keep=[ckpt])


def test_nan_loss_is_one_line(capsys, tmp_path):
    data = tmp_path / "huge.h5"
    x = np.zeros((16, 16, 16, 3), np.float32)
    x[:, 8, 8, :] = 3e38
    with h5py.File(data, "w") as f:
        f["X_jets"] = x
        f["y"] = np.array([1.0, 0.0] * 8)
    code = main(["train", *TINY, "--data", str(data), "--steps", "3", "--lr", "1e30", "--out", str(tmp_path / "o")])
    if code != 0:  # the loss went NaN or infinite: one line, no traceback
        assert code == 2
        one_line_error(capsys)


def test_unwritable_output_folder(capsys, tmp_path, checkpoint):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    refused(capsys, ["sample", "--checkpoint", str(checkpoint), "--out", str(blocker / "s.h5")], "is a file")


def test_nan_weights_are_refused(capsys, tmp_path, checkpoint):
    import shutil

    from safetensors.torch import load_file, save_file

    ckpt = tmp_path / "nan"
    shutil.copytree(checkpoint, ckpt)
    for name in ("ema.safetensors", "model.safetensors"):
        tensors = load_file(str(ckpt / name))
        key = next(k for k, v in tensors.items() if v.is_floating_point())
        tensors[key] = torch.full_like(tensors[key], float("nan"))
        meta = {"step": json.loads((ckpt / "trainer_state.json").read_text())["step"].__str__(), "format": "x"}
        save_file(tensors, str(ckpt / name), metadata=meta)
    out = tmp_path / "s.h5"
    refused(capsys, ["sample", "--checkpoint", str(ckpt), "--out", str(out)], "NaN or infinite weights", keep=[ckpt])
    assert not out.exists()
