"""Every dashboard page under streamlit's AppTest: what it shows on the embedded data, a tiny training job
run to its end, sampling from it, and a bad-input case per page (a clear message, never a traceback)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

pytest.importorskip("streamlit")
from streamlit.runtime.pages_manager import PagesManager  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
EMBEDDED = ROOT / "assets" / "jets_sample.h5"


@pytest.fixture(autouse=True)
def _navigation_v2(monkeypatch):
    """AppTest re-detects the pages/ folder on every run and then runs a page without app.py (the MPA v1
    path); a real server does this at most once. Pin the st.navigation behaviour the app uses."""
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture(scope="module")
def data_path(tmp_path_factory) -> str | None:
    """The embedded sample when it is there (None = use it), else 60 freshly simulated jets."""
    if EMBEDDED.exists():
        return None
    from core.cli import main

    out = tmp_path_factory.mktemp("appdata") / "jets60.h5"
    assert main(["simulate", "--jets", "60", "--out", str(out), "--seed", "3"]) == 0
    return str(out)


@pytest.fixture()
def runs_dir(tmp_path, monkeypatch) -> Path:
    import core.jobs.training as training

    monkeypatch.setattr(training, "RUNS_DIR", tmp_path / "runs")
    return tmp_path / "runs"


def make_app(page: str | None, data: str | None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    if data is not None:
        at.session_state["data_mode"] = "File path"
        at.session_state["data_path_text"] = data
    for key, value in state.items():
        at.session_state[key] = value
    if page:
        at.switch_page(page)
    return at.run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def charts_of(at: AppTest) -> list:
    return list(at.get("plotly_chart"))


def _layout(chart) -> dict:
    return json.loads(chart.proto.spec).get("layout", {})


# ---------------------------------------------------------------- Jets


def test_jets_page_shows_one_jet_averages_and_histograms(data_path):
    at = make_app(None, data_path, jets_n=50)
    assert_clean(at)
    assert at.title[0].value == "Jets"
    assert charts(at) == 2  # one jet, class averages; the other tabs are drawn only when opened
    assert [t.label for t in at.tabs] == ["Average images", "Observable histograms", "Means per class"]
    labels = {m.label: m.value for m in at.metric}
    assert labels["Class"] in ("quark", "gluon")
    assert labels["Jet pT"].endswith("GeV")
    at.session_state["jets_avg_tab"] = "Observable histograms"
    at.run()
    histograms = _layout(charts_of(at)[1])  # one jet, then the histograms in place of the averages
    assert charts(at) == 2 and histograms["yaxis"]["title"]["text"] == "density"
    at.session_state["jets_avg_tab"] = "Means per class"
    at.run()
    assert_clean(at)
    table = at.dataframe[0].value
    assert set(table["class"]) == {"quark", "gluon"}
    assert table["jets"].sum() == 50
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "Device:" in sidebar and ("CPU" in sidebar or "GPU" in sidebar)


def test_jets_page_filters_by_class(data_path):
    at = make_app(None, data_path, jets_n=50, jets_classes=["gluon"], jets_avg_tab="Means per class")
    assert_clean(at)
    assert {m.label: m.value for m in at.metric}["Class"] == "gluon"
    assert list(at.dataframe[0].value["class"]) == ["gluon"]


def test_jets_page_shows_unlabelled_jets_as_their_own_class(tmp_path):
    from core.viz.export import samples_h5

    gen = torch.rand(40, 3, 16, 16) ** 8 * 50
    path = tmp_path / "partly_labelled.h5"  # e.g. conditional and unconditional samples side by side
    y = torch.tensor([1] * 5 + [0] * 5 + [-1] * 30)
    path.write_bytes(samples_h5(gen, y))
    at = make_app(None, str(path), jets_avg_tab="Means per class")
    assert_clean(at)
    assert set(at.dataframe[0].value["class"]) == {"quark", "gluon", "unlabelled"}
    assert any("30 unlabelled" in c.value for c in at.sidebar.caption)
    only = make_app(None, str(path), jets_classes_all=["unlabelled"], jets_avg_tab="Means per class")
    assert_clean(only)
    assert {m.label: m.value for m in only.metric}["Class"] == "unlabelled"
    assert list(only.dataframe[0].value["class"]) == ["unlabelled"]


def test_jets_page_averages_more_jets_than_it_affords_in_a_job(tmp_path, runs_dir, monkeypatch):
    """Over the server's budget the averages are a job: a button starts it, the page shows its result."""

    from metrics_synth import write_random_jets

    import core.viz.stats as stats
    from core.jobs import read_status

    path = write_random_jets(tmp_path / "jets40.h5", 40, 16)
    monkeypatch.setattr(stats, "INLINE_PIXELS", 10 * 16 * 16)  # the server would average 10 of these jets
    at = make_app(None, str(path), jetlab_session="averager")
    assert_clean(at)
    assert charts(at) == 1 and any("runs as a job" in i.value for i in at.info)  # the single jet only
    next(b for b in at.button if b.label == "Average 40 jets").click().run()
    assert not at.exception
    run_dir = runs_dir / at.query_params["overview"]
    assert read_status(run_dir).kind == "overview" and read_status(run_dir).owner == "averager"
    at = _wait_for(at, lambda a: charts(a) == 2)  # the single jet and the averages (the first tab)
    assert_clean(at)
    at.session_state["jets_avg_tab"] = "Means per class"
    at.run()
    assert at.dataframe[0].value["jets"].sum() == 40


@pytest.mark.parametrize(
    ("path", "problem"),
    [("/no/such/jets.h5", "no such file"), (str(ROOT / "pyproject.toml"), "not an HDF5 file")],
)
def test_jets_page_bad_path_is_one_clear_message(path, problem):
    at = make_app(None, path)
    assert not at.exception
    assert any(problem in e.value for e in at.error)
    assert charts(at) == 0
    assert any(r.key == "data_mode" for r in at.radio)  # the sidebar still works


def test_upload_that_is_not_a_jet_file(data_path, tmp_path):
    at = make_app(None, data_path, data_mode="Upload")
    at.file_uploader(key="data_upload").upload("notes.h5", b"this is not HDF5").run()
    assert not at.exception
    assert any("not an HDF5 file" in e.value for e in at.error)


def test_upload_with_the_wrong_layout(data_path, tmp_path):
    import h5py

    bad = tmp_path / "wrong.h5"
    with h5py.File(bad, "w") as f:
        f["images"] = torch.zeros(2, 3, 3).numpy()
    at = make_app(None, data_path, data_mode="Upload")
    at.file_uploader(key="data_upload").upload("wrong.h5", bad.read_bytes()).run()
    assert not at.exception
    assert any("missing key 'X_jets'" in e.value for e in at.error)


# ---------------------------------------------------------------- Forward noising


def test_noising_page_seed_schedule_and_quantum_process(data_path):
    from core.diffusion.schedules import make_schedule

    at = make_app("pages/noising.py", data_path, noise_q_steps=4)
    assert_clean(at)
    assert charts(at) == 1  # the classical animation; the quantum tab is drawn only when opened
    ab = float(make_schedule("linear", 50).alpha_bar[-1])  # the seed schedule ends far from noise
    text = " ".join(m.value for m in at.markdown)
    assert f"{ab:.3g}" in text and "still visible" in text
    at.session_state["noise_tab"] = "Quantum: a noise channel"
    at.run()
    assert_clean(at)
    assert charts(at) == 1 and "encoding" in _layout(charts_of(at)[0])["title"]["text"]
    assert "Purity Tr(ρ²) starts at 1.000" in " ".join(m.value for m in at.markdown)


def test_noising_page_cosine_reaches_noise(data_path):
    at = make_app(
        "pages/noising.py",
        data_path,
        noise_schedule="cosine (1000 steps)",
        noise_q_steps=3,
        noise_q_channel_amplitude="phase_flip",
    )
    assert_clean(at)
    text = " ".join(m.value for m in at.markdown)
    assert "essentially pure noise" in text
    at.session_state["noise_tab"] = "Quantum: a noise channel"
    at.run()
    assert any("Dephasing channels" in i.value for i in at.info)  # phase flip keeps the Born probabilities


def test_noising_page_bad_data():
    at = make_app("pages/noising.py", "/no/such/file.h5")
    assert not at.exception
    assert any("no such file" in e.value for e in at.error)


# ---------------------------------------------------------------- Train and Generate


def _wait_for(at: AppTest, done, timeout: float = 240.0) -> AppTest:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(1.0)
        at.run()
        if done(at):
            return at
    raise AssertionError("timed out waiting for the app")


@pytest.mark.slow
def test_tiny_training_job_runs_to_its_end_then_generates(data_path, runs_dir):
    at = make_app("pages/train.py", data_path)
    assert_clean(at)
    at.selectbox(key="train_family").set_value("seed-baseline").run()
    at.number_input(key="train_steps").set_value(4)
    at.number_input(key="train_batch").set_value(4)
    at.number_input(key="train_jets").set_value(60)
    at.number_input(key="train_every").set_value(2)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert_clean(at)
    at = _wait_for(at, lambda a: any("Checkpoint saved" in s.value for s in a.success))
    assert not at.exception
    progress = at.get("progress")[0].proto.text
    assert "finished" in progress and "step 4 of 4" in progress
    labels = [b.label for b in at.get("download_button")]
    assert "Download checkpoint (zip)" in labels and "Download CSV" in labels
    tables = [d.value for d in at.dataframe]
    live = next(t for t in tables if "floor (real vs real)" in t)  # the latest interval, each beside its floor
    assert list(live["metric"][:3]) == ["training loss (last step)", "SSIM (reconstruction)", "PSNR (reconstruction)"]
    floors = live.set_index("metric")["floor (real vs real)"]
    assert floors.iloc[1:].notna().all() and -1 <= floors["SSIM (reconstruction)"] <= 1  # SSIM, PSNR, distance
    assert live["meaning"].str.len().gt(0).all() and "real-vs-real" in live["note"].iloc[0]
    table = next(t for t in tables if "step" in t)
    assert list(table["step"]) == [2, 4] and table["ssim"].between(-1, 1).all()
    cols = list(table.columns)
    assert cols[cols.index("ssim") + 1] == "ssim: real vs real" and table["ssim: real vs real"].nunique() == 1
    assert any("real vs real" in c.value for c in at.caption)
    runs = list(runs_dir.rglob("config.json"))
    assert len(runs) == 1 and json.loads(runs[0].read_text())["task"]["family"] == "seed-baseline"

    # The fresh checkpoint is offered on the Generate page, in the same session.
    at.switch_page("pages/generate.py").run()
    assert_clean(at)
    trained = [o for o in at.selectbox(key="gen_choice").options if o.startswith("trained here")]
    assert trained
    at.selectbox(key="gen_choice").set_value(trained[0]).run()
    assert {m.label: m.value for m in at.metric}["Trained steps"] == "4"
    at.number_input(key="gen_n").set_value(24)
    at.number_input(key="gen_steps").set_value(3)
    # Start stays disabled until the training process has exited (a moment after its final status).
    at = _wait_for(at, lambda a: not next(b for b in a.button if b.label == "Generate").disabled, timeout=60)
    next(b for b in at.button if b.label == "Generate").click().run()
    at = _wait_for(at, lambda a: any("HDF5" in b.label for b in a.get("download_button")))
    assert not at.exception
    table = at.dataframe[0].value
    cols = list(table.columns)
    assert cols[:3] == ["metric", "model", "floor (real vs real)"] and "meaning" in cols  # floor beside each value
    assert any(m.startswith("W1 jet mass") for m in table["metric"]) and table["meaning"].str.len().gt(0).all()
    assert {"two-sample AUC (observables)", "two-sample AUC (pixels)"} <= set(table["metric"])
    # three channel grids, real vs generated, swipe, reverse process, trajectory scrubber, distances, observables
    assert charts(at) >= 9
    assert any(
        s.get("title", {}).get("text", "").startswith("Denoising trajectory") for s in map(_layout, charts_of(at))
    )


def test_train_page_builds_the_same_request(monkeypatch, data_path):
    """The Train page's form, submitted with its defaults, starts exactly ``TrainRequest(family, page fields)``."""
    import argparse
    from dataclasses import replace

    import core.jobs.training as training
    from core.jobs import JobLimitError
    from core.requests import TrainRequest

    seen = []

    def capture(req, *args, **kwargs):
        seen.append(req)
        raise JobLimitError("captured")  # stop before a process is spawned

    monkeypatch.setattr(training, "train_argv", capture)
    at = make_app("pages/train.py", data_path)
    at.selectbox(key="train_family").set_value("ddpm").run()
    at.selectbox(key="train_ddpm_schedule").set_value("linear")
    at.number_input(key="train_ddpm_beta_end").set_value(0.03)
    at.number_input(key="train_steps").set_value(5)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception and len(seen) == 1
    page = replace(seen[0], data=None, device="auto")  # the job runs on the sidebar's data and the server's device
    assert seen[0].data == data_path
    python = TrainRequest(
        family="ddpm",
        schedule="linear",
        beta_end=0.03,
        steps=5,
        max_jets=2000,
        metrics_every=50,
        preview_every=50,
    )
    assert page == python
    parser = argparse.ArgumentParser()
    TrainRequest.add_arguments(parser)
    cli = TrainRequest.from_namespace(parser.parse_args(page.to_argv()))
    assert cli == page and cli.task_config() == python.task_config() == page.task_config()


def test_train_page_fills_in_the_shipped_recipe(monkeypatch, data_path):
    """The recipe button sets every field to the shipped quantum checkpoint's command (the fields the form does
    not show, warmup and EMA, come with it), and Start then requests exactly that recipe on the page's data."""
    from dataclasses import replace

    import core.jobs.training as training
    from core.jobs import JobLimitError
    from core.requests import TrainRequest
    from core.training.recipes import shipped_recipe

    seen = []
    monkeypatch.setattr(training, "train_argv", lambda req, *a, **k: seen.append(req) or (_ for _ in ()).throw(
        JobLimitError("captured")))  # fmt: skip
    import streamlit.elements.lib.policies as policies

    warned = []  # Streamlit's warning for a widget given a default and a session-state value (once per process)
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)
    monkeypatch.setattr(policies._LOGGER, "warning", lambda msg, *a, **k: warned.append(msg % a))
    at = make_app("pages/train.py", data_path)
    at.selectbox(key="train_family").set_value("quantum").run()
    assert not at.checkbox(key="train_quantum_chain_jets").value  # the page's defaults are not the recipe
    next(b for b in at.button if "shipped `quantum_hybrid`" in b.label).click().run()
    assert_clean(at)
    assert at.checkbox(key="train_quantum_chain_jets").value and at.checkbox(key="train_quantum_channel_context").value
    shipped = shipped_recipe("quantum").request
    assert at.number_input(key="train_quantum_profile_weight").value == shipped.profile_weight > 0
    assert at.checkbox(key="train_quantum_profile_sparsity").value == shipped.profile_sparsity
    assert any("quantum_hybrid/model_card.json" in i.value for i in at.info)
    assert any("warmup 20" in c.value and "ema 0.99" in c.value for c in at.caption)
    assert not warned, warned
    at.number_input(key="train_jets").set_value(3000)
    next(b for b in at.button if b.label == "Start training").click().run()
    assert len(seen) == 1
    recipe = shipped_recipe("quantum").request
    fields = ("out", "data", "device", "threads", "checkpoint_every", "inference_only", "max_jets")
    page_only = dict(max_jets=3000, metrics_every=50, preview_every=50)
    expected = replace(recipe, out=None, threads=None, checkpoint_every=500, inference_only=False, **page_only)
    assert expected.task_config() == replace(expected, size=TrainRequest.size).task_config()  # 32 means 8 here
    expected = replace(expected, size=TrainRequest.size)  # the page has no size field for the quantum model
    got = replace(seen[0], data=None, device=expected.device)
    assert {f: getattr(got, f) for f in fields} == {f: getattr(expected, f) for f in fields}
    assert {k: v for k, v in vars(got).items() if v != getattr(expected, k)} == {}


def test_train_page_requests_shapes_given_the_jets_energies(monkeypatch, data_path):
    """The quantum form offers the classical energy model and the energy context, and Start requests both."""
    import core.jobs.training as training
    from core.jobs import JobLimitError

    seen = []
    monkeypatch.setattr(training, "train_argv", lambda req, *a, **k: seen.append(req) or (_ for _ in ()).throw(
        JobLimitError("captured")))  # fmt: skip
    at = make_app("pages/train.py", data_path)
    at.selectbox(key="train_family").set_value("quantum").run()
    at.checkbox(key="train_quantum_energy_context").check()
    at.checkbox(key="train_quantum_channel_context").check()
    at.selectbox(key="train_quantum_energy").set_value("cone")
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.exception
    assert len(seen) == 1 and seen[0].energy == "cone" and seen[0].energy_context and seen[0].channel_context


def test_train_page_bad_data():
    at = make_app("pages/train.py", "/no/such/file.h5")
    assert not at.exception
    assert any("no such file" in e.value for e in at.error)
    assert not any(b.label == "Start training" for b in at.button)


def test_generate_page_without_checkpoints_and_with_a_bad_one(runs_dir, tmp_path):
    at = make_app("pages/generate.py", None)
    assert not at.exception
    shipped = [o for o in at.selectbox(key="gen_choice").options if o.startswith("shipped")]
    if not shipped:
        assert any("No checkpoint is available yet" in i.value for i in at.info)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    at.selectbox(key="gen_choice").set_value("a checkpoint directory on the server…").run()
    at.text_input(key="gen_path").input(str(broken)).run()
    assert not at.exception
    assert any("corrupt JSON" in e.value for e in at.error)
    at.text_input(key="gen_path").input(str(tmp_path / "missing")).run()
    assert any("no such checkpoint directory" in e.value for e in at.error)


def test_generate_page_counts_network_evaluations_and_keeps_the_floor_to_the_fast_sampler(runs_dir):
    """The cost of the chosen sampler in network evaluations per jet (guided steps twice), and a log-SNR floor
    asked of another sampler refused before any job starts."""
    at = make_app("pages/generate.py", None)
    shipped = [o for o in at.selectbox(key="gen_choice").options if o.startswith("shipped") and "unet_32" in o]
    if not shipped:
        pytest.skip("no shipped U-Net")
    at.selectbox(key="gen_choice").set_value(shipped[0]).run()
    # The model's own sampler, fast 20: 17 distinct steps, each guided (weight 1.5) so run twice.
    assert any("34 network evaluations per jet" in c.value for c in at.caption)
    # The form's values count once submitted; a floor asked of DDIM is refused then, and no job starts.
    at.selectbox(key="gen_sampler").set_value("ddim")
    at.number_input(key="gen_steps").set_value(14)
    at.number_input(key="gen_logsnr_floor").set_value(-3.0)
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception
    assert any("Log-SNR floor: the fast sampler's option" in e.value for e in at.error)
    assert not any("network evaluations per jet" in c.value for c in at.caption)  # no cost for a refused choice
    assert not list(runs_dir.rglob("request.json"))


# ---------------------------------------------------------------- Compare and Quantum lab


@pytest.fixture()
def tiny_models(data_path, runs_dir):
    """A 3-step classical and a 2-step quantum checkpoint, trained by the command line into the runs folder."""
    from core.cli import main

    data = ["--data", data_path] if data_path else []
    common = ["--batch", "4", "--max-jets", "60", "--threads", "1", "--device", "cpu", *data]
    runs = {"classical": runs_dir / "seed-baseline-cli", "quantum": runs_dir / "quantum-cli"}
    assert main(["train", "--model", "seed-baseline", "--steps", "3", "--out", str(runs["classical"]), *common]) == 0
    quantum = ["--layers", "1", "--diffusion-steps", "2", "--ancillas", "1", "--encoder", "amplitude"]
    assert main(["train", "--model", "quantum", "--steps", "2", "--out", str(runs["quantum"]), *quantum, *common]) == 0
    return runs


def test_a_command_line_run_shows_on_train_and_generate_and_a_reload_finds_it(data_path, tiny_models):
    at = AppTest.from_file(APP, default_timeout=240)
    if data_path is not None:
        at.session_state["data_mode"] = "File path"
        at.session_state["data_path_text"] = data_path
    at.query_params["run"] = "seed-baseline-cli"  # what a reload (a new session) of the run's URL carries
    at.switch_page("pages/train.py").run()
    assert_clean(at)
    assert any("seed-baseline-cli" in h.value for h in at.subheader)
    assert "finished" in at.get("progress")[0].proto.text and "step 3 of 3" in at.get("progress")[0].proto.text
    assert any("Checkpoint saved at step 3" in s.value for s in at.success)
    listed = at.dataframe[-1].value
    assert set(listed["run"]) == {"seed-baseline-cli", "quantum-cli"} and set(listed["state"]) == {"finished"}
    at.switch_page("pages/generate.py").run()
    assert_clean(at)
    options = at.selectbox(key="gen_choice").options
    assert "trained here: seed-baseline-cli" in options and "trained here: quantum-cli" in options


def test_compare_page_side_by_side(data_path, tiny_models):
    """The reconstructions are measured by a job in its own process; the page shows its phase, then its result."""
    from core.jobs import read_status

    at = make_app("pages/compare.py", data_path, jetlab_session="tester", cmp_n=4)
    assert any("Press Reconstruct" in i.value for i in at.info)  # nothing is measured in the server
    options = at.selectbox(key="cmp_a").options
    trained = {o.rsplit("(", 1)[-1].rstrip(")"): o for o in options if o.startswith("trained here")}
    at.selectbox(key="cmp_a").set_value(trained["seed-baseline"])
    at.selectbox(key="cmp_b").set_value(trained["quantum"])
    next(b for b in at.button if b.label == "Reconstruct").click().run()
    assert_clean(at)
    run_dir = tiny_models["classical"].parent / at.query_params["run"]
    assert read_status(run_dir).kind == "compare" and read_status(run_dir).owner == "tester"
    at = _wait_for(at, lambda a: len(a.dataframe) > 0)
    assert_clean(at)
    assert read_status(run_dir).state == "finished"
    phases = [json.loads(line).get("phase", "") for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert "reconstructing 4 jets with quantum (2 of 2)" in phases
    table = at.dataframe[0].value.set_index("quantity")  # long: one row per quantity, one column per model
    assert list(table.columns) == ["seed-baseline", "quantum", "meaning"]  # fits the page, whatever the channels
    assert all(int(v.replace(",", "")) > 0 for v in table.loc["parameters", ["seed-baseline", "quantum"]])
    assert all(0 <= float(v) <= 1.0001 for v in table.loc["fidelity (amplitude-encoded)", ["seed-baseline", "quantum"]])
    assert 0 <= float(table.loc["state fidelity", "quantum"]) <= 1.0001
    assert table.loc["SSIM mean", "meaning"]  # every quantity says what it means
    assert charts(at) == 1
    fig = at.get("plotly_chart")[0].proto.spec
    assert "<pT>" not in fig and "pT [GeV]" in fig  # single jets: not labelled as an average


@pytest.mark.slow
def test_compare_page_measures_generation_at_one_resolution(data_path, tiny_models):
    """A 32 x 32 classical and an 8 x 8 quantum model: their generated sets are compared at 8 x 8 by default,
    and the page says so; each model's own resolution is the other choice."""
    at = make_app("pages/compare.py", data_path, jetlab_session="tester", cmp_gen_n=24)
    options = at.selectbox(key="cmp_a").options
    trained = {o.rsplit("(", 1)[-1].rstrip(")"): o for o in options if o.startswith("trained here")}
    at.selectbox(key="cmp_a").set_value(trained["seed-baseline"])
    at.selectbox(key="cmp_b").set_value(trained["quantum"]).run()
    assert at.selectbox(key="cmp_res").options == ["8 × 8", "each model's own resolution"]
    assert at.selectbox(key="cmp_res").value == "8 × 8"
    next(b for b in at.button if b.label == "Sample both and measure").click().run()
    assert_clean(at)
    run_dir = tiny_models["classical"].parent / at.query_params["gen"]
    at = _wait_for(at, lambda a: any(c.value.startswith("Compared at") for c in a.caption))
    assert_clean(at)
    note = next(c.value for c in at.caption if c.value.startswith("Compared at"))
    assert note.startswith("Compared at 8 × 8, the coarsest model's resolution") and "seed-baseline samples" in note
    models = json.loads((run_dir / "generation.json").read_text())["models"]
    assert sorted((m["native_size"], m["size"]) for m in models) == [(8, 8), (32, 8)]
    assert len(at.dataframe) == 1  # the generation table (no reconstructions asked)


def test_compare_page_without_models_and_bad_data(runs_dir):
    at = make_app("pages/compare.py", None, jetlab_session="nobody")
    assert not at.exception
    if not any(o.startswith("shipped") for o in at.selectbox(key="cmp_a").options):
        assert any("No checkpoint is available" in i.value for i in at.info)
    at = make_app("pages/compare.py", "/no/such/file.h5", jetlab_session="nobody")
    assert not at.exception


def test_quantum_lab_encoder_channel_and_reverse_circuit(data_path, tiny_models):
    at = make_app("pages/quantum_lab.py", data_path, jetlab_session="tester", qlab_steps=3, qlab_encoder="angle")
    assert_clean(at)
    assert [t.label for t in at.tabs] == ["Encoded jet", "Noise channel", "Reverse circuit", "On a real device's noise"]
    assert charts(at) == 2  # probabilities, decoded jet: the other tabs are computed only when opened
    assert not at.code  # circuit drawings are sent only when their expander is opened
    at.session_state["qlab_tab"] = "Noise channel"
    at.run()
    assert_clean(at)
    assert charts(at) == 2  # Bloch vector, whole-state animation
    bloch_fig = _layout(charts_of(at)[0])
    assert "scene" not in bloch_fig and bloch_fig["yaxis"]["title"]["text"] == "z"  # 2-D projections by default
    bloch = at.dataframe[0].value
    assert abs(bloch["|r|"].iloc[0] - 1.0) < 1e-6  # angle encoding: every qubit pure
    assert bloch["|r|"].iloc[-1] < 1e-6  # depolarising to the centre at T
    at.session_state["qlab_bloch_3d"] = True
    at.run()
    assert "scene" in _layout(charts_of(at)[0])
    at.session_state["qlab_tab"] = "Encoded jet"
    at.session_state["qlab_circuit_open"] = True
    at.run()
    assert_clean(at)
    assert len(at.code) == 1 and "q_0" in at.code[0].value  # the encoder's circuit
    at.session_state["qlab_tab"] = "Reverse circuit"
    at.session_state["qlab_reverse_open"] = True
    at.run()
    assert_clean(at)
    circuits = [c.value for c in at.code]
    assert len(circuits) == 1 and "q_0" in circuits[0]  # the reverse circuit (the encoder's is in its own tab)


def test_quantum_lab_bad_data_keeps_the_rest():
    at = make_app("pages/quantum_lab.py", "/no/such/file.h5", qlab_tab="Reverse circuit")
    assert not at.exception
    assert any("no such file" in e.value for e in at.error)
    assert any("Reverse circuit" in h.value for h in at.subheader)
