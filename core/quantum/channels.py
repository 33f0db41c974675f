"""Noise channels as value objects, one class per channel (as ``qiskit.quantum_info`` has one per operator).

A channel of strength ``p`` knows its Kraus operators, how to act on density matrices and on statevectors
(one quantum trajectory), its qiskit-aer form, its fixed point for a given state, and whether that fixed
point is the same for every state an encoder can produce: only then can the reverse chain start from it
without the data (``generation_refusal``). Every channel has a "keep" factor ``s(p)`` that multiplies under
composition, like DDPM's alpha_bar, so ``ChannelSchedule`` gives the closed form at step t.

- ``depolarizing`` (per qubit) and ``global_depolarizing``: rho -> (1-p) rho + p Tr(rho) I/d, s = 1 - p
  (qiskit_aer.noise.depolarizing_error's convention); fixed point I/d.
- ``amplitude_damping``: gamma = p, s = 1 - gamma; fixed point |0..0>.
- ``phase_damping``: lambda = p, s = 1 - lambda; fixed point diag(rho) (the Born probabilities never change).
- ``bit_flip`` / ``phase_flip``: X or Z with probability p, s = 1 - 2p (p <= 1/2); fixed points: rho with
  only its I/X (bit flip) or I/Z (phase flip) Pauli components left.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from core.errors import JetInputError
from core.quantum import sim

_PAULI = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}


@dataclass(frozen=True)
class Channel:
    """A noise channel of strength ``p``: local channels act on every qubit, a global one on all at once."""

    p: float
    name: ClassVar[str] = ""
    max_strength: ClassVar[float] = 1.0
    is_global: ClassVar[bool] = False
    # What the fixed point keeps of the state (None: nothing, it is the same for every state).
    keeps: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        if not (0.0 <= self.p <= self.max_strength + 1e-12):
            raise JetInputError(f"channel {self.name}: strength {self.p} outside [0, {self.max_strength}]")

    # ------------------------------------------------------------ strength algebra

    @classmethod
    def keep_of(cls, p: float) -> float:
        """s(p): the factor that multiplies under composition."""
        return 1.0 - p

    @classmethod
    def from_keep(cls, s: float) -> Channel:
        """The channel whose keep factor is ``s`` (inverse of ``keep_of``)."""
        return cls(1.0 - s)

    @property
    def keep(self) -> float:
        return self.keep_of(self.p)

    # ------------------------------------------------------------ operators

    def kraus(self, num_qubits: int = 1) -> list[np.ndarray]:
        """Kraus operators, 2 x 2 for a local channel (applied to each qubit)."""
        raise NotImplementedError

    def superop(self, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
        """The 4 x 4 superoperator of one qubit, acting on vec(rho) = rho[r, c]."""
        ks = [torch.as_tensor(k, dtype=dtype) for k in self.kraus()]
        return sum(torch.kron(k, k.conj()) for k in ks)

    def apply(self, rho: torch.Tensor, qubits: tuple[int, ...] | None = None) -> torch.Tensor:
        """The density-matrix step: apply to (B, d, d) on each of ``qubits`` (default all).

        One 4 x 4 superoperator product per qubit (not a Kraus sandwich on the whole matrix).
        """
        n = sim.num_qubits_of(rho.shape[-1])
        superop = self.superop(rho.dtype).to(rho.device)
        b = rho.shape[0]
        x = rho.reshape(b, *([2] * (2 * n)))
        for q in range(n) if qubits is None else qubits:
            row, col = 1 + (n - 1 - q), 1 + (2 * n - 1 - q)  # qubit q is bit q: the last row / column axis is qubit 0
            x = torch.movedim(x, (row, col), (-2, -1))
            shape = x.shape
            x = (x.reshape(-1, 4) @ superop.T).reshape(shape)
            x = torch.movedim(x, (-2, -1), (row, col))
        return x.reshape(rho.shape)

    def sample_sv(self, psi: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One quantum trajectory step on a batch of statevectors: pick one Kraus operator per qubit by its
        Born weight and renormalise (the average of |psi><psi| over draws is ``apply``)."""
        n = sim.num_qubits_of(psi.shape[-1])
        b = psi.shape[0]
        kraus = [torch.as_tensor(k, dtype=psi.dtype) for k in self.kraus()]
        for q in range(n):
            outs = torch.stack([sim.apply_unitary_sv(psi, k, (q,)) for k in kraus], 1)  # (B, K, d)
            probs = (outs.abs() ** 2).sum(-1).real
            pick = torch.multinomial(probs.clamp_min(0) + 1e-30, 1, generator=generator)[:, 0]
            chosen = outs[torch.arange(b), pick]
            psi = chosen / probs[torch.arange(b), pick].clamp_min(1e-30).sqrt()[:, None]
        return psi

    def to_qiskit(self, num_qubits: int = 1):
        """The same channel as a ``qiskit_aer.noise.QuantumError`` (1 qubit, or n for a global one)."""
        raise NotImplementedError

    # ------------------------------------------------------------ fixed point

    @classmethod
    def fixed_point(cls, rho: torch.Tensor) -> torch.Tensor:
        """The state (B, d, d) the forward process takes ``rho`` (B, d, d) to: the channel at full strength."""
        return cls(cls.max_strength).apply(rho)

    @classmethod
    def start_states(
        cls, n: int, num_qubits: int, generator: torch.Generator | None, dtype: torch.dtype
    ) -> torch.Tensor:
        """``n`` statevectors (n, 2**num_qubits) whose ensemble is the fixed point: where the reverse chain starts.

        Only channels whose fixed point is the same for every state have one; the others refuse.
        """
        raise JetInputError(cls.refusal_line())

    @classmethod
    def start_density(cls, num_qubits: int) -> torch.Tensor:
        """The density matrix (d, d) that ``start_states`` samples from (for checks)."""
        raise JetInputError(cls.refusal_line())

    @classmethod
    def refusal_line(cls, encoder: str | None = None) -> str:
        with_encoder = f" with the {encoder} encoder" if encoder else ""
        return (
            f"channel {cls.name}{with_encoder} cannot serve generation: its fixed point keeps {cls.keeps} of each "
            f"jet, so the reverse chain would have to start from the data; use one of "
            f"{', '.join(n for n, c in CHANNELS.items() if c.keeps is None)}"
        )


@dataclass(frozen=True)
class Depolarizing(Channel):
    name: ClassVar[str] = "depolarizing"

    def kraus(self, num_qubits: int = 1) -> list[np.ndarray]:
        p = self.p
        return [math.sqrt(1 - 3 * p / 4) * _PAULI["I"]] + [math.sqrt(p / 4) * _PAULI[k] for k in "XYZ"]

    def sample_sv(self, psi: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Unravelled as "with probability p, measure the qubit and replace it by a random bit" (average:
        (1-p) rho + p Tr_q(rho) x I/2), so at p = 1 every trajectory is a uniformly random basis state."""
        b = psi.shape[0]
        idx = torch.arange(psi.shape[-1])
        for q in range(sim.num_qubits_of(psi.shape[-1])):
            hit = torch.rand(b, generator=generator) < self.p
            bit = ((idx >> q) & 1).bool()
            p1 = (psi.abs() ** 2 * bit).sum(-1).real
            outcome = torch.rand(b, generator=generator) < p1
            proj = psi * (bit[None] == outcome[:, None])
            proj = proj / proj.norm(dim=-1, keepdim=True).clamp_min(1e-30)
            flip = torch.rand(b, generator=generator) < 0.5
            new = torch.where(flip[:, None], proj[:, idx ^ (1 << q)], proj)
            psi = torch.where(hit[:, None], new, psi)
        return psi

    def to_qiskit(self, num_qubits: int = 1):
        from qiskit_aer import noise

        return noise.depolarizing_error(self.p, 1)

    @classmethod
    def start_states(
        cls, n: int, num_qubits: int, generator: torch.Generator | None, dtype: torch.dtype
    ) -> torch.Tensor:
        """Uniformly random basis states: one trajectory each of I/d."""
        d = 2**num_qubits
        psi = torch.zeros(n, d, dtype=dtype)
        psi[torch.arange(n), torch.randint(d, (n,), generator=generator)] = 1
        return psi

    @classmethod
    def start_density(cls, num_qubits: int) -> torch.Tensor:
        return torch.eye(2**num_qubits, dtype=torch.complex128) / 2**num_qubits


@dataclass(frozen=True)
class GlobalDepolarizing(Depolarizing):
    name: ClassVar[str] = "global_depolarizing"
    is_global: ClassVar[bool] = True

    def kraus(self, num_qubits: int = 1) -> list[np.ndarray]:
        """The 4**n scaled Pauli strings on n qubits."""
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

    def apply(self, rho: torch.Tensor, qubits: tuple[int, ...] | None = None) -> torch.Tensor:
        eye = torch.eye(rho.shape[-1], dtype=rho.dtype, device=rho.device)
        trace = rho.diagonal(dim1=-2, dim2=-1).sum(-1)
        return (1 - self.p) * rho + self.p * trace[:, None, None] * eye / rho.shape[-1]

    def sample_sv(self, psi: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """With probability p replace the state by a uniformly random basis state (I/d on average)."""
        b = psi.shape[0]
        hit = torch.rand(b, generator=generator) < self.p
        idx = torch.randint(psi.shape[-1], (b,), generator=generator)
        rand = torch.zeros_like(psi)
        rand[torch.arange(b), idx] = 1
        return torch.where(hit[:, None], rand, psi)

    def to_qiskit(self, num_qubits: int = 1):
        from qiskit_aer import noise

        return noise.depolarizing_error(self.p, num_qubits)


@dataclass(frozen=True)
class AmplitudeDamping(Channel):
    name: ClassVar[str] = "amplitude_damping"

    def kraus(self, num_qubits: int = 1) -> list[np.ndarray]:
        g = self.p
        return [np.array([[1, 0], [0, math.sqrt(1 - g)]], complex), np.array([[0, math.sqrt(g)], [0, 0]], complex)]

    def to_qiskit(self, num_qubits: int = 1):
        from qiskit_aer import noise

        return noise.amplitude_damping_error(self.p)

    @classmethod
    def start_states(
        cls, n: int, num_qubits: int, generator: torch.Generator | None, dtype: torch.dtype
    ) -> torch.Tensor:
        """|0...0> for every chain (the fixed point is pure)."""
        psi = torch.zeros(n, 2**num_qubits, dtype=dtype)
        psi[:, 0] = 1
        return psi

    @classmethod
    def start_density(cls, num_qubits: int) -> torch.Tensor:
        rho = torch.zeros(2**num_qubits, 2**num_qubits, dtype=torch.complex128)
        rho[0, 0] = 1
        return rho


@dataclass(frozen=True)
class PhaseDamping(Channel):
    name: ClassVar[str] = "phase_damping"
    keeps: ClassVar[str | None] = "the Born probabilities (the measured image)"

    def kraus(self, num_qubits: int = 1) -> list[np.ndarray]:
        lam = self.p
        return [np.array([[1, 0], [0, math.sqrt(1 - lam)]], complex), np.array([[0, 0], [0, math.sqrt(lam)]], complex)]

    def to_qiskit(self, num_qubits: int = 1):
        from qiskit_aer import noise

        return noise.phase_damping_error(self.p)


@dataclass(frozen=True)
class _PauliFlip(Channel):
    """X or Z with probability p: s = 1 - 2p, so p <= 1/2."""

    max_strength: ClassVar[float] = 0.5
    pauli: ClassVar[str] = "X"

    @classmethod
    def keep_of(cls, p: float) -> float:
        return 1.0 - 2.0 * p

    @classmethod
    def from_keep(cls, s: float) -> Channel:
        return cls((1.0 - s) / 2.0)

    def kraus(self, num_qubits: int = 1) -> list[np.ndarray]:
        return [math.sqrt(1 - self.p) * _PAULI["I"], math.sqrt(self.p) * _PAULI[self.pauli]]

    def to_qiskit(self, num_qubits: int = 1):
        from qiskit_aer import noise

        return noise.pauli_error([(self.pauli, self.p), ("I", 1 - self.p)])


@dataclass(frozen=True)
class BitFlip(_PauliFlip):
    name: ClassVar[str] = "bit_flip"
    pauli: ClassVar[str] = "X"
    keeps: ClassVar[str | None] = "the X-basis components"


@dataclass(frozen=True)
class PhaseFlip(_PauliFlip):
    name: ClassVar[str] = "phase_flip"
    pauli: ClassVar[str] = "Z"
    keeps: ClassVar[str | None] = "the Born probabilities (the measured image)"


CHANNELS: dict[str, type[Channel]] = {
    c.name: c for c in (Depolarizing, GlobalDepolarizing, AmplitudeDamping, PhaseDamping, BitFlip, PhaseFlip)
}
CHANNEL_NAMES = tuple(CHANNELS)


def channel_class(name: str) -> type[Channel]:
    """The class of a channel name; unknown names raise JetInputError naming the known ones."""
    if name not in CHANNELS:
        raise JetInputError(f"channel {name!r}: unknown; use one of {', '.join(CHANNEL_NAMES)}")
    return CHANNELS[name]


def check_name(name: str) -> str:
    return channel_class(name).name


def make_channel(name: str, p: float) -> Channel:
    """Build a channel by name; unknown names raise JetInputError."""
    return channel_class(name)(float(p))


@functools.lru_cache(maxsize=64)
def generation_refusal(channel: str, encoder: str) -> str | None:
    """Why ``channel`` cannot serve generation with ``encoder`` (one line), or None when it can.

    It can when its fixed point is the same for every encoded jet: checked on four different images encoded
    by that encoder (a one-pixel jet, a flat one and two seeded random ones), so a new encoder or channel is
    judged by what it does.
    """
    from core.quantum.encoders import make_encoder

    cls = channel_class(channel)
    enc = make_encoder(encoder, (1, 2, 2))
    images = torch.rand((4, 1, 2, 2), generator=torch.Generator().manual_seed(0), dtype=torch.float64) ** 2
    images[0] = 0.0
    images[0, 0, 0, 0] = 1.0
    images[1] = 0.25
    rho = sim.to_density(enc.encode(images).state[:, 0].to(torch.complex128))
    ends = cls.fixed_point(rho)
    if all(torch.allclose(end, ends[0], atol=1e-9) for end in ends[1:]):
        return None
    return cls.refusal_line(encoder)


def valid_channels(encoder: str) -> list[str]:
    """The channels that can serve generation with ``encoder`` (what the pages offer)."""
    return [name for name in CHANNEL_NAMES if generation_refusal(name, encoder) is None]


def check_generation(channel: str, encoder: str) -> None:
    """Refuse (JetInputError, one line) a channel that cannot serve generation with ``encoder``."""
    line = generation_refusal(channel, encoder)
    if line is not None:
        raise JetInputError(line)


@dataclass(frozen=True)
class ChannelSchedule:
    """Per-step strengths p_1..p_T of one channel, shaped like a DDPM schedule on the keep factor.

    ``kind="cosine"``: s_bar(t) = the cosine alpha_bar of ``core.diffusion.schedules``, set to 0 at T (the
    fixed point); ``kind="linear"``: per-step strengths linear from ``p_start`` to ``p_end`` (scaled to the
    channel's range).
    """

    name: str
    diffusion_steps: int
    kind: str = "cosine"
    p_start: float = 0.02
    p_end: float = 0.5

    def __post_init__(self) -> None:
        channel_class(self.name)
        if self.diffusion_steps < 1:
            raise JetInputError(f"noise schedule: diffusion_steps must be >= 1, got {self.diffusion_steps}")
        if self.kind not in ("cosine", "linear"):
            raise JetInputError(f"noise schedule kind {self.kind!r}: use 'cosine' or 'linear'")

    @property
    def channel(self) -> type[Channel]:
        return channel_class(self.name)

    def keep_bar(self) -> np.ndarray:
        """s_bar(t) for t = 0..T (s_bar(0) = 1)."""
        if self.kind == "cosine":
            from core.diffusion.schedules import cosine_alpha_bar

            sbar = np.concatenate([[1.0], cosine_alpha_bar(self.diffusion_steps).numpy()])
            sbar[-1] = 0.0
            return np.clip(sbar, 0.0, 1.0)
        ch = self.channel
        ps = np.linspace(self.p_start, self.p_end, self.diffusion_steps) * ch.max_strength
        return np.concatenate([[1.0], np.cumprod([ch.keep_of(p) for p in ps])])

    def strengths(self) -> np.ndarray:
        """Per-step strengths p_t, t = 1..T (array of length T)."""
        sbar = self.keep_bar()
        ratio = np.divide(sbar[1:], sbar[:-1], out=np.zeros(self.diffusion_steps), where=sbar[:-1] > 0)
        return np.array([self.channel.from_keep(float(s)).p for s in np.clip(ratio, 0, 1)])

    def step(self, t: int) -> Channel:
        """The channel applied at step t (from t-1 to t)."""
        self._check_t(t, low=1)
        return self.channel(float(self.strengths()[t - 1]))

    def cumulative(self, t: int) -> Channel:
        """Closed form: the single channel that takes the clean state to step t (strength 0 at t = 0)."""
        self._check_t(t, low=0)
        return self.channel.from_keep(float(self.keep_bar()[t]))

    def _check_t(self, t: int, low: int) -> None:
        if not (low <= t <= self.diffusion_steps):
            raise JetInputError(f"noise schedule: step t={t} outside {low}..{self.diffusion_steps}")

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "diffusion_steps": self.diffusion_steps,
            "kind": self.kind,
            "p_start": self.p_start,
            "p_end": self.p_end,
        }


def fixed_point(name: str, num_qubits: int, rho: torch.Tensor | None = None) -> torch.Tensor:
    """The state the forward process ends in: (1, d, d) when it is the same for every state, else of ``rho``."""
    cls = channel_class(name)
    if cls.keeps is None:
        return cls.start_density(num_qubits)[None]
    if rho is None:
        raise JetInputError(f"channel {name}: its fixed point depends on the state; pass rho")
    return cls.fixed_point(rho)
