"""Figures of generated jets against real ones: distances beside their real-vs-real floor, observables overlaid,
and the reverse process as an animation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from core.data.layout import CHANNELS
from core.viz.images import as_numpy
from core.viz.noising import Curve, log_axis, process_animation


def distance_figure(rows: Sequence[Mapping], title: str = "Distances to real jets (lower is better)") -> go.Figure:
    """Model vs floor bars for each metric row (keys 'metric', 'model', 'floor'); log scale, one bar pair per row."""
    rows = [r for r in rows if r.get("model") is not None and np.isfinite(r.get("model", np.nan))]
    names = [str(r["metric"]) for r in rows]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=names, y=[r["model"] for r in rows], name="model vs real", marker_color="#d62728"))
    fig.add_trace(go.Bar(x=names, y=[r.get("floor") for r in rows], name="floor: real vs real", marker_color="#7f7f7f"))
    fig.update_layout(
        title=title,
        barmode="group",
        yaxis=log_axis([v for r in rows for v in (r.get("model"), r.get("floor")) if isinstance(v, (int, float))]),
        height=420,
        margin={"l": 50, "r": 20, "t": 60, "b": 140},
        legend={"orientation": "h", "y": 1.1},
    )
    return fig


def reverse_animation(
    x0_estimates: torch.Tensor | np.ndarray,
    t: Sequence[int],
    index: int = 0,
    alpha_bar: np.ndarray | None = None,
    title: str | None = None,
) -> go.Figure:
    """The reverse process of one sample: the network's estimate of the clean jet (GeV) at each evaluated step.

    ``x0_estimates``: (S, N, C, H, W). Beside it alpha_bar at each step (classical) or the estimate's total pT.
    """
    est = as_numpy(x0_estimates)[:, index]  # (S, C, H, W)
    k = np.arange(len(t))
    if alpha_bar is not None:
        curve = Curve("alpha_bar at the evaluated step", k, np.asarray(alpha_bar)[list(t)], x_title="sampler step")
    else:
        curve = Curve("Σ pT of the estimate [GeV]", k, est[:, 1:].sum(axis=(1, 2, 3)), x_title="sampler step")
    total = Curve("Σ pT (ECAL+HCAL) of the estimate [GeV]", k, est[:, 1:].sum(axis=(1, 2, 3)), x_title="sampler step")
    curves = [curve, total] if alpha_bar is not None else [curve]
    shown = np.where(est > 1e-3, np.log10(np.clip(est, 1e-3, None)), np.nan)  # sparse jets: log colour
    return process_animation(
        shown,
        [f"t={v}" for v in t],
        list(k),
        curves,
        CHANNELS,
        colour_title="log10 pT [GeV]",
        title=title or "Reverse process: estimate of the clean jet at each step",
    )


def _slider(labels: Sequence[str], active: int, prefix: str) -> dict:
    """A plotly slider over named frames (client side: scrubbing costs no server run)."""
    steps = [
        {"args": [[str(i)], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}], "label": lab}
        for i, lab in enumerate(labels)
    ]
    for s in steps:
        s["method"] = "animate"
    return {
        "active": active,
        "steps": steps,
        "x": 0.0,
        "len": 1.0,
        "y": -0.06,
        "pad": {"t": 40},
        "currentvalue": {"prefix": prefix, "visible": True, "xanchor": "left"},
    }


def _channel_rows(rows: Sequence[tuple[np.ndarray, tuple[float, float], str]], axis: np.ndarray) -> list[go.Heatmap]:
    """Two-row scrubber frame: a heatmap per channel of each (C, H, W) image, each row on its own colour range
    ``(lo, hi)`` with one colour bar titled by the row's text (on its last channel)."""
    from core.viz.images import COLOURSCALE

    out = []
    for row, (img, (lo, hi), bar) in enumerate(rows):
        n_ch = img.shape[0]
        for c in range(n_ch):
            out.append(
                go.Heatmap(
                    z=img[c],
                    x=axis,
                    y=axis,
                    zmin=lo,
                    zmax=hi,
                    colorscale=COLOURSCALE,
                    showscale=c == n_ch - 1,
                    colorbar={"title": {"text": bar}, "len": 0.42, "y": 0.79 - 0.56 * row, "thickness": 12},
                    hovertemplate="Δφ %{x:.3f}<br>Δη %{y:.3f}<br>%{z:.3g}<extra></extra>",
                )
            )
    return out


def trajectory_figure(
    xt: torch.Tensor | np.ndarray,
    x0: torch.Tensor | np.ndarray,
    t: Sequence[int],
    index: int = 0,
    xt_title: str = "x_t (model space)",
) -> go.Figure:
    """A denoising-trajectory scrubber for one jet: row 1 the state x_t the sampler holds before each step,
    row 2 the network's estimate of the clean jet at that step (GeV, log colour); one slider over the steps.

    ``xt``: (S + 1, N, C, H, W), pure noise first and the sample last; ``x0``: (S, N, C, H, W) in GeV.
    Each row has one colour range over all steps, so brightness changes are real changes.
    """
    from plotly.subplots import make_subplots

    from core.viz.images import pixel_axis
    from core.viz.noising import data_range

    states, est = as_numpy(xt)[:, index], as_numpy(x0)[:, index]
    n_steps, n_ch = est.shape[0], est.shape[1]
    log_est = np.where(est > 1e-3, np.log10(np.clip(est, 1e-3, None)), np.nan)
    s_range, e_range = data_range(states), data_range(log_est, 0.0, 100.0)
    axis = pixel_axis(est.shape[-1])
    titles = [f"{xt_title}: {CHANNELS[c]}" for c in range(n_ch)] + [f"x0 estimate: {CHANNELS[c]}" for c in range(n_ch)]
    fig = make_subplots(rows=2, cols=n_ch, subplot_titles=titles, vertical_spacing=0.12, horizontal_spacing=0.06)

    def traces(i: int) -> list[go.Heatmap]:
        rows = ((states[i], s_range, xt_title), (log_est[min(i, n_steps - 1)], e_range, "log10 pT [GeV]"))
        return _channel_rows(rows, axis)

    for k, tr in enumerate(traces(0)):
        fig.add_trace(tr, row=k // n_ch + 1, col=k % n_ch + 1)
    labels = [f"step {i + 1} of {n_steps}: t = {t[i]}" for i in range(n_steps)] + ["sample (after the last step)"]
    fig.frames = [go.Frame(data=traces(i), traces=list(range(2 * n_ch)), name=str(i)) for i in range(n_steps + 1)]
    for k in range(2 * n_ch):
        suffix = "" if k == 0 else str(k + 1)
        fig.layout[f"yaxis{suffix}"].update(scaleanchor=f"x{suffix}", constrain="domain")
        fig.layout[f"xaxis{suffix}"].update(constrain="domain")
    fig.update_layout(
        title=f"Denoising trajectory of jet {index}",
        height=760,
        margin={"l": 40, "r": 40, "t": 70, "b": 110},
        sliders=[_slider(labels, 0, "")],
    )
    return fig


def swipe_figure(
    a: torch.Tensor | np.ndarray,
    b: torch.Tensor | np.ndarray,
    names: tuple[str, str] = ("real", "generated"),
    channel: int = 1,
    log: bool = True,
    colour_title: str = "pT [GeV]",
) -> go.Figure:
    """An image-comparison control: image ``a`` left of a movable divider, ``b`` right of it, one channel on one
    colour scale; a slider moves the divider (client side). ``a``, ``b``: (C, H, W) in GeV, the same size."""
    from core.viz.images import COLOURSCALE, pixel_axis

    ia, ib = as_numpy(a)[channel], as_numpy(b)[channel]
    if ia.shape != ib.shape:
        raise ValueError(f"swipe_figure needs two images of one size, got {ia.shape} and {ib.shape}")
    if log:
        ia, ib = (np.where(v > 1e-6, np.log10(np.clip(v, 1e-6, None)), np.nan) for v in (ia, ib))
    both = np.concatenate([ia[np.isfinite(ia)], ib[np.isfinite(ib)]])
    lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
    size = ia.shape[-1]
    axis = pixel_axis(size)
    half = (axis[1] - axis[0]) / 2 if size > 1 else 0.5
    cols = np.arange(size)

    def frame(k: int) -> tuple[go.Heatmap, dict]:
        z = np.where(cols[None, :] < k, ia, ib)
        x_div = axis[0] - half + k * 2 * half
        line = {"type": "line", "x0": x_div, "x1": x_div, "y0": axis[0] - half, "y1": axis[-1] + half}
        line["line"] = {"color": "white", "width": 3}
        heat = go.Heatmap(
            z=z,
            x=axis,
            y=axis,
            zmin=lo,
            zmax=hi,
            colorscale=COLOURSCALE,
            colorbar={"title": {"text": ("log10 " if log else "") + colour_title}, "thickness": 12},
            hovertemplate="Δφ %{x:.3f}<br>Δη %{y:.3f}<br>%{z:.3g}<extra></extra>",
        )
        return heat, line

    mid = size // 2
    heat, line = frame(mid)
    fig = go.Figure(heat)
    fig.frames = [go.Frame(data=[frame(k)[0]], layout={"shapes": [frame(k)[1]]}, name=str(k)) for k in range(size + 1)]
    labels = [str(k) for k in range(size + 1)]
    fig.update_layout(
        title=f"{names[0]} (left of the line) | {names[1]} (right): {CHANNELS[channel]}",
        shapes=[line],
        height=520,
        margin={"l": 50, "r": 40, "t": 60, "b": 100},
        sliders=[_slider(labels, mid, f"columns of {names[0]} left of the divider: ")],
        xaxis={"title": "Δφ", "constrain": "domain"},
        yaxis={"title": "Δη", "scaleanchor": "x", "constrain": "domain"},
    )
    return fig
