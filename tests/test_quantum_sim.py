"""The torch simulator against qiskit.quantum_info and AerSimulator; gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.quantum_info import DensityMatrix, Operator, Statevector, random_statevector

from core.errors import JetInputError
from core.quantum import sim
from core.quantum.circuit import Circuit, hardware_efficient, strongly_entangling
from core.quantum.gates import FIXED_GATES, NUM_QUBITS, PARAM_GATES, gate_matrix


@pytest.mark.parametrize("name", FIXED_GATES + PARAM_GATES)
def test_every_gate_matches_qiskit_operator(name):
    from qiskit import QuantumCircuit

    k = NUM_QUBITS[name]
    qc = QuantumCircuit(k)
    args = [0.731] if name in PARAM_GATES else []
    getattr(qc, name)(*args, *range(k))
    ours = gate_matrix(name, 0.731 if args else None).numpy()
    np.testing.assert_allclose(ours, Operator(qc).data, atol=1e-12)


def _random_circuit(n: int, seed: int) -> Circuit:
    rng = np.random.default_rng(seed)
    circ = Circuit(n)
    names = ["rx", "ry", "rz", "h", "cx", "cz", "crx", "rzz", "s", "swap", "cy"]
    for _ in range(25):
        name = names[rng.integers(len(names))]
        qs = rng.choice(n, NUM_QUBITS[name], replace=False)
        circ.add(name, *[int(q) for q in qs])
    return circ


def test_circuit_statevector_and_density_match_qiskit():
    n = 4
    circ = _random_circuit(n, seed=3)
    params = torch.randn(2, circ.num_params, dtype=torch.float64)
    psi0 = torch.as_tensor(np.stack([random_statevector(2**n, seed=s).data for s in (1, 2)]))
    out_sv = circ.run_sv(psi0, params)
    out_dm = circ.run_dm(sim.to_density(psi0), params)
    for b in range(2):
        qc = circ.to_qiskit(params[b])
        ref = Statevector(psi0[b].numpy()).evolve(qc)
        np.testing.assert_allclose(out_sv[b].numpy(), ref.data, atol=1e-10)
        np.testing.assert_allclose(out_dm[b].numpy(), DensityMatrix(ref).data, atol=1e-10)


def test_partial_trace_probabilities_and_bloch_match_qiskit():
    from qiskit.quantum_info import partial_trace

    psi = random_statevector(16, seed=7)
    rho = sim.to_density(torch.as_tensor(psi.data)[None])
    for traced in [(0,), (2,), (1, 3), (0, 2, 3)]:
        ours = sim.partial_trace(rho, traced)[0].numpy()
        np.testing.assert_allclose(ours, partial_trace(psi, list(traced)).data, atol=1e-12)
        red = sim.reduced_from_sv(torch.as_tensor(psi.data)[None], traced)[0].numpy()
        np.testing.assert_allclose(red, ours, atol=1e-12)
    np.testing.assert_allclose(sim.probabilities(rho)[0].numpy(), psi.probabilities(), atol=1e-12)
    for qs in [(0,), (2, 1), (3, 0, 1)]:
        np.testing.assert_allclose(sim.probabilities(rho, qs)[0].numpy(), psi.probabilities(list(qs)), atol=1e-12)
    r1 = partial_trace(psi, [1, 2, 3]).data
    expect = [2 * r1[1, 0].real, 2 * r1[1, 0].imag, (r1[0, 0] - r1[1, 1]).real]
    np.testing.assert_allclose(sim.bloch_vector(rho, 0)[0].numpy(), expect, atol=1e-12)
    assert sim.purity(rho)[0].item() == pytest.approx(1.0)


def test_hardware_efficient_on_aer_density_matrix():
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    circ = strongly_entangling(3, 2)
    params = torch.rand(circ.num_params, dtype=torch.float64) * 6
    qc = circ.to_qiskit(params)
    qc.save_density_matrix()
    backend = AerSimulator(method="density_matrix")
    ref = backend.run(transpile(qc, backend)).result().data()["density_matrix"]
    ours = circ.run_dm(sim.to_density(sim.zero_state(3)), params)[0]
    np.testing.assert_allclose(ours.numpy(), np.asarray(ref), atol=1e-6)


def test_gradients_match_finite_differences():
    circ = hardware_efficient(3, 2, rotations=("ry", "rz"))
    params = torch.rand(circ.num_params, dtype=torch.float64, requires_grad=True)
    target = torch.as_tensor(random_statevector(8, seed=5).data)[None]

    def loss(p):
        rho = circ.run_dm(sim.to_density(sim.zero_state(3)), p[None])
        return 1 - sim.fidelity_pure(rho, target).sum()

    assert torch.autograd.gradcheck(loss, (params,), eps=1e-6, atol=1e-6)
    sv_loss = 1 - sim.fidelity_pure(circ.run_sv(sim.zero_state(3), params[None]), target).sum()
    (g_sv,) = torch.autograd.grad(sv_loss, params)
    (g_dm,) = torch.autograd.grad(loss(params), params)
    np.testing.assert_allclose(g_sv.numpy(), g_dm.numpy(), atol=1e-10)


def test_bad_sizes_and_gates_raise():
    with pytest.raises(JetInputError, match="qubits"):
        sim.check_size(40)
    with pytest.raises(JetInputError, match="density-matrix"):
        sim.check_size(14, density=True)
    with pytest.raises(JetInputError, match="unknown gate"):
        Circuit(2).add("toffoli", 0, 1)
    with pytest.raises(JetInputError, match="distinct"):
        sim.apply_unitary_sv(sim.zero_state(2), gate_matrix("cx"), (1, 1))


@pytest.mark.parametrize("shared", [False, True])
def test_fused_density_kernel_matches_qiskit_across_blocks(shared):
    """7 qubits: single-qubit runs fused into Kronecker blocks of 4 + 3 qubits, diagonal runs into one phase."""
    n = 7
    circ = hardware_efficient(n, 2, rotations=("rx", "rz", "ry"), entangler="cz")
    circ.add("cx", 6, 2).add("rzz", 0, 5).add("h", 3).add("crx", 4, 1).add("t", 6).add("swap", 0, 6)
    params = torch.randn(2, circ.num_params, dtype=torch.float64)
    if shared:
        params = params[:1].expand(2, -1)
    psi0 = torch.as_tensor(np.stack([random_statevector(2**n, seed=s).data for s in (4, 5)]))
    out = circ.run_dm(sim.to_density(psi0), params[0] if shared else params)
    for b in range(2):
        ref = DensityMatrix(Statevector(psi0[b].numpy()).evolve(circ.to_qiskit(params[b])))
        np.testing.assert_allclose(out[b].numpy(), ref.data, atol=1e-10)
