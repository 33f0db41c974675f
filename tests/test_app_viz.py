"""Issue 15's findings, one check each: legible jet images, honest labels, choices that can work, the runs page,
real vs generated, the denoising-trajectory scrubber and metric tables with their real-vs-real values."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from test_app_pages import ROOT, _navigation_v2, assert_clean, charts, make_app, runs_dir  # noqa: F401

SHIPPED = ROOT / "checkpoints"


def _spec(at, i: int = 0) -> dict:
    return json.loads(at.get("plotly_chart")[i].proto.spec)


def _arr(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly 6's typed array {"dtype", "bdata" (base64), "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        import base64

        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return flat.reshape([int(v) for v in str(shape).split(",")]) if shape else flat
    return np.asarray(value, dtype=float)


def _needs_shipped(*names: str) -> None:
    missing = [n for n in names if not (SHIPPED / n / "config.json").exists()]
    if missing:
        pytest.skip(f"shipped checkpoints missing: {missing}")


# ---------------------------------------------------------------- Generate: widget state follows the checkpoint


def test_generate_label_follows_the_checkpoint(runs_dir):  # noqa: F811
    _needs_shipped("seed_baseline_32", "unet_32")
    at = make_app("pages/generate.py", None, gen_choice="shipped: seed_baseline_32")
    assert_clean(at)
    label = [s for s in at.selectbox if s.label == "Label"][0]
    assert label.options == ["unconditional"] and label.value == "unconditional"
    at.selectbox(key="gen_choice").set_value("shipped: unet_32").run()
    assert_clean(at)
    label = [s for s in at.selectbox if s.label == "Label"][0]
    assert label.value == "mixed", "a conditional model must not inherit 'unconditional' from the previous one"
    guidance = [n for n in at.number_input if n.label == "Guidance weight"][0]
    assert guidance.value == 1.5 and not guidance.disabled  # the shipped U-Net's own weight (its config.json)
    at.selectbox(key="gen_choice").set_value("shipped: seed_baseline_32").run()
    guidance = [n for n in at.number_input if n.label == "Guidance weight"][0]
    assert guidance.value == 1.0 and guidance.disabled  # no classifier-free guidance


# ---------------------------------------------------------------- legible jet images


def test_single_jet_view_is_pooled_to_legible_pixels_with_a_native_option():
    at = make_app(None, None, jets_n=50)
    assert_clean(at)
    heat = _spec(at, 0)["data"][0]
    assert _arr(heat["z"]).shape == (25, 25)  # 125 x 125 summed in 5 x 5 blocks
    assert abs(float(np.diff(_arr(heat["x"]))[0]) - 5 * 0.0174) < 2e-3  # pixel centres in Δφ, 5 cells wide
    at.radio(key="jets_pool").set_value("native 125²").run()
    assert _arr(_spec(at, 0)["data"][0]["z"]).shape == (125, 125)


def test_pooling_conserves_energy():
    from core.viz.images import pool_for_display

    img = np.random.default_rng(0).random((3, 125, 125)).astype(np.float32)
    pooled, axis = pool_for_display(img, 5)
    assert pooled.shape == (3, 25, 25) and axis.shape == (25,)
    np.testing.assert_allclose(pooled.sum(axis=(1, 2)), img.sum(axis=(1, 2)), rtol=1e-5)


def test_generate_thumbnails_are_square_and_large():
    from core.viz.images import image_grid

    fig = image_grid(torch.rand(16, 3, 32, 32), ncols=8, cell_px=150)
    assert fig.layout.height >= 150 * 2
    for k in range(16):
        suffix = "" if k == 0 else str(k + 1)
        assert fig.layout[f"yaxis{suffix}"].scaleanchor == f"x{suffix}"  # square pixels in every cell
    core = image_grid(torch.rand(2, 3, 32, 32), ncols=2, crop=0.5)
    assert np.asarray(core.data[0].z).shape == (16, 16)  # zoomed to the jet core: the central half of each side


def test_noising_panels_have_axes_and_a_colour_range_from_the_data():
    at = make_app("pages/noising.py", None, noise_q_steps=3)
    assert_clean(at)
    fig = _spec(at, 0)
    heat = fig["data"][0]
    assert _arr(heat["x"]).size == _arr(heat["z"]).shape[-1]  # pixel centres: Δη / Δφ offsets
    assert fig["layout"]["xaxis"]["title"]["text"] == "Δφ" and fig["layout"]["yaxis"]["title"]["text"] == "Δη"
    assert (heat["zmin"], heat["zmax"]) != (-3.0, 3.0)  # no fixed range washing out the clean jet
    clean = _arr(heat["z"]).astype(float)
    assert heat["zmin"] <= np.nanmin(clean) and heat["zmax"] >= np.nanmax(clean)


def test_play_pause_do_not_cover_the_slider_label():
    from core.viz.noising import Curve, process_animation

    fig = process_animation(
        torch.rand(3, 3, 8, 8), ["a", "b", "c"], [0, 1, 2], [Curve("c", np.arange(3), np.ones(3))], ["A", "B", "C"]
    )
    slider, buttons = fig.layout.sliders[0], fig.layout.updatemenus[0]
    assert slider.currentvalue.xanchor == "right"  # the label sits at the slider's right end
    assert slider.x >= 0.2 and buttons.x == 0.0


def test_average_image_titles_do_not_sit_on_the_axis_titles_above():
    from core.viz.images import class_average_images

    fig = class_average_images({"quark": np.random.rand(3, 16, 16), "gluon": np.random.rand(3, 16, 16)})
    titled = [ax for name, ax in fig.layout.to_plotly_json().items() if name.startswith("xaxis") and ax.get("title")]
    assert len(titled) == 3  # Δφ under the bottom row only
    layout = fig.layout.to_plotly_json()
    x_ticks = [layout[f"xaxis{k or ''}"]["showticklabels"] for k in (0, 2, 3, 4, 5, 6)]
    y_ticks = [layout[f"yaxis{k or ''}"]["showticklabels"] for k in (0, 2, 3, 4, 5, 6)]
    assert x_ticks == [False] * 3 + [True] * 3 and y_ticks == [True, False, False] * 2  # outer panels only


# ---------------------------------------------------------------- labels


def test_quantum_loss_is_not_called_mse():
    from core.viz.training import loss_figure, loss_title

    assert "MSE" not in loss_title("quantum") and "MSE" in loss_title("ddpm")
    fig = loss_figure([1, 2, 3], [0.5, 0.3, 0.2], y_title=loss_title("quantum"))
    assert "infidelity" in fig.layout.yaxis.title.text


def test_log_axes_label_decades_as_powers_and_short_spans_plainly():
    from core.viz.noising import log_axis

    wide = log_axis([1e-16, 1.0])
    assert wide["exponentformat"] == "power" and wide["dtick"] >= 1
    narrow = log_axis([0.03, 0.9])
    assert narrow["ticktext"] == ["0.02", "0.05", "0.1", "0.2", "0.5", "1"]


def test_a_constant_curve_is_not_stretched_over_rounding_noise():
    from core.viz.generation import reverse_animation

    x0 = torch.ones(4, 1, 3, 8, 8) * 3.2574  # the quantum estimate keeps Σ pT: only rounding noise varies
    x0[1, 0, 1, 0, 0] += 1e-5
    fig = reverse_animation(x0, [4, 3, 2, 1], 0, None)
    lo, hi = fig.layout.yaxis4.range
    assert hi - lo > 1.0  # ± 5 % of 2 × 64 × 3.26 GeV, not a 1e-5 GeV window


def test_purity_text_tells_the_dip_of_amplitude_damping():
    from core.viz.quantum import purity_summary

    text = purity_summary(np.arange(5), np.array([1.0, 0.6, 0.4, 0.8, 1.0]))
    assert "falls to 0.4 at t = 2" in text and "rises again to 1" in text
    assert purity_summary(np.arange(3), np.array([1.0, 0.5, 0.2])).endswith("ends at 0.2")


def test_born_probability_axes_stay_on_the_data():
    from core.viz.quantum import probability_image

    fig = probability_image(np.full(256, 1 / 256))
    assert list(fig.layout.yaxis.range) == [-0.5, 15.5] and fig.layout.yaxis.constrain == "domain"


def test_metric_table_floors_beside_values_no_none_and_meanings():
    from core.metrics.report import MetricRow
    from core.viz.tables import blank_note, metric_table

    a = [MetricRow("FPD (observables, N -> inf)", 0.5, -0.01, error=0.1), MetricRow("W1 jet pT [GeV]", 3.0, 1.0)]
    b = [MetricRow("W1 jet pT [GeV]", 5.0, 1.2)]
    table = metric_table({"classical": a, "quantum": b})
    cols = list(table.columns)
    assert cols.index("classical: real vs real") == cols.index("classical") + 1
    assert "None" not in table.astype(str).to_numpy()
    fpd = table.set_index("metric").loc["FPD (observables, N -> inf)"]
    assert "floor < 0" in fpd["note"] and "extrapolated" in fpd["meaning"]
    assert np.isnan(fpd["quantum"]) and "not measured" in blank_note(table)


# ---------------------------------------------------------------- choices that cannot work are not offered


def test_angle_encoder_is_not_offered_the_global_channel():
    from core.quantum.encoders import make_encoder
    from core.quantum.forward import forward_channels

    assert "global_depolarizing" not in forward_channels(make_encoder("angle", (3, 8, 8)))
    assert "global_depolarizing" in forward_channels(make_encoder("amplitude", (3, 8, 8)))
    at = make_app(
        "pages/noising.py", None, noise_tab="Quantum: a noise channel", noise_q_encoder="angle", noise_q_steps=2
    )
    assert_clean(at)
    assert "global_depolarizing" not in at.selectbox(key="noise_q_channel_angle").options


def test_train_page_defaults_to_the_cosine_schedule():
    at = make_app("pages/train.py", None, train_family="ddpm")
    assert_clean(at)
    assert at.selectbox(key="train_ddpm_schedule").value == "cosine"  # as the README and the shipped U-Net


# ---------------------------------------------------------------- new views


def test_runs_page_table_overlay_and_samples_at_one_step(runs_dir):  # noqa: F811
    """The final weights are sampled by a job of its own process; a second visit shows its result, no new job."""
    import os

    from test_app_pages import _wait_for

    from core.jobs import read_status

    _needs_shipped("seed_baseline_32", "quantum_hybrid")
    chosen = ["seed_baseline_32 (shipped)", "quantum_hybrid (shipped)"]
    # A step past every chosen run's end (a longer run was dropped from the choice) reads as the last step.
    at = make_app("pages/runs.py", None, runs_chosen=chosen, runs_step=99_000, jetlab_session="runner")
    assert_clean(at)
    table = at.dataframe[0].value.set_index("run")
    assert {"seed_baseline_32", "quantum_hybrid"} <= set(table.index)
    assert table.loc["quantum_hybrid", "family"] == "quantum" and table.loc["seed_baseline_32", "steps"] == 3000
    run_dir = runs_dir / at.query_params["finals"]
    status = read_status(run_dir)
    assert status.kind == "finals" and status.owner == "runner" and len(status.request["models"]) == 2
    pid = json.loads((run_dir / "status.json").read_text())["pid"]
    assert pid != os.getpid()  # sampled in a process of its own, not in the server
    at = _wait_for(at, lambda a: charts(a) == 2)  # curves overlaid, samples in one grid
    assert_clean(at)
    curves = _spec(at, 0)
    assert {t["name"] for t in curves["data"]} >= {"seed_baseline_32", "quantum_hybrid"}
    assert "(final)" in json.dumps(_spec(at, 1)["layout"])
    again = make_app("pages/runs.py", None, runs_chosen=chosen, runs_step=3000, jetlab_session="visitor 2")
    assert_clean(again)
    assert charts(again) == 2 and "finals" not in again.query_params  # the finished job's answer, no new job
    assert [p.name for p in runs_dir.iterdir()] == [run_dir.name]


def test_image_strip_round_trips_each_image_between_blank_gaps():
    from core.viz.runs import image_strip

    images = [np.full((4, 4), float(k + 1)) for k in range(3)]
    strip, which = image_strip(images, gap=2)
    assert strip.shape == which.shape == (4, 3 * 4 + 2 * 2)
    for k, image in enumerate(images):
        start = k * 6
        np.testing.assert_array_equal(strip[:, start : start + 4], image)
        assert (which[:, start : start + 4] == k).all()
    gaps = which == -1
    assert gaps.sum() == 2 * 2 * 4 and np.isnan(strip[gaps]).all() and not np.isnan(strip[~gaps]).any()


def test_loss_curves_are_sent_at_most_two_thousand_points_with_both_ends():
    from core.viz.runs import curve_points

    values = np.cumsum(np.random.default_rng(0).random(17_000))
    steps, shown = curve_points(values)
    assert steps.size == shown.size == 2000 and (steps[0], steps[-1]) == (1, 17_000)
    assert np.all(np.diff(steps) > 0) and np.allclose(shown, values[steps - 1], rtol=1e-6)
    short_steps, short = curve_points(values[:30])
    assert short_steps.tolist() == list(range(1, 31)) and short.size == 30  # short runs: every step


def test_runs_grid_is_one_heatmap_per_run_holding_every_jet():
    """A new tab draws one subplot per run, not one per jet; each jet's pixels are where the strip says."""
    from core.viz.images import _colour_values
    from core.viz.runs import runs_grid, strip_gap

    rng = np.random.default_rng(0)
    runs = {
        "a @ 10": rng.exponential(1.0, (5, 3, 16, 16)) * (rng.random((5, 3, 16, 16)) < 0.2),
        "b @ 20": rng.exponential(1.0, (5, 3, 8, 8)) * (rng.random((5, 3, 8, 8)) < 0.4),
    }
    fig = runs_grid(runs, channel=1, n=4)
    assert [t.type for t in fig.data] == ["heatmap", "heatmap"] and len(fig.layout.shapes) == 2 * 4
    assert len({(t.zmin, t.zmax) for t in fig.data}) == 1  # one colour scale for every run
    for trace, (name, images) in zip(fig.data, runs.items(), strict=True):
        z, which, size = np.array(trace.z, dtype=float), np.array(trace.customdata), images.shape[-1]
        assert name in trace.hovertemplate
        for k in range(4):
            start = k * (size + strip_gap(size))
            expected = _colour_values(images[k, 1].astype(np.float32), True)
            np.testing.assert_allclose(z[:, start : start + size], expected, rtol=1e-6)  # NaN where empty
            assert (which[:, start : start + size] == k).all()


def test_runs_page_refused_sampling_job_is_one_error(runs_dir, monkeypatch):  # noqa: F811
    from core.jobs import JobLimitError
    from core.jobs.runner import JobTable

    def busy(self, owner):
        raise JobLimitError("server busy: 2 of 2 jobs are running; try again soon")

    _needs_shipped("seed_baseline_32", "quantum_hybrid")
    monkeypatch.setattr(JobTable, "_check_locked", busy)
    chosen = ["seed_baseline_32 (shipped)", "quantum_hybrid (shipped)"]
    at = make_app("pages/runs.py", None, runs_chosen=chosen, runs_step=3000)
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Samples of the final weights: server busy: 2 of 2 jobs are running; try again soon"
    ]
    assert charts(at) == 1 and not runs_dir.exists()  # the curves; nothing was prepared for the refused job


def test_runs_reader_uses_events_and_previews(tmp_path):
    from safetensors.torch import save_file

    from core.viz.runs import find_runs, preview_at

    run = tmp_path / "cli" / "unet-a"
    (run / "previews").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"task": {"family": "ddpm", "size": 16}, "train": {"lr": 1e-3}}))
    (run / "trainer_state.json").write_text(json.dumps({"step": 20, "losses": [1.0] * 20}))
    events = [{"type": "metrics", "step": s, "metrics": {"ssim": 0.1 * s}} for s in (10, 20)]
    events.append({"type": "preview", "step": 10, "file": "previews/step-000010.safetensors"})
    (run / "events.jsonl").write_text("\n".join(map(json.dumps, events)) + "\n{broken")
    save_file({"images": torch.rand(2, 3, 16, 16)}, str(run / "previews" / "step-000010.safetensors"))
    (found,) = find_runs(tmp_path, "command line")
    assert [m["step"] for m in found.metrics] == [10, 20] and found.family == "ddpm"
    assert preview_at(found, 15)[0] == 10 and preview_at(found, 5) is None


def test_trajectory_scrubber_and_swipe_control():
    from core.viz.generation import swipe_figure, trajectory_figure

    fig = trajectory_figure(torch.randn(5, 2, 3, 16, 16), torch.rand(4, 2, 3, 16, 16), [900, 600, 300, 0], 1)
    assert len(fig.frames) == 5 and len(fig.data) == 6  # 4 steps + the sample; x_t and x0 per channel
    assert fig.layout.sliders[0].steps[0].label.startswith("step 1 of 4: t = 900")
    a, b = torch.rand(3, 8, 8), torch.rand(3, 8, 8)
    fig = swipe_figure(a, b, channel=0, log=False)
    z = np.asarray(fig.frames[3].data[0].z)
    np.testing.assert_allclose(z[:, :3], a[0, :, :3].numpy(), rtol=1e-6)  # left of the divider: real
    np.testing.assert_allclose(z[:, 3:], b[0, :, 3:].numpy(), rtol=1e-6)  # right of it: generated
    assert fig.data[0].zmin <= min(a[0].min(), b[0].min()) and fig.data[0].zmax >= max(a[0].max(), b[0].max())


def test_real_vs_generated_rows_share_one_colour_scale_per_channel():
    from core.viz.images import image_rows

    fig = image_rows({"real": np.random.rand(3, 8, 8), "generated": 5 * np.random.rand(3, 8, 8)}, log=False)
    for c in range(3):
        real, gen = fig.data[c * 2], fig.data[c * 2 + 1]
        assert (real.zmin, real.zmax) == (gen.zmin, gen.zmax)


def test_offline_favicon_is_a_local_file():
    text = (ROOT / "app.py").read_text()
    assert 'page_icon=":material' not in text and (ROOT / "assets" / "favicon.png").exists()


def test_warm_start_survives_a_bad_data_set(monkeypatch, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("jetlab_serve", ROOT / "scripts" / "serve.py")
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    monkeypatch.setenv("JETLAB_DATA", "/no/such/file.h5")
    assert serve.warm_up() >= 0  # the server still starts; the page reports the file
    assert "warm-up skipped the data set" in capsys.readouterr().out
