"""Runs side by side, TensorBoard-style: read what training runs left on disk and draw them together.

A run is a folder. Read here, all optional except ``config.json``: ``config.json`` (task + training config),
``model_card.json`` (family, parameters, evaluation metrics with their floors), ``trainer_state.json`` (step,
wall time, the loss of every step, the last interval metrics) and, for runs written as run directories,
``events.jsonl`` (one JSON object a line: "metrics" events with a step, "preview" events naming a
``previews/step-*.safetensors`` file). Nothing is written; a file that does not parse is skipped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from core.viz.noising import log_axis
from core.viz.training import METRIC_TITLES

RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


@dataclass
class Run:
    """One run's config, curves and previews, as read from its folder."""

    name: str
    source: str  # "shipped", "this session", "command line"
    path: Path
    config: dict
    card: dict
    step: int
    wall_time_s: float
    losses: np.ndarray
    metrics: list[dict] = field(default_factory=list)  # [{"step": k, "ssim": ..., ...}]
    previews: dict[int, Path] = field(default_factory=dict)  # step -> safetensors file

    @property
    def family(self) -> str:
        return str(self.config.get("task", {}).get("family") or self.card.get("family", "?"))


def _json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _events(path: Path) -> list[dict]:
    out = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            continue  # a line being written, or a broken one
        if isinstance(value, dict):
            out.append(value)
    return out


def read_run(path: str | Path, source: str, name: str | None = None) -> Run | None:
    """The run in ``path`` (None when it holds no readable config.json)."""
    path = Path(path)
    config = _json(path / "config.json")
    if not config:
        return None
    state, card = _json(path / "trainer_state.json"), _json(path / "model_card.json")
    events = _events(path / "events.jsonl")
    metrics = [{"step": int(e["step"]), **e["metrics"]} for e in events if e.get("type") == "metrics" and "step" in e]
    last = state.get("metrics") or {}
    if not metrics and isinstance(last, dict) and last and all(isinstance(v, (int, float)) for v in last.values()):
        metrics = [{"step": int(state.get("step", 0)), **last}]  # only the last interval metrics were kept
    previews = {int(e["step"]): path / e["file"] for e in events if e.get("type") == "preview" and "file" in e}
    for f in sorted((path / "previews").glob("step-*.safetensors")):
        previews.setdefault(int(f.stem.split("-")[-1]), f)
    return Run(
        name=name or path.name,
        source=source,
        path=path,
        config=config,
        card=card,
        step=int(state.get("step", card.get("steps", 0)) or 0),
        wall_time_s=float(state.get("wall_time_s", card.get("wall_time_s", 0.0)) or 0.0),
        losses=np.asarray(state.get("losses") or [], dtype=np.float64),
        metrics=metrics,
        previews={k: v for k, v in sorted(previews.items()) if v.exists()},
    )


def find_runs(folder: str | Path, source: str, depth: int = 2) -> list[Run]:
    """Every run (a folder with config.json) in ``folder`` and up to ``depth`` levels below, newest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found: list[Path] = []
    level = [folder]
    for _ in range(depth + 1):
        found += [p for p in level if (p / "config.json").is_file()]
        level = [c for p in level if not (p / "config.json").is_file() for c in sorted(p.iterdir()) if c.is_dir()]
    found.sort(key=lambda p: (p / "config.json").stat().st_mtime, reverse=True)
    runs = [read_run(p, source) for p in found]
    return [r for r in runs if r is not None]


def _card_metric(value) -> float | None:
    if isinstance(value, Mapping) and isinstance(value.get("model"), (int, float)):
        return float(value["model"])
    return None


def runs_table(runs: Sequence[Run], final_window: int = 50) -> list[dict]:
    """One row per run: where it is from, its config (family, size, schedule or circuit, training) and metrics.

    ``final loss``: the mean of the last ``final_window`` steps. Evaluation metrics of the model card come with
    their real-vs-real value in the next column.
    """
    rows = []
    for r in runs:
        task, train = r.config.get("task", {}), r.config.get("train", {})
        hybrid = task.get("hybrid", {})
        row = {
            "run": r.name,
            "from": r.source,
            "family": r.family,
            "parameters": r.card.get("parameters"),
            "size": task.get("size"),
            "schedule": _schedule_text(task),
            "circuit": f"{task.get('encoder')}, {hybrid.get('layers')} layers, {hybrid.get('channel')}"
            if hybrid
            else "",
            "steps": r.step,
            "batch": train.get("batch_size"),
            "lr": train.get("lr"),
            "wall time [s]": round(r.wall_time_s, 1),
            "final loss": float(r.losses[-final_window:].mean()) if r.losses.size else None,
        }
        last = r.metrics[-1] if r.metrics else {}
        for k in sorted(last, key=lambda k: (k.removesuffix("_real"), k.endswith("_real"))):  # x, then x_real
            if k != "step" and isinstance(last[k], (int, float)):
                row[f"{k[:-5]}: real vs real" if k.endswith("_real") else k] = float(last[k])
        for k, v in (r.card.get("metrics") or {}).items():
            value = _card_metric(v)
            if value is not None:
                row[k] = value
                if isinstance(v.get("floor"), (int, float)):
                    row[f"{k}: real vs real"] = float(v["floor"])
        rows.append(row)
    return rows


def _schedule_text(task: Mapping) -> str:
    s = task.get("schedule")
    if isinstance(s, Mapping):
        return f"{s.get('kind')}, T = {s.get('timesteps')}"
    hybrid = task.get("hybrid", {})
    return f"{hybrid.get('schedule')}, T = {hybrid.get('diffusion_steps', hybrid.get('steps'))}" if hybrid else ""


def smooth(values: np.ndarray, k: int) -> np.ndarray:
    """Running mean over ``k`` steps (the first k - 1 steps average what exists so far)."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0 or k <= 1:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    n = np.minimum(np.arange(1, v.size + 1), k)
    return (c[1:] - c[np.arange(1, v.size + 1) - n]) / n


CURVE_POINTS = 2000  # a running mean over 50 steps has no detail finer than this on a figure's width


def curve_points(values: np.ndarray, max_points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Steps (from 1) and values of a per-step curve at no more than ``max_points`` evenly spaced steps, the first
    and last included: a 17,000-step run's loss is sent and drawn as 2,000 points, not 17,000."""
    idx = np.unique(np.linspace(0, values.size - 1, min(values.size, max_points)).round().astype(np.int64))
    return idx + 1, np.asarray(values, dtype=np.float32)[idx]


def overlay_figure(runs: Sequence[Run], step: int | None = None, smooth_k: int = 50) -> go.Figure:
    """Loss (smoothed, log) and every interval metric of the chosen runs overlaid, one colour per run, with a
    dashed line at the chosen global ``step``."""
    keys = [k for k in METRIC_TITLES if any(k in m for r in runs for m in r.metrics)]
    titles = ["training loss (running mean)"] + [METRIC_TITLES[k] for k in keys]
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.07)
    all_losses = []
    for i, r in enumerate(runs):
        colour = RUN_COLOURS[i % len(RUN_COLOURS)]
        if r.losses.size:
            y = smooth(r.losses, smooth_k)
            all_losses.append(y)
            steps, shown = curve_points(y)
            fig.add_trace(
                go.Scatter(x=steps, y=shown, name=r.name, line={"color": colour}, legendgroup=r.name),
                row=1,
                col=1,
            )
        for j, k in enumerate(keys):
            pts = [(m["step"], m[k]) for m in r.metrics if k in m]
            if pts:
                fig.add_trace(
                    go.Scatter(
                        x=[p[0] for p in pts],
                        y=[p[1] for p in pts],
                        mode="lines+markers",
                        name=r.name,
                        line={"color": colour},
                        legendgroup=r.name,
                        showlegend=False,
                    ),
                    row=1,
                    col=j + 2,
                )
    if all_losses:
        fig.update_yaxes(**log_axis(np.concatenate(all_losses)), row=1, col=1)
    if step is not None:
        for c in range(1, len(titles) + 1):
            fig.add_vline(x=step, line_dash="dash", line_color="#555", row=1, col=c)
    fig.update_xaxes(title_text="step")
    fig.update_layout(
        height=360,
        margin={"l": 50, "r": 20, "t": 70, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.12, "x": 0},
    )
    return fig


def preview_at(run: Run, step: int) -> tuple[int, Path] | None:
    """The run's saved preview at the latest step <= ``step`` (None when it saved none by then)."""
    steps = [s for s in run.previews if s <= step]
    return (steps[-1], run.previews[steps[-1]]) if steps else None


def load_preview(path: Path):
    """Preview images (N, C, H, W) in GeV and labels (or None) from a previews/step-*.safetensors file."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    return tensors["images"].float(), tensors.get("labels")


def image_strip(images: list[np.ndarray], gap: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Equal-size (H, W) images side by side in one array, ``gap`` NaN columns between them (drawn blank), and
    beside it each pixel's image number (-1 in the gaps): a row of jets is one heatmap, not one subplot each."""
    height, width = images[0].shape
    total = len(images) * (width + gap) - gap
    strip = np.full((height, total), np.nan, dtype=np.result_type(images[0].dtype, np.float32))
    which = np.full((height, total), -1, dtype=np.int16)
    for k, image in enumerate(images):
        start = k * (width + gap)
        strip[:, start : start + width] = image
        which[:, start : start + width] = k
    return strip, which


def strip_gap(width: int) -> int:
    """Blank pixels between two jets of a row: an eighth of an image, so rows of 8 x 8 and 32 x 32 jets line up."""
    return max(1, round(width / 8))


def _frame_each_image(fig: go.Figure, count: int, width: int, row: int) -> None:
    """A thin frame around each image of a strip, so that a jet's empty edge never merges with the gap."""
    step = width + strip_gap(width)
    for k in range(count):
        x0 = k * step - 0.5
        fig.add_shape(
            type="rect",
            x0=x0,
            x1=x0 + width,
            y0=-0.5,
            y1=width - 0.5,
            row=row,
            col=1,
            line={"color": "rgba(128, 128, 128, 0.6)", "width": 1},
            layer="above",
        )


def runs_grid(samples: Mapping[str, np.ndarray], channel: int = 1, n: int = 8, log: bool = True) -> go.Figure:
    """Samples of several runs in one grid: a row per run (its label says which step), ``n`` jets per row, one
    channel, one log colour scale for all. Each row is one heatmap (a new tab draws a few subplots, not dozens);
    runs may differ in image size (each row keeps its own pixels)."""
    from core.viz.images import _colour_values, _range, as_numpy, jet_heatmap

    names = list(samples)
    if not names:
        raise ValueError("runs_grid needs at least one run")
    arrays = [as_numpy(samples[k])[:n] for k in names]
    values = [[_colour_values(a[i, channel], log) for i in range(a.shape[0])] for a in arrays]
    zmin, zmax = _range(np.concatenate([v.ravel() for row in values for v in row]))
    fig = make_subplots(rows=len(names), cols=1, vertical_spacing=0.08)
    value = "log10 pT %{z:.2f}" if log else "pT %{z:.3g} GeV"
    for r, row in enumerate(values):
        strip, which = image_strip(row, gap=strip_gap(row[0].shape[-1]))
        trace = jet_heatmap(strip, (zmin, zmax), log, showscale=r == 0, customdata=which, hoverongaps=False)
        trace.hovertemplate = f"jet %{{customdata}}<br>{value}<extra>{names[r]}</extra>"
        fig.add_trace(trace, row=r + 1, col=1)
        suffix = "" if r == 0 else str(r + 1)
        fig.layout[f"yaxis{suffix}"].update(
            scaleanchor=f"x{suffix}", constrain="domain", range=[-0.5, strip.shape[0] - 0.5], title_text=names[r]
        )
        fig.layout[f"xaxis{suffix}"].update(constrain="domain", range=[-0.5, strip.shape[1] - 0.5])
        _frame_each_image(fig, len(row), row[0].shape[-1], r + 1)
    fig.update_xaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, ticks="", showgrid=False, zeroline=False, title_font={"size": 11})
    fig.update_layout(height=150 * len(names) + 80, margin={"l": 120, "r": 20, "t": 40, "b": 20})
    return fig
