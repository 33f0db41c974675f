"""Train: a classical or quantum diffusion model as a job in its own process, watched live from its run
directory, stopped at any time. The run id sits in the page URL (``?run=...``), so a reload finds the run."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

import core.jobs.training as training
from core.data.layout import label_name
from core.errors import JetInputError
from core.hosting import hosted
from core.jobs import JobLimitError, RunStatus, read_status
from core.jobs.rundir import ENDED, FINISHED, KILLED, RUNNING, STOPPED, TIME_LIMIT, list_runs, load_preview, read_events
from core.jobs.runner import new_run_id
from core.jobs.training import directory_zip
from core.requests import TrainRequest
from core.training.recipes import recipe_note, shipped_recipe
from core.training.registry import TASK_BUILDERS, family_module, family_title, train_options
from core.viz.images import image_grid
from core.viz.tables import metric_table
from core.viz.training import (
    REAL_VS_REAL_NOTE,
    interval_rows,
    interval_table,
    loss_figure,
    loss_title,
    metrics_figure,
)
from pages._common import (
    data_path,
    data_source,
    device,
    device_label,
    guard,
    job_manager,
    public_message,
    require_entry,
    rerun_when_my_job_ends,
    session_id,
    show_figure,
    show_table,
)
from pages._forms import field_widget

require_entry()
st.title("Train")
st.caption(
    "Training runs as a job in its own process (the same code as `python -m core train`): switch pages or "
    "reload and it keeps going; Stop saves a checkpoint. "
    "SSIM and PSNR score one-step reconstructions of held-out jets (how well the network denoises); "
    "the set distance compares a few generated jets with the held-out ones. Dashed: the score of an empty "
    "image, the trivial reconstruction a model has to beat on sparse jets; dotted: real vs real (the metric "
    "with real jets in place of the model's output)."
)

table = job_manager()
owner = session_id()
limits = table.limits
table.touch(owner)


PAGE_DEFAULTS = {"max_jets": 2000, "metrics_every": 50}  # a hosted page trains on a subset and watches it
INTERVAL_VIEW_S = 5.0  # the metrics curves and the preview grid are redrawn this often while a job runs
LOSS_VIEW_S = 3.0  # the loss curve: redrawing a plotly figure costs the visitor's browser far more than the numbers


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


COMMON_KEYS = {"steps": "train_steps", "batch_size": "train_batch", "lr": "train_lr", "seed": "train_seed"}
HIDDEN_FIELDS = ("warmup", "ema", "lr_schedule")  # not on the form; a filled-in recipe brings its own


def _fill_recipe(family: str) -> None:
    """Button callback: the form's fields take the values of the shipped checkpoint's recipe."""
    recipe = shipped_recipe(family)
    if recipe is None:
        return
    req = recipe.request
    for name in train_options(family):
        st.session_state[f"train_{family}_{name}"] = getattr(req, name)
    for name, key in COMMON_KEYS.items():
        st.session_state[key] = getattr(req, name)
    if limits.max_steps is not None:
        st.session_state["train_steps"] = min(req.steps, int(limits.max_steps))
    st.session_state["train_recipe_note"] = recipe_note(recipe, limits.max_steps)
    st.session_state["train_recipe_hidden"] = {"family": family, **{k: getattr(req, k) for k in HIDDEN_FIELDS}}


def _hidden_fields(family: str) -> dict:
    """The recipe's fields the form does not show, when this family's recipe was filled in (else the defaults)."""
    hidden = dict(st.session_state.get("train_recipe_hidden") or {})
    return {k: v for k, v in hidden.items() if k != "family"} if hidden.get("family") == family else {}


def _recipe_button(family: str, busy: bool) -> None:
    """Offer the shipped checkpoint's recipe for this family, and say what was filled in."""
    try:
        recipe = shipped_recipe(family)
    except JetInputError as err:
        st.caption(f"The shipped recipe cannot be read: {err}")
        return
    if recipe is None:
        return
    st.button(
        f"Fill in the recipe of the shipped `{recipe.checkpoint}`",
        key=f"train_recipe_{family}",
        on_click=_fill_recipe,
        args=(family,),
        disabled=busy,
        icon=":material/content_copy:",
    )
    note = st.session_state.pop("train_recipe_note", None)
    if note:
        st.info(note)


def _request_form(family: str, busy: bool) -> TrainRequest | None:
    """The form; returns the ``TrainRequest`` when 'Start' is pressed (the CLI fills the same fields)."""
    _recipe_button(family, busy)
    with st.form("train_form"):
        options = _family_options(family)
        summary = getattr(family_module(family), "request_summary", None)
        if summary is not None:
            try:
                st.caption(summary(TrainRequest(family=family, **options)))
            except JetInputError as err:  # e.g. qubits that the encoder cannot hold: say so, keep the form
                st.warning(str(err))
        common = _common_options()
        hidden = _hidden_fields(family)
        if hidden:
            st.caption("From the shipped recipe, not shown above: " + ", ".join(f"{k} {v}" for k, v in hidden.items()))
        submitted = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:", disabled=busy)
    if not submitted:
        return None
    return TrainRequest(family=family, **options, **common, **hidden)


def _start(req: TrainRequest) -> None:
    """Check the limits, then spawn the command line into a new run directory (no data is read here)."""
    table.check(owner)  # refused before anything is prepared
    steps = limits.clamp_steps(req.steps)
    req = replace(req, data=data_path(), device=device())
    argv = ["core", *training.train_argv(req, steps, limits.max_seconds, table.threads_per_job())]
    request = {**req.to_dict(), "steps": steps, "requested": req.steps, "data_name": st.session_state.get("data_name")}
    run_dir = training.runs_dir() / new_run_id(req.family)
    job = table.start(owner, "train", argv, run_dir, request=request)
    st.query_params["run"] = job.run_id
    st.rerun()


def _status_line(status: RunStatus, elapsed: float) -> str:
    asked = int(status.request.get("requested", status.total) or 0)
    clamp = f" (asked {asked:,}; this server allows {status.total:,})" if asked > status.total else ""
    if status.state == RUNNING:
        word = status.phase or "starting"
    elif status.state in (STOPPED, TIME_LIMIT, KILLED) or status.state not in ENDED:
        word = status.message or status.state
    else:
        word = status.state
    return f"**{word}** · step {status.step:,} of {status.total:,}{clamp} · {elapsed:.0f} s"


def _elapsed(events: list[dict], status: RunStatus) -> float:
    if not events:
        return 0.0
    end = events[-1]["t"] if not status.running else time.time()
    return max(0.0, end - events[0]["t"])


def _live_view(run_dir: Path) -> None:
    status, events = read_status(run_dir), read_events(run_dir)
    table.touch(owner)
    steps = [e for e in events if e["type"] == "step"]
    c1, c2 = st.columns([4, 1])
    c1.progress(min(1.0, status.step / max(1, status.total)), text=_status_line(status, _elapsed(events, status)))
    if status.running and c2.button("Stop", icon=":material/stop:", key="train_stop"):
        table.stop(status.run_id, run_dir)
        st.toast("Stopping after the current step; the checkpoint is saved.")
    if status.state == "failed":
        st.error(public_message(f"Training failed: {status.error or status.message}"))
    if not steps:
        if status.running:
            st.info(f"{(status.phase or 'starting').capitalize()}…")
        return
    _step_numbers(steps[-1])
    if not status.running and st.session_state.get("train_results_for") != status.run_id:
        st.rerun()  # the job has ended since the page was drawn: redraw it once (results, downloads)


def _step_numbers(last: dict) -> None:
    """What changes every step: the numbers (redrawn every second while the job runs)."""
    m = st.columns(4)
    m[0].metric("Step", f"{last['step']:,}")
    m[1].metric("Loss", f"{last['loss']:.4f}")
    m[2].metric("Images / s", f"{last['images_per_s']:,.0f}")
    m[3].metric("Epoch", f"{last['epoch']:.2f}")


def _loss_view(run_dir: Path) -> None:
    """The loss curve; its own fragment, redrawn every few seconds while the job runs (the browser's work to
    redraw a figure every second would take CPU from the job on a small machine)."""
    status = read_status(run_dir)
    steps = [e for e in read_events(run_dir) if e["type"] == "step"]
    if not steps:
        return
    running, family = status.running, status.request.get("family")
    every = max(1, len(steps) // 2000)  # a long run: plot at most ~2000 points
    show_figure(
        loss_figure(
            [e["step"] for e in steps[::every]], [e["loss"] for e in steps[::every]], y_title=loss_title(family)
        ),
        "training_loss",
        key="train_loss",
        png=not running,
    )


def _interval_view(run_dir: Path) -> None:
    """What changes only at the metrics / preview steps: the metrics curves and the preview grid. Its own
    fragment, redrawn every few seconds while the job runs (not every second: the server and the visitor's
    browser draw the heavy preview grid less often, which leaves the job more of the machine)."""
    status, events = read_status(run_dir), read_events(run_dir)
    running = status.running
    rows = [{"step": e["step"], **e["metrics"]} for e in events if e["type"] == "metrics" and e["metrics"]]
    if rows:
        last = [e for e in events if e["type"] == "step"][-1]  # metrics come with their step's event
        show_figure(metrics_figure(rows), "training_metrics", key="train_metrics", png=not running)
        st.caption(f"At step {rows[-1]['step']:,}. {REAL_VS_REAL_NOTE}")
        show_table(metric_table({"model": interval_rows(rows[-1], last["loss"])}), "interval_metrics", key="train_live")
    previews = [e for e in events if e["type"] == "preview"]
    if previews:
        p = previews[-1]
        images, labels = load_preview(run_dir, p["file"])
        names = [label_name(v) for v in labels] if labels is not None else None
        channel = st.radio("Preview channel", ["Tracks", "ECAL", "HCAL"], index=1, horizontal=True, key="train_prev_ch")
        fig = image_grid(
            images,
            channel=["Tracks", "ECAL", "HCAL"].index(channel),
            ncols=8,
            titles=names,
            title=f"Samples at step {p['step']} ({channel}, log colour, GeV)",
        )
        show_figure(fig, "training_preview", key="train_preview", png=not running)


def _results(status: RunStatus) -> None:
    run_dir = status.path
    if status.has_checkpoint:
        st.success(
            f"Checkpoint saved at step {status.step:,}: `{run_dir}`. It is listed on the Generate page."
            + (f" Resume it: `python -m core train --resume --out {run_dir} ...`" if status.state != FINISHED else "")
        )
        st.download_button(
            "Download checkpoint (zip)",
            data=lambda: directory_zip(run_dir),
            file_name=f"{run_dir.name}.zip",
            mime="application/zip",
            key="train_zip",
            icon=":material/download:",
            on_click="ignore",
        )
    events = read_events(run_dir)
    losses = {e["step"]: e["loss"] for e in events if e["type"] == "step"}
    rows = [
        {"step": e["step"], "loss": losses.get(e["step"]), **e["metrics"]} for e in events if e["type"] == "metrics"
    ]
    if rows:
        st.caption(f"Every interval. {REAL_VS_REAL_NOTE}")
        show_table(interval_table(rows), "training_metrics", key="train_metrics_table")
    if st.button("Clear this run from the page", key="train_forget"):
        del st.query_params["run"]
        st.rerun()


def _current_run() -> Path | None:
    """The run named in the URL (?run=...), if it is a run of this server's runs folder."""
    run_id = st.query_params.get("run", "")
    if not run_id or "/" in run_id or run_id.startswith("."):
        return None
    path = training.runs_dir() / run_id
    if not path.is_dir():
        return None
    table.adopt(run_id, owner)  # a reload is a new session: it takes the job over
    return path


def _runs_list() -> None:
    runs = list_runs(training.runs_dir(), kind="train", owner=owner if hosted() else None)
    if not runs:
        return
    st.subheader("Runs")
    rows = [
        {
            "run": r.run_id,
            "model": r.request.get("family") or r.request.get("model", ""),
            "state": r.message if r.state not in (RUNNING, FINISHED) else r.state,
            "step": r.step,
            "of": r.total,
            "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created)),
        }
        for r in runs[:200]
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="train_runs")
    names = [r.run_id for r in runs[:200]]
    current = st.query_params.get("run", "")
    st.session_state["train_run_choice"] = current if current in names else None  # follow the URL, not a stale pick
    st.selectbox("Show run", names, key="train_run_choice", on_change=_open_chosen_run)


def _open_chosen_run() -> None:
    choice = st.session_state.get("train_run_choice")
    if choice:
        st.query_params["run"] = choice


with guard("the Train page"):
    mine = table.running(owner)
    busy = bool(mine)
    st.markdown(
        f"Device: **{device_label()}** · limits here: "
        f"{'no step limit' if limits.max_steps is None else f'{limits.max_steps:,} steps'}, "
        f"{'no time limit' if limits.max_seconds is None else f'{limits.max_seconds:.0f} s'} per job, "
        f"{limits.max_concurrent} jobs at once ({table.running_count()} running), "
        f"{limits.max_per_visitor} per visitor, {table.threads_per_job()} CPU thread(s) each."
    )
    families = sorted(TASK_BUILDERS)
    family = st.selectbox(
        "Model",
        families,
        index=families.index(TrainRequest.family),
        format_func=family_title,
        key="train_family",
        disabled=busy,
    )
    if busy:
        st.caption(f"Your {mine[0].kind} job `{mine[0].run_id}` is running: Start is enabled again when it ends.")
        rerun_when_my_job_ends()
    if data_source() is not None:  # else the data set's problem is shown; training waits for a usable one
        req = _request_form(family, busy)
        if req is not None:
            try:
                _start(req)
            except JobLimitError as err:
                st.error(str(err))
with guard("the live view"):
    run_dir = _current_run()
    if run_dir is not None:
        status = read_status(run_dir)
        if status.state in ENDED:  # this full run draws the results below; the live view need not ask for it
            st.session_state["train_results_for"] = status.run_id
        st.subheader(f"Live view · `{status.run_id}`")
        st.fragment(_live_view, run_every=1.0 if status.running else None)(run_dir)
        st.fragment(_loss_view, run_every=LOSS_VIEW_S if status.running else None)(run_dir)
        st.fragment(_interval_view, run_every=INTERVAL_VIEW_S if status.running else None)(run_dir)

with guard("the results"):
    if run_dir is not None and status.state in ENDED:
        _results(status)

with guard("the runs list"):
    _runs_list()
