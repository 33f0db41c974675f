"""Train: a classical or quantum diffusion model as a background job, watched live, stopped at any time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.data.layout import label_name
from core.errors import JetInputError
from core.jobs import FINISHED, JobLimitError
from core.jobs.training import directory_zip, start_training
from core.requests import TrainRequest
from core.training.registry import TASK_BUILDERS, family_module, family_title, train_options
from core.viz.images import image_grid
from core.viz.training import loss_figure, loss_title, metrics_figure
from pages._common import (
    data_source,
    device_label,
    guard,
    jet_tensors,
    job_manager,
    public_message,
    require_entry,
    session_id,
    show_figure,
    show_table,
)
from pages._forms import field_widget

require_entry()
st.title("Train")
st.caption(
    "Training runs in the background: switch pages or reload and it keeps going. One job per browser session. "
    "SSIM and PSNR score one-step reconstructions of held-out jets (how well the network denoises); "
    "the set distance compares a few generated jets with the held-out ones. Dashed: the score of an empty "
    "image, the trivial reconstruction a model has to beat on sparse jets."
)

manager = job_manager()
owner = session_id()
limits = manager.limits


PAGE_DEFAULTS = {"max_jets": 2000, "metrics_every": 50}  # a hosted page trains on a subset and watches it


def _family_options(family: str) -> dict:
    """One widget per request field the family reads (``TRAIN_OPTIONS`` of its module), three per row."""
    names = train_options(family)
    cols = st.columns(3)
    return {
        name: field_widget(cols[i % 3], TrainRequest, name, key=f"train_{family}_{name}")
        for i, name in enumerate(names)
    }


def _common_options() -> dict:
    """The fields every family shares: steps (capped by the server's limit), batch, learning rate, jets, metrics."""
    cols = st.columns(3)
    max_steps = limits.max_steps or 100_000
    steps_default = min(TrainRequest.steps, int(max_steps))
    out = {
        "steps": field_widget(
            cols[0], TrainRequest, "steps", "train_steps", steps_default, f"Training steps (≤ {max_steps:,} here)"
        ),
        "batch_size": field_widget(cols[1], TrainRequest, "batch_size", "train_batch"),
        "lr": field_widget(cols[2], TrainRequest, "lr", "train_lr"),
        "max_jets": field_widget(cols[0], TrainRequest, "max_jets", "train_jets", PAGE_DEFAULTS["max_jets"]),
        "metrics_every": field_widget(
            cols[1], TrainRequest, "metrics_every", "train_every", PAGE_DEFAULTS["metrics_every"],
            "Metrics and preview every … steps (0: never)",
        ),
        "seed": field_widget(cols[2], TrainRequest, "seed", "train_seed"),
    }  # fmt: skip
    out["preview_every"] = out["metrics_every"]
    return out


def _request_form(family: str) -> TrainRequest | None:
    """The form; returns the ``TrainRequest`` when 'Start' is pressed (the CLI fills the same fields)."""
    with st.form("train_form"):
        options = _family_options(family)
        summary = getattr(family_module(family), "request_summary", None)
        if summary is not None:
            try:
                st.caption(summary(TrainRequest(family=family, **options)))
            except JetInputError as err:  # e.g. qubits that the encoder cannot hold: say so, keep the form
                st.warning(str(err))
        common = _common_options()
        submitted = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")
    if not submitted:
        return None
    return TrainRequest(family=family, **options, **common)


def _start(req: TrainRequest) -> None:
    x, y = jet_tensors(req.task_config()["size"], max_jets=req.max_jets)
    start_training(manager, owner, req, x, y, data_name=str(st.session_state.get("data_name", "")))
    st.rerun()


def _status_line(job) -> str:
    last = job.last
    step = last.step if last is not None else 0
    total = job.meta.get("total_steps", 0)
    clamp = ""
    if job.meta.get("requested_steps", total) > total:
        clamp = f" (asked {job.meta['requested_steps']:,}; this server allows {total:,})"
    return f"**{job.status}** · step {step:,} of {total:,}{clamp} · {job.elapsed:.0f} s"


def _live_view() -> None:
    job = manager.get(owner)
    if job is None:
        return
    events = list(job.events)
    total = max(1, int(job.meta.get("total_steps", 1)))
    last = events[-1] if events else None
    c1, c2 = st.columns([4, 1])
    c1.progress(min(1.0, (last.step if last else 0) / total), text=_status_line(job))
    if job.running and c2.button("Stop", icon=":material/stop:", key="train_stop"):
        job.stop()
        st.toast("Stopping after the current step; the checkpoint is saved.")
    if job.status == "failed":
        st.error(public_message(f"Training failed: {job.error}"))
    if not events:
        st.info("Preparing data and the model…")
        return
    if last is not None:
        m = st.columns(4)
        m[0].metric("Step", f"{last.step:,}")
        m[1].metric("Loss", f"{last.loss:.4f}")
        m[2].metric("Images / s", f"{last.images_per_s:,.0f}")
        m[3].metric("Epoch", f"{last.epoch:.2f}")
    show_figure(
        loss_figure(
            [e.step for e in events],
            [e.loss for e in events],
            y_title=loss_title(job.meta.get("request", {}).get("family")),
        ),
        "training_loss",
        key="train_loss",
        png=not job.running,
    )
    rows = [{"step": e.step, **e.metrics} for e in events if e.metrics]
    if rows:
        show_figure(metrics_figure(rows), "training_metrics", key="train_metrics", png=not job.running)
    previews = [e for e in events if e.preview is not None]
    if previews:
        p = previews[-1]
        labels = [label_name(v) for v in p.preview_labels] if p.preview_labels is not None else None
        channel = st.radio("Preview channel", ["Tracks", "ECAL", "HCAL"], index=1, horizontal=True, key="train_prev_ch")
        fig = image_grid(
            p.preview,
            channel=["Tracks", "ECAL", "HCAL"].index(channel),
            ncols=8,
            titles=labels,
            title=f"Samples at step {p.step} ({channel}, log colour, GeV)",
        )
        show_figure(fig, "training_preview", key="train_preview", png=not job.running)
    if not job.running and st.session_state.get("train_results_for") != job.id:
        st.rerun()  # the job has ended since the page was drawn: redraw it once (results, downloads)


with guard("the Train page"):
    job = manager.get(owner)
    running = job is not None and job.running
    st.markdown(
        f"Device: **{device_label()}** · limits here: "
        f"{'no step limit' if limits.max_steps is None else f'{limits.max_steps:,} steps'}, "
        f"{'no time limit' if limits.max_seconds is None else f'{limits.max_seconds:.0f} s'} per job, "
        f"{limits.max_concurrent} jobs at once ({manager.running_count()} running)."
    )
    families = sorted(TASK_BUILDERS)
    family = st.selectbox(
        "Model",
        families,
        index=families.index(TrainRequest.family),
        format_func=family_title,
        key="train_family",
        disabled=running,
    )
    if data_source() is not None:  # else the data set's problem is shown; training waits for a usable one
        req = _request_form(family)
        if req is not None:
            if running:
                st.error("A job is already running in this session: stop it first.")
            else:
                try:
                    _start(req)
                except JobLimitError as err:
                    st.error(str(err))

with guard("the live view"):
    job = manager.get(owner)
    if job is not None:
        if job.status in FINISHED:  # this full run draws the results below; the live view need not ask for it
            st.session_state["train_results_for"] = job.id
        st.subheader("Live view")
        st.fragment(_live_view, run_every=1.0 if job.running else None)()

with guard("the results"):
    job = manager.get(owner)
    if job is not None and job.status in FINISHED:
        run_dir = job.meta.get("run_dir")
        last = job.last
        if run_dir and (Path(run_dir) / "config.json").exists():
            st.success(
                f"Checkpoint saved at step {last.step if last else 0:,}: `{run_dir}`. It is listed on the Generate page."
            )
            st.download_button(
                "Download checkpoint (zip)",
                data=lambda: directory_zip(run_dir),
                file_name=f"{Path(run_dir).name}.zip",
                mime="application/zip",
                key="train_zip",
                icon=":material/download:",
                on_click="ignore",
            )
        rows = [{"step": e.step, "loss": e.loss, **(e.metrics or {})} for e in job.events if e.metrics]
        if rows:
            show_table(pd.DataFrame(rows), "training_metrics", key="train_metrics_table")
        if st.button("Clear this run from the page", key="train_forget"):
            manager.forget(owner)
            st.rerun()
