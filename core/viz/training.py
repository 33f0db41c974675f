"""Figures of a training run read from its events: loss against step, and the interval metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.viz.noising import log_axis

METRIC_TITLES = {
    "ssim": "SSIM of reconstructions (mean over channels)",
    "psnr": "PSNR of reconstructions [dB]",
    "fid_jet": "FID (jet-classifier features) vs held-out",
    "fpd": "Fréchet physics distance vs held-out",
}


REFERENCE_LINES = (
    ("empty", "empty image", {"dash": "dash", "color": "#7f7f7f"}),
    ("real", "real vs real", {"dash": "dot", "color": "#2ca02c"}),
)
LIVE_NAMES = {  # the live metrics as the tables name them (core.viz.tables.MEANINGS explains each)
    "ssim": "SSIM (reconstruction)",
    "psnr": "PSNR (reconstruction)",
    "fid_jet": "FID (jet features, live)",
    "fpd": "Fréchet distance (observables, live)",
}
REAL_VS_REAL_NOTE = (
    "real vs real: each metric with real jets in place of the model's output: another real jet in place of each "
    "reconstruction (a reconstruction must beat it) and real jets in place of the generated ones, same N (a "
    "model that reaches it is as good as real data)."
)


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
    legend: set[str] = set()  # one legend entry per reference line
    for i, k in enumerate(keys):
        pts = [(r["step"], r[k]) for r in rows if k in r]
        fig.add_trace(
            go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=k, showlegend=False),
            row=1,
            col=i + 1,
        )
        for suffix, name, line in REFERENCE_LINES:  # the empty image to beat; real jets in place of the model
            ref = [(r["step"], r[f"{k}_{suffix}"]) for r in rows if f"{k}_{suffix}" in r]
            if ref:
                legend_shown = suffix in legend
                legend.add(suffix)
                fig.add_trace(
                    go.Scatter(
                        x=[p[0] for p in ref],
                        y=[p[1] for p in ref],
                        mode="lines" if len(ref) > 1 else "markers",
                        name=name,
                        line=line,
                        marker={"color": line["color"], "symbol": "line-ew-open", "size": 14},
                        showlegend=not legend_shown,
                        legendgroup=suffix,
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


def interval_rows(metrics: Mapping[str, float], loss: float | None = None) -> list[dict]:
    """The latest interval's metrics as rows of ``core.viz.tables.metric_table`` (metric, model, floor, unit,
    note): each beside its real-vs-real value (``<key>_real``), the empty image's score in the note."""
    rows = []
    if loss is not None:
        rows.append(
            {
                "metric": "training loss (last step)",
                "model": float(loss),
                "floor": None,
                "note": "no real-vs-real value: the loss scores the network's predictions, not jets",
            }
        )
    for key, name in LIVE_NAMES.items():
        if key in metrics:
            empty = metrics.get(f"{key}_empty")
            rows.append(
                {
                    "metric": name,
                    "model": metrics[key],
                    "floor": metrics.get(f"{key}_real"),
                    "unit": "dB" if key == "psnr" else "",
                    "note": "" if empty is None else f"an empty image scores {empty:.4g}",
                }
            )
    return rows


def interval_table(rows: Sequence[Mapping]) -> pd.DataFrame:
    """Every interval of a run (dicts with step, loss and the metrics), each metric followed by its real-vs-real
    value and the empty image's score, so a number is never read alone."""
    df = pd.DataFrame(list(rows))
    order = [c for c in ("step", "loss") if c in df]
    for key in LIVE_NAMES:
        order += [c for c in (key, f"{key}_real", f"{key}_empty") if c in df]
    df = df[order + [c for c in df if c not in order]]
    names = {f"{k}_real": f"{k}: real vs real" for k in LIVE_NAMES}
    return df.rename(columns={**names, **{f"{k}_empty": f"{k}: empty image" for k in LIVE_NAMES}})
