"""Runs: the shipped checkpoints, this session's runs and command-line runs side by side (TensorBoard-style):
their config and metrics in one table, loss and metric curves overlaid, samples in one grid at one step."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from core.cache import array_digest
from core.data.layout import CHANNELS
from core.hosting import hosted
from core.jobs import JobLimitError, read_status
from core.jobs.finals import SAMPLE_N, finals_argv, finals_request, finished_finals, load_finals, model_key, run_name
from core.jobs.runner import new_run_id
from core.jobs.training import runs_dir
from core.viz.runs import find_runs, load_preview, overlay_figure, preview_at, read_run, runs_grid, runs_table
from pages._common import (
    CHECKPOINTS,
    ROOT,
    byte_cache,
    cached_figure,
    guard,
    job_manager,
    job_progress,
    public_message,
    require_entry,
    run_in_url,
    session_id,
    show_figure,
    show_table,
)

require_entry()
st.title("Runs")
st.caption(
    "Every run with a checkpoint: shipped (checkpoints/), trained from the Train page (in hosted mode only your own) and "
    "command-line runs under runs/ (`python -m core train --out runs/NAME`, or the folder in $JETLAB_CLI_RUNS). "
    "Choose two or more to overlay their curves and compare their samples at one step."
)


@st.cache_resource(ttl=60, show_spinner=False)
def _shipped_runs() -> list:
    """The shipped checkpoints' runs, read once a minute for every visitor (their configs are megabytes of JSON)."""
    return find_runs(CHECKPOINTS, "shipped", depth=1)


@st.cache_data(ttl=5, show_spinner=False)
def _runs(session: str):
    from core.jobs.training import session_runs

    cli = os.environ.get("JETLAB_CLI_RUNS") or str(ROOT / "runs")
    found = list(_shipped_runs())
    found += [r for r in (read_run(p, "trained here") for p in session_runs(session)) if r is not None]
    if not hosted():  # a hosted dashboard shows a visitor only the shipped runs and their own
        found += find_runs(cli, "command line", depth=2)
    return found


def _final_samples(paths: list[str]) -> dict:
    """Samples of each checkpoint's final weights that finished jobs hold, by path. The others are sampled by a
    job of their own process (started here, its progress shown while it runs): the server loads no weights."""
    if not paths:
        return {}
    keys = {p: model_key(p) for p in paths}
    found = finished_finals(runs_dir(), list(keys.values()))
    missing = [p for p in paths if keys[p] not in found]
    if missing:
        try:
            _finals_job(finals_request(missing))
        except JobLimitError as err:
            st.error(f"Samples of the final weights: {err}")
    cache = byte_cache("finals", 32)
    return {
        p: cache.get_or_make((k, str(found[k])), lambda k=k: load_finals(found[k], [k])[k])
        for p, k in keys.items()
        if k in found
    }


def _finals_job(request: dict) -> None:
    """The job sampling ``request``'s checkpoints: the one in the URL (a reload finds it), else a new one."""
    run_dir = run_in_url("finals", "finals")
    if run_dir is not None and read_status(run_dir).request.get("key") != request["key"]:
        run_dir = None  # the URL names the job of another selection
    again = run_dir is not None and read_status(run_dir).state not in ("running", "finished")
    if again and st.button("Sample the final weights again", key="runs_finals_again", icon=":material/replay:"):
        run_dir = None
    if run_dir is None:
        table = job_manager()
        path = runs_dir() / new_run_id(run_name(request))
        run_dir = table.start(session_id(), "finals", finals_argv(table.threads_per_job()), path, request).run_dir
        st.query_params["finals"] = run_dir.name
    running = read_status(run_dir).running
    st.fragment(job_progress, run_every=1.0 if running else None)(run_dir, "runs_finals", "Sampling the final weights")


def _samples_at(runs, step: int) -> tuple[dict, list[str]]:
    """Each run's samples at the global step: its saved preview at or before it, else the final weights once the
    step has reached the run's last one; the runs with neither (or whose final samples are not ready) are named
    in the second list."""
    saved = [preview_at(r, step) for r in runs]
    finals = {str(r.path) for r, s in zip(runs, saved, strict=True) if s is None and step >= r.step}
    sampled = _final_samples(sorted(finals))
    out, missing = {}, []
    for r, s in zip(runs, saved, strict=True):
        final = sampled.get(str(r.path))
        if s is not None:
            out[f"{r.name} @ {s[0]:,}"] = load_preview(s[1])[0]
        elif isinstance(final, str):
            st.warning(f"No samples of {r.name}'s final weights: {public_message(final)}")
        elif final is not None:
            out[f"{r.name} @ {r.step:,} (final)"] = final
        elif str(r.path) not in finals:
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
            if st.session_state.get("runs_step", 0) > max(1, top):  # a longer run was dropped from the choice
                st.session_state["runs_step"] = max(1, top)
            c1, c2 = st.columns([3, 1])
            step = int(c1.slider("Step (all runs)", 0, max(1, top), max(1, top), key="runs_step"))
            channel = c2.radio("Channel", CHANNELS, index=1, horizontal=True, key="runs_channel")
            curves = tuple((str(r.path), r.step, len(r.losses), len(r.metrics)) for r in picked)  # a live run grows
            fig = cached_figure(("runs_curves", curves, step), lambda: overlay_figure(picked, step))
            show_figure(fig, "runs_curves", key="runs_curves")
            samples, missing = _samples_at(picked, step)
            if samples:
                index = CHANNELS.index(channel)
                key = ("runs_grid", tuple((name, array_digest(a[:SAMPLE_N])) for name, a in samples.items()), index)
                fig = cached_figure(key, lambda: runs_grid(samples, index, SAMPLE_N))
                show_figure(fig, "runs_samples", key="runs_grid")
                st.caption(
                    "A row per run: its preview saved at the latest step at or before the chosen one, or samples of "
                    "its final weights once the step reaches its end (shipped runs keep only those). Log colour, GeV."
                )
            if missing:
                st.caption(f"No samples saved by step {step:,} for: {', '.join(missing)}.")
