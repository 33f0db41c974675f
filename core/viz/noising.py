"""Animations of a forward (noising) or reverse process: images per channel for every frame, beside curves
(alpha_bar and the signal-to-noise ratio; purity and fidelity for the quantum channel) with a marker at the
current step. One builder serves the classical and the quantum processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from core.viz.images import COLOURSCALE, as_numpy

MAX_FRAMES = 60


@dataclass(frozen=True)
class Curve:
    """A quantity against the step, drawn beside the images; ``log_y`` for ratios spanning decades."""

    name: str
    x: np.ndarray
    y: np.ndarray
    log_y: bool = False
    x_title: str = "t"


def frame_steps(timesteps: int, n_frames: int = MAX_FRAMES) -> list[int]:
    """At most ``n_frames`` integer steps, evenly spaced over 0..T-1, always including the first and last."""
    n = max(2, min(int(n_frames), int(timesteps)))
    return sorted({int(round(v)) for v in np.linspace(0, timesteps - 1, n)})


def classical_forward(schedule, x0: torch.Tensor, steps: Sequence[int], seed: int = 0) -> torch.Tensor:
    """x_t of one image (C, H, W) at each step, with one fixed eps (seeded), through ``schedule.q_sample``.

    Returns (len(steps) + 1, C, H, W): the clean x0 first, then x_t for each t.
    """
    gen = torch.Generator().manual_seed(int(seed))
    x0 = x0.double()
    eps = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    n = len(steps)
    xt = schedule.q_sample(x0.expand(n, *x0.shape), torch.as_tensor(list(steps)), eps.expand(n, *x0.shape))
    return torch.cat([x0[None], xt]).float()


def schedule_curves(schedule) -> list[Curve]:
    """alpha_bar(t) and SNR(t) = alpha_bar / (1 - alpha_bar) of a NoiseSchedule."""
    ab = schedule.alpha_bar.double().numpy()
    t = np.arange(len(ab))
    return [
        Curve("alpha_bar", t, ab),
        Curve("SNR = alpha_bar / (1 - alpha_bar)", t, ab / np.clip(1.0 - ab, 1e-300, None), log_y=True),
    ]


def process_animation(
    frames: torch.Tensor | np.ndarray,
    frame_labels: Sequence[str],
    frame_x: Sequence[float | None],
    curves: Sequence[Curve],
    channel_names: Sequence[str],
    colour_title: str = "value",
    zrange: tuple[float, float] | None = None,
    title: str | None = None,
    duration_ms: int = 120,
) -> go.Figure:
    """A plotly animation with play/pause and a slider: row 1 the channels of each frame, row 2 the curves.

    ``frames``: (F, C, H, W). ``frame_x``: the curve abscissa of each frame (None: no marker, e.g. the clean image).
    """
    arr = as_numpy(frames)
    if arr.ndim != 4:
        raise ValueError(f"process_animation expects frames (F, C, H, W), got shape {arr.shape}")
    n_frames, n_ch = arr.shape[:2]
    if len(frame_labels) != n_frames or len(frame_x) != n_frames:
        raise ValueError("process_animation needs one label and one x per frame")
    if zrange is None:
        finite = arr[np.isfinite(arr)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        zrange = (lo, hi if hi > lo else lo + 1.0)
    n_curves = max(1, len(curves))
    # A grid of C * K columns: each image spans K columns, each curve spans C, so both rows fill the width.
    cols, img_span, curve_span = n_ch * n_curves, n_curves, n_ch
    row1 = [{"colspan": img_span} if i % img_span == 0 else None for i in range(cols)]
    row2 = [{"colspan": curve_span} if i % curve_span == 0 else None for i in range(cols)]
    fig = make_subplots(
        rows=2,
        cols=cols,
        specs=[row1, row2],
        row_heights=[0.6, 0.4],
        vertical_spacing=0.14,
        horizontal_spacing=0.06,
        subplot_titles=list(channel_names[:n_ch]) + [c.name for c in curves],
    )
    # Images of the first frame: traces 0..C-1.
    for c in range(n_ch):
        col = c * img_span + 1
        fig.add_trace(
            go.Heatmap(
                z=arr[0, c],
                zmin=zrange[0],
                zmax=zrange[1],
                colorscale=COLOURSCALE,
                showscale=c == n_ch - 1,
                colorbar={"title": {"text": colour_title}, "len": 0.55, "y": 0.78, "thickness": 12},
                hovertemplate="%{z:.3g}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(showticklabels=False, row=1, col=col)
        fig.update_yaxes(showticklabels=False, row=1, col=col)
    # Curves, each followed by its marker trace.
    marker_idx = []
    for k, curve in enumerate(curves):
        col = k * curve_span + 1
        fig.add_trace(go.Scatter(x=curve.x, y=curve.y, mode="lines", name=curve.name, showlegend=False), row=2, col=col)
        first = _marker(curve, frame_x[0])
        fig.add_trace(
            go.Scatter(
                x=first[0],
                y=first[1],
                mode="markers",
                marker={"size": 11, "color": "#d62728"},
                showlegend=False,
                hoverinfo="skip",
            ),
            row=2,
            col=col,
        )
        marker_idx.append(len(fig.data) - 1)
        fig.update_xaxes(title_text=curve.x_title, row=2, col=col)
        if curve.log_y:
            fig.update_yaxes(type="log", row=2, col=col)
    frames_out = []
    for i in range(n_frames):
        data = [go.Heatmap(z=arr[i, c]) for c in range(n_ch)]
        data += [go.Scatter(x=_marker(curve, frame_x[i])[0], y=_marker(curve, frame_x[i])[1]) for curve in curves]
        frames_out.append(go.Frame(data=data, traces=list(range(n_ch)) + marker_idx, name=str(i)))
    fig.frames = frames_out
    slider_steps = [
        {
            "args": [[str(i)], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}],
            "label": frame_labels[i],
            "method": "animate",
        }
        for i in range(n_frames)
    ]
    fig.update_layout(
        title=title,
        height=660,
        margin={"l": 40, "r": 40, "t": 70, "b": 110},
        updatemenus=[
            {
                "type": "buttons",
                "showactive": False,
                "x": 0.0,
                "y": -0.16,
                "xanchor": "left",
                "yanchor": "top",
                "direction": "left",
                "buttons": [
                    {
                        "label": "▶ Play",
                        "method": "animate",
                        "args": [
                            None,
                            {
                                "frame": {"duration": duration_ms, "redraw": True},
                                "fromcurrent": True,
                                "transition": {"duration": 0},
                            },
                        ],
                    },
                    {
                        "label": "❚❚ Pause",
                        "method": "animate",
                        "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}],
                    },
                ],
            }
        ],
        sliders=[
            {
                "active": 0,
                "steps": slider_steps,
                "x": 0.16,
                "y": -0.14,
                "len": 0.84,
                "currentvalue": {"prefix": "step ", "visible": True},
            }
        ],
    )
    return fig


def _marker(curve: Curve, x: float | None) -> tuple[list[float], list[float]]:
    if x is None:
        return [], []
    y = float(np.interp(float(x), np.asarray(curve.x, dtype=np.float64), np.asarray(curve.y, dtype=np.float64)))
    return [float(x)], [y]
