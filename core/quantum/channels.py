"""Noise channels as data (Kraus operators), their schedules over T steps, and closed forms at step t.

Every channel here has one strength ``p`` and a "keep" factor ``s(p)`` that multiplies under
composition, like DDPM's alpha_bar: applying strengths p_1 .. p_t one after the other equals one
application with ``s(p_bar) = prod_i s(p_i)``.

- depolarizing (per qubit) and global_depolarizing: rho -> (1-p) rho + p Tr(rho) I/d, s = 1 - p
  (qiskit_aer.noise.depolarizing_error's convention).
- amplitude_damping: gamma = p, s = 1 - gamma; phase_damping: lambda = p, s = 1 - lambda
  (qiskit_aer's amplitude_damping_error / phase_damping_error Kraus operators).
- bit_flip / phase_flip: X or Z with probability p, s = 1 - 2p (so p <= 1/2).

Fixed points: depolarizing -> I/d; amplitude damping -> |0..0>; phase damping and phase flip ->
the diagonal of rho (the Born probabilities in the computational basis do not change at all);
bit flip -> diagonal in the X basis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import JetInputError
from core.quantum import sim

CHANNEL_NAMES = ("depolarizing", "global_depolarizing", "amplitude_damping", "phase_damping", "bit_flip", "phase_flip")
_PAULI = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}


def check_name(name: str) -> str:
    if name not in CHANNEL_NAMES:
        raise JetInputError(f"channel {name!r}: unknown; use one of {', '.join(CHANNEL_NAMES)}")
    return name


def keep_factor(name: str, p: float) -> float:
    """s(p): the factor that multiplies under composition."""
    return 1 - 2 * p if name in ("bit_flip", "phase_flip") else 1 - p


def from_keep(name: str, s: float) -> float:
    """Inverse of ``keep_factor``."""
    return (1 - s) / 2 if name in ("bit_flip", "phase_flip") else 1 - s


def max_strength(name: str) -> float:
    return 0.5 if name in ("bit_flip", "phase_flip") else 1.0


def single_qubit_kraus(name: str, p: float) -> list[np.ndarray]:
    """Kraus operators (2x2) of a single-qubit channel of strength p."""
    check_name(name)
    if name == "depolarizing":
        return [math.sqrt(1 - 3 * p / 4) * _PAULI["I"]] + [math.sqrt(p / 4) * _PAULI[k] for k in "XYZ"]
    if name == "amplitude_damping":
        return [np.array([[1, 0], [0, math.sqrt(1 - p)]], complex), np.array([[0, math.sqrt(p)], [0, 0]], complex)]
    if name == "phase_damping":
        return [np.array([[1, 0], [0, math.sqrt(1 - p)]], complex), np.array([[0, 0], [0, math.sqrt(p)]], complex)]
    if name == "bit_flip":
        return [math.sqrt(1 - p) * _PAULI["I"], math.sqrt(p) * _PAULI["X"]]
    if name == "phase_flip":
        return [math.sqrt(1 - p) * _PAULI["I"], math.sqrt(p) * _PAULI["Z"]]
    raise JetInputError(f"channel {name!r}: acts on all qubits at once; it has no single-qubit Kraus form")


@dataclass(frozen=True)
class Channel:
    """A noise channel of strength ``p``; local channels act on each listed qubit, the global one on all."""

    name: str
    p: float

    def __post_init__(self) -> None:
        check_name(self.name)
        if not (0.0 <= self.p <= max_strength(self.name) + 1e-12):
            raise JetInputError(f"channel {self.name}: strength {self.p} outside [0, {max_strength(self.name)}]")

    @property
    def is_global(self) -> bool:
        return self.name == "global_depolarizing"

    @property
    def keep(self) -> float:
        return keep_factor(self.name, self.p)

    def kraus(self, num_qubits: int = 1) -> list[np.ndarray]:
        """Kraus operators: 2x2 for local channels; for the global one, the 4**n scaled Paulis on n qubits."""
        if not self.is_global:
            return single_qubit_kraus(self.name, self.p)
        if num_qubits > 5:
            raise JetInputError(f"channel {self.name}: 4**{num_qubits} Kraus operators is too many; use apply()")
        d = 2**num_qubits
        ops = []
        for idx in range(4**num_qubits):
            mat = np.ones((1, 1), complex)
            for q in range(num_qubits):  # qubit q is the q-th tensor factor from the right
                mat = np.kron(_PAULI["IXYZ"[(idx >> (2 * q)) & 3]], mat)
            w = 1 - self.p + self.p / d**2 if idx == 0 else self.p / d**2
            ops.append(math.sqrt(w) * mat)
        return ops

    def compose(self, other: Channel) -> Channel:
        """The same channel with the strength of applying ``self`` then ``other``."""
        if other.name != self.name:
            raise JetInputError(f"channel {self.name}: cannot compose with {other.name} in closed form")
        return Channel(self.name, from_keep(self.name, self.keep * other.keep))

    def apply(self, rho: torch.Tensor, qubits: tuple[int, ...] | None = None) -> torch.Tensor:
        """Apply to a batch of density matrices (B, d, d), on each of ``qubits`` (default all)."""
        n = sim.num_qubits_of(rho.shape[-1])
        if self.is_global:
            eye = torch.eye(rho.shape[-1], dtype=rho.dtype, device=rho.device)
            trace = rho.diagonal(dim1=-2, dim2=-1).sum(-1)
            return (1 - self.p) * rho + self.p * trace[:, None, None] * eye / rho.shape[-1]
        kraus = [torch.as_tensor(k, dtype=rho.dtype) for k in self.kraus()]
        for q in range(n) if qubits is None else qubits:
            rho = sim.apply_kraus_dm(rho, kraus, (q,))
        return rho

    def sample_sv(self, psi: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One quantum trajectory step on a batch of statevectors (unravelling; exact on average).

        Depolarising noise is unravelled as "with probability p, measure the qubit and replace it by a
        random bit" (its average is (1-p) rho + p Tr_q(rho) x I/2), so at p = 1 every trajectory is a
        uniformly random basis state, the same start the sampler uses. The other channels pick one
        Kraus operator by its Born weight and renormalise. Either way the average of |psi><psi| over
        draws is ``apply(rho)``.
        """
        n = sim.num_qubits_of(psi.shape[-1])
        b = psi.shape[0]
        if self.is_global:
            # with probability p replace the state by a uniformly random basis state (I/d on average)
            hit = torch.rand(b, generator=generator) < self.p
            idx = torch.randint(psi.shape[-1], (b,), generator=generator)
            rand = torch.zeros_like(psi)
            rand[torch.arange(b), idx] = 1
            return torch.where(hit[:, None], rand, psi)
        if self.name == "depolarizing":
            return self._reset_unravelling(psi, generator)
        kraus = [torch.as_tensor(k, dtype=psi.dtype) for k in self.kraus()]
        for q in range(n):
            outs = torch.stack([sim.apply_unitary_sv(psi, k, (q,)) for k in kraus], 1)  # (B, K, d)
            probs = (outs.abs() ** 2).sum(-1).real
            pick = torch.multinomial(probs.clamp_min(0) + 1e-30, 1, generator=generator)[:, 0]
            chosen = outs[torch.arange(b), pick]
            psi = chosen / probs[torch.arange(b), pick].clamp_min(1e-30).sqrt()[:, None]
        return psi

    def _reset_unravelling(self, psi: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n = sim.num_qubits_of(psi.shape[-1])
        b = psi.shape[0]
        idx = torch.arange(psi.shape[-1])
        for q in range(n):
            hit = torch.rand(b, generator=generator) < self.p
            bit = ((idx >> q) & 1).bool()
            p1 = (psi.abs() ** 2 * bit).sum(-1).real
            outcome = torch.rand(b, generator=generator) < p1
            keep = bit[None] == outcome[:, None]
            proj = psi * keep
            proj = proj / proj.norm(dim=-1, keepdim=True).clamp_min(1e-30)
            flip = torch.rand(b, generator=generator) < 0.5
            flipped = proj[:, idx ^ (1 << q)]
            new = torch.where(flip[:, None], flipped, proj)
            psi = torch.where(hit[:, None], new, psi)
        return psi

    def to_qiskit(self, num_qubits: int = 1):
        """The same channel as a ``qiskit_aer.noise.QuantumError`` (1 qubit, or n for the global one)."""
        from qiskit_aer import noise

        if self.name == "depolarizing":
            return noise.depolarizing_error(self.p, 1)
        if self.name == "global_depolarizing":
            return noise.depolarizing_error(self.p, num_qubits)
        if self.name == "amplitude_damping":
            return noise.amplitude_damping_error(self.p)
        if self.name == "phase_damping":
            return noise.phase_damping_error(self.p)
        if self.name == "bit_flip":
            return noise.pauli_error([("X", self.p), ("I", 1 - self.p)])
        return noise.pauli_error([("Z", self.p), ("I", 1 - self.p)])


def make_channel(name: str, p: float) -> Channel:
    """Build a channel by name; unknown names raise JetInputError."""
    return Channel(check_name(name), float(p))


@dataclass(frozen=True)
class NoiseSchedule:
    """Per-step strengths p_1..p_T of one channel, shaped like a DDPM schedule on the keep factor.

    ``kind="cosine"``: s_bar(t) = cos^2(pi/2 (t/T + 0.008)/1.008) / s_bar(0), reaching the fixed point at T;
    ``kind="linear"``: per-step strengths linear from ``p_start`` to ``p_end`` (scaled to the channel's range).
    """

    name: str
    steps: int
    kind: str = "cosine"
    p_start: float = 0.02
    p_end: float = 0.5

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.steps < 1:
            raise JetInputError(f"noise schedule: steps must be >= 1, got {self.steps}")
        if self.kind not in ("cosine", "linear"):
            raise JetInputError(f"noise schedule kind {self.kind!r}: use 'cosine' or 'linear'")

    def keep_bar(self) -> np.ndarray:
        """s_bar(t) for t = 0..T (s_bar(0) = 1)."""
        t = np.arange(self.steps + 1)
        if self.kind == "cosine":
            f = np.cos(np.pi / 2 * (t / self.steps + 0.008) / 1.008) ** 2
            sbar = f / f[0]
            sbar[-1] = 0.0
            return np.clip(sbar, 0.0, 1.0)
        pmax = max_strength(self.name)
        ps = np.linspace(self.p_start, self.p_end, self.steps) * pmax
        return np.concatenate([[1.0], np.cumprod([keep_factor(self.name, p) for p in ps])])

    def strengths(self) -> np.ndarray:
        """Per-step strengths p_t, t = 1..T (array of length T)."""
        sbar = self.keep_bar()
        ratio = np.divide(sbar[1:], sbar[:-1], out=np.zeros(self.steps), where=sbar[:-1] > 0)
        return np.array([from_keep(self.name, float(s)) for s in np.clip(ratio, 0, 1)])

    def step(self, t: int) -> Channel:
        """The channel applied at step t (from t-1 to t)."""
        self._check_t(t, low=1)
        return make_channel(self.name, float(self.strengths()[t - 1]))

    def cumulative(self, t: int) -> Channel:
        """Closed form: the single channel that takes the clean state to step t."""
        self._check_t(t, low=0)
        return make_channel(self.name, from_keep(self.name, float(self.keep_bar()[t])))

    def _check_t(self, t: int, low: int) -> None:
        if not (low <= t <= self.steps):
            raise JetInputError(f"noise schedule: step t={t} outside {low}..{self.steps}")

    def to_dict(self) -> dict:
        return {"name": self.name, "steps": self.steps, "kind": self.kind, "p_start": self.p_start, "p_end": self.p_end}


def fixed_point(name: str, num_qubits: int, rho: torch.Tensor | None = None) -> torch.Tensor:
    """The state the forward process ends in (batch 1), or for dephasing channels diag(rho)."""
    d = 2**num_qubits
    check_name(name)
    if name in ("depolarizing", "global_depolarizing"):
        return torch.eye(d, dtype=torch.complex128)[None] / d
    if name == "amplitude_damping":
        out = torch.zeros(1, d, d, dtype=torch.complex128)
        out[0, 0, 0] = 1
        return out
    if rho is None:
        raise JetInputError(f"channel {name}: its fixed point depends on the state; pass rho")
    return make_channel(name, max_strength(name)).apply(rho)
