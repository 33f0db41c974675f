"""Figures of the evaluation: real vs generated observables, sample grids, metrics against the floor, quality vs steps.

Pure functions: numbers in, a plotly figure out (export with ``core.viz.export.figure_png``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from core.data.observables import LABELS as OBS_LABELS
from core.viz.images import as_numpy, histogram_edges, image_grid

SET_COLOURS = {"real": "#444444", "generated": "#ff7f0e"}
SAMPLER_COLOURS = {"ddpm": "#1f77b4", "ddim": "#2ca02c", "fast": "#d62728"}


def observables_overlay(
    real: Mapping[str, np.ndarray],
    generated: Mapping[str, np.ndarray],
    keys: Sequence[str] | None = None,
    bins: int = 40,
    ncols: int = 3,
    names: tuple[str, str] = ("real", "generated"),
) -> go.Figure:
    """Normalised histograms of each observable, real and generated overlaid on common bins."""
    keys = [k for k in (keys or real) if k in generated]
    nrows = int(np.ceil(len(keys) / ncols))
    fig = make_subplots(
        rows=nrows,
        cols=ncols,
        subplot_titles=[OBS_LABELS.get(k, k) for k in keys],
        horizontal_spacing=0.08,
        vertical_spacing=0.12,
    )
    colours = [SET_COLOURS["real"], SET_COLOURS["generated"]]
    for i, key in enumerate(keys):
        a, b = np.asarray(real[key], dtype=np.float64), np.asarray(generated[key], dtype=np.float64)
        both = np.concatenate([a, b])
        lo, hi = (float(np.percentile(both, 0.5)), float(np.percentile(both, 99.5))) if both.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1.0
        edges = histogram_edges(both, lo, hi, bins)
        lo, hi = float(edges[0]), float(edges[-1])
        centres = 0.5 * (edges[1:] + edges[:-1])
        for j, (name, values) in enumerate(zip(names, (a, b), strict=True)):
            density, _ = np.histogram(np.clip(values, lo, hi), bins=edges, density=True)
            fig.add_trace(
                go.Scatter(
                    x=centres,
                    y=density,
                    mode="lines",
                    line={"shape": "hvh", "color": colours[j], "width": 2},
                    fill="tozeroy" if j == 0 else None,
                    name=name,
                    legendgroup=name,
                    showlegend=i == 0,
                ),
                row=i // ncols + 1,
                col=i % ncols + 1,
            )
    fig.update_layout(
        height=240 * nrows + 80,
        width=1100,
        margin={"l": 50, "r": 20, "t": 80, "b": 40},
        legend={"orientation": "h", "y": 1.02, "x": 1.0, "xanchor": "right", "yanchor": "bottom"},
        title="Jet observables: real vs generated",
    )
    fig.update_yaxes(title_text="density", col=1)
    return fig


def samples_grid(
    real: torch.Tensor | np.ndarray, generated: torch.Tensor | np.ndarray, channel: int, n: int = 6, log: bool = True
) -> go.Figure:
    """``n`` real jets (top row) and ``n`` generated jets (bottom row) of one channel, on one colour scale."""
    a, b = as_numpy(real)[:n], as_numpy(generated)[:n]
    k = min(len(a), len(b))
    x = np.concatenate([a[:k], b[:k]])
    titles = [f"real {i + 1}" for i in range(k)] + [f"generated {i + 1}" for i in range(k)]
    return image_grid(x, channel=channel, ncols=k, log=log, titles=titles)


def metrics_vs_floor(rows: Sequence[Mapping], metrics: Sequence[str] | None = None) -> go.Figure:
    """Bars of model / floor for each metric (1 = as good as real data), log scale.

    ``rows``: dicts with "metric", "model", "floor" (``asdict(MetricRow)``). Skipped: the classifier's
    accuracies, and distances whose floor is <= 0 (an extrapolated or unbiased estimate can dip below 0).
    """
    names, ratios = [], []
    for r in rows:
        if (metrics is not None and r["metric"] not in metrics) or r["metric"].startswith("classifier"):
            continue  # accuracies are not distances
        model, floor = r.get("model"), r.get("floor")
        if isinstance(model, (int, float)) and isinstance(floor, (int, float)) and floor > 0 and model > 0:
            names.append(r["metric"])
            ratios.append(model / floor)
    fig = go.Figure(go.Bar(x=ratios, y=names, orientation="h", marker_color=SET_COLOURS["generated"]))
    fig.add_vline(
        x=1.0,
        line_dash="dash",
        line_color=SET_COLOURS["real"],
        annotation_text="floor (real vs real)",
        annotation_position="bottom right",
    )
    fig.update_xaxes(type="log", title_text="model / floor")
    fig.update_layout(
        height=40 * len(names) + 140,
        width=900,
        margin={"l": 260, "r": 20, "t": 50, "b": 50},
        title="Distance to real jets, in units of the real-vs-real floor",
    )
    return fig


MODEL_COLOURS = ("#7f7f7f", "#1f77b4", "#9467bd", "#ff7f0e", "#2ca02c", "#d62728")


def goal_table_figure(rows: Sequence[Mapping], w1_goal: float = 2.0) -> go.Figure:
    """Issue 13's goal table as one figure: each model's W1 distances in units of their floor (left, log scale,
    the floor at 1 and the goal dashed) and its two-sample AUCs beside the real-vs-real value and the goal (right).

    ``rows``: the goal rows of ``benchmarks.bench_classical`` ("model", "metric", "value", "floor", "ratio",
    "goal"); models keep their order of first appearance. Rows of other kinds (FPD, verdicts, memorisation,
    fast-vs-best) are left to the table.
    """
    models = list(dict.fromkeys(r["model"] for r in rows))
    w1 = [r for r in rows if r["metric"].startswith("W1 ") and isinstance(r.get("ratio"), (int, float))]
    aucs = [r for r in rows if r["metric"].startswith("two-sample AUC")]
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.72, 0.28],
        horizontal_spacing=0.1,
        subplot_titles=["W1 distance / real-vs-real floor", "two-sample AUC"],
    )
    n_metrics = _w1_panel(fig, models, w1, w1_goal)
    _auc_panel(fig, models, aucs)
    fig.update_layout(
        barmode="group",
        height=max(420, 34 * n_metrics * max(1, len(models)) // 2 + 160),
        width=1200,
        margin={"l": 280, "r": 20, "t": 60, "b": 60},
        legend={"orientation": "h", "y": -0.12, "x": 0.0, "yanchor": "top"},
        title="Classical generation against held-out jets: issue 13's goals",
    )
    return fig


def _bars_per_model(
    fig: go.Figure, models: Sequence[str], rows: Sequence[Mapping], prefix: str, field: str, col: int
) -> list[str]:
    """One bar trace per model of ``rows[field]`` by metric (its name less ``prefix``): horizontal on a log axis
    in column 1, vertical in column 2 (legend entries once, from column 1). Returns the metrics, in order."""
    metrics = list(dict.fromkeys(r["metric"].removeprefix(prefix) for r in rows))
    horizontal = col == 1
    for i, model in enumerate(models):
        got = {r["metric"].removeprefix(prefix): r[field] for r in rows if r["model"] == model}
        values = [got.get(m, float("nan")) for m in metrics]
        if horizontal:  # a log axis: no zero-length bars
            values = [max(v, 1e-3) for v in values]
        fig.add_trace(
            go.Bar(
                **({"y": metrics, "x": values, "orientation": "h"} if horizontal else {"x": metrics, "y": values}),
                name=model,
                legendgroup=model,
                showlegend=horizontal,
                marker_color=MODEL_COLOURS[i % len(MODEL_COLOURS)],
                hovertemplate=("%{y}: %{x:.3g} x floor" if horizontal else "AUC %{x}: %{y:.3f}")
                + "<extra>"
                + model
                + "</extra>",
            ),
            row=1,
            col=col,
        )
    return metrics


def _w1_panel(fig: go.Figure, models: Sequence[str], w1: Sequence[Mapping], w1_goal: float) -> int:
    """Left panel: grouped horizontal bars of W1 / floor per metric (log scale, plain ticks); the metric count."""
    metrics = _bars_per_model(fig, models, w1, "W1 ", "ratio", col=1)
    fig.add_vline(x=1.0, line_color=SET_COLOURS["real"], row=1, col=1)
    fig.add_vline(x=w1_goal, line_dash="dash", line_color="#d62728", row=1, col=1)
    top = max((r["ratio"] for r in w1 if r["ratio"] > 0), default=10.0)
    candidates = (0.5, 1, 2, 5, 10, 100, 1e3, 1e4, 1e5, 1e6)
    ticks = [t for t in candidates if t <= top] + [t for t in candidates if t > top][:1]
    fig.update_xaxes(
        type="log",
        tickvals=ticks,
        ticktext=[f"{t:g}" for t in ticks],
        title_text=f"x floor (solid: 1, the floor; dashed: {w1_goal:g}, the goal)",
        row=1,
        col=1,
    )
    fig.update_yaxes(autorange="reversed", row=1, col=1)
    return len(metrics)


def _auc_panel(fig: go.Figure, models: Sequence[str], aucs: Sequence[Mapping]) -> None:
    """Right panel: each model's two-sample AUCs, with the real-vs-real value (solid) and the goal (dashed)."""
    prefix = "two-sample AUC "
    metrics = _bars_per_model(fig, models, aucs, prefix, "value", col=2)
    floors = {r["metric"].removeprefix(prefix): r["floor"] for r in aucs}
    goals = {r["metric"].removeprefix(prefix): _goal_value(r["goal"]) for r in aucs}
    for j, m in enumerate(metrics):
        lines = [(floors[m], "solid", SET_COLOURS["real"]), (goals[m], "dash", "#d62728")]
        for y, dash, colour in lines:
            if y is not None:
                fig.add_shape(
                    type="line", x0=j - 0.45, x1=j + 0.45, y0=y, y1=y, line={"dash": dash, "color": colour},
                    row=1, col=2,
                )  # fmt: skip
    fig.update_yaxes(
        range=[0.4, 1.02], title_text="AUC (0.5: indistinguishable; solid: real vs real; dashed: goal)", row=1, col=2
    )


def _goal_value(goal: str) -> float | None:
    """The number of a goal such as '<= 0.6' (None when there is none)."""
    try:
        return float(goal.split("<=")[-1].strip().rstrip("x"))
    except ValueError:
        return None


def _sampler_steps(row: Mapping) -> int:
    """A benchmark row's network evaluations (rows written before the rename call them "steps")."""
    return row["sampler_steps"] if "sampler_steps" in row else row["steps"]


def quality_vs_steps(
    results: Sequence[Mapping],
    metric: str,
    floor: float | None = None,
    baseline: Mapping[str, float] | None = None,
    title: str | None = None,
    log_y: bool = False,
    y_title: str | None = None,
) -> go.Figure:
    """A metric against the number of network evaluations, one line per sampler.

    ``results``: dicts with "sampler", "sampler_steps" (older benchmark files: "steps") and ``metric``. ``floor``: the real-vs-real value (dashed);
    ``baseline``: {"label": name, "value": v} drawn as a dotted line (e.g. the seed baseline).
    """
    fig = go.Figure()
    for sampler in dict.fromkeys(r["sampler"] for r in results):
        pts = sorted(
            (_sampler_steps(r), r[metric]) for r in results if r["sampler"] == sampler and r.get(metric) is not None
        )
        if pts:
            fig.add_trace(
                go.Scatter(
                    x=[p[0] for p in pts],
                    y=[p[1] for p in pts],
                    mode="lines+markers",
                    name=sampler,
                    line={"color": SAMPLER_COLOURS.get(sampler)},
                )
            )

    def line(y: float, text: str, dash: str, colour: str) -> None:
        # Annotations on a log axis take log10(y): place the label by hand, just above its line.
        fig.add_hline(y=y, line_dash=dash, line_color=colour)
        fig.add_annotation(
            x=1,
            xref="paper",
            y=float(np.log10(y)) if log_y else y,
            yref="y",
            text=text,
            showarrow=False,
            xanchor="right",
            yanchor="bottom",
            font={"color": colour},
        )

    if floor is not None and (floor > 0 or not log_y):
        line(floor, "floor (real vs real)", "dash", SET_COLOURS["real"])
    elif floor is not None:  # a floor at or below 0 has no place on a log axis: say it in words
        title = (title or f"{metric} vs number of steps") + f" (floor, real vs real: {floor:.2g})"
    if baseline is not None and (baseline["value"] > 0 or not log_y):
        line(baseline["value"], baseline["label"], "dot", "#9467bd")
    ticks = sorted({int(_sampler_steps(r)) for r in results})
    fig.update_xaxes(
        type="log", title_text="network evaluations (sampler steps)", tickvals=ticks, ticktext=[str(s) for s in ticks]
    )
    fig.update_yaxes(title_text=y_title or metric, type="log" if log_y else "linear")
    fig.update_layout(width=800, height=480, title=title or f"{metric} vs number of steps", margin={"t": 60})
    return fig


def reconstruction_bars(metrics: Mapping[str, Mapping], quantity: str = "ssim") -> go.Figure:
    """SSIM or PSNR per channel of the model's reconstruction beside the trivial ones (noisy xt, empty image).

    ``metrics``: :func:`core.metrics.reconstruct.reconstruction_metrics` output.
    """
    fig = go.Figure()
    colours = {"model": "#ff7f0e", "noisy_xt": "#7f7f7f", "empty": "#c7c7c7"}
    labels = {"model": "model x0_hat", "noisy_xt": "noisy xt (trivial)", "empty": "empty image (trivial)"}
    for key in ("model", "noisy_xt", "empty"):
        values = metrics[key][quantity]
        chans = [c for c in values if c != "mean"]
        y = [values[c] if np.isfinite(values[c]) else None for c in chans]
        fig.add_trace(go.Bar(x=chans, y=y, name=labels[key], marker_color=colours[key]))
    unit = " [dB]" if quantity == "psnr" else ""
    fig.update_layout(
        barmode="group",
        width=700,
        height=420,
        title=f"{quantity.upper()} of reconstructions from t = {metrics.get('t')} ({metrics.get('mode')})",
        yaxis_title=quantity.upper() + unit,
    )
    return fig
