"""Plotly figures of jet images: one jet's three channels, class averages, sample grids, observable histograms.

Pure functions: arrays in GeV in, a figure out. Axes are offsets from the jet axis in eta and phi;
colour is pT per pixel in GeV, linear or log10 (empty pixels left blank on the log scale).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from core.data.layout import CHANNELS, VALID_LABELS, label_name
from core.data.observables import LABELS as OBS_LABELS
from core.data.transforms import SIZES, pixel_centres

COLOURSCALE = "Viridis"
CLASS_COLOURS = {"quark": "#1f77b4", "gluon": "#d62728", "unlabelled": "#7f7f7f"}
LOG_FLOOR_GEV = 1e-3  # the smallest deposit shown on a log colour scale


def as_numpy(x: torch.Tensor | np.ndarray) -> np.ndarray:
    """A float32 numpy view of a tensor or array (CPU, detached)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float32)


def pixel_axis(size: int) -> np.ndarray:
    """Pixel centres as offsets from the jet axis (eta = phi grid) for the standard sizes, else pixel indices."""
    return pixel_centres(size) if size in SIZES else np.arange(size, dtype=np.float64)


def edges(axis: np.ndarray) -> list[float]:
    """The axis range that shows exactly the pixels with centres ``axis`` (no padding beyond the image)."""
    half = float(axis[1] - axis[0]) / 2 if len(axis) > 1 else 0.5
    return [float(axis[0]) - half, float(axis[-1]) + half]


def _colour_values(img: np.ndarray, log: bool, floor: float = LOG_FLOOR_GEV) -> np.ndarray:
    """Colour values of an image, float32: the figure sends them as 4-byte binary (half of float64's payload)."""
    if not log:
        return np.asarray(img, dtype=np.float32)
    out = np.full(img.shape, np.nan, dtype=np.float32)
    shown = img > floor
    out[shown] = np.log10(img[shown])
    return out


def _colourbar(log: bool, zmin: float, zmax: float, x: float | None = None, title: str = "pT [GeV]") -> dict:
    bar: dict = {"title": {"text": title}, "thickness": 12, "len": 0.9}
    if x is not None:
        bar["x"] = x
    if log:
        lo, hi = int(np.floor(zmin)), int(np.ceil(zmax))
        ticks = list(range(lo, hi + 1))
        bar.update(tickvals=ticks, ticktext=[f"{10.0**k:g}" for k in ticks])
    return bar


def jet_heatmap(
    z: np.ndarray,
    zrange: tuple[float, float],
    log: bool,
    axis: np.ndarray | None = None,
    what: str = "pT",
    bar_x: float | None = None,
    bar_title: str = "pT [GeV]",
    **extra,
) -> go.Heatmap:
    """A jet image (values from ``_colour_values``) as a heatmap on ``zrange``: the lab's colour scale, its colour
    bar (log10 ticks labelled in GeV) and hover text with the value and, given ``axis``, the pixel's Δφ and Δη.
    ``extra`` goes to ``go.Heatmap`` (a ``name`` is shown in the hover box)."""
    zmin, zmax = zrange
    hover = f"log10 {what} %{{z:.2f}}" if log else f"{what} %{{z:.3g}} GeV"
    coords = {}
    if axis is not None:
        coords = {"x": axis, "y": axis}
        hover = "Δφ %{x:.3f}<br>Δη %{y:.3f}<br>" + hover
    return go.Heatmap(
        z=z,
        **coords,
        zmin=zmin,
        zmax=zmax,
        colorscale=COLOURSCALE,
        colorbar=_colourbar(log, zmin, zmax, x=bar_x, title=bar_title),
        hovertemplate=hover if "name" in extra else hover + "<extra></extra>",
        **extra,
    )


def add_grid_cell(fig: go.Figure, i: int, ncols: int, z: np.ndarray, zrange: tuple[float, float], log: bool) -> None:
    """Image ``i`` of a grid (row-major, ``ncols`` wide) as a square heatmap over exactly its pixels, on the
    shared colour range; the first one carries the colour bar."""
    fig.add_trace(jet_heatmap(z, zrange, log, showscale=i == 0), row=i // ncols + 1, col=i % ncols + 1)
    suffix = "" if i == 0 else str(i + 1)
    edge = [-0.5, z.shape[-1] - 0.5]  # the image itself, never padded (empty edge pixels are blank)
    fig.layout[f"yaxis{suffix}"].update(scaleanchor=f"x{suffix}", constrain="domain", range=edge)  # square
    fig.layout[f"xaxis{suffix}"].update(constrain="domain", range=edge)


def _range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def histogram_edges(values: np.ndarray, lo: float, hi: float, bins: int) -> np.ndarray:
    """Bin edges over [lo, hi]: ``bins`` equal bins, or, for integer values (pixel counts), bins of a whole
    number of units centred on the integers, so no bin falls between two integers and shows empty."""
    finite = values[np.isfinite(values)]
    if finite.size and np.all(finite == np.round(finite)):
        step = max(1.0, float(np.ceil((hi - lo) / bins)))
        return np.arange(np.floor(lo) - 0.5, np.ceil(hi) + step, step)
    return np.linspace(lo, hi, bins + 1)


def channel_images(
    image: torch.Tensor | np.ndarray,
    log: bool = False,
    title: str | None = None,
    channel_names: Sequence[str] = CHANNELS,
    shared_scale: bool = False,
    axis: np.ndarray | None = None,
    height: int = 380,
) -> go.Figure:
    """One jet, (3, H, W) in GeV, as three heatmaps side by side (Tracks, ECAL, HCAL), each with its colour bar.

    ``axis``: pixel centres in eta/phi offsets (from :func:`pool_for_display` for a coarser view).
    """
    img = as_numpy(image)
    if img.ndim != 3:
        raise ValueError(f"channel_images expects one jet (C, H, W), got shape {img.shape}")
    n_ch, size = img.shape[0], img.shape[-1]
    axis = pixel_axis(size) if axis is None else np.asarray(axis)
    fig = make_subplots(rows=1, cols=n_ch, subplot_titles=list(channel_names[:n_ch]), horizontal_spacing=0.14)
    values = [_colour_values(img[c], log) for c in range(n_ch)]
    common = _range(np.stack(values)) if shared_scale else None
    for c, z in enumerate(values):
        zmin, zmax = common or _range(z)
        domain_end = fig.layout[f"xaxis{'' if c == 0 else c + 1}"].domain[1]
        heat = jet_heatmap(z, (zmin, zmax), log, axis, bar_x=domain_end + 0.01, name=channel_names[c])
        fig.add_trace(heat, row=1, col=c + 1)
        fig.update_xaxes(title_text="Δφ", row=1, col=c + 1, constrain="domain", range=edges(axis))
        # Tick labels on the first panel only: the colour bar of the panel before sits where they would be.
        fig.update_yaxes(
            title_text="Δη" if c == 0 else None,
            showticklabels=c == 0,
            row=1,
            col=c + 1,
            scaleanchor=f"x{'' if c == 0 else c + 1}",
            constrain="domain",
            range=edges(axis),
        )
    fig.update_layout(title=title, height=height, margin={"l": 40, "r": 60, "t": 60, "b": 40})
    return fig


def pool_for_display(image: torch.Tensor | np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``factor`` x ``factor`` blocks of one jet (C, H, W) in GeV (energy conserving), for a legible view.

    A 125 x 125 jet lights a few dozen of its 15,625 pixels: at screen size they are one-pixel specks.
    Returns the pooled image and its pixel centres (the mean of the fine centres in each block); a size
    that ``factor`` does not divide is cropped symmetrically first.
    """
    img = as_numpy(image)
    if factor <= 1:
        return img, pixel_axis(img.shape[-1])
    size = img.shape[-1]
    keep = (size // factor) * factor
    lo = (size - keep) // 2
    crop = img[:, lo : lo + keep, lo : lo + keep]
    n = keep // factor
    pooled = crop.reshape(img.shape[0], n, factor, n, factor).sum(axis=(2, 4))
    axis = pixel_axis(size)[lo : lo + keep].reshape(n, factor).mean(axis=1)
    return pooled, axis


def class_means(x: torch.Tensor | np.ndarray, y: np.ndarray | torch.Tensor) -> dict[str, np.ndarray]:
    """The average (C, H, W) image of each class present in ``y``, keyed 'quark' / 'gluon' / 'unlabelled'."""
    arr, labels = as_numpy(x), np.asarray(as_numpy(y)).astype(np.int64)
    return {label_name(k): arr[labels == k].mean(axis=0) for k in VALID_LABELS if (labels == k).any()}


def class_average_images(
    means: Mapping[str, np.ndarray], log: bool = True, channel_names: Sequence[str] = CHANNELS
) -> go.Figure:
    """Average image per class (rows) and channel (columns); one colour scale per channel, shared by the classes."""
    return image_rows(means, log=log, channel_names=channel_names, colour_title="<pT> [GeV]")


def image_rows(
    images: Mapping[str, np.ndarray | torch.Tensor],
    log: bool = True,
    channel_names: Sequence[str] = CHANNELS,
    colour_title: str = "pT [GeV]",
    title: str | None = None,
) -> go.Figure:
    """Named images (C, H, W) in GeV as rows, channels as columns; one colour scale per channel shared by the rows,
    so a real and a generated (or reconstructed) jet are read on the same scale. Axis titles and tick labels on the
    bottom row and the first column only (every panel has the same axes), so a row's panel titles never sit on
    the axis labels of the row above, and a new tab measures half the text."""
    names = list(images)
    if not names:
        raise ValueError("image_rows needs at least one image")
    arrays = [as_numpy(images[name]) for name in names]
    n_ch, size = arrays[0].shape[0], arrays[0].shape[-1]
    axis = pixel_axis(size)
    titles = [f"{name}: {channel_names[c]}" for name in names for c in range(n_ch)]
    fig = make_subplots(
        rows=len(names), cols=n_ch, subplot_titles=titles, horizontal_spacing=0.14, vertical_spacing=0.08
    )
    what = "mean pT" if colour_title.startswith("<") else "pT"
    for c in range(n_ch):
        values = [_colour_values(a[c], log, floor=1e-6) for a in arrays]
        zmin, zmax = _range(np.stack(values))
        domain_end = fig.layout[f"xaxis{'' if c == 0 else c + 1}"].domain[1]
        for r, z in enumerate(values):
            heat = jet_heatmap(
                z, (zmin, zmax), log, axis, what, domain_end + 0.01, colour_title, showscale=r == 0, name=names[r]
            )
            fig.add_trace(heat, row=r + 1, col=c + 1)
    for k in range(len(names) * n_ch):  # square pixels in every panel; tick labels on the outer panels only
        suffix, last_row, first_col = "" if k == 0 else str(k + 1), k >= (len(names) - 1) * n_ch, k % n_ch == 0
        fig.layout[f"yaxis{suffix}"].update(
            scaleanchor=f"x{suffix}", constrain="domain", range=edges(axis), showticklabels=first_col
        )
        fig.layout[f"xaxis{suffix}"].update(constrain="domain", range=edges(axis), showticklabels=last_row)
    fig.update_xaxes(title_text="Δφ", row=len(names))
    fig.update_yaxes(title_text="Δη", col=1)
    fig.update_layout(
        title=title, height=300 * len(names) + 60, margin={"l": 40, "r": 40, "t": 70 if title else 50, "b": 40}
    )
    return fig


def image_grid(
    x: torch.Tensor | np.ndarray,
    channel: int = 1,
    ncols: int = 4,
    log: bool = True,
    titles: Sequence[str] | None = None,
    title: str | None = None,
    cell_px: int = 150,
    crop: float = 1.0,
) -> go.Figure:
    """A grid of jets (N, C, H, W) in one channel, on one shared colour scale (previews, generated samples).

    ``cell_px``: height of one row in pixels (match it to the width the grid gets on the page). ``crop``: the
    central fraction of each side kept (0.5: the jet core, the central half of Δη and Δφ; R = 0.4 jets sit there).
    """
    arr = as_numpy(x)
    if arr.ndim != 4:
        raise ValueError(f"image_grid expects (N, C, H, W), got shape {arr.shape}")
    arr = _crop_centre(arr, crop)
    n = arr.shape[0]
    if n == 0:
        raise ValueError("image_grid got no images")
    ncols = max(1, min(ncols, n))
    nrows = int(np.ceil(n / ncols))
    values = [_colour_values(arr[i, channel], log) for i in range(n)]
    zmin, zmax = _range(np.stack(values))
    fig = make_subplots(
        rows=nrows,
        cols=ncols,
        subplot_titles=list(titles) if titles else None,
        horizontal_spacing=0.02,
        vertical_spacing=0.06 if titles else 0.02,
    )
    for i, z in enumerate(values):
        add_grid_cell(fig, i, ncols, z, (zmin, zmax), log)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    name = CHANNELS[channel] if channel < len(CHANNELS) else f"channel {channel}"
    fig.update_layout(
        title=title or f"{name} channel",
        height=max(220, cell_px * nrows + 80),
        margin={"l": 20, "r": 20, "t": 60, "b": 20},
    )
    return fig


def _crop_centre(arr: np.ndarray, crop: float) -> np.ndarray:
    """The central ``crop`` fraction of each side of (..., H, W) images (at least 2 pixels); all of it at 1."""
    if crop >= 1.0:
        return arr
    size = arr.shape[-1]
    keep = max(2, int(round(size * crop)))
    lo = (size - keep) // 2
    return arr[..., lo : lo + keep, lo : lo + keep]


def observable_histograms(
    observables: Mapping[str, np.ndarray],
    y: np.ndarray | torch.Tensor,
    keys: Sequence[str] | None = None,
    bins: int = 40,
    ncols: int = 3,
) -> go.Figure:
    """Normalised histograms of jet observables, quark and gluon overlaid, on common bins per observable."""
    labels = np.asarray(as_numpy(y)).astype(np.int64)
    keys = list(keys or observables)
    nrows = int(np.ceil(len(keys) / ncols))
    fig = make_subplots(
        rows=nrows,
        cols=ncols,
        subplot_titles=[OBS_LABELS.get(k, k) for k in keys],
        horizontal_spacing=0.08,
        vertical_spacing=0.14,
    )
    for i, key in enumerate(keys):
        values = np.asarray(observables[key], dtype=np.float64)
        lo, hi = _range(values)
        edges = histogram_edges(values, lo, hi, bins)
        lo, size = float(edges[0]), float(edges[1] - edges[0])
        hi = float(edges[-1]) - size
        for label in VALID_LABELS:
            name = label_name(label)
            sel = values[labels == label]
            if sel.size == 0:
                continue
            fig.add_trace(
                go.Histogram(
                    x=sel,
                    xbins={"start": lo, "end": hi + size, "size": size},
                    histnorm="probability density",
                    name=name,
                    legendgroup=name,
                    showlegend=i == 0,
                    opacity=0.55,
                    marker_color=CLASS_COLOURS[name],
                ),
                row=i // ncols + 1,
                col=i % ncols + 1,
            )
    fig.update_layout(
        barmode="overlay",
        height=260 * nrows + 80,
        margin={"l": 40, "r": 20, "t": 80, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "right", "x": 1},
    )
    fig.update_yaxes(title_text="density", col=1)
    return fig
