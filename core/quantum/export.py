"""The bridge to qiskit / qiskit-aer: bound reverse circuits, noise models from our channels, runs on Aer.

The forward noise at step t is inserted as an ``id`` gate on every data qubit, and the noise model
attaches the closed-form channel of step t to ``id``; so one circuit = encode -> noise -> reverse PQC,
run by ``AerSimulator(method="density_matrix")`` exactly as the torch simulator runs it.
"""

from __future__ import annotations

import numpy as np
import torch

from core.errors import JetInputError
from core.quantum.channels import Channel
from core.quantum.hybrid import HybridModel, channel_for

NOISE_GATE = "id"


def condition_of(model: HybridModel, label: int, channel: int = 0) -> int:
    """The angle network's condition: the label, or label + 2 * channel for a model with one state per channel."""
    if model.cfg.classes <= 2:
        return int(label)
    if not 0 <= int(channel) < model.cfg.classes // 2:
        raise JetInputError(f"channel {channel}: outside 0..{model.cfg.classes // 2 - 1}")
    return int(label) + 2 * int(channel)


def step_angles(
    model: HybridModel, t: int, label: int, z: torch.Tensor | None = None, seed: int = 0, channel: int = 0
) -> torch.Tensor:
    """The circuit angles the angle network gives at step t for one label (and channel) and latent
    (default: N(0,1) from seed); a channel-context model gets no context, as for a jet's first channel."""
    cfg = model.cfg
    if not (1 <= int(t) <= cfg.diffusion_steps):
        raise JetInputError(f"reverse step t={t}: outside 1..{cfg.diffusion_steps}")
    if z is None:
        z = torch.randn(1, cfg.latent, generator=torch.Generator().manual_seed(int(seed)))
    z = torch.as_tensor(z, dtype=torch.float32).reshape(1, cfg.latent)
    with torch.no_grad():
        cond = condition_of(model, label, channel)
        return model.angles(torch.tensor([int(t)]), torch.tensor([cond]), z)[0].double()


def reverse_circuit(
    model: HybridModel, t: int, label: int = 1, z: torch.Tensor | None = None, seed: int = 0, channel: int = 0
):
    """The trained reverse step at t as a bound ``QuantumCircuit`` on data + ancilla qubits (ancillas highest)."""
    qc = model.circuit.to_qiskit(step_angles(model, t, label, z, seed, channel), name=f"reverse_t{int(t)}")
    return qc


def noise_model(channel: Channel, num_qubits: int = 1):
    """An Aer ``NoiseModel`` applying ``channel`` on every ``id`` gate (local channels, per qubit)."""
    from qiskit_aer.noise import NoiseModel

    if channel.is_global:
        raise JetInputError(f"channel {channel.name}: a noise model on single-qubit id gates needs a local channel")
    nm = NoiseModel(basis_gates=["id", "rx", "ry", "rz", "cx", "cz", "h", "sx", "x", "u"])
    if channel.p > 0:
        nm.add_all_qubit_quantum_error(channel.to_qiskit(), [NOISE_GATE])
    return nm


def noisy_step_circuit(
    model: HybridModel,
    state: np.ndarray | torch.Tensor,
    t: int,
    label: int = 1,
    z=None,
    seed: int = 0,
    channel: int = 0,
):
    """Prepare ``state`` on the data qubits, mark the forward noise of step t, then the reverse PQC at t.

    Returns ``(circuit, noise_model)``; run with ``run_probabilities``.
    """
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import StatePreparation

    cfg = model.cfg
    n, a = cfg.data_qubits, cfg.ancillas
    vec = np.asarray(torch.as_tensor(state).detach().cpu().numpy(), dtype=complex).reshape(-1)
    if vec.size != 2**n:
        raise JetInputError(f"state of size {vec.size}: the model has {n} data qubits (needs {2**n})")
    qc = QuantumCircuit(n + a, name=f"noisy_step_t{int(t)}")
    qc.append(StatePreparation(vec / np.linalg.norm(vec)), range(n))
    for q in range(n):
        qc.id(q)
    qc.compose(reverse_circuit(model, t, label, z, seed, channel), inplace=True)
    return qc, noise_model(channel_for(cfg, int(t)))


def run_probabilities(
    qc, noise=None, qubits: list[int] | None = None, shots: int | None = None, seed: int = 0
) -> np.ndarray:
    """Probabilities of ``qubits`` (little-endian) on ``AerSimulator(method="density_matrix")``: exact, or from shots."""
    from qiskit import transpile
    from qiskit_aer import AerSimulator

    qubits = list(range(qc.num_qubits)) if qubits is None else list(qubits)
    backend = AerSimulator(method="density_matrix", noise_model=noise, seed_simulator=seed)
    basis = ["id", "rx", "ry", "rz", "cx", "cz", "h", "sx", "x", "u"]
    circ = transpile(qc, basis_gates=basis, optimization_level=0)
    if shots is None:
        circ.save_probabilities(qubits)
    else:
        from qiskit import ClassicalRegister

        creg = ClassicalRegister(len(qubits))
        circ.add_register(creg)
        circ.measure(qubits, creg)
    compiled = circ
    result = backend.run(compiled, shots=shots or 1).result()
    if shots is None:
        return np.asarray(result.data()["probabilities"], dtype=float)
    counts = result.get_counts()
    out = np.zeros(2 ** len(qubits))
    for key, c in counts.items():
        out[int(key.replace(" ", ""), 2)] = c / shots
    return out


def torch_step_probabilities(
    model: HybridModel, state: torch.Tensor, t: int, label: int = 1, z=None, seed: int = 0
) -> np.ndarray:
    """The same noisy step as ``noisy_step_circuit`` on the torch density-matrix simulator: data-qubit probabilities."""
    from core.quantum import sim

    cfg = model.cfg
    n, a = cfg.data_qubits, cfg.ancillas
    psi = torch.as_tensor(state, dtype=torch.complex128).reshape(1, -1)
    psi = psi / psi.norm()
    rho = channel_for(cfg, int(t)).apply(sim.to_density(psi))
    full = torch.zeros(1, 2 ** (n + a), 2 ** (n + a), dtype=torch.complex128)
    full[:, : 2**n, : 2**n] = rho  # ancillas in |0>
    out = model.circuit.run_dm(full, step_angles(model, t, label, z, seed))
    return sim.probabilities(out, tuple(range(n)))[0].numpy()
