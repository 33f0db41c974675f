"""Gate matrices as torch tensors, batched over angles, in qiskit's conventions.

A k-qubit gate acting on qubits ``(q0, ..., q_{k-1})`` has its matrix indexed little-endian:
row/column ``sum_i b(q_i) 2**i``, exactly as ``qiskit.quantum_info.Operator`` writes it.
"""

from __future__ import annotations

import functools
import math

import torch

from core.errors import JetInputError

FIXED_GATES = ("id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "cx", "cz", "cy", "swap")
PARAM_GATES = ("rx", "ry", "rz", "p", "crx", "cry", "crz", "rxx", "ryy", "rzz")
NUM_QUBITS = {**{g: 1 for g in ("id", "x", "y", "z", "h", "s", "sdg", "t", "tdg", "sx", "rx", "ry", "rz", "p")}}
NUM_QUBITS.update({g: 2 for g in ("cx", "cz", "cy", "swap", "crx", "cry", "crz", "rxx", "ryy", "rzz")})


def _fixed(name: str) -> list[list[complex]]:
    r = 1 / math.sqrt(2)
    e = complex(math.cos(math.pi / 4), math.sin(math.pi / 4))
    table = {
        "id": [[1, 0], [0, 1]],
        "x": [[0, 1], [1, 0]],
        "y": [[0, -1j], [1j, 0]],
        "z": [[1, 0], [0, -1]],
        "h": [[r, r], [r, -r]],
        "s": [[1, 0], [0, 1j]],
        "sdg": [[1, 0], [0, -1j]],
        "t": [[1, 0], [0, e]],
        "tdg": [[1, 0], [0, e.conjugate()]],
        "sx": [[0.5 + 0.5j, 0.5 - 0.5j], [0.5 - 0.5j, 0.5 + 0.5j]],
        # Two-qubit gates on (control=q0, target=q1), little-endian index b(q0) + 2 b(q1).
        "cx": [[1, 0, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]],
        "cy": [[1, 0, 0, 0], [0, 0, 0, -1j], [0, 0, 1, 0], [0, 1j, 0, 0]],
        "cz": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, -1]],
        "swap": [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]],
    }
    return table[name]


@functools.lru_cache(maxsize=64)
def _fixed_tensor(name: str, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor(_fixed(name), dtype=dtype)


def _controlled(u: torch.Tensor) -> torch.Tensor:
    """Embed a batched 1-qubit matrix as controlled on q0, acting on q1 (little-endian)."""
    out = torch.zeros(*u.shape[:-2], 4, 4, dtype=u.dtype, device=u.device)
    out[..., 0, 0] = 1
    out[..., 2, 2] = 1
    # control bit set: indices 1 (target 0) and 3 (target 1)
    out[..., 1, 1] = u[..., 0, 0]
    out[..., 1, 3] = u[..., 0, 1]
    out[..., 3, 1] = u[..., 1, 0]
    out[..., 3, 3] = u[..., 1, 1]
    return out


def gate_matrix(name: str, theta: torch.Tensor | float | None = None, dtype=torch.complex128) -> torch.Tensor:
    """Matrix of gate ``name``; for rotations ``theta`` may be a tensor of any batch shape (result ``(..., d, d)``)."""
    name = name.lower()
    if name in FIXED_GATES:
        return _fixed_tensor(name, dtype)
    if name not in PARAM_GATES:
        raise JetInputError(f"gate {name!r}: unknown gate (known: {', '.join(FIXED_GATES + PARAM_GATES)})")
    if theta is None:
        raise JetInputError(f"gate {name!r}: needs an angle")
    th = torch.as_tensor(theta)
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    th = th.to(real)
    c, s = torch.cos(th / 2).to(dtype), torch.sin(th / 2).to(dtype)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    j = torch.tensor(1j, dtype=dtype)
    if name in ("rx", "crx"):
        u = torch.stack([torch.stack([c, -j * s], -1), torch.stack([-j * s, c], -1)], -2)
    elif name in ("ry", "cry"):
        u = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    elif name in ("rz", "crz"):
        em, ep = torch.exp(-j * th.to(dtype) / 2), torch.exp(j * th.to(dtype) / 2)
        u = torch.stack([torch.stack([em, zero], -1), torch.stack([zero, ep], -1)], -2)
    elif name == "p":
        u = torch.stack([torch.stack([one, zero], -1), torch.stack([zero, torch.exp(j * th.to(dtype))], -1)], -2)
    else:  # rxx, ryy, rzz: exp(-i theta/2 P⊗P)
        pauli = {"rxx": "x", "ryy": "y", "rzz": "z"}[name]
        p1 = torch.tensor(_fixed(pauli), dtype=dtype)
        pp = torch.kron(p1, p1)
        eye = torch.eye(4, dtype=dtype)
        return c[..., None, None] * eye - j * s[..., None, None] * pp
    if name.startswith("c"):
        return _controlled(u)
    return u
