"""Plain functions the dashboard calls (no streamlit here): encode a jet, noise it, watch a qubit, load the model.

Every function takes GeV images (C, H, W) or (1, C, H, W) of any size the energy-conserving
downsampling accepts and returns numbers, tensors and qiskit circuits; pages only draw them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from core.errors import JetInputError
from core.quantum import sim
from core.quantum.channels import NoiseSchedule, make_channel
from core.quantum.encoders import make_encoder, prepare_images

__all__ = [
    "encode_jet",
    "noise_jet",
    "bloch_trajectory",
    "bloch_vector_under",
    "load_quantum_model",
    "model_reverse_circuit",
    "prepare_images",
]

DEFAULT_CHECKPOINT = Path(__file__).resolve().parents[2] / "checkpoints" / "quantum_hybrid"


@dataclass
class EncodedJet:
    circuit: object  # qiskit.QuantumCircuit preparing the state
    probabilities: torch.Tensor  # (C, H, W) Born probabilities laid out as an image (sums to 1 for amplitude)
    decoded: torch.Tensor  # (C, H, W) GeV, the jet decoded back from the state
    state: torch.Tensor  # (B, 2**q) statevector(s)
    num_qubits: int


def _one_jet(x: torch.Tensor | np.ndarray, size: int) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).float()
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[0] != 1:
        raise JetInputError(f"jet image: expected (C, H, W) or (1, C, H, W), got {tuple(x.shape)}")
    if x.shape[1] != 3 and x.shape[-1] == 3:  # CMS layout (H, W, 3)
        x = x.permute(0, 3, 1, 2)
    return prepare_images(x, size) if x.shape[-1] != size else x


def encode_jet(x: torch.Tensor | np.ndarray, encoder: str = "amplitude", size: int = 8, **options) -> EncodedJet:
    """Encode one jet: its qiskit circuit, the Born probabilities as an image, and the decoded jet (GeV)."""
    img = _one_jet(x, size)
    enc = make_encoder(encoder, tuple(img.shape[1:]), **options)
    e = enc.encode(img)
    probs = enc.probabilities(e)
    decoded = enc.decode(probs, e.aux)[0]
    p_img = (
        enc.decode(e.state.abs() ** 2, torch.ones_like(e.aux))[0] if encoder != "dense_angle" else decoded / e.aux[0, 0]
    )
    return EncodedJet(enc.circuit(img), p_img.float(), decoded, e.state[0], enc.total_qubits())


@dataclass
class NoisedJet:
    t: list[int]
    images: torch.Tensor  # (T+1, C, H, W) measured images (Born probabilities x total energy), GeV
    purity: np.ndarray  # Tr(rho_t^2)
    fidelity: np.ndarray  # <psi0| rho_t |psi0>
    strength: np.ndarray  # cumulative channel strength p_bar(t)


def noise_jet(
    x: torch.Tensor | np.ndarray,
    channel: str = "amplitude_damping",
    steps: int = 10,
    schedule: str = "cosine",
    size: int = 4,
) -> NoisedJet:
    """Apply a channel's forward process (closed form at every t) to one amplitude-encoded jet.

    Density matrices are exact, so the default is a 3 x 4 x 4 jet (6 qubits); 8 x 8 (8 qubits) also works.
    With dephasing channels the measured image never changes: only purity and fidelity move.
    """
    img = _one_jet(x, size)
    enc = make_encoder("amplitude", tuple(img.shape[1:]), order="raster")
    e = enc.encode(img)
    psi0 = e.state[:, 0]
    rho0 = sim.to_density(psi0)
    sched = NoiseSchedule(channel, steps, kind=schedule)
    images, pur, fid, strength = [], [], [], []
    for t in range(steps + 1):
        ch = sched.cumulative(t)
        rho = ch.apply(rho0)
        images.append(enc.decode(sim.probabilities(rho), e.aux)[0])
        pur.append(sim.purity(rho)[0].item())
        fid.append(sim.fidelity_pure(rho, psi0)[0].item())
        strength.append(ch.p)
    return NoisedJet(list(range(steps + 1)), torch.stack(images), np.array(pur), np.array(fid), np.array(strength))


def bloch_trajectory(
    channel: str = "amplitude_damping",
    steps: int = 20,
    theta: float = np.pi / 3,
    phi: float = np.pi / 4,
    schedule: str = "cosine",
) -> np.ndarray:
    """Bloch vectors (T+1, 3) of one qubit started at (theta, phi) under a channel's forward schedule."""
    psi = torch.tensor([[np.cos(theta / 2), np.exp(1j * phi) * np.sin(theta / 2)]], dtype=torch.complex128)
    rho0 = sim.to_density(psi)
    sched = NoiseSchedule(channel if channel != "global_depolarizing" else "depolarizing", steps, kind=schedule)
    return np.stack([sim.bloch_vector(sched.cumulative(t).apply(rho0), 0)[0].numpy() for t in range(steps + 1)])


def bloch_vector_under(channel: str, p: float, theta: float = np.pi / 3, phi: float = np.pi / 4) -> np.ndarray:
    """Bloch vector (3,) of one qubit at (theta, phi) after one channel of strength p."""
    psi = torch.tensor([[np.cos(theta / 2), np.exp(1j * phi) * np.sin(theta / 2)]], dtype=torch.complex128)
    return sim.bloch_vector(make_channel(channel, p).apply(sim.to_density(psi)), 0)[0].numpy()


def load_quantum_model(path: str | os.PathLike | None = None):
    """Load the shipped (or another) quantum checkpoint: a ``core.training.checkpoint.Checkpoint``."""
    from core.training.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path or DEFAULT_CHECKPOINT)
    if ckpt.task.family != "quantum":
        raise JetInputError(f"{ckpt.path}: holds a {ckpt.task.family!r} model, not a quantum one")
    return ckpt


def model_reverse_circuit(t: int, label: int | str = 1, seed: int = 0, checkpoint=None, channel: int = 0):
    """The shipped model's reverse step at t as a bound ``qiskit.QuantumCircuit`` (ancillas are the top qubits).

    ``channel`` (0 Tracks, 1 ECAL, 2 HCAL) matters only for a model with one state per channel.
    """
    from core.data.layout import label_from_name
    from core.quantum.export import reverse_circuit

    ckpt = (
        checkpoint
        if checkpoint is not None and not isinstance(checkpoint, str | os.PathLike)
        else load_quantum_model(checkpoint)
    )
    lab = label_from_name(label) if isinstance(label, str) else int(label)
    return reverse_circuit(ckpt.ema, t, lab, seed=seed, channel=channel)
