"""The whole evaluation: table with floors, JSON, figures, and ``python -m core evaluate``."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from metrics_synth import blur, synthetic_jets

from core.cli import main
from core.data.observables import LABELS, OBSERVABLES
from core.data.writers import write_cms
from core.errors import JetInputError
from core.metrics.jet_classifier import ClassifierConfig, JetClassifier, save_classifier
from core.metrics.report import WHOLE_IMAGE_KEYS, evaluate_sets, format_table
from core.viz.evaluation import (
    metrics_vs_floor,
    observables_overlay,
    quality_vs_steps,
    reconstruction_bars,
    samples_grid,
)


@pytest.fixture(scope="module")
def classifier() -> JetClassifier:
    torch.manual_seed(0)
    return JetClassifier(ClassifierConfig(size=16, width=4, features=16)).eval()


def _labels(n: int) -> torch.Tensor:
    return (torch.arange(n) % 2).long()


def test_evaluate_sets_gives_every_metric_with_its_floor(classifier):
    real = synthetic_jets(240, seed=1)
    gen_good, gen_bad = synthetic_jets(120, seed=2), blur(synthetic_jets(120, seed=2), 2)
    kw = {"classifier": classifier, "seed": 0, "two_sample_folds": 3}
    good = evaluate_sets(real, gen_good, _labels(240), _labels(120), **kw)
    bad = evaluate_sets(real, gen_bad, _labels(240), _labels(120), **kw)
    rows = {r.metric: r for r in good.rows}
    assert {"FID (jet features)", "KID (jet features)", "FPD (observables, N -> inf)"} <= set(rows)
    assert sum(m.startswith("W1 ") for m in rows) == len(OBSERVABLES) + len(WHOLE_IMAGE_KEYS)
    assert "classifier: quark jets called quark" in rows
    assert all(r.floor is not None for r in good.rows)
    assert good.info["n"] == 120
    bad_rows = {r.metric: r for r in bad.rows}
    for metric in ("FID (jet features)", "FPD (observables, N -> inf)"):
        assert bad_rows[metric].model > rows[metric].model
    # The floor only depends on the real jets and the seed.
    assert bad_rows["FID (jet features)"].floor == rows["FID (jet features)"].floor
    for kind in ("observables", "pixels"):
        name = f"two-sample AUC ({kind})"
        assert abs(rows[name].floor - 0.5) < 0.15 and bad_rows[name].model > 0.9
    table = format_table(good.rows)
    assert "floor (real vs real)" in table and "W1 jet mass [GeV]" in table
    data = json.loads(good.to_json())
    assert data["rows"][0]["metric"] == "FID (jet features)" and "physics" in data["details"]


def test_whole_image_rows_read_the_rim_the_cone_rows_cannot_see():
    """The whole-image rows are scipy's W1 of the observables with no radius cut, on the same halves; a change
    outside R = 0.4 moves them and leaves the cone rows exactly where they were."""
    from scipy.stats import wasserstein_distance

    from core.data.observables import jet_observables
    from core.metrics.floor import floor_split

    real = synthetic_jets(200, seed=1)
    gen = synthetic_jets(100, seed=2)
    rim = gen.clone()
    rim[:, :, 0, :] += 0.5  # a faint row of deposits at the image's edge, far outside the cone
    kw = {"classifier": False, "seed": 0, "two_sample": False}
    a, b = evaluate_sets(real, gen, **kw), evaluate_sets(real, rim, **kw)
    ra, rb = {r.metric: r for r in a.rows}, {r.metric: r for r in b.rows}
    split = floor_split(len(real), len(gen), 0)
    whole_real = jet_observables(real[split.real_a], radius=None)
    whole_gen = jet_observables(gen[split.generated], radius=None)
    whole_floor = jet_observables(real[split.real_b], radius=None)
    for k in WHOLE_IMAGE_KEYS:
        row = next(r for m, r in ra.items() if m.endswith(", whole image") and m.startswith(f"W1 {LABELS[k]}"))
        assert row.model == pytest.approx(wasserstein_distance(whole_real[k], whole_gen[k]))
        assert row.floor == pytest.approx(wasserstein_distance(whole_real[k], whole_floor[k]))
    assert rb["W1 jet mass [GeV]"].model == ra["W1 jet mass [GeV]"].model  # the cone does not see the rim
    assert rb["W1 jet mass [GeV], whole image"].model > ra["W1 jet mass [GeV], whole image"].model
    assert rb["W1 non-empty ECAL pixels, whole image"].model > ra["W1 non-empty ECAL pixels, whole image"].model
    assert a.details["physics_whole_image"]["w1"]["model"]["mass"] == pytest.approx(
        ra["W1 jet mass [GeV], whole image"].model
    )


def test_unconditional_samples_get_no_verdict(classifier):
    real = synthetic_jets(80, seed=1)
    out = evaluate_sets(real, synthetic_jets(40, seed=3), _labels(80), torch.zeros(40).long(), classifier=classifier)
    assert not any(r.metric.startswith("classifier") for r in out.rows)
    out = evaluate_sets(real, synthetic_jets(40, seed=3), classifier=False)
    assert not any("jet features" in r.metric for r in out.rows)


def test_two_sample_rows_can_be_skipped_and_need_enough_jets():
    real = synthetic_jets(80, seed=1)
    out = evaluate_sets(real, synthetic_jets(40, seed=3), classifier=False, two_sample=False)
    assert not any(r.metric.startswith("two-sample") for r in out.rows)
    out = evaluate_sets(real, synthetic_jets(40, seed=3), classifier=False, two_sample=("observables",))
    assert [r.metric for r in out.rows if r.metric.startswith("two-sample")] == ["two-sample AUC (observables)"]
    few = evaluate_sets(real, synthetic_jets(24, seed=3), classifier=False, two_sample_folds=15)
    assert "too few" in few.info["two_sample_skipped"]


def test_evaluate_sets_bad_input(classifier):
    with pytest.raises(JetInputError, match="cannot be compared"):
        evaluate_sets(synthetic_jets(40), synthetic_jets(20, size=32), classifier=classifier)
    with pytest.raises(JetInputError, match="too few"):
        evaluate_sets(synthetic_jets(3), synthetic_jets(20), classifier=classifier)
    with pytest.raises(JetInputError, match="too few"):  # the FPD of 9 observables needs at least 20 jets
        evaluate_sets(synthetic_jets(40), synthetic_jets(15), classifier=classifier)


def test_figure_builders_are_pure():
    rng = np.random.default_rng(0)
    obs = {k: rng.normal(size=50) for k in ("pt", "mass")}
    fig = observables_overlay(obs, {k: v + 1 for k, v in obs.items()})
    assert isinstance(fig, go.Figure) and len(fig.data) == 4
    grid = samples_grid(synthetic_jets(6), synthetic_jets(6, seed=1), channel=1, n=3)
    assert len(grid.data) == 6
    rows = [{"metric": "a", "model": 2.0, "floor": 1.0}, {"metric": "b", "model": 1.0, "floor": -0.1}]
    assert list(metrics_vs_floor(rows).data[0].y) == ["a"]
    results = [{"sampler": s, "sampler_steps": k, "fpd": 1.0 / k} for s in ("ddim", "fast") for k in (5, 10, 20)]
    assert len(quality_vs_steps(results, "fpd", floor=0.01).data) == 2
    legacy = [{"sampler": r["sampler"], "steps": r["sampler_steps"], "fpd": r["fpd"]} for r in results]
    assert len(quality_vs_steps(legacy, "fpd").data) == 2  # benchmark files written before the rename
    m = {
        "t": 3,
        "mode": "one_step",
        **{k: {"ssim": {"Tracks": 0.5, "mean": 0.5}} for k in ("model", "noisy_xt", "empty")},
    }
    assert len(reconstruction_bars(m).data) == 3


def _write(path, x: torch.Tensor, y: torch.Tensor, attrs=None) -> str:
    write_cms(path, x.permute(0, 2, 3, 1).numpy(), y.numpy(), attrs=attrs)
    return str(path)


def test_cli_writes_the_table_and_json(tmp_path, classifier, capsys):
    save_classifier(classifier, {"config": asdict(classifier.config)}, tmp_path / "clf")
    real = _write(tmp_path / "real.h5", synthetic_jets(120, seed=1), _labels(120))
    gen = _write(tmp_path / "gen.h5", synthetic_jets(60, seed=2), _labels(60), {"label": "mixed"})
    out = tmp_path / "eval"
    code = main(
        [
            "evaluate",
            "--real",
            real,
            "--generated",
            gen,
            "--out",
            str(out),
            "--classifier",
            str(tmp_path / "clf"),
            "--inception-jets",
            "0",
            "--no-figures",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "FPD (observables, N -> inf)" in printed and "classifier: gluon jets called gluon" in printed
    assert "two-sample AUC (pixels)" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["info"]["n"] == 60 and report["info"]["generated"] == gen
    argv = ["evaluate", "--real", real, "--generated", gen, "--no-classifier", "--inception-jets", "0"]
    assert main([*argv, "--no-two-sample"]) == 0
    assert "two-sample" not in capsys.readouterr().out
    assert main([*argv, "--no-two-sample", "--separating"]) == 0
    table, masses = capsys.readouterr().out.split("which features tell them apart")[1].split("jet mass comes from")
    assert "HCAL: shares of its 8 brightest pixels" in table and "observables within R = 0.4" in table
    assert "HCAL R < 0.4 x HCAL R > 0.4" in masses and "all pairs: mean m^2" in masses
    masses, overlaps = masses.split("do the channels' deposits sit on the same pixels")
    overlaps, energy_shape = overlaps.split("does each channel's shape follow its energy")
    assert "Tracks-ECAL" in overlaps and "floor (real vs real)" in overlaps
    assert all(name in energy_shape for name in ("Tracks", "ECAL", "HCAL"))


def test_cli_bad_input_exits_2(tmp_path, classifier, capsys):
    save_classifier(classifier, {"config": asdict(classifier.config)}, tmp_path / "clf")
    real16 = _write(tmp_path / "real16.h5", synthetic_jets(40, size=16), _labels(40))
    gen32 = _write(tmp_path / "gen32.h5", synthetic_jets(20, size=32), _labels(20))
    args = [
        "evaluate",
        "--real",
        real16,
        "--generated",
        gen32,
        "--classifier",
        str(tmp_path / "clf"),
        "--inception-jets",
        "0",
    ]
    assert main(args) == 2
    assert "cannot be compared at 32 x 32" in capsys.readouterr().err
    assert main(["evaluate", "--real", real16, "--generated", str(tmp_path / "missing.h5")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_figures_render_offline_to_png(tmp_path, classifier, monkeypatch):
    """kaleido renders the evaluation figures through the local Chromium, with no network."""
    import socket

    from core.viz.export import find_chrome

    if find_chrome() is None:
        pytest.skip("no local Chromium for kaleido")
    save_classifier(classifier, {"config": asdict(classifier.config)}, tmp_path / "clf")
    real = _write(tmp_path / "real.h5", synthetic_jets(100, seed=1), _labels(100))
    gen = _write(tmp_path / "gen.h5", synthetic_jets(50, seed=2), _labels(50), {"label": "mixed"})

    def refuse(self, address, *args, **kwargs):
        if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "localhost", "::1"):
            raise AssertionError(f"figures tried to reach {address}")
        return original(self, address, *args, **kwargs)

    original = socket.socket.connect
    monkeypatch.setattr(socket.socket, "connect", refuse)
    out = tmp_path / "eval"
    args = [
        "evaluate",
        "--real",
        real,
        "--generated",
        gen,
        "--out",
        str(out),
        "--classifier",
        str(tmp_path / "clf"),
        "--inception-jets",
        "0",
    ]
    assert main(args) == 0
    for name in (
        "observables.png",
        "samples_Tracks.png",
        "samples_ECAL.png",
        "samples_HCAL.png",
        "metrics_vs_floor.png",
    ):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_label_count_must_match(classifier):
    with pytest.raises(JetInputError, match="generated labels: 5 labels for 30 jets"):
        evaluate_sets(synthetic_jets(60), synthetic_jets(30), _labels(60), _labels(5), classifier=classifier)


def test_cli_refuses_a_file_with_other_channels(tmp_path, capsys):
    import h5py

    real = _write(tmp_path / "real.h5", synthetic_jets(40), _labels(40))
    with h5py.File(tmp_path / "gen4.h5", "w") as f:
        f["X_jets"] = np.zeros((20, 16, 16, 4), np.float32)
        f["y"] = np.zeros(20, np.int64)
    assert main(["evaluate", "--real", real, "--generated", str(tmp_path / "gen4.h5")]) == 2
    assert "expected (N, H, W, 3)" in capsys.readouterr().err
