"""Runs: the shipped checkpoints, this session's runs and command-line runs side by side (TensorBoard-style):
their config and metrics in one table, loss and metric curves overlaid, samples in one grid at one step."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from core.data.layout import CHANNELS
from core.hosting import hosted
from core.viz.runs import find_runs, load_preview, overlay_figure, preview_at, read_run, runs_grid, runs_table
from pages._common import CHECKPOINTS, ROOT, device, guard, require_entry, session_id, show_figure, show_table

require_entry()
st.title("Runs")
st.caption(
    "Every run with a checkpoint: shipped (checkpoints/), trained from the Train page (in hosted mode only your own) and "
    "command-line runs under runs/ (`python -m core train --out runs/NAME`, or the folder in $JETLAB_CLI_RUNS). "
    "Choose two or more to overlay their curves and compare their samples at one step."
)
SAMPLE_N = 8


@st.cache_data(ttl=5, show_spinner=False)
def _runs(session: str):
    from core.jobs.training import session_runs

    cli = os.environ.get("JETLAB_CLI_RUNS") or str(ROOT / "runs")
    found = find_runs(CHECKPOINTS, "shipped", depth=1)
    found += [r for r in (read_run(p, "trained here") for p in session_runs(session)) if r is not None]
    if not hosted():  # a hosted dashboard shows a visitor only the shipped runs and their own
        found += find_runs(cli, "command line", depth=2)
    return found


@st.cache_resource(show_spinner="Sampling the final weights…", max_entries=8)
def _final_samples(path: str, stamp: float):
    from core.training.checkpoint import load_checkpoint
    from core.training.sampling import sample_images

    ckpt = load_checkpoint(path)
    label = "mixed" if ckpt.task.conditional else None
    sampler_steps = None if ckpt.task.default_sampler_steps is None else 10
    return sample_images(ckpt, SAMPLE_N, sampler_steps=sampler_steps, label=label, seed=0, device=device())


def _samples_at(runs, step: int) -> tuple[dict, list[str]]:
    """Each run's samples at the global step: its saved preview at or before it, else the final weights once the
    step has reached the run's last one; the runs with neither are named in the second list."""
    out, missing = {}, []
    for r in runs:
        saved = preview_at(r, step)
        if saved is not None:
            out[f"{r.name} @ {saved[0]:,}"] = load_preview(saved[1])[0]
        elif step >= r.step:
            out[f"{r.name} @ {r.step:,} (final)"] = _final_samples(
                str(r.path), (r.path / "config.json").stat().st_mtime
            )
        else:
            missing.append(r.name)
    return out, missing


with guard("the Runs page"):
    runs = _runs(session_id())
    if not runs:
        st.info("No run found: the shipped checkpoints are missing and no run has been trained yet (Train page).")
    else:
        table = pd.DataFrame(runs_table(runs))
        show_table(table, "runs", key="runs_table")
        st.caption(
            "final loss: mean of the last 50 steps (the quantum loss is an infidelity + MMD, not an MSE: compare "
            "losses within a family only). Metric columns come from each run's model card or its last "
            "interval; each '…: real vs real' column is that metric between two halves of the real jets."
        )
        by_name = {f"{r.name} ({r.source})": r for r in runs}
        default = list(by_name)[:2]
        chosen = st.multiselect("Runs to compare", list(by_name), default=default, key="runs_chosen")
        picked = [by_name[k] for k in chosen]
        if len(picked) >= 1:
            top = max(r.step for r in picked)
            c1, c2 = st.columns([3, 1])
            step = int(c1.slider("Step (all runs)", 0, max(1, top), max(1, top), key="runs_step"))
            channel = c2.radio("Channel", CHANNELS, index=1, horizontal=True, key="runs_channel")
            show_figure(overlay_figure(picked, step), "runs_curves", key="runs_curves")
            samples, missing = _samples_at(picked, step)
            if samples:
                show_figure(runs_grid(samples, CHANNELS.index(channel), SAMPLE_N), "runs_samples", key="runs_grid")
                st.caption(
                    "A row per run: its preview saved at the latest step at or before the chosen one, or samples of "
                    "its final weights once the step reaches its end (shipped runs keep only those). Log colour, GeV."
                )
            if missing:
                st.caption(f"No samples saved by step {step:,} for: {', '.join(missing)}.")
