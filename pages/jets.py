"""Jets: browse the chosen data set one jet at a time, the average quark and gluon images, observable histograms.

The averages cost the server little: the embedded sample's are summed from its stored pixels with its shipped
observable table; a few jets of another file are averaged in place; more run as a job in its own process.

Unlabelled jets (y = -1, e.g. downloaded unconditional samples) are a third class here, shown only when present.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.data.layout import CHANNELS, UNLABELLED, VALID_LABELS, label_from_name, label_name
from core.data.observables import LABELS as OBS_LABELS
from core.jobs import JobLimitError, read_status
from core.jobs.keys import request_key
from core.jobs.overview import finished_overview, load_overview, overview_argv, overview_request, run_name
from core.jobs.runner import new_run_id
from core.jobs.training import runs_dir
from core.viz.images import channel_images, class_average_images, observable_histograms, pool_for_display
from core.viz.stats import class_overview, inline_jets, inline_ok, quick_overview, seeded_subset
from pages._common import (
    byte_cache,
    cached_figure,
    data_name,
    data_path,
    data_source,
    file_stamp,
    guard,
    job_manager,
    job_progress,
    require_entry,
    run_in_url,
    session_id,
    show_figure,
    show_table,
)

require_entry()
st.title("Jets")
st.caption(
    "Quark and gluon jet images: Tracks (charged-particle pT), ECAL and HCAL, in GeV per pixel of "
    "0.0174 × 0.0174 in (η, φ), centred on the jet axis."
)


TABS = ["Average images", "Observable histograms", "Means per class"]


def _quick(src, path: str | None, stamp: float, index: np.ndarray, key: str):
    """The averages when the server can afford them (a file with its observable table, or a few jets), else None."""

    def make():
        quick = quick_overview(src, path, stamp, index)
        if quick is None and inline_ok(src, index.size):
            with st.spinner("Averaging images and computing observables…"):
                quick = class_overview(src, index)
        return quick

    return byte_cache("overview", 64).get_or_make(("quick", key), make)


def _from_job(src, path: str | None, index: np.ndarray):
    """The averages of a selection too large for the server: from its finished job, or the job's progress
    (with Stop), or a button that starts it. None until the job has finished."""
    request = overview_request(path, data_name(), index)
    run_dir = run_in_url("overview", "overview")
    if run_dir is not None and read_status(run_dir).request.get("key") != request["key"]:
        run_dir = None  # the URL names the job of another selection
    run_dir = run_dir or finished_overview(runs_dir(), request)
    if run_dir is None:
        st.info(
            f"Averaging {index.size:,} jets of this file takes more than a second of the server's time, so it runs "
            f"as a job in its own process (the server's job limits apply); up to {inline_jets(src):,} jets are "
            "averaged at once."
        )
        if st.button(f"Average {index.size:,} jets", key="jets_avg_go", icon=":material/play_arrow:"):
            table = job_manager()
            run_dir = runs_dir() / new_run_id(run_name(request))
            job = table.start(session_id(), "overview", overview_argv(table.threads_per_job()), run_dir, request)
            st.query_params["overview"] = job.run_id
            st.rerun()
        return None
    status = read_status(run_dir)
    if status.state != "finished":
        st.fragment(job_progress, run_every=1.0 if status.running else None)(run_dir, "jets_avg", "Averaging")
        return None
    return byte_cache("overview", 64).get_or_make(("job", request["key"]), lambda: load_overview(run_dir))


def _selection(src) -> np.ndarray:
    """Indices of the jets passing the class and pT filters drawn here."""
    c1, c2 = st.columns([1, 2])
    options = ["quark", "gluon"]
    has_unlabelled = bool((src.y == UNLABELLED).any())
    if has_unlabelled:  # e.g. unconditional samples: y = -1, shown as their own class
        options.append(label_name(UNLABELLED))
    classes = c1.pills(
        "Class",
        options,
        selection_mode="multi",
        default=options,
        key="jets_classes_all" if has_unlabelled else "jets_classes",
    )
    chosen = [UNLABELLED if c == label_name(UNLABELLED) else label_from_name(c) for c in classes or []]
    keep = np.isin(src.y, chosen)
    if src.pt is not None:
        lo, hi = float(np.floor(src.pt.min())), float(np.ceil(src.pt.max()))
        if hi <= lo:
            hi = lo + 1.0
        pt_range = c2.slider("Jet pT [GeV]", lo, hi, (lo, hi), step=1.0, key="jets_pt")
        keep &= (src.pt >= pt_range[0]) & (src.pt <= pt_range[1])
    else:
        c2.caption("This file stores no jet pT: the pT filter is off.")
    return np.flatnonzero(keep)


@st.fragment
def _one_jet(src, index: np.ndarray) -> None:
    """One jet at a time; a fragment, so its widgets rerun only this part, not the averages below."""
    with guard("the single-jet view"):
        c1, c2, c3 = st.columns([3, 1, 1])
        pos = c1.slider("Jet", 1, int(index.size), 1, key="jets_pos") if index.size > 1 else 1
        log = c2.radio("Colour scale", ["linear", "log"], index=1, horizontal=True, key="jets_log") == "log"
        i = int(index[pos - 1])
        image = src.images([i])[0].transpose(2, 0, 1)
        factor = 5 if src.image_size == 125 else (2 if src.image_size >= 64 else 1)
        coarse = f"{src.image_size // factor}² (sums of {factor}×{factor})"
        shown = (
            c3.radio(
                "Pixels shown",
                [coarse, f"native {src.image_size}²"],
                key="jets_pool",
                help="A jet lights a few dozen of its pixels: summing blocks (energy conserving) makes them "
                "legible; the native view shows every detector cell.",
            )
            if factor > 1
            else "native"
        )
        label = label_name(src.y[i])
        cols = st.columns(5)
        cols[0].metric("Class", label)
        cols[1].metric("File index", f"{i}")
        if src.pt is not None:
            cols[2].metric("Jet pT", f"{float(src.pt[i]):.1f} GeV")
        if src.m0 is not None:
            cols[3].metric("Jet mass", f"{float(src.m0[i]):.1f} GeV")
        cols[4].metric("Σ pT (ECAL+HCAL)", f"{float(image[1:].sum()):.1f} GeV")

        def build():
            pooled, axis = pool_for_display(image, factor if shown == coarse else 1)
            return channel_images(pooled, log=log, title=f"jet {i} ({label}), {shown}", axis=axis, height=440)

        path = data_path()
        fig = cached_figure(("jet_one", path, file_stamp(path), i, log, shown), build)
        show_figure(fig, f"jet_{i}_channels", key="jet_one")


@st.cache_resource(show_spinner=False, max_entries=16)
def _average_figure(key: str, log: bool, _means: dict):
    return class_average_images(_means, log=log)


@st.fragment
def _averages(src, index: np.ndarray) -> None:
    """Average images, histograms and means of a seeded subset; a fragment with its own widgets."""
    with guard("the averages"):
        n_max = int(index.size)
        n_default = min(500, n_max)
        n_use = (
            st.slider("Jets used (a seeded random subset)", min(50, n_max), n_max, n_default, key="jets_n")
            if n_max > 50
            else n_max
        )
        path, subset = data_path(), seeded_subset(index, n_use, seed=0)
        key = request_key({"index": subset.tolist()}, [path])
        result = _quick(src, path, file_stamp(path), subset, key)
        if result is None:
            try:
                result = _from_job(src, path, subset)
            except JobLimitError as err:
                st.error(str(err))
        if result is None:
            return
        means, obs, y = result
        # Lazy tabs: only the open one is drawn and sent, so the first page carries one figure here, not three.
        images, histograms, table = st.tabs(TABS, key="jets_avg_tab", on_change="rerun")
        if images.open:
            with images:
                log_avg = st.toggle("Log colour scale for the averages", value=True, key="jets_avg_log")
                show_figure(_average_figure(key, log_avg, means), "average_images", key="jets_avg")
        if histograms.open:
            with histograms:
                show_figure(observable_histograms(obs, y), "observables_by_class", key="jets_hist")
        if table.open:
            with table:
                st.caption("Mean of each observable per class (" + ", ".join(CHANNELS) + " images).")
                show_table(_means_table(obs, y), "observable_means", key="jets_means")


def _means_table(obs: dict[str, np.ndarray], y: np.ndarray) -> pd.DataFrame:
    rows = []
    for k in VALID_LABELS:
        sel = y == k
        if sel.any():
            rows.append(
                {
                    "class": label_name(k),
                    "jets": int(sel.sum()),
                    **{OBS_LABELS.get(key, key): float(np.mean(v[sel])) for key, v in obs.items()},
                }
            )
    return pd.DataFrame(rows)


with guard("the Jets page"):
    src = data_source()
    if src is not None:
        index = _selection(src)
        st.write(f"**{index.size:,}** of {len(src):,} jets pass the filters.")
        if index.size == 0:
            st.warning("No jet passes these filters: widen the pT range or pick a class.")
        else:
            st.subheader("One jet at a time")
            _one_jet(src, index)
            st.subheader("Average image and observables per class")
            _averages(src, index)
