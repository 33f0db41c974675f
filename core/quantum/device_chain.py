"""The whole reverse chain of a hybrid model as one circuit a device can run, and its runs on Aer.

A device cannot hand a quantum state to the next circuit, so the chain runs in one circuit from the
amplitude-damping fixed point |0...0>: for t = T .. 1 the reverse PQC at t (angles from the angle
network), then, between steps, the ancillas are reset (tracing them out) and the forward channel to
step t - 1 re-noises the data qubits, each through the ancilla: CRY(theta) data -> ancilla, CX ancilla ->
data, reset (the unitary dilation of amplitude damping, gamma = sin^2(theta / 2)). The torch sampler
draws one quantum trajectory of exactly this; the circuit gives their average for the chain's latent.
``chain_probabilities_torch`` is the same average on the torch density-matrix simulator (the reference).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from core.errors import JetInputError
from core.quantum import sim
from core.quantum.channels import make_channel
from core.quantum.hybrid import HybridModel, channel_for


def _check_model(model: HybridModel) -> None:
    cfg = model.cfg
    if cfg.channel != "amplitude_damping":
        raise JetInputError(
            f"device sampling: the model's channel is {cfg.channel}; only amplitude_damping models start in "
            "|0...0> and re-noise with a dilation a device can run"
        )
    if cfg.ancillas < 1:
        raise JetInputError("device sampling: the model has no ancilla qubit to re-noise through")


def chain_template(model: HybridModel, measure: bool = True):
    """``(QuantumCircuit, ParameterVector)``: the reverse chain with angles of step t at ``[(T - t) * P, (T - t + 1) * P)``.

    With ``measure`` the data qubits are measured into a register (bit i = data qubit i).
    """
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
    from qiskit.circuit import ParameterVector

    _check_model(model)
    cfg, circ = model.cfg, model.circuit
    n, a, P = cfg.data_qubits, cfg.ancillas, circ.num_params
    pv = ParameterVector("theta", cfg.diffusion_steps * P)
    qr = QuantumRegister(n + a, "q")
    qc = QuantumCircuit(qr, name="reverse_chain")
    for k, t in enumerate(range(cfg.diffusion_steps, 0, -1)):
        for op in circ.ops:
            args = [] if op.param is None else [float(op.param) if op.fixed else pv[k * P + op.param]]
            getattr(qc, op.name)(*args, *op.qubits)
        if t > 1:
            for q in range(n, n + a):
                qc.reset(q)
            _amplitude_damping(qc, channel_for(cfg, t - 1).p, range(n), n)
    if measure:
        creg = ClassicalRegister(n, "data")
        qc.add_register(creg)
        qc.measure(range(n), creg)
    return qc, pv


def _amplitude_damping(qc, gamma: float, data, ancilla: int) -> None:
    if gamma <= 0:
        return
    theta = 2 * math.asin(math.sqrt(min(gamma, 1.0)))
    for q in data:
        qc.cry(theta, q, ancilla)
        qc.cx(ancilla, q)
        qc.reset(ancilla)


@torch.no_grad()
def chain_angles(
    model: HybridModel, conditions: torch.Tensor, z: torch.Tensor, ctx: torch.Tensor | None = None
) -> np.ndarray:
    """Angles of every step for each row: (B, T * P), step T first (the template's order); ``ctx``: the rows'
    context for a channel-context model."""
    cfg = model.cfg
    b = conditions.shape[0]
    rows = [model.angles(torch.full((b,), t), conditions, z, ctx).double() for t in range(cfg.diffusion_steps, 0, -1)]
    return torch.cat(rows, -1).numpy()


@torch.no_grad()
def chain_probabilities_torch(
    model: HybridModel, conditions: torch.Tensor, z: torch.Tensor, ctx: torch.Tensor | None = None
) -> torch.Tensor:
    """Data-qubit probabilities (B, 2**n) of the chain circuit, on the torch density-matrix simulator."""
    _check_model(model)
    cfg = model.cfg
    b = conditions.shape[0]
    rho = torch.zeros(b, 2**cfg.data_qubits, 2**cfg.data_qubits, dtype=torch.complex128)
    rho[:, 0, 0] = 1
    for t in range(cfg.diffusion_steps, 0, -1):
        rho = model.step_dm(rho, torch.full((b,), t), conditions, z, ctx)
        if t > 1:
            rho = make_channel(cfg.channel, channel_for(cfg, t - 1).p).apply(rho)
    return sim.probabilities(rho).float()


def run_chain(
    circuit, params: np.ndarray, measured: list[int], noise=None, shots: int | None = None, seed: int = 0
) -> np.ndarray:
    """Run a chain circuit (without measurements) for each parameter row on Aer's density-matrix method.

    ``measured``: the (physical) qubits holding data qubits 0..n-1 at the end. Returns data-qubit
    probabilities (B, 2**n): exact with ``shots=None``, else measured frequencies (readout error included
    when the noise model has it).
    """
    from qiskit import ClassicalRegister
    from qiskit_aer import AerSimulator

    params = np.atleast_2d(np.asarray(params, dtype=float))
    circ = circuit.copy()
    phys, n = list(measured), len(measured)
    if shots is None:
        circ.save_probabilities(phys)
    else:
        creg = ClassicalRegister(n, "data")
        circ.add_register(creg)
        circ.measure(phys, creg)
    order = sorted(circ.parameters, key=lambda p: p.index)
    binds = [{p: params[:, p.index].tolist() for p in order}] if order else None
    backend = AerSimulator(method="density_matrix", noise_model=noise, seed_simulator=int(seed))
    result = backend.run(circ, shots=shots or 1, parameter_binds=binds).result()
    out = np.zeros((len(params), 2**n))
    for i in range(len(params)):
        if shots is None:
            out[i] = np.asarray(result.data(i)["probabilities"], dtype=float)
        else:
            for key, c in result.get_counts(i).items():
                out[i, int(key.replace(" ", ""), 2)] = c / shots
    return out
