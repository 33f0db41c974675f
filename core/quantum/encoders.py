"""Encoders from jet images to quantum states, their decoders, and the qiskit circuit of each.

Images are (N, C, H, W) GeV (already downsampled, e.g. to 8 x 8 with ``core.data.transforms.downsample``).
Every encoder returns an ``Encoded``: ``state`` (N, B, 2**q) complex statevectors for B blocks of q qubits
(B = 1 except for the patch-wise angle encoders) and ``aux`` (N, K) the classical numbers the state
cannot hold (total energy, per-image scale). Decoding takes Born probabilities (N, B, 2**q) -- what a
measurement gives -- except the dense angle encoder, which needs the full state (phases).

- amplitude: probabilities = pixel energies / total, all C*H*W pixels on ceil(log2(C*H*W)) qubits; aux = total GeV.
- angle: each pixel of a p x p patch on one qubit, RY(pi x / scale); aux = per-image max (scale).
- dense_angle: two pixels per qubit, RY(pi/4 + pi/2 x1/scale) then RZ(pi x2/scale); decoding needs <X>, <Y>.
- frqi: H on position qubits, then a uniformly controlled RY(2 theta_i) of one colour qubit,
  theta_i = pi/2 x_i / scale; positions run over all C*H*W pixels (channel-major), padded to 2**m.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import JetInputError
from core.quantum import sim

ENCODERS = ("amplitude", "angle", "dense_angle", "frqi")
_EPS = 1e-12


@dataclass
class Encoded:
    state: torch.Tensor  # (N, B, 2**q) complex
    aux: torch.Tensor  # (N, K) float64


def _check_images(x: torch.Tensor, shape: tuple[int, int, int] | None) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4:
        raise JetInputError(f"encoder input: expected (N, C, H, W) images, got shape {tuple(x.shape)}")
    if shape is not None and tuple(x.shape[1:]) != tuple(shape):
        raise JetInputError(
            f"encoder input: images are {tuple(x.shape[1:])} but this encoder was built for {tuple(shape)} "
            "(downsample with core.data.transforms.downsample first)"
        )
    if (x < 0).any():
        raise JetInputError("encoder input: negative pixel energies")
    return x.to(torch.float64)


class Encoder:
    """Common interface. ``shape`` = (C, H, W) of the images this encoder accepts."""

    name = "base"

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.pixels = self.shape[0] * self.shape[1] * self.shape[2]

    # -- to be provided by each encoder
    num_qubits: int  # qubits per block
    num_blocks: int = 1

    def encode(self, x: torch.Tensor) -> Encoded:
        raise NotImplementedError

    def decode(self, probs: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def circuit(self, x: torch.Tensor):
        """A ``qiskit.QuantumCircuit`` preparing the encoded state of one image (blocks on consecutive qubits)."""
        raise NotImplementedError

    def probabilities(self, enc: Encoded) -> torch.Tensor:
        return enc.state.abs() ** 2

    def round_trip(self, x: torch.Tensor) -> torch.Tensor:
        enc = self.encode(x)
        return self.decode(self.probabilities(enc), enc.aux)

    def to_dict(self) -> dict:
        return {"name": self.name, "shape": list(self.shape)}

    def total_qubits(self) -> int:
        return self.num_qubits * self.num_blocks


def centred_code(size: int) -> torch.Tensor:
    """Row (or column) r -> (side bit high, distance-from-centre bits low): the two central rows differ in one bit.

    In raster order the central rows 3 and 4 of an 8-row image are 011 and 100 (three bit flips apart),
    so a jet core sits on basis states far apart for a local circuit; here they are 000 and 100.
    """
    half = size // 2
    r = torch.arange(size)
    side = (r >= half).long()
    dist = torch.where(r >= half, r - half, half - 1 - r)
    return side * half + dist if size % 2 == 0 else r


class AmplitudeEncoder(Encoder):
    """All pixels as amplitudes sqrt(E_i / E_total); the total energy stays a classical number.

    ``order``: "raster" (channel, row, column) or "centred" (rows and columns relabelled by
    ``centred_code`` so pixels near the jet axis are near each other in Hamming distance).
    ``pad_first``: put the unused (padding) basis states at the bottom of the index range, so |0...0>
    (the amplitude-damping fixed point) is not a pixel; by default the pixels come first.
    """

    name = "amplitude"

    def __init__(self, shape: tuple[int, int, int], order: str = "raster", pad_first: bool = False) -> None:
        super().__init__(shape)
        self.pad_first = bool(pad_first)
        if order not in ("raster", "centred"):
            raise JetInputError(f"amplitude encoder order {order!r}: use 'raster' or 'centred'")
        self.order = order
        self.num_qubits = max(1, math.ceil(math.log2(self.pixels)))
        sim.check_size(self.num_qubits)
        c, h, w = self.shape
        if order == "centred":
            rows, cols = centred_code(h), centred_code(w)
            idx = torch.arange(c)[:, None, None] * h * w + rows[None, :, None] * w + cols[None, None, :]
            self.index = idx.reshape(-1)
        else:
            self.index = torch.arange(self.pixels)
        if self.pad_first:
            self.index = self.index + (2**self.num_qubits - self.pixels)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "order": self.order, "pad_first": self.pad_first}

    def encode(self, x: torch.Tensor) -> Encoded:
        x = _check_images(x, self.shape)
        flat = x.reshape(x.shape[0], -1)
        total = flat.sum(-1, keepdim=True)
        vec = torch.zeros(x.shape[0], 2**self.num_qubits, dtype=torch.float64)
        vec[:, self.index] = flat
        empty = total[:, 0] <= _EPS
        vec[empty, 0] = 1.0  # an empty image has no direction; use |0> and total 0
        amp = (vec / vec.sum(-1, keepdim=True)).sqrt()
        return Encoded(amp.to(torch.complex128)[:, None, :], total)

    def decode(self, probs: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        # Probability that lands on padding indices is not image: renormalise over the pixels.
        p = torch.as_tensor(probs, dtype=torch.float64).reshape(probs.shape[0], -1)[:, self.index]
        p = p / p.sum(-1, keepdim=True).clamp_min(_EPS)
        return (p * torch.as_tensor(aux, dtype=torch.float64)[:, :1]).reshape(-1, *self.shape).float()

    def circuit(self, x: torch.Tensor):
        from qiskit import QuantumCircuit
        from qiskit.circuit.library import StatePreparation

        amp = self.encode(x[:1] if torch.as_tensor(x).dim() == 4 else x).state[0, 0].real.numpy()
        qc = QuantumCircuit(self.num_qubits, name="amplitude")
        qc.append(StatePreparation(amp.astype(complex)), range(self.num_qubits))
        return qc


class _PatchEncoder(Encoder):
    """Shared by the angle encoders: the image is cut into p x p patches, one block of qubits each."""

    pixels_per_qubit = 1

    def __init__(self, shape: tuple[int, int, int], patch: int = 2) -> None:
        super().__init__(shape)
        c, h, w = self.shape
        if h % patch or w % patch:
            raise JetInputError(f"{self.name} encoder: {h} x {w} images do not split into {patch} x {patch} patches")
        if (patch * patch) % self.pixels_per_qubit:
            raise JetInputError(f"{self.name} encoder: a {patch} x {patch} patch has an odd number of pixels")
        self.patch = patch
        self.num_qubits = patch * patch // self.pixels_per_qubit
        self.num_blocks = c * (h // patch) * (w // patch)
        sim.check_size(self.num_qubits)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "patch": self.patch}

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, B, p*p) pixel values per block."""
        n, c, h, w = x.shape
        p = self.patch
        return x.reshape(n, c, h // p, p, w // p, p).permute(0, 1, 2, 4, 3, 5).reshape(n, -1, p * p)

    def _unpatch(self, v: torch.Tensor) -> torch.Tensor:
        c, h, w = self.shape
        p = self.patch
        n = v.shape[0]
        return v.reshape(n, c, h // p, w // p, p, p).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h, w)

    @staticmethod
    def _scale(x: torch.Tensor) -> torch.Tensor:
        s = x.reshape(x.shape[0], -1).amax(-1, keepdim=True)
        return torch.where(s > _EPS, s, torch.ones_like(s))

    @staticmethod
    def _product(qubit_states: torch.Tensor) -> torch.Tensor:
        """(N, B, q, 2) single-qubit states -> (N, B, 2**q) product statevector (qubit 0 least significant)."""
        out = qubit_states[..., 0, :]
        for k in range(1, qubit_states.shape[-2]):
            out = (qubit_states[..., k, :, None] * out[..., None, :]).reshape(*out.shape[:-1], -1)
        return out


class AngleEncoder(_PatchEncoder):
    """One pixel per qubit: RY(pi x / scale)|0>; P(1) = sin^2(pi x / 2 scale) gives the pixel back."""

    name = "angle"

    def _angles(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scale = self._scale(x)
        return math.pi * self._patches(x) / scale[:, :, None], scale

    def encode(self, x: torch.Tensor) -> Encoded:
        x = _check_images(x, self.shape)
        theta, scale = self._angles(x)
        q = torch.stack([torch.cos(theta / 2), torch.sin(theta / 2)], -1).to(torch.complex128)
        return Encoded(self._product(q), scale)

    def marginals(self, probs: torch.Tensor) -> torch.Tensor:
        """P(qubit k = 1) for every block: (N, B, q)."""
        n, b, d = probs.shape
        bits = (torch.arange(d)[:, None] >> torch.arange(self.num_qubits)[None]) & 1
        return probs.to(torch.float64) @ bits.to(torch.float64)

    def decode(self, probs: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        p1 = self.marginals(torch.as_tensor(probs)).clamp(0, 1)
        theta = 2 * torch.arcsin(p1.sqrt())
        return self._unpatch(theta / math.pi * torch.as_tensor(aux, dtype=torch.float64)[:, :, None]).float()

    def circuit(self, x: torch.Tensor):
        from qiskit import QuantumCircuit

        theta, _ = self._angles(_check_images(x, self.shape)[:1])
        qc = QuantumCircuit(self.total_qubits(), name="angle")
        for k, a in enumerate(theta.reshape(-1).tolist()):
            qc.ry(a, k)
        return qc


class DenseAngleEncoder(_PatchEncoder):
    """Two pixels per qubit: RZ(pi x2/scale) RY(pi/4 + pi/2 x1/scale)|0>.

    The polar angle stays in [pi/4, 3pi/4] so the azimuth (the second pixel) survives a dark first
    pixel. Decoding needs the Bloch vector (X and Y measurements), so ``decode`` takes the state.
    """

    name = "dense_angle"
    pixels_per_qubit = 2

    def _angles(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        scale = self._scale(x)
        v = self._patches(x) / scale[:, :, None]
        half = v.shape[-1] // 2
        theta = math.pi / 4 + math.pi / 2 * v[..., :half]
        phi = math.pi * v[..., half:]
        return theta, phi, scale

    def encode(self, x: torch.Tensor) -> Encoded:
        x = _check_images(x, self.shape)
        theta, phi, scale = self._angles(x)
        # RZ(phi) RY(theta)|0> = (e^{-i phi/2} cos(theta/2), e^{i phi/2} sin(theta/2))
        a0 = torch.cos(theta / 2) * torch.exp(-0.5j * phi)
        a1 = torch.sin(theta / 2) * torch.exp(0.5j * phi)
        return Encoded(self._product(torch.stack([a0, a1], -1)), scale)

    def probabilities(self, enc: Encoded) -> torch.Tensor:
        return enc.state  # decoding needs phases: pass the state itself

    def decode(self, state: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        n, b, d = state.shape
        rho = sim.to_density(state.reshape(n * b, d))
        bloch = torch.stack([sim.bloch_vector(rho, k) for k in range(self.num_qubits)], 1)  # (NB, q, 3)
        theta = torch.atan2(torch.hypot(bloch[..., 0], bloch[..., 1]), bloch[..., 2])
        phi = torch.atan2(bloch[..., 1], bloch[..., 0]).clamp_min(0)
        v1 = (theta - math.pi / 4) * 2 / math.pi
        v2 = phi / math.pi
        v = torch.cat([v1, v2], -1).reshape(n, b, -1).clamp_min(0)
        return self._unpatch(v * torch.as_tensor(aux, dtype=torch.float64)[:, :, None]).float()

    def circuit(self, x: torch.Tensor):
        from qiskit import QuantumCircuit

        theta, phi, _ = self._angles(_check_images(x, self.shape)[:1])
        qc = QuantumCircuit(self.total_qubits(), name="dense_angle")
        for k, (a, b) in enumerate(zip(theta.reshape(-1).tolist(), phi.reshape(-1).tolist(), strict=True)):
            qc.ry(a, k)
            qc.rz(b, k)
        return qc


class FRQIEncoder(Encoder):
    """Flexible representation of quantum images: position register plus one colour qubit (the highest)."""

    name = "frqi"

    def __init__(self, shape: tuple[int, int, int]) -> None:
        super().__init__(shape)
        self.position_qubits = max(1, math.ceil(math.log2(self.pixels)))
        self.num_qubits = self.position_qubits + 1
        sim.check_size(self.num_qubits)

    def _angles(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        flat = x.reshape(x.shape[0], -1)
        scale = _PatchEncoder._scale(x)
        theta = torch.zeros(x.shape[0], 2**self.position_qubits, dtype=torch.float64)
        theta[:, : self.pixels] = math.pi / 2 * flat / scale
        return theta, scale

    def encode(self, x: torch.Tensor) -> Encoded:
        x = _check_images(x, self.shape)
        theta, scale = self._angles(x)
        norm = 1 / math.sqrt(theta.shape[-1])
        state = torch.cat([torch.cos(theta), torch.sin(theta)], -1) * norm  # index = pos + 2**m * colour
        return Encoded(state.to(torch.complex128)[:, None, :], scale)

    def decode(self, probs: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        p = torch.as_tensor(probs, dtype=torch.float64).reshape(probs.shape[0], 2, -1)
        frac = p[:, 1] / (p[:, 0] + p[:, 1]).clamp_min(_EPS)
        theta = torch.arcsin(frac.clamp(0, 1).sqrt())[:, : self.pixels]
        x = theta * 2 / math.pi * torch.as_tensor(aux, dtype=torch.float64)[:, :1]
        return x.reshape(-1, *self.shape).float()

    def circuit(self, x: torch.Tensor):
        from qiskit import QuantumCircuit
        from qiskit.circuit.library import UCRYGate

        theta, _ = self._angles(_check_images(x, self.shape)[:1])
        m = self.position_qubits
        qc = QuantumCircuit(self.num_qubits, name="frqi")
        qc.h(range(m))
        qc.append(UCRYGate((2 * theta[0]).tolist()), [m, *range(m)])
        return qc


def make_encoder(name: str, shape: tuple[int, int, int], **kwargs) -> Encoder:
    """Build an encoder by name for images of ``shape`` = (C, H, W)."""
    table = {
        "amplitude": AmplitudeEncoder,
        "angle": AngleEncoder,
        "dense_angle": DenseAngleEncoder,
        "frqi": FRQIEncoder,
    }
    if name not in table:
        raise JetInputError(f"encoder {name!r}: unknown; use one of {', '.join(ENCODERS)}")
    return table[name](shape, **kwargs)


def prepare_images(x: torch.Tensor | np.ndarray, size: int = 8) -> torch.Tensor:
    """Jets (N, 3, H, W) GeV -> energy-conserving (N, 3, size, size) for the encoders."""
    from core.data.transforms import downsample

    x = torch.as_tensor(x)
    if x.dim() != 4:
        raise JetInputError(f"jet images: expected (N, C, H, W), got shape {tuple(x.shape)}")
    try:
        return downsample(x, size)
    except ValueError as err:
        raise JetInputError(f"jet images of size {tuple(x.shape[-2:])}: {err}") from err
