"""Figures for a quantum model on a (fake) device: quality against shot count, distances against noise."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

SHOWN = (("mass", "W1 jet mass [GeV]"), ("width", "W1 jet width"), ("mean W1 / spread", "mean W1 / spread"))


def shots_figure(rows: list[dict], title: str = "Quality against shots per state") -> go.Figure:
    """W1 distances against the number of shots (log x), with the exact-probability value as a dashed line."""
    fig = make_subplots(rows=1, cols=len(SHOWN), subplot_titles=[t for _, t in SHOWN])
    counted = [r for r in rows if r["shots"] is not None]
    exact = next((r for r in rows if r["shots"] is None), None)
    for i, (key, _) in enumerate(SHOWN, start=1):
        fig.add_trace(
            go.Scatter(x=[r["shots"] for r in counted], y=[r[key] for r in counted], mode="lines+markers", name=key),
            row=1,
            col=i,
        )
        if exact is not None:
            fig.add_hline(y=exact[key], line_dash="dash", row=1, col=i, annotation_text="exact")
        fig.update_xaxes(type="log", title_text="shots per state", row=1, col=i)
    fig.update_layout(title=title, showlegend=False, height=340, margin={"t": 70, "b": 40})
    return fig
