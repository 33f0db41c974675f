"""The physics rows over several splits of the real jets (core.metrics.splits): round trips and the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from metrics_synth import synthetic_jets

from core.cli import main
from core.data.writers import write_cms
from core.errors import JetInputError
from core.metrics.report import evaluate_sets
from core.metrics.splits import format_splits, rows_over_splits


def test_each_split_is_evaluate_with_that_seed_and_the_means_are_theirs():
    real, generated = synthetic_jets(80, seed=1), synthetic_jets(40, seed=2, width=2.5)
    rows = rows_over_splits(real, generated, [3, 4, 5])
    alone = [evaluate_sets(real, generated, classifier=False, two_sample=False, seed=s).rows for s in (3, 4, 5)]
    by_name = {r["metric"]: r for r in rows}
    assert set(by_name) == {r.metric for r in alone[0] if r.metric.startswith(("W1", "FPD"))}
    mass = by_name["W1 jet mass [GeV]"]
    picked = [next(r for r in split if r.metric == "W1 jet mass [GeV]") for split in alone]
    assert mass["model"] == pytest.approx([r.model for r in picked]) and mass["floor"] == pytest.approx(
        [r.floor for r in picked]
    )
    assert mass["model_mean"] == pytest.approx(sum(r.model for r in picked) / 3)
    assert mass["ratio_of_means"] == pytest.approx(mass["model_mean"] / mass["floor_mean"])
    ratios = [r.model / r.floor for r in picked]
    assert (mass["ratio_min"], mass["ratio_max"]) == pytest.approx((min(ratios), max(ratios)))
    assert mass["ratio_of_means"] > 1.5  # wider generated jets: the distance stands out of the floor on average
    assert "W1 jet mass [GeV]" in format_splits(rows) and "x" in format_splits(rows)


def test_one_split_is_refused():
    with pytest.raises(JetInputError, match="at least 2 splits"):
        rows_over_splits(synthetic_jets(20), synthetic_jets(10), [0])


def test_cli_prints_and_keeps_the_splits(tmp_path, capsys):
    real, gen = tmp_path / "real.h5", tmp_path / "gen.h5"
    write_cms(real, synthetic_jets(80, seed=1).permute(0, 2, 3, 1).numpy(), (torch.arange(80) % 2).numpy())
    write_cms(gen, synthetic_jets(40, seed=2).permute(0, 2, 3, 1).numpy(), (torch.arange(40) % 2).numpy())
    argv = ["evaluate", "--real", str(real), "--generated", str(gen), "--no-classifier", "--no-two-sample"]
    out = tmp_path / "eval"
    assert main([*argv, "--splits", "3", "--out", str(out), "--no-figures"]) == 0
    printed = capsys.readouterr().out
    assert "over 3 splits of the real jets into halves (seeds 0-2" in printed and "ratio of means" in printed
    report = json.loads((out / "report.json").read_text())
    assert (
        report["details"]["splits"]["seeds"] == [0, 1, 2] and len(report["details"]["splits"]["rows"][0]["model"]) == 3
    )
    assert main([*argv, "--splits", "0"]) == 2
    assert "--splits: must be 1 or more, got 0" in capsys.readouterr().err
