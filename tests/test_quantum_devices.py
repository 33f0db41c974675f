"""Fake IBM devices (qiskit-ibm-runtime, offline): transpiled chains, scaled noise, ``sample --backend``."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from qiskit import transpile

pytest.importorskip("qiskit_ibm_runtime")

from core.cli import main  # noqa: E402
from core.errors import JetInputError  # noqa: E402
from core.quantum import devices  # noqa: E402
from core.quantum.device_chain import chain_angles, chain_probabilities_torch, chain_template, run_chain  # noqa: E402
from core.quantum.device_sampling import energy_moved, noise_table, prepare, sample_on_device, shape_distances  # noqa: E402
from core.quantum.task import build_task, default_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUANTUM = ROOT / "checkpoints" / "quantum_hybrid"


@pytest.fixture(scope="module")
def tiny():
    """An untrained per-channel model on 4 x 4 jets: 4 data qubits + 1 ancilla, 2 layers, 3 steps."""
    torch.manual_seed(0)
    task = build_task(default_config(size=4, layers=2, diffusion_steps=3, ancillas=1))
    return task, task.model.eval()


def _rows(task, n=4, seed=0):
    labels = torch.tensor([0, 1] * (n // 2))
    cond = task.row_labels(labels)
    z = torch.randn(len(cond), task.model.cfg.latent, generator=torch.Generator().manual_seed(seed))
    return labels, cond, z


@pytest.mark.parametrize("backend", ["nairobi", "torino"])
def test_transpiled_chain_equals_the_ideal_chain_at_zero_noise(tiny, backend):
    task, net = tiny
    _, cond, z = _rows(task)
    template, _ = chain_template(net, measure=False)
    transpiled, final = devices.transpile_for(template, devices.get_backend(backend), seed=3)
    assert set(transpiled.count_ops()) <= set(devices.get_backend(backend).operation_names)
    n = net.cfg.data_qubits
    device = run_chain(transpiled, chain_angles(net, cond, z), final[:n], noise=devices.scaled_noise(backend, 0.0))
    unmapped = transpile(template, basis_gates=["ry", "cz", "cx", "reset"], optimization_level=0)
    ideal = run_chain(unmapped, chain_angles(net, cond, z), list(range(n)))  # the same chain, no device
    reference = chain_probabilities_torch(net, cond, z).double().numpy()  # torch density matrices
    np.testing.assert_allclose(device, ideal, atol=1e-6)
    np.testing.assert_allclose(device, reference, atol=1e-6)


def test_noise_scaling_is_monotone_in_the_distances(tiny):
    task, net = tiny
    labels = torch.tensor([0, 1] * 12)
    prepared = prepare(net, "nairobi", seed=0)
    jets = {s: sample_on_device(task, net, prepared, labels, "device", s, shots=None, seed=5) for s in (0, 0.1, 1)}
    dist = [shape_distances(jets[0], jets[s])["mean W1 / spread"] for s in (0, 0.1, 1)]
    assert dist[0] == 0 and dist[0] < dist[1] < dist[2]
    whole = shape_distances(jets[0], jets[1])
    assert whole["mass (whole image)"] > 0 and shape_distances(jets[0], jets[0])["width (whole image)"] == 0
    depol = [
        shape_distances(jets[0], sample_on_device(task, net, prepared, labels, "depolarizing", p, None, 5))
        for p in (1e-3, 1e-2)
    ]
    assert 0 < depol[0]["mean W1 / spread"] < depol[1]["mean W1 / spread"]


def test_energy_moved_is_the_share_of_each_jet_in_other_pixels():
    a = torch.zeros(2, 3, 2, 2)
    a[0, 0, 0, 0], a[1, 1, 1, 1] = 4.0, 2.0
    b = a.clone()
    b[0, 0, 0, 0], b[0, 0, 1, 0] = 3.0, 1.0  # a quarter of jet 0 moved, jet 1 untouched
    assert energy_moved(a, b) == pytest.approx(0.125)
    assert energy_moved(a, a) == 0 and energy_moved(a, a.roll(1, dims=2)) == pytest.approx(1.0)


def test_noise_table_compares_every_row_with_the_noiseless_jets(tiny):
    task, net = tiny
    labels = torch.tensor([0, 1] * 8)
    prepared = prepare(net, "nairobi", seed=0)
    conditions = [("device", 0.1), ("device", 0.0), ("device", 1.0)]  # the noiseless row need not come first
    rows, images = noise_table(task, net, prepared, labels, images_real(task), 4096, seed=2, conditions=conditions)
    moved = {r["level"]: r["energy moved vs noiseless"] for r in rows}
    assert moved[0.0] == 0 and rows[1]["mean W1 / spread vs noiseless"] == 0
    assert 0 < moved[0.1] < moved[1.0]
    again, _ = noise_table(
        task,
        net,
        prepared,
        labels,
        images_real(task),
        4096,
        2,
        [("device", 1.0)],
        noiseless=images["device errors x 0"],
    )
    assert again[0]["energy moved vs noiseless"] == pytest.approx(moved[1.0])


def images_real(task) -> torch.Tensor:
    """A few jets that stand in for real ones (the columns under test do not depend on them)."""
    return torch.rand(8, 3, task.size, task.size, generator=torch.Generator().manual_seed(0))


def test_routing_stays_on_a_compact_set_of_qubits():
    backend = devices.get_backend("torino")
    sub = devices.compact_qubits(backend, 7)
    assert len(sub) == 7 and len(backend.coupling_map.reduce(sub).get_edges()) >= 6  # connected
    template, _ = chain_template(build_task(default_config(size=8, layers=1, diffusion_steps=2)).model, measure=False)
    _, final = devices.transpile_for(template, backend)
    assert set(devices.circuit_stats(devices.transpile_for(template, backend)[0]).physical_qubits) == set(sub)
    assert sorted(final) == sub


def test_scaled_noise_scales_the_device_error_rates():
    nm1, nm01 = devices.scaled_noise("nairobi", 1.0), devices.scaled_noise("nairobi", 0.1)
    assert devices.scaled_noise("nairobi", 0.0) is None
    assert "cx" in nm1.noise_instructions and "measure" in nm1.noise_instructions
    ro1 = nm1._local_readout_errors[(0,)].probabilities  # assignment matrix of qubit 0
    ro01 = nm01._local_readout_errors[(0,)].probabilities
    np.testing.assert_allclose(1 - np.diag(ro01), 0.1 * (1 - np.diag(ro1)), rtol=1e-9)
    cx1, cx01 = (nm._local_quantum_errors["cx"][(0, 1)] for nm in (nm1, nm01))
    assert cx01.probabilities[0] > cx1.probabilities[0]  # the identity branch: gate and relaxation errors shrink


@pytest.mark.parametrize("name", ["FakeTorino", "fake_nairobi", "NairobiV2", "torino"])
def test_device_names_are_forgiving(name):
    assert devices.canonical_name(name) in devices.DEVICES


def test_unknown_backend_is_one_line_listing_the_choices(tmp_path, capsys):
    out = tmp_path / "q.h5"
    code = main(["sample", "--checkpoint", str(QUANTUM), "--n", "2", "--out", str(out), "--backend", "nowhere"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and not out.exists()
    assert "backend 'nowhere': unknown" in err and all(name in err for name in devices.DEVICES)
    with pytest.raises(JetInputError, match="unknown; use one of nairobi"):
        devices.canonical_name("ibm_kyiv_9000")


@pytest.mark.slow
@pytest.mark.skipif(not (QUANTUM / "config.json").exists(), reason="no shipped quantum checkpoint")
def test_sample_on_a_backend_records_the_device(tmp_path):
    out = tmp_path / "dev.h5"
    args = ["sample", "--checkpoint", str(QUANTUM), "--n", "2", "--out", str(out), "--seed", "1"]
    assert main([*args, "--backend", "FakeNairobiV2", "--shots", "256", "--noise-scale", "0.1"]) == 0
    with h5py.File(out) as f:
        a = dict(f.attrs)
        x = f["X_jets"][()]
    assert x.shape == (2, 8, 8, 3) and np.isfinite(x).all() and (x >= 0).all()
    assert a["backend"] == "nairobi" and a["shots"] == 256 and a["noise_scale"] == 0.1
    assert a["transpiled_depth"] > a["step_transpiled_depth"] > 0
    assert a["two_qubit_gates"] > a["step_two_qubit_gates"] > 0
    assert a["sampler"] == "device:nairobi" and "--backend nairobi" in a["command"]
