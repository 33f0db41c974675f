"""Train: a classical or quantum diffusion model as a background job, watched live, stopped at any time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.data.layout import label_name
from core.jobs import FINISHED, JobLimitError
from core.jobs.training import TrainRequest, directory_zip, start_training
from core.quantum.task import data_qubits
from core.training.registry import TASK_BUILDERS
from core.viz.images import image_grid
from core.viz.training import loss_figure, loss_title, metrics_figure
from pages._common import (
    data_source,
    device_label,
    guard,
    jet_tensors,
    job_manager,
    require_entry,
    session_id,
    show_figure,
    show_table,
)

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


def _request_form(kind: str) -> TrainRequest | None:
    """The form; returns a request when 'Start' is pressed."""
    with st.form("train_form"):
        c1, c2, c3 = st.columns(3)
        if kind == "classical":
            family_label = c1.selectbox(
                "Model", ["seed baseline (SimpleDiffusionCNN, 50 steps)", "U-Net DDPM"], key="train_family"
            )
            family = "seed-baseline" if family_label.startswith("seed") else "ddpm"
            preset = c2.selectbox("U-Net preset", ["tiny", "small", "base"], key="train_preset", help="U-Net only")
            schedule = c3.selectbox(
                "Schedule",
                ["cosine", "linear"],
                key="train_schedule",
                help="U-Net only (the seed baseline keeps its 50-step linear one)",
            )
            size = int(c1.selectbox("Image size", [32, 16, 64], key="train_size"))
            quantum: dict = {}
        else:
            family, preset, schedule = "quantum", "tiny", "linear"
            encoder = c1.selectbox("Encoder", ["amplitude", "frqi"], key="train_q_encoder")
            size = int(
                c2.selectbox(
                    "Image size per channel",
                    [8],
                    key="train_q_size",
                    help="8² = 64 pixels per channel on 6 qubits, or 3 × 8² = 192 on 8 (amplitude) or 9 (FRQI)",
                )
            )
            layout_name = c3.selectbox(
                "Qubit layout",
                ["one state per channel", "3 channels in one state"],
                key="train_q_layout",
                help="amplitude only (FRQI always holds the 3 channels in one state): one state per channel is the "
                "better model in benchmarks/bench_quantum.py",
            )
            layout = "per_channel" if layout_name.startswith("one") and encoder == "amplitude" else "joint"
            layers = int(c1.number_input("Circuit layers", 1, 20, 6, key="train_q_layers"))
            channel = c2.selectbox(
                "Noise channel",
                ["amplitude_damping", "depolarizing", "global_depolarizing"],
                key="train_q_channel",
                help="amplitude damping ends in |0…0⟩, which one ancilla per step can leave; depolarising ends in I/d",
            )
            q_steps = int(c3.number_input("Diffusion steps T", 1, 20, 4, key="train_q_T"))
            ancillas = int(c1.number_input("Ancilla qubits", 0, 3, 1, key="train_q_anc"))
            n_qubits = data_qubits(encoder, size, layout)
            st.caption(
                f"{n_qubits} data qubits"
                + (" per channel state" if layout == "per_channel" else "")
                + f" + {ancillas} ancilla(s); "
                + (
                    "the three channel energies of each jet stay classical numbers (drawn per class when sampling)."
                    if encoder == "amplitude"
                    else "the energy scale of each jet stays a classical number."
                )
            )
            quantum = {
                "encoder": encoder,
                "size": size,
                "layers": layers,
                "channel": channel,
                "steps": q_steps,
                "ancillas": ancillas,
                "layout": layout,
            }
        max_steps = limits.max_steps or 100_000
        steps = int(
            c2.number_input(
                f"Training steps (≤ {max_steps:,} here)", 1, int(max_steps), min(200, int(max_steps)), key="train_steps"
            )
        )
        batch = int(c3.number_input("Batch size", 1, 512, 32, key="train_batch"))
        lr = float(c1.number_input("Learning rate", 1e-6, 1e-1, 5e-4, format="%.0e", key="train_lr"))
        jets = int(c2.number_input("Jets used (seeded subset)", 20, 100_000, 2000, step=100, key="train_jets"))
        every = int(c3.number_input("Metrics and preview every … steps (0: never)", 0, 100_000, 50, key="train_every"))
        submitted = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")
    if not submitted:
        return None
    req = TrainRequest(
        family=family,
        size=size if kind == "classical" else 32,
        steps=steps,
        batch_size=batch,
        lr=lr,
        preset=preset,
        schedule=schedule,
        quantum=quantum,
        metrics_every=every,
        preview_every=every,
    )
    st.session_state["train_jets_used"] = jets
    return req


def _start(req: TrainRequest) -> None:
    jets = int(st.session_state.get("train_jets_used", 2000))
    x, y = jet_tensors(req.size, max_jets=jets)
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
        st.error(f"Training failed: {job.error}")
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
    kind = st.radio("Model kind", ["classical", "quantum"], horizontal=True, key="train_kind", disabled=running)
    if data_source() is None:
        pass  # the data set's problem is shown; training waits for a usable one
    elif kind == "quantum" and "quantum" not in TASK_BUILDERS:
        st.warning("The quantum model is not registered in this build (core.training.registry); train a classical one.")
    else:
        req = _request_form(kind)
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
