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

from core.viz.images import COLOURSCALE, as_numpy, edges, pixel_axis

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


def classical_forward(schedule, x0: torch.Tensor, t_values: Sequence[int], seed: int = 0) -> torch.Tensor:
    """x_t of one image (C, H, W) at each step, with one fixed eps (seeded), through ``schedule.q_sample``.

    Returns (len(t_values) + 1, C, H, W): the clean x0 first, then x_t for each t.
    """
    gen = torch.Generator().manual_seed(int(seed))
    x0 = x0.double()
    eps = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    n = len(t_values)
    xt = schedule.q_sample(x0.expand(n, *x0.shape), torch.as_tensor(list(t_values)), eps.expand(n, *x0.shape))
    return torch.cat([x0[None], xt]).float()


def schedule_curves(schedule) -> list[Curve]:
    """alpha_bar(t) and SNR(t) = alpha_bar / (1 - alpha_bar) of a NoiseSchedule."""
    ab = schedule.alpha_bar.double().numpy()
    t = np.arange(len(ab))
    return [
        Curve("alpha_bar", t, ab),
        Curve("SNR = alpha_bar / (1 - alpha_bar)", t, ab / np.clip(1.0 - ab, 1e-300, None), log_y=True),
    ]


def data_range(frames: torch.Tensor | np.ndarray, lo_q: float = 0.5, hi_q: float = 99.9) -> tuple[float, float]:
    """A colour range from the data: percentiles of every frame's finite values, widened to include the first
    (clean) frame's extremes, so neither the clean jet nor the noise is washed out by a fixed range."""
    arr = as_numpy(frames)
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return 0.0, 1.0
    first = arr[0][np.isfinite(arr[0])]
    lo, hi = float(np.percentile(finite, lo_q)), float(np.percentile(finite, hi_q))
    if first.size:
        lo, hi = min(lo, float(first.min())), max(hi, float(first.max()))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def log_axis(values: Sequence[float] | np.ndarray, max_ticks: int = 7) -> dict:
    """Layout of a log axis with readable labels: over two decades or more, whole decades only, written as
    powers of ten, one every k decades (at most ``max_ticks``); over less, 1-2-5 values written plainly
    ("0.2", "0.5", "1"). Never plotly's mixed "1, 5, 2, 0.1" minor labels or "1μ" SI prefixes."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if v.size == 0:
        return {"type": "log"}
    lo, hi = float(np.log10(v.min())), float(np.log10(v.max()))
    if hi - lo >= 2:
        k = max(1, int(np.ceil((hi - lo) / max(1, max_ticks - 1))))
        return {"type": "log", "dtick": k, "exponentformat": "power", "showexponent": "all"}
    ticks = [m * 10.0**e for e in range(int(np.floor(lo)) - 1, int(np.ceil(hi)) + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if 10**lo / 1.5 <= t <= 10**hi * 1.5]
    if len([t for t in ticks if 10**lo <= t <= 10**hi]) < 3:  # a narrow span (a loss near 1): 5 rounded values
        ticks = sorted({float(f"{v:.3g}") for v in np.geomspace(10**lo, 10**hi, 5)})
    return {"type": "log", "tickvals": ticks, "ticktext": [f"{t:.3g}" for t in ticks]}


def linear_range(values: Sequence[float] | np.ndarray, rel: float = 1e-6) -> list[float] | None:
    """A fixed y range for a quantity that does not change (spread below ``rel`` of its size): mean ± 5 %, so
    the axis is not stretched over rounding noise (625.40516 to 625.4052 GeV). None lets plotly choose."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    scale = max(abs(float(v.mean())), 1e-30)
    if float(v.max() - v.min()) > rel * scale:
        return None
    return [float(v.mean()) - 0.05 * scale, float(v.mean()) + 0.05 * scale]


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
    axis: np.ndarray | None = None,
) -> go.Figure:
    """A plotly animation with play/pause and a slider: row 1 the channels of each frame, row 2 the curves.

    ``frames``: (F, C, H, W). ``frame_x``: the curve abscissa of each frame (None: no marker, e.g. the clean image).
    ``axis``: pixel centres (Δη = Δφ offsets) for the image axes; default: the standard grid of the image size.
    """
    arr = as_numpy(frames)
    if arr.ndim != 4:
        raise ValueError(f"process_animation expects frames (F, C, H, W), got shape {arr.shape}")
    n_frames, n_ch = arr.shape[:2]
    if len(frame_labels) != n_frames or len(frame_x) != n_frames:
        raise ValueError("process_animation needs one label and one x per frame")
    if zrange is None:
        zrange = data_range(arr, 0.0, 100.0)
    if axis is None:
        axis = pixel_axis(arr.shape[-1])
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
        vertical_spacing=0.2,  # room for the image row's Δφ titles above the curves' titles
        horizontal_spacing=0.06,
        subplot_titles=list(channel_names[:n_ch]) + [c.name for c in curves],
    )
    _add_images(fig, arr[0], axis, zrange, img_span, colour_title)  # traces 0..C-1
    marker_idx = _add_curves(fig, curves, frame_x[0], curve_span)
    frames_out = []
    for i in range(n_frames):
        data = [go.Heatmap(z=arr[i, c], x=axis, y=axis) for c in range(n_ch)]
        data += [go.Scatter(x=_marker(curve, frame_x[i])[0], y=_marker(curve, frame_x[i])[1]) for curve in curves]
        frames_out.append(go.Frame(data=data, traces=list(range(n_ch)) + marker_idx, name=str(i)))
    fig.frames = frames_out
    fig.update_layout(
        title=title, height=760, margin={"l": 50, "r": 40, "t": 70, "b": 120}, **playback(frame_labels, duration_ms)
    )
    return fig


def _add_images(fig: go.Figure, first: np.ndarray, axis: np.ndarray, zrange, span: int, colour_title: str) -> None:
    """Row 1: one heatmap per channel of the first frame (C, H, W), square pixels, a shared colour bar."""
    n_ch = first.shape[0]
    for c in range(n_ch):
        col = c * span + 1
        fig.add_trace(
            go.Heatmap(
                z=first[c],
                x=axis,
                y=axis,
                zmin=zrange[0],
                zmax=zrange[1],
                colorscale=COLOURSCALE,
                showscale=c == n_ch - 1,
                colorbar={"title": {"text": colour_title}, "len": 0.55, "y": 0.78, "thickness": 12},
                hovertemplate="Δφ %{x:.3f}<br>Δη %{y:.3f}<br>%{z:.3g}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(title_text="Δφ", title_standoff=4, row=1, col=col, constrain="domain", range=edges(axis))
        anchor = fig.get_subplot(1, col).xaxis.plotly_name.replace("axis", "")  # square pixels
        fig.update_yaxes(  # Δη labelled on the first panel only: the three share their axes and colour scale
            title_text="Δη" if c == 0 else None,
            showticklabels=c == 0,
            title_standoff=2,
            row=1,
            col=col,
            scaleanchor=anchor,
            constrain="domain",
            range=edges(axis),
        )


def _add_curves(fig: go.Figure, curves: Sequence[Curve], x0: float | None, span: int) -> list[int]:
    """Row 2: each curve followed by its marker trace at ``x0``; returns the marker traces' indices."""
    marker_idx = []
    for k, curve in enumerate(curves):
        col = k * span + 1
        fig.add_trace(go.Scatter(x=curve.x, y=curve.y, mode="lines", name=curve.name, showlegend=False), row=2, col=col)
        first = _marker(curve, x0)
        marker = {"size": 11, "color": "#d62728"}
        fig.add_trace(
            go.Scatter(x=first[0], y=first[1], mode="markers", marker=marker, showlegend=False, hoverinfo="skip"),
            row=2,
            col=col,
        )
        marker_idx.append(len(fig.data) - 1)
        fig.update_xaxes(title_text=curve.x_title, row=2, col=col)
        if curve.log_y:
            fig.update_yaxes(**log_axis(curve.y), row=2, col=col)
        else:
            fig.update_yaxes(range=linear_range(curve.y), row=2, col=col)
    return marker_idx


def playback(frame_labels: Sequence[str], duration_ms: int = 120) -> dict:
    """Layout entries of an animation's play / pause buttons and its frame slider (one step per label)."""
    steps = [
        {
            "args": [[str(i)], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}],
            "label": label,
            "method": "animate",
        }
        for i, label in enumerate(frame_labels)
    ]
    play = {
        "label": "▶ Play",
        "method": "animate",
        "args": [
            None,
            {"frame": {"duration": duration_ms, "redraw": True}, "fromcurrent": True, "transition": {"duration": 0}},
        ],
    }
    pause = {
        "label": "❚❚ Pause",
        "method": "animate",
        "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}],
    }
    buttons = {"type": "buttons", "showactive": False, "x": 0.0, "y": -0.12, "xanchor": "left", "yanchor": "top"}
    slider = {"active": 0, "steps": steps, "x": 0.2, "y": -0.1, "len": 0.8, "pad": {"t": 30}}
    slider["currentvalue"] = {"prefix": "frame: ", "visible": True, "xanchor": "right"}
    return {"updatemenus": [{**buttons, "direction": "left", "buttons": [play, pause]}], "sliders": [slider]}


def _marker(curve: Curve, x: float | None) -> tuple[list[float], list[float]]:
    if x is None:
        return [], []
    y = float(np.interp(float(x), np.asarray(curve.x, dtype=np.float64), np.asarray(curve.y, dtype=np.float64)))
    return [float(x)], [y]
