"""``benchmarks/bench_classical.py``: the goal table of issue 13 at a tiny size (slow), and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks.bench_classical import fast_vs_best_rows, main
from core.errors import JetInputError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = {n: ROOT / "checkpoints" / d for n, d in (("seed baseline", "seed_baseline_32"), ("U-Net", "unet_32"))}


@pytest.mark.slow
@pytest.mark.skipif(not all((p / "config.json").exists() for p in SHIPPED.values()), reason="no checkpoint")
def test_quick_run_prints_and_writes_the_goal_table(tmp_path, capsys):
    argv = ["--quick", "--real", str(ROOT / "assets" / "jets_sample.h5"), "--out", str(tmp_path), "--threads", "1"]
    for name, path in SHIPPED.items():
        argv += ["--checkpoint", f"{name}={path}"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "load average at start" in out and "load average at end" in out
    data = json.loads((tmp_path / "bench_classical.json").read_text())
    metrics = {(r["model"], r["metric"]) for r in data["rows"]}
    for name in SHIPPED:
        for metric in (
            "two-sample AUC (observables)",
            "two-sample AUC (pixels)",
            "FPD (N -> inf)",
            "W1 jet mass [GeV]",
        ):
            assert (name, metric) in metrics
        assert any(m.startswith("memorisation") for n, m in metrics if n == name)
        assert any(m.startswith("fast / ddim 3") for n, m in metrics if n == name)
    assert ("U-Net", "verdict: gluon called gluon (generated vs real)") in metrics  # conditional model only
    assert all(isinstance(r["pass"], bool) for r in data["rows"])
    assert "| model | metric | value |" in (tmp_path / "bench_classical.md").read_text()


def test_fast_against_best_is_a_ratio_with_a_ten_percent_goal():
    rows = fast_vs_best_rows("m", {"a": 1.05, "b": 2.0}, {"a": 1.0, "b": 1.0}, "ddim 100")
    assert [r["pass"] for r in rows] == [True, False] and rows[1]["ratio"] == 2.0


def test_bad_arguments_are_one_clear_error(tmp_path):
    with pytest.raises(JetInputError, match="no such held-out jet file"):
        main(["--real", str(tmp_path / "none.h5"), "--out", str(tmp_path)])
    with pytest.raises(JetInputError, match="NAME:STEPS"):
        main(["--fast", "dpm", "--out", str(tmp_path)])
    with pytest.raises(JetInputError, match="NAME=DIR"):
        main(
            [
                "--checkpoint",
                "nodir",
                "--real",
                str(ROOT / "assets" / "jets_sample.h5"),
                "--n",
                "20",
                "--out",
                str(tmp_path),
            ]
        )
    for bad in ("nan", "-1", "inf"):
        with pytest.raises(JetInputError, match="--guidance: expected a finite weight >= 0"):
            main(["--guidance", bad, "--out", str(tmp_path)])


def test_guidance_reaches_the_sampler_of_conditional_models_only(monkeypatch):
    """``--guidance`` is passed to a conditional model's sampler; an unconditional one samples unguided (1.0)."""
    import benchmarks.bench_classical as bench
    import core.training.sampling as sampling

    seen = []
    monkeypatch.setattr(
        sampling, "sample_images", lambda ckpt, n, s, k, label, g, *a: seen.append((label, g)) or torch.zeros(1)
    )
    monkeypatch.setattr(sampling, "labels_for", lambda ckpt, label, n: None)

    class Ckpt:
        class task:  # noqa: N801 - a stand-in for the checkpoint's task
            conditional = True

    bench.sample(Ckpt, 4, ("ddim", 2), 0, "cpu", guidance=1.5)
    Ckpt.task.conditional = False
    bench.sample(Ckpt, 4, ("ddim", 2), 0, "cpu", guidance=1.5)
    assert seen == [("mixed", 1.5), (None, 1.0)]
