"""``train --init-from``: a new run whose network starts from another checkpoint's EMA weights."""

from __future__ import annotations

import json

import torch

from core.cli import main
from core.training.checkpoint import load_checkpoint

COMMON = ["--size", "32", "--max-jets", "64", "--batch", "8", "--threads", "1", "--checkpoint-every", "0"]


def _train(out, *extra: str) -> int:
    return main(["train", "--model", "ddpm", "--steps", "1", "--out", str(out), *COMMON, *extra])


def _weights(directory) -> dict[str, torch.Tensor]:
    return load_checkpoint(directory).ema.state_dict()


def test_a_run_starts_from_the_weights_of_a_checkpoint_in_another_layout(tmp_path, capsys):
    source, moved, fresh = tmp_path / "pixels", tmp_path / "towers", tmp_path / "fresh"
    assert _train(source, "--seed", "3") == 0
    # At a learning rate of 1e-12 one step moves no weight by 1e-6: the new network is the source's EMA network.
    assert _train(moved, "--init-from", str(source), "--hcal-towers", "--lr", "1e-12", "--seed", "4") == 0
    assert _train(fresh, "--hcal-towers", "--lr", "1e-12", "--seed", "4") == 0
    capsys.readouterr()
    theirs, ours, scratch = _weights(source), _weights(moved), _weights(fresh)
    assert all(torch.allclose(ours[k], theirs[k], atol=1e-6) for k in theirs)
    assert not all(torch.allclose(scratch[k], theirs[k], atol=1e-6) for k in theirs)  # a start from scratch differs
    card = json.loads((moved / "model_card.json").read_text())
    assert card["initialised_from"] == {"path": str(source), "family": "ddpm", "step": 1}
    assert "--init-from" in card["command"] and card["request"]["init_from"] == str(source)
    assert load_checkpoint(moved).task.config()["hcal_towers"] is True  # the layout is the new run's own
    assert load_checkpoint(moved).step == 1  # a fresh run: its own steps, not the source's


def test_a_source_that_cannot_be_continued_is_refused_in_one_line(tmp_path, capsys):
    source = tmp_path / "tiny"
    assert _train(source) == 0
    capsys.readouterr()
    cases = [
        (["--init-from", str(tmp_path / "nowhere")], "not a checkpoint directory (config.json is missing)"),
        (["--init-from", str(source), "--preset", "small"], "its network differs"),
        (["--init-from", str(source), "--resume"], "use one of them"),
    ]
    for extra, message in cases:
        assert _train(tmp_path / "new", *extra) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert _train(source, "--init-from", str(source), "--force") == 2
    assert "is --out itself" in capsys.readouterr().err
    seed = tmp_path / "seed"
    assert main(["train", "--model", "seed-baseline", "--steps", "1", "--out", str(seed), *COMMON]) == 0
    capsys.readouterr()
    assert _train(tmp_path / "other", "--init-from", str(seed)) == 2
    assert "holds a 'seed-baseline' model, not 'ddpm'" in capsys.readouterr().err
    assert not (tmp_path / "new" / "config.json").exists() and not (tmp_path / "other" / "config.json").exists()
