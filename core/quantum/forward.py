"""The quantum forward process of one jet, as the pages show it.

``quantum_forward`` runs a noise schedule from ``core.quantum.channels`` on an encoded jet in closed form
(the cumulative channel to each step) and records the image decoded from the measured probabilities, the
purity Tr(rho^2) and the fidelity <psi0|rho_t|psi0> to the clean state; ``bloch_path`` follows one qubit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.errors import JetInputError
from core.quantum import sim
from core.quantum.channels import CHANNEL_NAMES, ChannelSchedule
from core.quantum.encoders import Encoder

BORN_DECODABLE = ("amplitude", "angle", "frqi")


def forward_channels(encoder: Encoder) -> list[str]:
    """The noise channels :func:`quantum_forward` can run on this encoder's state: the global depolarising
    channel acts on one register, so an encoder that splits the jet into blocks (angle) cannot take it.
    (For generation, ``core.quantum.channels.valid_channels`` says which channels can serve.)"""
    return [c for c in CHANNEL_NAMES if c != "global_depolarizing" or encoder.num_blocks == 1]


@dataclass
class QuantumForward:
    """The forward process of one jet: per step t = 0..T, decoded image (C, H, W) GeV, purity, fidelity."""

    t: np.ndarray
    images: torch.Tensor  # (T + 1, C, H, W)
    purity: np.ndarray
    fidelity: np.ndarray
    probs: torch.Tensor  # (T + 1, B, 2**q) Born probabilities per block


def quantum_forward(encoder: Encoder, x: torch.Tensor, schedule: ChannelSchedule) -> QuantumForward:
    """Encode one jet (C, H, W) GeV, apply the cumulative channel of every step, measure and decode.

    Patch encoders hold a product of blocks, so a local channel acts block by block and purity and
    fidelity are products over blocks; the global channel needs a single register (amplitude, frqi).
    """
    if encoder.name not in BORN_DECODABLE:
        raise JetInputError(
            f"encoder {encoder.name!r}: its image is not defined from Born probabilities alone; "
            f"use one of {', '.join(BORN_DECODABLE)}"
        )
    enc = encoder.encode(torch.as_tensor(x)[None] if torch.as_tensor(x).dim() == 3 else x[:1])
    psi0 = enc.state[0]  # (B, d)
    if schedule.name == "global_depolarizing" and psi0.shape[0] > 1:
        raise JetInputError(
            f"channel global_depolarizing acts on one register; the {encoder.name} encoder "
            "splits the jet into blocks (use amplitude or frqi)"
        )
    sim.check_size(sim.num_qubits_of(psi0.shape[-1]), batch=psi0.shape[0], density=True)
    rho0 = sim.to_density(psi0)
    images, purity, fidelity, probs = [], [], [], []
    for t in range(schedule.diffusion_steps + 1):
        rho = schedule.cumulative(t).apply(rho0)
        p = sim.probabilities(rho).clamp_min(0)  # (B, d)
        probs.append(p)
        images.append(encoder.decode(p[None], enc.aux)[0])
        purity.append(float(torch.prod(sim.purity(rho))))
        fidelity.append(float(torch.prod(sim.fidelity_pure(rho, psi0))))
    return QuantumForward(
        t=np.arange(schedule.diffusion_steps + 1),
        images=torch.stack(images),
        purity=np.array(purity),
        fidelity=np.array(fidelity),
        probs=torch.stack(probs).float(),
    )


def bloch_path(rho0: torch.Tensor, qubit: int, schedule: ChannelSchedule) -> np.ndarray:
    """Bloch vector (T + 1, 3) of one qubit of a state (1, d, d) as the schedule's channel acts, t = 0..T."""
    out = []
    for t in range(schedule.diffusion_steps + 1):
        rho = schedule.cumulative(t).apply(rho0)
        out.append(sim.bloch_vector(rho, qubit)[0].double().numpy())
    return np.stack(out)
