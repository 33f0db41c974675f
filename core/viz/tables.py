"""Metric tables as a reader sees them: every number beside its real-vs-real value, and one line on what the
metric means. Pure pandas: rows of ``core.metrics.report.MetricRow`` (or their dicts) in, a DataFrame out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, is_dataclass

import numpy as np
import pandas as pd

# Meaning of a metric, by the start of its name (first match wins).
MEANINGS: tuple[tuple[str, str], ...] = (
    ("FID (jet features", "Fréchet distance of jet-classifier features (64-d): 0 = same distribution"),
    ("KID (jet features", "kernel distance of jet-classifier features; unbiased, so it can dip below 0 by chance"),
    ("FID (Inception", "Fréchet distance of Inception-v3 features (2048-d), biased upwards at small N"),
    ("KID (Inception", "kernel distance of Inception-v3 features; unbiased, can dip below 0 by chance"),
    ("Fréchet distance (observables", "Fréchet distance of the standardised observables at this N: 0 = same"),
    ("training loss", "what the network minimises (its family's objective); compare within a family only"),
    ("FPD", "Fréchet distance of the standardised observables, extrapolated to N → ∞ (can be < 0: read as 0 ± error)"),
    ("W1", "earth mover's distance between real and generated distributions of this observable, in its unit"),
    ("classifier:", "fraction of jets the jet classifier gives the intended class; floor column: real jets"),
    (
        "two-sample AUC",
        "ROC AUC of a classifier trained to tell generated from real jets (k-fold): 0.5 = indistinguishable",
    ),
    ("SSIM", "structural similarity to the clean jet, 1 = identical"),
    ("PSNR", "peak signal-to-noise ratio to the clean jet in dB, higher is closer"),
    ("fidelity (amplitude", "overlap |<a|b>|² of the amplitude-encoded clean and reconstructed jets, 1 = same"),
    ("state fidelity", "fidelity of the model's output state to the encoded clean jet, 1 = same"),
    ("t", "the step the jets were noised to, of the model's T"),
    ("native size", "pixels per side the model works at (scores are taken at the smaller of the two)"),
    ("parameters", "trainable parameters of the model"),
)
FLOOR_TEXT = "real vs real"


def meaning(metric: str) -> str:
    """One line on what ``metric`` measures ('' when unknown)."""
    for start, text in MEANINGS:
        if metric == start or (len(start) > 1 and metric.startswith(start)):
            return text
    return ""


def _as_dict(row) -> dict:
    return asdict(row) if is_dataclass(row) else dict(row)


def _num(v) -> float:
    return float(v) if isinstance(v, (int, float)) and v is not None and np.isfinite(v) else np.nan


def metric_table(reports: Mapping[str, Sequence], with_meaning: bool = True) -> pd.DataFrame:
    """One row per metric; for each model a value column and its real-vs-real column side by side.

    ``reports``: model name -> rows (MetricRow or dicts with metric, model, floor, unit, error, note). A metric
    a model was not measured on is left blank (NaN), never "None"; a "±" column appears only where a model has a
    standard error; "note" explains a negative floor (an unbiased or extrapolated estimate of zero).
    """
    table: dict[str, dict] = {}
    multi = len(reports) > 1
    for name, rows in reports.items():
        for r in map(_as_dict, rows):
            row = table.setdefault(r["metric"], {"metric": r["metric"], "unit": r.get("unit", "")})
            value_col = name if multi else "model"
            floor_col = f"{name}: {FLOOR_TEXT}" if multi else f"floor ({FLOOR_TEXT})"
            row[value_col] = _num(r.get("model"))
            row[floor_col] = _num(r.get("floor"))
            if r.get("error") is not None:
                row[f"± {name}" if multi else "± (1 s.e.)"] = _num(r.get("error"))
            notes = [r.get("note", "")] if r.get("note") else []
            if np.isfinite(row[floor_col]) and row[floor_col] < 0:
                notes.append("floor < 0: an estimate of 0")
            if notes:
                row["note"] = "; ".join(dict.fromkeys(filter(None, [row.get("note", ""), *notes])))
            if with_meaning:
                row["meaning"] = meaning(r["metric"])
    df = pd.DataFrame(list(table.values()))
    if "note" in df:
        df["note"] = df["note"].fillna("")
    for col in ("unit", "note"):  # an empty text column only widens the table
        if col in df and not df[col].fillna("").astype(str).str.len().any():
            df = df.drop(columns=col)
    last = [c for c in ("unit", "note", "meaning") if c in df]
    return df[["metric"] + [c for c in df if c not in ("metric", *last)] + last]


def blank_note(df: pd.DataFrame) -> str:
    """A sentence for the caption when some cells are blank (a metric one of the models was not measured on)."""
    values = df.drop(columns=[c for c in ("metric", "unit", "note", "meaning") if c in df])
    if not values.isna().to_numpy().any():
        return ""
    return (
        "A blank cell: the metric was not measured for that model (no standard error, or a metric that needs "
        "class labels, or the jet classifier, which reads images of at least its own 32 × 32)."
    )


SMALL_IMAGE_CAVEAT = (
    "At 8 × 8 (one pixel = 0.22 in η and φ) a jet lights only a few pixels: its mass, width and pTD are coarse "
    "(a handful of values), so read their distances with care; pT and the channel fractions stay exact "
    "(sum pooling conserves energy)."
)


def reconstruction_table(rows: Sequence[Mapping]) -> pd.DataFrame:
    """Per-model rows (``core.metrics.compare.compare_rows``) turned long: one row per quantity, one column per
    model, so the table fits the page however many channels it scores. Numbers are shown to 4 digits."""
    if not rows:
        return pd.DataFrame({"quantity": []})
    names = [str(r.get("model", f"model {i}")) for i, r in enumerate(rows)]
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k != "model"]

    def fmt(v) -> str:
        if isinstance(v, float):
            return f"{v:.4g}" if np.isfinite(v) else ""
        return "" if v is None else f"{v:,}" if isinstance(v, int) else str(v)

    out = {"quantity": keys}
    for name, r in zip(names, rows, strict=True):
        out[name] = [fmt(r.get(k)) for k in keys]
    df = pd.DataFrame(out)
    df["meaning"] = [meaning(k) for k in keys]
    return df
