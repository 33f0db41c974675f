"""Figures of quantum states: Born probabilities as an image, Bloch vectors, circuits as text.

The forward process they show is simulated in ``core.quantum.forward``.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch

from core.viz.images import COLOURSCALE


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


def bloch_projections(vectors: np.ndarray, labels: list[str] | None = None, title: str = "Bloch vector") -> go.Figure:
    """A path of Bloch vectors (K, 3) drawn in two planes, x-z and x-y, inside the unit circle: the same numbers
    as :func:`bloch_figure` without a 3-D scene (a browser without a GPU spends seconds drawing one)."""
    from plotly.subplots import make_subplots

    v = np.asarray(vectors, dtype=np.float64)
    fig = make_subplots(rows=1, cols=2, subplot_titles=["x-z plane", "x-y plane"], horizontal_spacing=0.12)
    angle = np.linspace(0, 2 * np.pi, 121)
    for col, (j, name) in enumerate(((2, "z"), (1, "y")), start=1):
        fig.add_trace(
            go.Scatter(
                x=np.cos(angle), y=np.sin(angle), mode="lines", line={"color": "#bbb", "width": 1}, hoverinfo="skip"
            ),
            row=1,
            col=col,
        )
        fig.add_trace(
            go.Scatter(
                x=v[:, 0],
                y=v[:, j],
                mode="lines+markers",
                text=labels,
                line={"color": "#444", "width": 2},
                marker={
                    "size": 7,
                    "color": np.arange(len(v)),
                    "colorscale": "Plasma",
                    "showscale": col == 2,
                    "colorbar": {"title": {"text": "step"}, "thickness": 10},
                },
                customdata=v,
                hovertemplate="%{text}<br>x %{customdata[0]:.3f} y %{customdata[1]:.3f} z %{customdata[2]:.3f}"
                "<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="x", range=[-1.1, 1.1], constrain="domain", row=1, col=col)
        anchor = "x" if col == 1 else "x2"
        fig.update_yaxes(title_text=name, range=[-1.1, 1.1], scaleanchor=anchor, constrain="domain", row=1, col=col)
    fig.update_layout(title=title, height=380, margin={"l": 40, "r": 20, "t": 70, "b": 40}, showlegend=False)
    return fig


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


def forward_animation(result, title: str) -> go.Figure:
    """The quantum forward process of one jet (``core.quantum.forward.QuantumForward``) as an animation: the
    measured image per channel at each step beside its purity and fidelity to the clean state."""
    from core.data.layout import CHANNELS
    from core.viz.noising import Curve, process_animation

    curves = [
        Curve("purity Tr(ρ_t²)", result.t, result.purity, log_y=True),
        Curve("fidelity ⟨ψ₀|ρ_t|ψ₀⟩", result.t, result.fidelity, log_y=True),
    ]
    steps = list(result.t)
    labels = [f"t={t}" for t in steps]
    return process_animation(result.images, labels, steps, curves, CHANNELS, colour_title="GeV", title=title)
