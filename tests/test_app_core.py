"""The dashboard's core helpers without a browser: the background job runner and its limits, downloads
(PNG, CSV, HDF5, zip), figure builders, the forward processes the pages animate, the live metrics."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch

from core.errors import JetInputError
from core.jobs import KILLED, RUNNING, JobLimits, JobTable, read_status

# ---------------------------------------------------------------- jobs (the processes: tests/test_jobs_process.py)


def test_limits_from_environment(monkeypatch):
    monkeypatch.setenv("JETLAB_MAX_JOBS", "3")
    monkeypatch.setenv("JETLAB_MAX_STEPS", "50")
    monkeypatch.setenv("JETLAB_ABANDON_SECONDS", "30")
    monkeypatch.delenv("JETLAB_MAX_SECONDS", raising=False)
    cpu = JobLimits.from_env(on_gpu=False)
    assert (cpu.max_concurrent, cpu.max_per_visitor, cpu.max_steps, cpu.max_seconds) == (3, 1, 50, 600.0)
    assert cpu.abandon_seconds == 30.0
    assert cpu.clamp_steps(200) == 50 and cpu.clamp_steps(10) == 10
    monkeypatch.delenv("JETLAB_MAX_STEPS")
    gpu = JobLimits.from_env(on_gpu=True)
    assert gpu.max_steps is None and gpu.max_seconds is None  # a GPU workstation trains freely
    monkeypatch.setenv("JETLAB_MAX_STEPS", "many")
    with pytest.raises(JetInputError, match="JETLAB_MAX_STEPS"):
        JobLimits.from_env()


def test_threads_per_job_share_the_cores():
    assert JobTable(JobLimits(max_concurrent=2), cores=16, watch_every=None).threads_per_job() == 8
    assert JobTable(JobLimits(max_concurrent=4), cores=2, watch_every=None).threads_per_job() == 1


def test_page_requests_are_valid_command_lines():
    from core.cli import build_parser
    from core.jobs.training import train_argv
    from core.requests import TrainRequest

    parser, _ = build_parser()
    classical = TrainRequest(family="ddpm", size=16, steps=50, max_jets=300, data="/x.h5", metrics_every=50)
    args = parser.parse_args([*train_argv(classical, 40, time_limit=600, threads=2), "--out", "o"])
    assert (args.family, args.size, args.steps, args.max_jets, args.threads, args.time_limit) == (
        "ddpm",
        16,
        40,
        300,
        2,
        600.0,
    )
    assert (args.metrics_every, args.data, args.checkpoint_every, args.resume) == (50, "/x.h5", 10, False)
    quantum = TrainRequest(family="quantum", layers=2, diffusion_steps=3, qubits=6)
    args = parser.parse_args([*train_argv(quantum, 10), "--out", "o"])
    assert (args.family, args.layers, args.diffusion_steps, args.qubits) == ("quantum", 2, 3, 6)


def test_byte_cache_is_bounded_in_bytes_not_entries():
    from core.cache import ByteCache, nbytes

    cache = ByteCache(budget=3 * 4000)
    make = lambda: (torch.zeros(1000), torch.zeros(1000, dtype=torch.long)[:0])  # noqa: E731
    assert nbytes(make()) == 4000 and nbytes({"a": np.zeros(10)}) == 80
    for key in range(5):
        cache.get_or_make(key, make)
    assert cache.total == 12_000  # the three newest
    calls = []
    cache.get_or_make(4, lambda: calls.append(1))
    assert not calls  # still cached
    cache.get_or_make("huge", lambda: torch.zeros(10_000))
    assert cache.total == 12_000  # a value over the budget is returned, never kept


def test_run_log_reads_whole_lines_and_calls_a_dead_run_killed(tmp_path):
    from core.jobs.rundir import EVENTS, RunWriter, read_events

    log = RunWriter(tmp_path / "run", "train", total=10)
    log.status(RUNNING, "training")
    log.event("step", step=1, loss=0.5)
    with open(log.dir / EVENTS, "a") as f:
        f.write('{"t": 1, "type": "step", "st')  # a line being written
    assert [e["step"] for e in read_events(log.dir)] == [1]
    with open(log.dir / EVENTS, "a") as f:
        f.write('ep": 2}\n')
    assert [e["step"] for e in read_events(log.dir)] == [1, 2]
    assert read_status(log.dir).state == RUNNING  # this very process is alive
    status = json.loads((log.dir / "status.json").read_text())
    (log.dir / "status.json").write_text(json.dumps({**status, "pid": 2**22 + 17}))  # no such process
    log.event("checkpoint", step=2)
    dead = read_status(log.dir)
    assert dead.state == KILLED and dead.message == "killed at step 2; resumable from step 2"


def test_held_out_split_is_seeded_and_disjoint():
    from core.training.prepare import split_held_out

    x = torch.arange(100.0).view(100, 1, 1, 1).expand(100, 3, 2, 2)
    y = torch.arange(100) % 2
    xt, yt, xh, yh = split_held_out(x, y, 0.1, seed=4)
    again = split_held_out(x, y, 0.1, seed=4)
    assert torch.equal(xh, again[2])
    assert len(xh) == 24 and len(xt) == 76  # at least 24 held out, for the set distances
    assert not set(xt[:, 0, 0, 0].tolist()) & set(xh[:, 0, 0, 0].tolist())
    with pytest.raises(JetInputError, match="too few"):
        split_held_out(x[:3], y[:3], 0.1)


# ---------------------------------------------------------------- downloads


def test_samples_h5_round_trips_through_the_reader(tmp_path):
    from core.data.readers import open_jets
    from core.viz.export import samples_h5

    x = torch.rand(5, 3, 8, 8)
    y = torch.tensor([0, 1, 1, 0, 1])
    path = tmp_path / "gen.h5"
    path.write_bytes(samples_h5(x, y, attrs={"sampler": "fast"}))
    src = open_jets(path)
    assert np.array_equal(src.y, y.numpy())
    assert np.allclose(src.images(np.arange(5)), x.permute(0, 2, 3, 1).numpy())
    unlabelled = tmp_path / "uncond.h5"
    unlabelled.write_bytes(samples_h5(x, None))
    import h5py

    with h5py.File(unlabelled) as f:
        assert (f["y"][()] == -1).all() and f.attrs["label"] == "none"
        assert "unconditional" in f.attrs["y_meaning"]
    assert (open_jets(unlabelled).y == -1).all()  # the reader takes the download back


def test_table_csv_and_directory_zip(tmp_path):
    from core.jobs.training import directory_zip
    from core.viz.export import table_csv

    assert table_csv({"metric": ["W1 mass"], "model": [1.5]}).decode() == "metric,model\nW1 mass,1.5\n"
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    (tmp_path / "run" / "ema.safetensors").write_bytes(b"12")
    names = zipfile.ZipFile(io.BytesIO(directory_zip(tmp_path / "run"))).namelist()
    assert names == ["run/config.json", "run/ema.safetensors"]
    with pytest.raises(JetInputError):
        directory_zip(tmp_path / "nothing")


def test_figure_png_renders_offline():
    from core.viz.export import figure_png, find_chrome
    from core.viz.images import channel_images

    if find_chrome() is None:
        pytest.skip("no local Chromium for kaleido")
    png = figure_png(channel_images(np.random.default_rng(0).random((3, 8, 8))), width=600, height=300, scale=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


# ---------------------------------------------------------------- figures


def test_channel_images_linear_and_log_colour():
    from core.viz.images import channel_images

    img = np.zeros((3, 32, 32), np.float32)
    img[1, 16, 16] = 100.0
    img[1, 10, 10] = 0.1
    lin = channel_images(img)
    log = channel_images(img, log=True)
    assert [t.type for t in lin.data] == ["heatmap"] * 3
    assert np.asarray(lin.data[1].z)[16, 16] == 100.0
    z = np.asarray(log.data[1].z, dtype=float)
    assert z[16, 16] == pytest.approx(2.0) and z[10, 10] == pytest.approx(-1.0) and np.isnan(z[0, 0])
    assert "100" in log.data[1].colorbar.ticktext  # colour bar labelled in GeV, not log10
    assert lin.layout.xaxis.title.text == "Δφ" and lin.layout.yaxis.title.text == "Δη"


def test_class_means_and_histograms():
    from core.viz.images import class_means, observable_histograms

    x = torch.zeros(4, 3, 4, 4)
    x[:2] = 1.0
    y = torch.tensor([1, 1, 0, 0])
    means = class_means(x, y)
    assert list(means) == ["quark", "gluon"]
    assert means["quark"].mean() == 1.0 and means["gluon"].mean() == 0.0
    fig = observable_histograms({"mass": np.array([1.0, 2.0, 3.0, 4.0])}, y.numpy())
    assert [t.name for t in fig.data] == ["quark", "gluon"] and fig.data[0].histnorm == "probability density"


def test_classical_frames_follow_the_closed_form():
    from core.diffusion.schedules import make_schedule
    from core.viz.noising import classical_forward, frame_steps, process_animation, schedule_curves

    schedule = make_schedule("linear", 50)
    steps = frame_steps(50, 10)
    assert steps[0] == 0 and steps[-1] == 49 and len(steps) == 10
    x0 = torch.full((3, 8, 8), 0.5)
    frames = classical_forward(schedule, x0, steps, seed=1)
    eps = torch.randn((3, 8, 8), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ab = schedule.alpha_bar[steps[-1]]
    expected = ab.sqrt() * 0.5 + (1 - ab).sqrt() * eps
    assert torch.allclose(frames[0], x0) and torch.allclose(frames[-1].double(), expected, atol=1e-6)
    curves = schedule_curves(schedule)
    snr = curves[1].y
    assert np.allclose(snr, curves[0].y / (1 - curves[0].y))
    fig = process_animation(
        frames, ["x0"] + [str(t) for t in steps], [None] + steps, curves, ["Tracks", "ECAL", "HCAL"]
    )
    assert len(fig.frames) == len(steps) + 1 and fig.layout.sliders[0].steps[-1].label == "49"


def test_quantum_forward_ends_at_the_fixed_point():
    from core.quantum.channels import ChannelSchedule
    from core.quantum.encoders import make_encoder
    from core.quantum.forward import quantum_forward

    x = torch.zeros(3, 2, 2)
    x[1, 0, 0], x[2, 1, 1] = 3.0, 1.0
    enc = make_encoder("amplitude", (3, 2, 2))  # 12 pixels on 4 qubits
    out = quantum_forward(enc, x, ChannelSchedule("depolarizing", 4))
    assert out.fidelity[0] == pytest.approx(1.0) and out.purity[0] == pytest.approx(1.0)
    assert torch.allclose(out.images[0], x, atol=1e-6)  # t = 0 decodes the jet itself
    assert out.purity[-1] == pytest.approx(1 / 16) and out.fidelity[-1] == pytest.approx(1 / 16)  # I/d
    assert np.all(np.diff(out.purity) <= 1e-12)
    flat = quantum_forward(enc, x, ChannelSchedule("phase_flip", 3))
    assert torch.allclose(flat.images[-1], x, atol=1e-6)  # dephasing keeps the Born probabilities
    with pytest.raises(JetInputError, match="dense_angle"):
        quantum_forward(make_encoder("dense_angle", (3, 2, 2)), x, ChannelSchedule("depolarizing", 2))


def test_bloch_path_shrinks_to_the_centre_under_depolarising():
    from core.quantum.channels import ChannelSchedule
    from core.quantum.forward import bloch_path

    plus = torch.tensor([[[0.5, 0.5], [0.5, 0.5]]], dtype=torch.complex128)  # |+>: Bloch vector (1, 0, 0)
    path = bloch_path(plus, 0, ChannelSchedule("depolarizing", 5))
    assert np.allclose(path[0], [1, 0, 0]) and np.allclose(path[-1], 0, atol=1e-12)
    keep = ChannelSchedule("depolarizing", 5).keep_bar()
    assert np.allclose(path[:, 0], keep)  # |r(t)| = s_bar(t), the closed form


def test_amplitude_fidelity_is_the_state_overlap():
    from core.metrics.compare import amplitude_fidelity
    from core.quantum.encoders import make_encoder

    rng = torch.Generator().manual_seed(0)
    a, b = torch.rand(3, 3, 2, 2, generator=rng), torch.rand(3, 3, 2, 2, generator=rng)
    enc = make_encoder("amplitude", (3, 2, 2))
    sa, sb = enc.encode(a).state[:, 0], enc.encode(b).state[:, 0]
    overlap = ((sa.conj() * sb).sum(-1).abs() ** 2).float()
    assert torch.allclose(amplitude_fidelity(a, b), overlap, atol=1e-6)
    assert torch.allclose(amplitude_fidelity(a, a), torch.ones(3))


def test_generated_sets_are_compared_at_the_coarsest_resolution():
    from core.metrics.compare import common_sizes, resolution_note, resolution_options

    assert common_sizes([32, 8]) == [8]
    assert common_sizes([32, 64]) == [32, 16, 8]
    assert common_sizes([125]) == [125, 64, 32, 16, 8]
    assert resolution_options([32, 8]) == {"8 × 8": 8, "each model's own resolution": None}
    note = resolution_note(8, {"ddpm": 32, "quantum": 8})
    assert note.startswith("Compared at 8 × 8, the coarsest model's resolution") and "ddpm samples and the real" in note
    assert "coarser than every model" in resolution_note(8, {"a": 32, "b": 16})
    assert "own resolution (ddpm 32 × 32, quantum 8 × 8)" in resolution_note(None, {"ddpm": 32, "quantum": 8})


def test_a_compare_request_names_its_resolution(tmp_path):
    from core.errors import JetInputError
    from core.jobs.compare import GENERATE, RECONSTRUCT, CompareRequest

    models = (("a", str(tmp_path / "a")),)
    gen = [CompareRequest(GENERATE, models, n=24, size=s) for s in (None, 8, 16)]
    assert len({r.key() for r in gen}) == 3  # a finished run answers only its own resolution
    assert CompareRequest.from_dict(gen[1].to_dict()) == gen[1]
    rec = [CompareRequest(RECONSTRUCT, models, size=s) for s in (None, 8)]
    assert rec[0].key() == rec[1].key()  # reconstructions are always scored at the coarsest size
    with pytest.raises(JetInputError, match="resolution must be one of"):
        CompareRequest(GENERATE, models, size=12).check()


def test_live_metrics_on_a_fresh_model():
    from core.diffusion.task import default_config
    from core.metrics.live import make_metrics_fn
    from core.training.registry import build_task

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(40, 3, 16, 16, generator=gen) * (torch.rand(40, 3, 16, 16, generator=gen) > 0.8)
    y = torch.arange(40) % 2
    torch.manual_seed(0)
    task = build_task(default_config("seed-baseline", 16), x)
    fn = make_metrics_fn(x[:24], y[:24], n_recon=4, n_generate=24, sampler_steps=2)
    out = fn(task, task.model, 0)
    assert -1 <= out["ssim"] <= 1 and np.isfinite(out["psnr"]) and out["recon_t"] == int(0.3 * 49)
    assert ("fid_jet" in out) or out["fpd"] >= 0
    # Beside each, its real-vs-real value: held-out jets past the first 4 in place of the model's output.
    assert {"ssim_real", "psnr_real"} <= set(out) and (("fid_jet_real" in out) or out["fpd_real"] >= 0)
    again = fn(task, task.model, 1)
    assert all(again[k] == out[k] for k in out if k.endswith("_real"))  # computed once


def test_real_vs_real_of_identical_jets_is_perfect():
    """Known answers: a reconstruction that is the jet itself has SSIM 1 and PSNR +inf; a set against itself
    has distance 0; two different real jets have SSIM < 1."""
    from core.metrics.live import _SetDistance, real_vs_real

    gen = torch.Generator().manual_seed(1)
    x = torch.rand(40, 3, 16, 16, generator=gen) * (torch.rand(40, 3, 16, 16, generator=gen) > 0.7)
    distance = _SetDistance(x[:30])
    same = real_vs_real(x[:4], x[:4], x[:30], distance, 16)
    assert same["ssim_real"] == pytest.approx(1.0) and same["psnr_real"] == float("inf")
    assert abs(same.get("fid_jet_real", same.get("fpd_real"))) < 1e-3
    other = real_vs_real(x[:4], x[4:8], x[30:40], distance, 16)
    assert other["ssim_real"] < 0.9 and np.isfinite(other["psnr_real"])


def test_qiskit_survives_short_lived_script_threads(tmp_path):
    """Streamlit runs each script run on a thread that ends; qiskit imported on such a thread used to crash
    the next run (SIGSEGV). The app imports it first on a keeper thread; check in a fresh process."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    script = tmp_path / "threads.py"
    script.write_text(
        "import sys, threading\n"
        f"sys.path.insert(0, {str(root)!r})\n"
        "def run(i):\n"
        "    if i == 0:\n"
        "        from core.quantum.qiskit_thread import ensure_qiskit_thread\n"
        "        assert ensure_qiskit_thread()\n"
        "    from qiskit import QuantumCircuit\n"
        "    QuantumCircuit(3).ry(0.1, 0)\n"
        "for i in range(4):\n"
        "    t = threading.Thread(target=run, args=(i,)); t.start(); t.join()\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-500:]


@pytest.mark.parametrize("name", ["depolarizing", "amplitude_damping", "phase_damping", "bit_flip", "phase_flip"])
def test_fast_channel_application_equals_the_kraus_sandwich(name):
    from core.quantum import sim
    from core.quantum.channels import make_channel

    gen = torch.Generator().manual_seed(1)
    psi = torch.randn(3, 2**4, dtype=torch.complex128, generator=gen)
    rho = sim.to_density(psi / psi.norm(dim=-1, keepdim=True))
    channel = make_channel(name, 0.37)
    kraus = [torch.as_tensor(k, dtype=rho.dtype) for k in channel.kraus()]
    sandwich = rho
    for q in range(4):
        sandwich = sim.apply_kraus_dm(sandwich, kraus, (q,))
    assert torch.allclose(channel.apply(rho), sandwich, atol=1e-12)
