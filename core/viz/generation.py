"""Figures of generated jets against real ones: distances beside their real-vs-real floor, observables overlaid,
and the reverse process as an animation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch

from core.data.layout import CHANNELS
from core.viz.images import as_numpy
from core.viz.noising import Curve, process_animation


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
        yaxis_type="log",
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
    return process_animation(
        est,
        [f"t={v}" for v in t],
        list(k),
        curves,
        CHANNELS,
        colour_title="GeV",
        title=title or "Reverse process: estimate of the clean jet at each step",
    )
