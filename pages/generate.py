"""Generate: sample jets from a shipped or freshly trained checkpoint, watch the reverse process, and measure
the samples against real jets beside the real-vs-real floor. Sampling and the measurement run as a job in its
own process (``core.jobs.sampling``); the page reads its run directory (``?run=...`` in the URL)."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import streamlit as st

import core.jobs.training as training
from core.data.layout import CHANNELS, label_name
from core.diffusion.samplers import SAMPLERS, network_evaluations
from core.hosting import hosted
from core.jobs import JobLimitError, read_status
from core.jobs.rundir import ENDED, read_events
from core.jobs.runner import new_run_id
from core.jobs.sampling import SampleResult, load_report, load_result, sample_argv
from core.requests import SampleRequest, help_of
from core.training.checkpoint import load_checkpoint
from core.training.task import describe
from core.viz.evaluation import observables_overlay
from core.viz.export import samples_h5
from core.viz.generation import distance_figure, reverse_animation, swipe_figure, trajectory_figure
from core.viz.images import image_grid, image_rows
from core.viz.tables import SMALL_IMAGE_CAVEAT, blank_note, metric_table
from pages._common import (
    byte_cache,
    data_path,
    device,
    guard,
    jet_tensors,
    job_manager,
    model_checkpoints,
    public_message,
    require_entry,
    rerun_when_my_job_ends,
    session_id,
    show_figure,
    show_table,
)

require_entry()
st.title("Generate")
st.caption(
    "Sample jets from a checkpoint. SSIM and PSNR do not apply to unconditional samples (there is no "
    "matching real jet); the samples are judged by set distances to real jets, each beside its floor: "
    "the same distance between two halves of the real jets, of the same size."
)

table = job_manager()
owner = session_id()  # the same visitor as on the Train page: the limit counts both kinds of job
table.touch(owner)
CUSTOM = "a checkpoint directory on the server…"


def _checkpoint(path: str, stamp: float):
    """The checkpoint, for its description (the sampling job loads its own copy); cached within a byte budget."""

    def load():
        with st.spinner("Loading the checkpoint…"):
            return load_checkpoint(path)

    return byte_cache("checkpoints", 256).get_or_make((path, stamp), load)


def _stamp(path: str) -> float:
    p = Path(path) / "config.json"
    return p.stat().st_mtime if p.exists() else 0.0


def _result(run_dir: str, stamp: float) -> SampleResult | None:
    return byte_cache("samples", 256).get_or_make((run_dir, stamp), lambda: load_result(run_dir))


def _choices() -> dict[str, str]:
    out = model_checkpoints()
    if not hosted():  # a hosted dashboard offers no server paths: shipped checkpoints and this session's runs only
        out[CUSTOM] = ""
    return out


def _result_view(result: SampleResult, run_dir: Path) -> None:
    x = result.samples
    st.subheader(f"{len(x)} generated jets ({x.shape[-1]}×{x.shape[-1]}, GeV)")
    _sample_grids(x, result.labels)
    attrs = {"generated_by": result.info.get("checkpoint", ""), "sampler": result.request.sampler}
    st.download_button(
        "Download samples (HDF5, CMS layout)",
        data=lambda: samples_h5(x, result.labels, attrs=attrs),
        file_name="generated_jets.h5",
        mime="application/x-hdf5",
        key="gen_h5",
        icon=":material/download:",
        on_click="ignore",
    )
    _real_vs_generated(x)
    traj = result.trajectory
    if traj is not None:
        st.subheader("Reverse process")
        show_figure(
            reverse_animation(traj.x0, traj.t, 0, result.info.get("alpha_bar")), "reverse_process", key="gen_reverse"
        )
        _trajectory_scrubber(traj, bool(result.info.get("hcal_towers")))
    _distances(run_dir, int(x.shape[-1]))


def _sample_grids(x, labels) -> None:
    """The first 16 samples, a tab per channel, zoomed to the jet core unless the visitor turns it off."""
    titles = None if labels is None else [label_name(v) for v in labels[:16]]
    zoom = st.toggle(
        "Zoom to the jet core (the central half of Δη and Δφ)",
        value=True,
        key="gen_zoom",
        help="R = 0.4 jets deposit nearly all their energy there; off: the whole image, stray deposits included",
    )
    for c, tab in enumerate(st.tabs(list(CHANNELS))):
        with tab:
            show_figure(
                image_grid(
                    x[:16],
                    channel=c,
                    ncols=8,
                    titles=titles,
                    title=f"{CHANNELS[c]} (log colour, GeV)" + (", core" if zoom else ""),
                    cell_px=150,
                    crop=0.5 if zoom else 1.0,
                ),
                f"samples_{CHANNELS[c]}",
                key=f"gen_grid_{c}",
            )


def _distances(run_dir: Path, size: int) -> None:
    """The job's measurement against real jets: the metric table with floors, distances and observables."""
    st.subheader("Physics distances to real jets, with their floor")
    report = load_report(run_dir)
    if report is None:
        st.info("This run was not measured against real jets.")
        return
    metrics = metric_table({"model": report.rows})
    show_table(metrics, "generation_metrics", key="gen_table")
    st.caption(
        f"N = {report.info.get('n')} jets per set. Beside each number, the real-vs-real floor: "
        f"{report.info.get('floor', 'the same metric between two halves of the real jets')}. " + blank_note(metrics)
    )
    if size <= 8:
        st.caption(SMALL_IMAGE_CAVEAT)
    w1 = [asdict(r) for r in report.rows if r.metric.startswith(("W1", "FPD", "FID"))]
    show_figure(distance_figure(w1), "generation_distances", key="gen_dist")
    if report.observables_real:
        show_figure(
            observables_overlay(report.observables_real, report.observables_generated),
            "generated_observables",
            key="gen_obs",
        )


@st.fragment
def _real_vs_generated(x) -> None:
    """Mean real and generated images per channel on one colour scale, and a divider to swipe between them
    (a fragment: its controls rerun only this part)."""
    with guard("real vs generated"):
        st.subheader("Real and generated, side by side")
        real, _ = jet_tensors(int(x.shape[-1]), max_jets=max(400, len(x)), seed=1)
        means = {f"real (mean of {len(real)})": real.mean(0), f"generated (mean of {len(x)})": x.mean(0)}
        show_figure(image_rows(means, log=True, colour_title="<pT> [GeV]"), "real_vs_generated", key="gen_rvg")
        c1, c2 = st.columns([1, 3])
        channel = c1.radio("Channel to compare", CHANNELS, index=1, key="gen_swipe_ch")
        what = c1.radio("Images", ["class means", "one jet each"], key="gen_swipe_what")
        k = int(c1.number_input("Jet", 0, len(x) - 1, 0, key="gen_swipe_jet")) if what == "one jet each" else 0
        pair = (real.mean(0), x.mean(0)) if what == "class means" else (real[k], x[k])
        with c2:
            show_figure(swipe_figure(*pair, channel=CHANNELS.index(channel)), "real_generated_swipe", key="gen_swipe")


@st.fragment
def _trajectory_scrubber(traj, hcal_towers: bool = False) -> None:
    """x_t and the network's x0 estimate at every step for one jet of the recorded trajectory (a fragment)."""
    with guard("the denoising trajectory"):
        n = int(traj.x0.shape[1])
        jet = int(st.number_input("Jet of the recorded trajectory", 0, n - 1, 0, key="gen_traj_jet")) if n > 1 else 0
        title = "x_t (model space, HCAL as towers)" if hcal_towers else "x_t (model space)"
        fig = trajectory_figure(traj.xt, traj.x0, traj.t, jet, xt_title=title)
        show_figure(fig, "denoising_trajectory", key="gen_traj")
        st.caption(
            "Drag the slider: top, the state x_t the sampler holds before each step; bottom, its estimate of "
            "the clean jet at that step. Each row keeps one colour range over all steps."
            + (
                " This model draws HCAL as towers, each tower's pT at the pixel holding its centre (7 rows and "
                "columns stay empty), so x_t shows HCAL in that layout; the estimate below is spread over the "
                "towers' pixels as the detector does."
                if hcal_towers
                else ""
            )
        )


def _progress(run_dir: Path) -> None:
    status, events = read_status(run_dir), read_events(run_dir)
    table.touch(owner)
    if status.state in ENDED:
        if st.session_state.pop("gen_was_running", False):
            st.rerun()
        if status.state != "finished":
            st.warning(f"Sampling {status.message or status.state}.")
        return
    st.session_state["gen_was_running"] = True
    done = [e for e in events if e["type"] == "progress"]
    n = int(status.request.get("n", 1))
    elapsed = time.time() - events[0]["t"] if events else 0.0
    c1, c2 = st.columns([4, 1])
    text = f"{status.phase or 'starting'}: {done[-1]['done'] if done else 0} of {n} jets · {elapsed:.0f} s"
    c1.progress(min(1.0, (done[-1]["done"] if done else 0) / max(1, n)), text=text)
    if c2.button("Stop", key="gen_stop", icon=":material/stop:"):
        table.stop(status.run_id, run_dir)


def _start(req: SampleRequest, measure: dict) -> None:
    """Check the limits, then spawn the sampling worker into a new run directory (it also measures the jets)."""
    table.check(owner)
    run_dir = training.runs_dir() / new_run_id("sample")
    argv = sample_argv(req, table.threads_per_job())
    job = table.start(owner, "sample", argv, run_dir, request={**req.to_dict(), **measure})
    st.query_params["run"] = job.run_id
    st.rerun()


def _current_run() -> Path | None:
    """The sampling run named in the URL (?run=...)."""
    run_id = st.query_params.get("run", "")
    path = training.runs_dir() / run_id
    if not run_id or "/" in run_id or run_id.startswith(".") or not (path / "request.json").exists():
        return None
    if read_status(path).kind != "sample":
        return None
    table.adopt(run_id, owner)
    return path


with guard("the Generate page"):
    choices = _choices()
    if len(choices) <= (0 if hosted() else 1):
        st.info(
            "No checkpoint is available yet: the shipped ones (checkpoints/) are missing from this build and this "
            "session has trained none. Train one on the Train page"
            + ("." if hosted() else ", or give a checkpoint directory below.")
        )
    choice = st.selectbox("Checkpoint", list(choices), key="gen_choice")
    path = choices.get(choice, "") if choice is not None else ""
    if choice == CUSTOM and not hosted():
        path = st.text_input("Checkpoint directory (config.json + ema.safetensors)", key="gen_path").strip()
    ckpt = None
    if path:
        ckpt = _checkpoint(path, _stamp(path))
        info = describe(ckpt.task)
        card = ckpt.card
        m = st.columns(4)
        m[0].metric("Family", info["family"])
        m[1].metric("Parameters", f"{info['parameters']:,}")
        m[2].metric("Trained steps", f"{ckpt.step:,}")
        m[3].metric("Conditional", "yes" if info["conditional"] else "no")
        if card.get("command"):
            st.caption(f"Re-create: `{card['command']}`")

if ckpt is not None:
    with guard("sampling"):
        task = ckpt.task
        with st.form("gen_form"):
            c1, c2, c3 = st.columns(3)
            names = list(task.samplers)
            sampler = c1.selectbox(
                "Sampler",
                names,
                index=names.index(task.default_sampler) if task.default_sampler in names else 0,
                key="gen_sampler",  # starts at the model's own sampler (fast for the diffusion models)
                help=help_of(SampleRequest, "sampler"),
            )
            sampler_steps = shots = None
            if task.default_sampler_steps is not None:
                sampler_steps = int(
                    c2.number_input(
                        "Sampler steps",
                        1,
                        int(task.timesteps),
                        min(int(task.default_sampler_steps), int(task.timesteps)),
                        key="gen_steps",
                    )
                )
            else:
                c2.caption(f"The model runs its {task.timesteps} trained reverse steps.")
            logsnr_floor = None
            if "fast" in task.samplers and task.default_sampler_steps is not None:
                logsnr_floor = c2.number_input(
                    "Log-SNR floor (fast)",
                    -10.0,
                    5.0,
                    None,
                    0.5,
                    key="gen_logsnr_floor",
                    placeholder="none: from T - 1",
                    help=help_of(SampleRequest, "logsnr_floor")
                    + ". With 14 steps, guidance from t / T = 0.5 and a floor of -3 the shipped U-Net samples at 20 "
                    "network evaluations per jet, within 10 % of DDIM 50 (README, issue 13's goal table).",
                )
            if "shots" in task.readouts:
                shots = c2.selectbox(
                    "Readout shots", [None, 1000, 100], key="gen_shots", format_func=lambda v: "exact" if v is None else str(v),
                    help="exact Born probabilities, or that many measurements per state",
                )  # fmt: skip
            labels = ["mixed", "quark", "gluon", "unconditional"] if task.conditional else ["unconditional"]
            # One widget per capability: a choice made for an unconditional model never carries over to a
            # conditional one (which then starts at "mixed").
            label = c3.selectbox("Label", labels, key=f"gen_label_{'cond' if task.conditional else 'uncond'}")
            own = float(getattr(task, "default_guidance", 1.0))
            guidance = float(
                c1.number_input(
                    "Guidance weight",
                    0.0,
                    10.0,
                    own,
                    0.5,
                    key=f"gen_guidance_{own:g}",  # starts at each model's own weight, never carried over
                    disabled=not task.takes_guidance,
                    help="classifier-free guidance: 0 unconditional, 1 conditional, > 1 sharper classes; starts at "
                    f"the model's own weight ({own:g}, from its config and model card)",
                )
            )
            guidance_from = float(
                c1.number_input(
                    "Guidance from t / T",
                    0.0,
                    0.99,
                    0.0,
                    0.1,
                    key="gen_guidance_from",
                    disabled=not task.takes_guidance,
                    help=help_of(SampleRequest, "guidance_from")
                    + ". The class shows in a jet's coarse shape, drawn early; guiding only then (e.g. 0.3) "
                    "sharpens the classes and leaves the faint deposits, drawn late, to the conditional model.",
                )
            )
            n = int(c2.number_input("Jets", 2, 1024, 64, key="gen_n"))
            seed = int(c3.number_input("Seed", 0, 2**31 - 1, 0, key="gen_seed"))
            busy = bool(table.running(owner))
            go = st.form_submit_button("Generate", type="primary", icon=":material/auto_awesome:", disabled=busy)
        if (
            getattr(task, "schedule", None) is not None
            and sampler_steps is not None
            and sampler in SAMPLERS
            and (logsnr_floor is None or sampler == "fast")
        ):
            guided = task.takes_guidance and label != "unconditional" and guidance not in (0.0, 1.0)
            cost = network_evaluations(
                sampler,
                task.schedule,
                sampler_steps,
                guided,
                guidance_from if guided else 0.0,
                logsnr_floor=logsnr_floor,
            )
            st.caption(f"{cost} network evaluations per jet (a guided step runs the network twice).")
        if busy:
            st.caption("Your job is running: Generate is enabled again when it ends.")
            rerun_when_my_job_ends()
        if go and logsnr_floor is not None and sampler != "fast":
            st.error(f"Log-SNR floor: the fast sampler's option; clear it to sample with {sampler}.")
        elif go:
            req = SampleRequest(
                checkpoint=path,
                n=n,
                sampler=sampler,
                sampler_steps=sampler_steps,
                shots=shots,
                label=None if label == "unconditional" else label,
                guidance=guidance,
                guidance_from=guidance_from if task.takes_guidance else 0.0,
                logsnr_floor=None if logsnr_floor is None else float(logsnr_floor),
                seed=seed,
            )
            req.device = device()
            try:
                _start(req, {"data": data_path(), "n_real": max(400, 2 * n)})
            except JobLimitError as err:
                st.error(str(err))

with guard("the samples"):
    run_dir = _current_run()
    if run_dir is not None:
        status = read_status(run_dir)
        st.fragment(_progress, run_every=1.0 if status.running else None)(run_dir)
        if status.state == "failed":
            st.error(public_message(f"Sampling failed: {status.error or status.message}"))
        elif status.state == "finished":
            result = _result(str(run_dir), status.created)
            if result is not None:
                _result_view(result, run_dir)
