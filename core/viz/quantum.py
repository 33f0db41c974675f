"""The quantum forward process of one jet, and figures of quantum states (Born probabilities, Bloch vectors).

``quantum_forward`` runs a noise schedule from ``core.quantum.channels`` on an encoded jet in closed form
(the cumulative channel to each step) and records what the pages plot: the image decoded from the
measured probabilities, the purity Tr(rho^2) and the fidelity <psi0|rho_t|psi0> to the clean state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch

from core.errors import JetInputError
from core.quantum import sim
from core.quantum.channels import CHANNEL_NAMES, NoiseSchedule
from core.quantum.encoders import Encoder
from core.viz.images import COLOURSCALE

BORN_DECODABLE = ("amplitude", "angle", "frqi")


@dataclass
class QuantumForward:
    """The forward process of one jet: per step t = 0..T, decoded image (C, H, W) GeV, purity, fidelity."""

    t: np.ndarray
    images: torch.Tensor  # (T + 1, C, H, W)
    purity: np.ndarray
    fidelity: np.ndarray
    probs: torch.Tensor  # (T + 1, B, 2**q) Born probabilities per block


def valid_channels(encoder: Encoder) -> list[str]:
    """The noise channels :func:`quantum_forward` can run on this encoder's state: the global depolarising
    channel acts on one register, so an encoder that splits the jet into blocks (angle) cannot take it."""
    return [c for c in CHANNEL_NAMES if c != "global_depolarizing" or encoder.num_blocks == 1]


def purity_summary(t: np.ndarray, purity: np.ndarray) -> str:
    """One sentence on how the purity Tr(rho^2) moves: its start, its lowest point and where it ends.

    A channel with a pure fixed point (amplitude damping ends in |0...0>) brings the purity back up to 1,
    so "falls from 1 to 1" would hide the dip.
    """
    p = np.asarray(purity, dtype=np.float64)
    k = int(np.argmin(p))
    text = f"Purity Tr(ρ²) starts at {p[0]:.3f}"
    if k not in (0, len(p) - 1) and p[-1] - p[k] > 1e-3:
        return text + f", falls to {p[k]:.3g} at t = {int(t[k])} and rises again to {p[-1]:.3g} (a pure fixed point)"
    return text + f" and ends at {p[-1]:.3g}"


def quantum_forward(encoder: Encoder, x: torch.Tensor, schedule: NoiseSchedule) -> QuantumForward:
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
    for t in range(schedule.steps + 1):
        rho = apply_channel(schedule.cumulative(t), rho0)
        p = sim.probabilities(rho).clamp_min(0)  # (B, d)
        probs.append(p)
        images.append(encoder.decode(p[None], enc.aux)[0])
        purity.append(float(torch.prod(sim.purity(rho))))
        fidelity.append(float(torch.prod(sim.fidelity_pure(rho, psi0))))
    return QuantumForward(
        t=np.arange(schedule.steps + 1),
        images=torch.stack(images),
        purity=np.array(purity),
        fidelity=np.array(fidelity),
        probs=torch.stack(probs).float(),
    )


def apply_channel(channel, rho: torch.Tensor) -> torch.Tensor:
    """``channel.apply(rho)`` for (B, d, d), computed with the channel's 4 x 4 superoperator on each qubit.

    Same result as ``Channel.apply`` (checked in the tests), much faster on 8-9 qubits: one small matrix
    product per qubit instead of a Kraus sandwich on the full matrix.
    """
    if channel.is_global:
        return channel.apply(rho)
    n = sim.num_qubits_of(rho.shape[-1])
    kraus = [torch.as_tensor(k, dtype=rho.dtype) for k in channel.kraus()]
    superop = sum(torch.kron(k, k.conj()) for k in kraus)  # (r' c', r c) acting on vec(rho_q) = rho_q[r, c]
    b = rho.shape[0]
    x = rho.reshape(b, *([2] * (2 * n)))
    for q in range(n):
        row, col = 1 + (n - 1 - q), 1 + (2 * n - 1 - q)  # qubit q is bit q: the last row / column axis is qubit 0
        x = torch.movedim(x, (row, col), (-2, -1))
        shape = x.shape
        x = (x.reshape(-1, 4) @ superop.T).reshape(shape)
        x = torch.movedim(x, (-2, -1), (row, col))
    return x.reshape(rho.shape)


def probability_image(probs: torch.Tensor | np.ndarray, title: str = "Born probabilities") -> go.Figure:
    """Probabilities over 2**n basis states drawn as a 2**ceil(n/2) x 2**floor(n/2) image (log colour)."""
    p = np.asarray(torch.as_tensor(probs).detach().cpu().double().reshape(-1))
    n = int(np.log2(p.size))
    rows, cols = 2 ** ((n + 1) // 2), 2 ** (n // 2)
    grid = p.reshape(rows, cols)
    shown = np.where(grid > 1e-9, np.log10(np.clip(grid, 1e-300, None)), np.nan)
    fig = go.Figure(
        go.Heatmap(
            z=shown,
            colorscale=COLOURSCALE,
            colorbar={"title": {"text": "log10 P"}},
            customdata=np.arange(p.size).reshape(rows, cols),
            hovertemplate="basis state %{customdata}<br>log10 P %{z:.2f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=380,
        margin={"l": 40, "r": 20, "t": 50, "b": 40},
        xaxis_title="basis index mod " + str(cols),
        yaxis_title="basis index div " + str(cols),
    )
    # Square cells without padding the axes beyond the data (a y range of -5..20 for rows 0..15).
    fig.update_xaxes(constrain="domain", range=[-0.5, cols - 0.5])
    fig.update_yaxes(scaleanchor="x", constrain="domain", range=[-0.5, rows - 0.5])
    return fig


def bloch_figure(vectors: np.ndarray, labels: list[str] | None = None, title: str = "Bloch vector") -> go.Figure:
    """A path of Bloch vectors (K, 3) inside the unit sphere, coloured from start to end."""
    v = np.asarray(vectors, dtype=np.float64)
    u, w = np.mgrid[0 : 2 * np.pi : 40j, 0 : np.pi : 20j]
    fig = go.Figure()
    fig.add_trace(
        go.Surface(
            x=np.cos(u) * np.sin(w),
            y=np.sin(u) * np.sin(w),
            z=np.cos(w),
            opacity=0.12,
            showscale=False,
            colorscale=[[0, "#888"], [1, "#888"]],
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter3d(
            x=v[:, 0],
            y=v[:, 1],
            z=v[:, 2],
            mode="lines+markers",
            text=labels,
            marker={
                "size": 4,
                "color": np.arange(len(v)),
                "colorscale": "Plasma",
                "colorbar": {"title": {"text": "step"}, "thickness": 10},
            },
            line={"color": "#444", "width": 3},
            hovertemplate="%{text}<br>x %{x:.3f} y %{y:.3f} z %{z:.3f}<extra></extra>",
            name="Bloch vector",
        )
    )
    axis = {"range": [-1.05, 1.05]}
    fig.update_layout(
        title=title,
        height=440,
        margin={"l": 0, "r": 0, "t": 40, "b": 0},
        showlegend=False,
        scene={
            "xaxis": {**axis, "title": "x"},
            "yaxis": {**axis, "title": "y"},
            "zaxis": {**axis, "title": "z"},
            "aspectmode": "cube",
        },
    )
    return fig


def bloch_path(rho0: torch.Tensor, qubit: int, schedule: NoiseSchedule) -> np.ndarray:
    """Bloch vector (T + 1, 3) of one qubit of a state (1, d, d) as the schedule's channel acts, t = 0..T."""
    out = []
    for t in range(schedule.steps + 1):
        rho = apply_channel(schedule.cumulative(t), rho0)
        out.append(sim.bloch_vector(rho, qubit)[0].double().numpy())
    return np.stack(out)


def circuit_text(qc, max_params: int = 6, fold: int = 120) -> str:
    """qiskit's text drawing, with wide instructions (a state preparation of 256 amplitudes) shown as one
    labelled box instead of their full parameter list."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import Gate

    shown = QuantumCircuit(*qc.qregs, *qc.cregs, name=qc.name)
    for inst in qc.data:
        op = inst.operation
        if len(op.params) > max_params:
            op = Gate(f"{op.name} ({len(op.params)} values)", op.num_qubits, [])
        shown.append(op, inst.qubits, inst.clbits)
    return str(shown.draw(output="text", fold=fold))
