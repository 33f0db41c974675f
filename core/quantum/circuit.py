"""A circuit as data: a list of gate ops whose angles index a parameter vector.

The same description runs on the torch simulator (batched over parameter rows, differentiable)
and becomes a bound ``qiskit.QuantumCircuit``, so the two can be compared gate for gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from core.errors import JetInputError
from core.quantum import sim
from core.quantum.gates import NUM_QUBITS, PARAM_GATES, gate_matrix


@dataclass(frozen=True)
class Op:
    """One gate: ``name`` on ``qubits``; ``param`` is an index into the parameter vector, or a fixed angle."""

    name: str
    qubits: tuple[int, ...]
    param: int | float | None = None
    fixed: bool = False  # True when ``param`` is a fixed angle rather than an index


@dataclass
class Circuit:
    """A parameterised circuit on ``num_qubits`` qubits with ``num_params`` free angles."""

    num_qubits: int
    ops: list[Op] = field(default_factory=list)
    num_params: int = 0

    def add(self, name: str, *qubits: int, angle: float | None = None) -> Circuit:
        """Append a gate; a rotation without ``angle`` gets the next free parameter."""
        name = name.lower()
        if name not in NUM_QUBITS:
            raise JetInputError(f"gate {name!r}: unknown gate")
        if len(qubits) != NUM_QUBITS[name] or any(q < 0 or q >= self.num_qubits for q in qubits):
            raise JetInputError(f"gate {name} on {qubits}: wrong qubits for a {self.num_qubits}-qubit circuit")
        if name in PARAM_GATES and angle is None:
            self.ops.append(Op(name, tuple(qubits), self.num_params))
            self.num_params += 1
        elif name in PARAM_GATES:
            self.ops.append(Op(name, tuple(qubits), float(angle), fixed=True))
        else:
            self.ops.append(Op(name, tuple(qubits)))
        return self

    def _matrix(self, op: Op, params: torch.Tensor, dtype) -> torch.Tensor:
        if op.param is None:
            return gate_matrix(op.name, dtype=dtype)
        theta = op.param if op.fixed else params[:, op.param]
        return gate_matrix(op.name, theta, dtype=dtype)

    def _params(self, params: torch.Tensor | None, batch: int) -> torch.Tensor:
        if self.num_params == 0:
            return torch.zeros(batch, 0)
        if params is None:
            raise JetInputError(f"circuit with {self.num_params} parameters: no parameters given")
        params = torch.as_tensor(params)
        if params.dim() == 1:
            params = params[None].expand(batch, -1)
        if params.shape[-1] != self.num_params:
            raise JetInputError(f"circuit parameters: expected {self.num_params} per row, got {params.shape[-1]}")
        return params

    def matrices(self, params: torch.Tensor | None, batch: int, dtype) -> list[torch.Tensor]:
        """Every op's matrix, built in one vectorised call per gate kind (the per-gate cost is then one contraction).

        A parameter vector shared by the whole batch gives unbatched (d, d) matrices.
        """
        raw = torch.zeros(0) if params is None and self.num_params == 0 else torch.as_tensor(params)
        shared = raw.dim() == 1
        p = self._params(raw[None] if shared else raw, 1 if shared else batch)
        mats: list[torch.Tensor | None] = [None] * len(self.ops)
        by_kind: dict[str, list[int]] = {}
        for i, op in enumerate(self.ops):
            if op.param is None or op.fixed:
                mats[i] = self._matrix(op, p, dtype)
                if not shared and op.fixed and mats[i].dim() == 3:
                    mats[i] = mats[i][0]
            else:
                by_kind.setdefault(op.name, []).append(i)
        for name, idx in by_kind.items():
            cols = torch.tensor([self.ops[i].param for i in idx])
            m = gate_matrix(name, p[:, cols], dtype=dtype)  # (B, k, d, d)
            for j, i in enumerate(idx):
                mats[i] = m[0, j] if shared else m[:, j]
        return mats

    def run_sv(self, psi: torch.Tensor, params: torch.Tensor | None = None, offset: int = 0) -> torch.Tensor:
        """Evolve a batch of statevectors; the circuit acts on qubits ``offset .. offset + num_qubits - 1``.

        ``params``: (P,) shared by the batch, or (B, P) one row per state.
        """
        for op, u in zip(self.ops, self.matrices(params, psi.shape[0], psi.dtype), strict=True):
            psi = sim.apply_unitary_sv(psi, u, tuple(q + offset for q in op.qubits))
        return psi

    def run_dm(self, rho: torch.Tensor, params: torch.Tensor | None = None, offset: int = 0) -> torch.Tensor:
        """Evolve a batch of density matrices (fused: see ``sim.run_gates_dm``)."""
        mats = self.matrices(params, rho.shape[0], rho.dtype)
        gates = [(op.name, tuple(q + offset for q in op.qubits), u) for op, u in zip(self.ops, mats, strict=True)]
        return sim.run_gates_dm(rho, gates)

    def to_qiskit(self, params: np.ndarray | torch.Tensor | None = None, name: str = "pqc"):
        """A bound ``qiskit.QuantumCircuit`` with the given parameter vector (one row)."""
        from qiskit import QuantumCircuit

        values = np.zeros(0) if params is None else np.asarray(torch.as_tensor(params).detach().cpu(), dtype=float)
        values = values.reshape(-1)
        if values.size != self.num_params:
            raise JetInputError(f"circuit parameters: expected {self.num_params}, got {values.size}")
        qc = QuantumCircuit(self.num_qubits, name=name)
        for op in self.ops:
            method = getattr(qc, op.name)
            if op.param is None:
                method(*op.qubits)
            else:
                angle = float(op.param) if op.fixed else float(values[op.param])
                method(angle, *op.qubits)
        return qc


def hardware_efficient(
    num_qubits: int, layers: int, rotations: tuple[str, ...] = ("ry",), entangler: str = "cz"
) -> Circuit:
    """Layers of single-qubit rotations then a ring of two-qubit entanglers, closed by a final rotation layer."""
    circ = Circuit(num_qubits)
    for _ in range(layers):
        for q in range(num_qubits):
            for r in rotations:
                circ.add(r, q)
        for q in range(num_qubits - 1):
            circ.add(entangler, q, q + 1)
        if num_qubits > 2:
            circ.add(entangler, num_qubits - 1, 0)
    for q in range(num_qubits):
        for r in rotations:
            circ.add(r, q)
    return circ


def strongly_entangling(num_qubits: int, layers: int) -> Circuit:
    """PennyLane-style StronglyEntanglingLayers: Rot (RZ RY RZ) on each qubit, CNOT ring with range r = l mod n + 1."""
    circ = Circuit(num_qubits)
    for layer in range(layers):
        for q in range(num_qubits):
            circ.add("rz", q).add("ry", q).add("rz", q)
        if num_qubits > 1:
            r = layer % (num_qubits - 1) + 1
            for q in range(num_qubits):
                circ.add("cx", q, (q + r) % num_qubits)
    return circ
