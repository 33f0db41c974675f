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
    argv += ["--budget", "fast:3", "--budget-guidance-from", "0.5", "--budget-logsnr-floor", "-3"]
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
        assert any(m.startswith("budget fast 3 / ddim 3") for n, m in metrics if n == name)
    assert ("U-Net", "verdict: gluon called gluon (generated vs real)") in metrics  # conditional model only
    cost = {r["model"]: r for r in data["rows"] if r["metric"] == "fast sampler: network evaluations per jet"}
    # The budget sampler, fast 3 with its log-SNR grid from -3, visits t = 999, 967 and 0; at the U-Net's guidance
    # 1.5 from t / T = 0.5 the first two run the network twice. ddim 3 (999, 500, 0) is guided at every step.
    assert cost["U-Net"]["value"] == 5 and cost["U-Net"]["floor"] == 6 and cost["U-Net"]["pass"]
    assert data["checkpoints"]["U-Net"]["budget"]["evaluations"] == 5
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
    """``--guidance`` (and its interval) is passed to a conditional model's sampler; an unconditional one samples
    unguided (1.0, every step)."""
    import benchmarks.bench_classical as bench
    import core.training.sampling as sampling

    seen, floors = [], []

    def fake(ckpt, n, s, k, label, g, *a, guidance_from=0.0, logsnr_floor=None):
        seen.append((label, g, guidance_from))
        floors.append(logsnr_floor)
        return torch.zeros(1)

    monkeypatch.setattr(sampling, "sample_images", fake)
    monkeypatch.setattr(sampling, "labels_for", lambda ckpt, label, n: None)

    class Ckpt:
        class task:  # noqa: N801 - a stand-in for the checkpoint's task
            conditional = True

    bench.sample(Ckpt, 4, ("ddim", 2), 0, "cpu", guidance=1.5, guidance_from=0.3)
    bench.sample(Ckpt, 4, ("ddim", 2), 0, "cpu", guidance=1.0, guidance_from=0.3)  # no weight: no interval
    Ckpt.task.conditional = False
    bench.sample(Ckpt, 4, ("ddim", 2), 0, "cpu", guidance=1.5, guidance_from=0.3)
    bench.sample(Ckpt, 4, ("fast", 2), 0, "cpu", guidance=1.5, logsnr_floor=-3.0)  # the floor: fast only
    assert seen == [("mixed", 1.5, 0.3), ("mixed", 1.0, 0.0), (None, 1.0, 0.0), (None, 1.0, 0.0)]
    assert floors == [None, None, None, -3.0]
    for bad in ("1", "-0.1", "nan"):
        with pytest.raises(JetInputError, match="--guidance-from: expected a fraction of T in"):
            main(["--guidance-from", bad, "--out", "/nonexistent"])


def _saved(path: Path, models: dict[str, float]) -> Path:
    """A bench_classical.json with one W1 row and one AUC row per model (W1 ratio and AUC given)."""
    rows = []
    for model, ratio in models.items():
        rows.append(
            {
                "model": model,
                "metric": "W1 jet mass [GeV]",
                "value": ratio,
                "floor": 1.0,
                "ratio": ratio,
                "goal": "<= 2.0x floor",
                "pass": ratio <= 2,
            }
        )
        rows.append(
            {
                "model": model,
                "metric": "two-sample AUC (observables)",
                "value": 0.5 + ratio / 100,
                "floor": 0.51,
                "ratio": None,
                "goal": "<= 0.6",
                "pass": False,
            }
        )
    path.write_text(json.dumps({"info": {}, "rows": rows}))
    return path


def test_replot_picks_models_by_file_and_name_and_draws_their_ratios(tmp_path, monkeypatch):
    """``--replot A.json#MODEL B.json``: the rows of the named model of A, then every model of B not seen yet;
    the figure's bars are each model's W1 ratio and AUC, with the goal line at 2x and the AUC floor."""
    from benchmarks import bench_classical as bench
    from core.viz.evaluation import goal_table_figure

    a = _saved(tmp_path / "a.json", {"seed": 300.0, "U-Net": 9.0})
    b = _saved(tmp_path / "b.json", {"U-Net": 1.5, "new": 1.2})
    rows = bench.saved_rows([f"{a}#seed", str(b)])
    assert [(r["model"], r["ratio"]) for r in rows if r["ratio"]] == [("seed", 300.0), ("U-Net", 1.5), ("new", 1.2)]
    fig = goal_table_figure(rows)
    w1 = [t for t in fig.data if t.orientation == "h"]
    assert [(t.name, list(t.x)) for t in w1] == [("seed", [300.0]), ("U-Net", [1.5]), ("new", [1.2])]
    aucs = [t for t in fig.data if t.orientation != "h"]
    assert [round(t.y[0], 3) for t in aucs] == [3.5, 0.515, 0.512]
    assert any(s.x0 == 2.0 == s.x1 for s in fig.layout.shapes)  # the W1 goal
    assert any(s.y0 == 0.51 == s.y1 for s in fig.layout.shapes)  # the AUC's real-vs-real value
    assert any(s.y0 == 0.6 == s.y1 for s in fig.layout.shapes)  # the AUC goal
    assert list(fig.layout.xaxis.tickvals) == [0.5, 1, 2, 5, 10, 100, 1000]  # plain ticks, not 2, 5, 2, 5

    written = []
    monkeypatch.setattr("core.viz.export.figure_png", lambda fig, **kw: written.append(fig) or b"\x89PNG")
    assert main(["--replot", f"{a}#seed", str(b), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "goal_table.png").read_bytes() == b"\x89PNG" and len(written) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["goal_table.png"]  # no temporary left


def test_replot_without_chromium_writes_nothing_and_bad_files_are_named(tmp_path, monkeypatch, capsys):
    from benchmarks import bench_classical as bench

    a = _saved(tmp_path / "a.json", {"U-Net": 1.5})

    def no_browser(fig, **kw):
        raise RuntimeError("PNG export needs a local Chromium")

    monkeypatch.setattr("core.viz.export.figure_png", no_browser)
    assert main(["--replot", str(a), "--out", str(tmp_path / "out")]) == 0
    assert "figure skipped: PNG export needs a local Chromium" in capsys.readouterr().out
    assert list((tmp_path / "out").iterdir()) == []
    with pytest.raises(JetInputError, match="no model 'other'; it holds U-Net"):
        bench.saved_rows([f"{a}#other"])
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(JetInputError, match=r"bad\.json: not a bench_classical\.json file"):
        bench.saved_rows([str(tmp_path / "bad.json")])


def test_the_budget_sampler_is_held_to_twenty_evaluations_by_default():
    from benchmarks.bench_classical import parse_args

    args = parse_args([])
    assert (args.budget, args.budget_guidance_from, args.budget_logsnr_floor) == (("fast", 14), 0.5, -3.0)
    assert parse_args(["--budget", "none"]).budget is None  # the fast sampler itself is compared
    assert parse_args(["--quick"]).budget == ("fast", 3)
    with pytest.raises(JetInputError, match="--budget-logsnr-floor: expected a finite lambda"):
        parse_args(["--budget-logsnr-floor", "nan"])
    with pytest.raises(JetInputError, match="--budget-guidance-from: expected a fraction of T"):
        parse_args(["--budget-guidance-from", "1.5"])
