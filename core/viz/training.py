"""Figures of a training run read from its events: loss against step, and the interval metrics."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.viz.noising import log_axis

METRIC_TITLES = {
    "ssim": "SSIM of reconstructions (mean over channels)",
    "psnr": "PSNR of reconstructions [dB]",
    "fid_jet": "FID (jet-classifier features) vs held-out",
    "fpd": "Fréchet physics distance vs held-out",
}


def loss_title(family: str | None) -> str:
    """The y-axis title of a family's training loss, as its module names it (``LOSS_TITLE``; the quantum
    model's loss is not a mean squared error); "loss" for a family that names none."""
    from core.training.registry import family_loss_title

    return family_loss_title(family) if family else "loss"


def loss_figure(steps: Sequence[int], losses: Sequence[float], smooth: int = 20, y_title: str = "loss") -> go.Figure:
    """Training loss per step (log scale) with a running mean over ``smooth`` steps; ``y_title`` from
    :func:`loss_title`."""
    s = np.asarray(steps, dtype=np.int64)
    v = np.asarray(losses, dtype=np.float64)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=s, y=v, mode="lines", name="loss", line={"width": 1, "color": "#9ecae1"}))
    if v.size >= 2:
        k = max(1, min(smooth, v.size))
        mean = np.convolve(v, np.ones(k) / k, mode="valid")
        fig.add_trace(
            go.Scatter(x=s[k - 1 :], y=mean, mode="lines", name=f"mean of {k}", line={"width": 2.5, "color": "#08519c"})
        )
    fig.update_layout(
        title="Training loss",
        height=300,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        xaxis_title="step",
        yaxis_title=y_title,
        yaxis=log_axis(v),
        legend={"orientation": "h", "y": 1.12},
    )
    return fig


def metrics_figure(rows: Sequence[dict]) -> go.Figure:
    """One panel per metric found in ``rows`` (each a dict with 'step' and metric values)."""
    keys = [k for k in METRIC_TITLES if any(k in r for r in rows)]
    if not keys:
        fig = go.Figure()
        fig.update_layout(title="Metrics appear at the first interval", height=260)
        return fig
    fig = make_subplots(
        rows=1, cols=len(keys), subplot_titles=[METRIC_TITLES[k] for k in keys], horizontal_spacing=0.08
    )
    for i, k in enumerate(keys):
        pts = [(r["step"], r[k]) for r in rows if k in r]
        fig.add_trace(
            go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=k, showlegend=False),
            row=1,
            col=i + 1,
        )
        floor = [(r["step"], r[f"{k}_empty"]) for r in rows if f"{k}_empty" in r]
        if floor:  # the trivial reconstruction (an empty image) a model has to beat
            fig.add_trace(
                go.Scatter(
                    x=[p[0] for p in floor],
                    y=[p[1] for p in floor],
                    mode="lines",
                    name="empty image",
                    line={"dash": "dash", "color": "#7f7f7f"},
                    showlegend=i == 0,
                    legendgroup="empty",
                ),
                row=1,
                col=i + 1,
            )
        fig.update_xaxes(title_text="step", row=1, col=i + 1)
    fig.update_layout(
        height=320,
        margin={"l": 50, "r": 20, "t": 70, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.12, "xanchor": "right", "x": 1},
    )
    return fig
