"""The physics distances over several splits of the real jets: how far one split's verdict can be trusted.

``evaluate`` compares the generated jets with one half of the real jets, and that half with the other (the
floor). Both numbers move with the split: on the shipped quantum model's 2,000 jets against the 4,000 held-out
ones, the whole-image mass was 4.6x its floor on one split and 1.2x on another, and the ratio of a W1 to a
floor that happens to be small runs away. Here each split (seed) draws its own halves of the same real
jets; each W1 and FPD row gets the mean model value, the mean floor, their ratio (a goal "within k x the floor"
is judged on it) and the range of the per-split ratios.
"""

from __future__ import annotations

import numpy as np
import torch

from core.errors import JetInputError
from core.metrics.report import MetricRow, evaluate_sets, text_table


def rows_over_splits(
    real: torch.Tensor, generated: torch.Tensor, seeds: list[int], max_jets: int | None = None
) -> list[dict]:
    """For each FPD and W1 row of ``evaluate_sets`` (no classifier, no two-sample AUCs), over the splits of
    ``seeds``: metric, unit, per-split model and floor values, their means, the ratio of the means and the
    smallest and largest per-split ratio."""
    if len(seeds) < 2:
        raise JetInputError(f"splits: need at least 2 splits of the real jets, got {len(seeds)}")
    per_split: list[list[MetricRow]] = []
    for seed in seeds:
        report = evaluate_sets(real, generated, classifier=False, two_sample=False, max_jets=max_jets, seed=seed)
        per_split.append([r for r in report.rows if r.metric.startswith(("W1", "FPD"))])
    out = []
    for i, first in enumerate(per_split[0]):
        model = np.array([rows[i].model for rows in per_split], dtype=float)
        floor = np.array([rows[i].floor for rows in per_split], dtype=float)
        ratios = model / np.where(floor > 0, floor, np.nan)
        mean_floor = float(floor.mean())
        out.append(
            {
                "metric": first.metric,
                "unit": first.unit,
                "model": model.tolist(),
                "floor": floor.tolist(),
                "model_mean": float(model.mean()),
                "floor_mean": mean_floor,
                "ratio_of_means": float(model.mean() / mean_floor) if mean_floor > 0 else float("inf"),
                "ratio_min": float(np.nanmin(ratios)) if np.isfinite(ratios).any() else float("nan"),
                "ratio_max": float(np.nanmax(ratios)) if np.isfinite(ratios).any() else float("nan"),
            }
        )
    return out


def format_splits(rows: list[dict]) -> str:
    """The table: metric | model (mean) | floor (mean) | ratio of means | per-split ratios (min - max)."""
    body = [("metric", "model (mean)", "floor (mean)", "ratio of means", "per split", "unit")]
    for r in rows:
        spread = f"{r['ratio_min']:.2f} - {r['ratio_max']:.2f}" if np.isfinite(r["ratio_min"]) else "-"
        body.append(
            (r["metric"], f"{r['model_mean']:.4g}", f"{r['floor_mean']:.4g}", f"{r['ratio_of_means']:.2f}x", spread,
             r["unit"])
        )  # fmt: skip
    return text_table(body)
