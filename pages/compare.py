"""Compare: a classical and a quantum model on the same jets, noised to the same level, side by side;
then the generation metrics of both. Both measurements run as a job in its own process (``core.jobs.compare``);
the page reads its run directory (``?run=...`` for the reconstructions, ``?gen=...`` for the generation
metrics, in the URL), and a request answered before is shown at once from its finished run."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.errors import JetInputError
from core.jobs import JobLimitError, read_status
from core.jobs.compare import (
    GENERATE,
    RECONSTRUCT,
    CompareRequest,
    compare_argv,
    finished_run,
    load_generation,
    load_reconstructions,
    model_family,
    model_size,
    run_name,
)
from core.jobs.runner import new_run_id
from core.jobs.training import runs_dir
from core.metrics.compare import resolution_note, resolution_options
from core.viz.images import image_rows
from core.viz.tables import SMALL_IMAGE_CAVEAT, blank_note, metric_table, reconstruction_table
from pages._common import (
    byte_cache,
    data_name,
    data_path,
    data_source,
    guard,
    job_manager,
    job_progress,
    model_checkpoints,
    require_entry,
    rerun_when_my_job_ends,
    run_in_url,
    session_id,
    show_figure,
    show_table,
)

require_entry()
st.title("Compare")
st.caption(
    "The same jets, noised to the same fraction f of each model's forward process, reconstructed by a "
    "classical and a quantum model. Scores are taken at the quantum model's resolution (the classical "
    "reconstruction is sum-pooled, conserving energy). The shipped models were trained on all 10,000 jets "
    "of the embedded sample, so its jets are not held out for them: for held-out jets choose another file in "
    "the sidebar (for example `python -m core simulate --jets 500 --seed 7 --out fresh.h5`). "
    "The measurements run as a job in its own process; a request measured before is shown at once."
)

table = job_manager()
owner = session_id()  # the same visitor as on Train and Generate: the limit counts every kind of job
table.touch(owner)


def _models() -> dict[str, str]:
    """Readable checkpoints by label (shipped, then trained here), with their family (read from config.json)."""
    out = {}
    for label, path in model_checkpoints().items():
        try:
            family = model_family(path)
        except JetInputError:  # an unreadable checkpoint is skipped here; Generate reports it
            continue
        out[f"{label} ({family})"] = path
    return out


def _family_of(label: str) -> str:
    return label.rsplit("(", 1)[-1].rstrip(")")


def _default_pair(labels: list[str]) -> tuple[int, int]:
    """Two different families when there are (the classical-vs-quantum view), else the first two models."""
    families = [_family_of(label) for label in labels]
    second = next((i for i, f in enumerate(families) if f != families[0]), min(1, len(labels) - 1))
    return 0, second


def _names(labels: list[str]) -> list[str]:
    """Column names: the families when they differ, else A / B with the family."""
    families = [_family_of(label) for label in labels]
    if len(set(families)) == len(families):
        return families
    return [f"{'AB'[i]}: {f}" for i, f in enumerate(families)]


def _form(models: dict[str, str], busy: bool) -> tuple[CompareRequest, bool]:
    """The models, jets, noise level and seed; returns the reconstruct request and whether it was submitted."""
    labels = list(models)
    first, second = _default_pair(labels)
    with st.form("cmp_form"):
        c1, c2 = st.columns(2)
        a_label = c1.selectbox("Model A", labels, index=first, key="cmp_a")
        b_label = c2.selectbox("Model B", labels, index=second, key="cmp_b")
        d1, d2, d3 = st.columns(3)
        n = int(d1.number_input("Jets", 2, 256, 16, key="cmp_n"))
        fraction = float(
            d2.slider("Noise level f (fraction of each forward process)", 0.05, 1.0, 0.3, 0.05, key="cmp_f")
        )
        seed = int(d3.number_input("Seed", 0, 10_000, 0, key="cmp_seed"))
        go = st.form_submit_button("Reconstruct", type="primary", icon=":material/compare:", disabled=busy)
    picked = [label for label in dict.fromkeys((a_label, b_label)) if label in models]
    chosen = tuple(zip(_names(picked), (models[label] for label in picked), strict=True))
    return CompareRequest(RECONSTRUCT, chosen, data_path(), data_name(), n, fraction, seed), go


def _open(req: CompareRequest, param: str) -> None:
    """Show this request's finished run if there is one, else start the job that measures it (after the
    limits allow it: a refused click prepares nothing)."""
    req.check()
    run_dir = finished_run(runs_dir(), req)
    if run_dir is None:
        table.check(owner)
        argv = compare_argv(table.threads_per_job())
        run_dir = table.start(
            owner, "compare", argv, runs_dir() / new_run_id(run_name(req)), request=req.to_dict()
        ).run_dir
    st.query_params[param] = run_dir.name
    st.rerun()


def _shown_run(param: str, req: CompareRequest) -> Path | None:
    """The run in the URL, else the finished run of the form's current request (None: nothing measured yet)."""
    return run_in_url(param, "compare", req.what) or finished_run(runs_dir(), req)


def _reconstructions(run_dir: Path) -> None:
    status = read_status(run_dir)
    res = byte_cache("compare", 128).get_or_make((str(run_dir), status.created), lambda: load_reconstructions(run_dir))
    if res is None:
        return
    asked = status.request
    st.caption(
        f"{len(res.real)} jets of {asked.get('data_name') or 'the embedded sample'}, f = {asked.get('fraction')}, "
        f"seed {asked.get('seed')} (run `{run_dir.name}`)."
    )
    show_table(reconstruction_table(res.rows), "reconstruction_comparison", key="cmp_table")
    st.caption(
        "One row per quantity, one column per model. These scores are paired (each reconstruction against its own "
        "clean jet): real vs real is SSIM 1, PSNR ∞ dB and fidelity 1, the values a perfect reconstruction reaches."
    )
    jet = int(st.slider("Jet", 0, len(res.real) - 1, 0, key="cmp_jet")) if len(res.real) > 1 else 0
    images = {"real": res.real[jet].numpy()}
    for model, rec in zip(res.models, res.recs, strict=True):
        images[f"{model['name']} (t={model['t']}/{model['timesteps']})"] = rec[jet].numpy()
    show_figure(
        image_rows(images, log=True, colour_title="pT [GeV]", title=f"Jet {jet}: clean and reconstructed"),
        "reconstructions_side_by_side",
        key="cmp_images",
    )


def _generation(run_dir: Path) -> None:
    result = load_generation(run_dir)
    if result is None:
        return
    named = {name: body["rows"] for name, body in result["reports"].items()}
    metrics = metric_table(named)
    asked = read_status(run_dir).request
    st.caption(resolution_note(asked.get("size"), {m["name"]: int(m["native_size"]) for m in result["models"]}))
    show_table(metrics, "generation_comparison", key="cmp_gen_table")
    st.caption(
        f"{asked.get('n')} generated jets per model (run `{run_dir.name}`). Beside each number, 'real vs real' is "
        "the same distance between two halves of the real jets at that resolution and N (the best a model can "
        "reach). " + blank_note(metrics)
    )
    if any(int(m.get("native_size") or 0) <= 8 for m in result["models"]):
        st.caption(SMALL_IMAGE_CAVEAT)


def _resolution(models: tuple[tuple[str, str], ...], column) -> int | None:
    """The resolution the generated sets are compared at: one for every model (the coarsest one's first, so
    the default) or each model's own (the only choice when a checkpoint does not say its size)."""
    try:
        options = resolution_options([model_size(path) for _, path in models])
    except (JetInputError, ValueError):
        options = resolution_options([])
    if st.session_state.get("cmp_res") not in options:  # other models chosen since
        st.session_state.pop("cmp_res", None)
    label = column.selectbox(
        "Compare at",
        list(options),
        key="cmp_res",
        help="One resolution for every model: finer models' samples and the real jets are sum-pooled to it "
        "(energy conserved); a coarse model's jets cannot be refined, so the coarsest model's is the finest common one",
    )
    return options[label]


def _section(param: str, req: CompareRequest, key: str, what: str, view) -> bool:
    """A measurement's run: its progress while the job runs, its result once it has finished; False when
    there is no run to show."""
    run_dir = _shown_run(param, req)
    if run_dir is None:
        return False
    status = read_status(run_dir)
    st.fragment(job_progress, run_every=1.0 if status.running else None)(run_dir, key, what)
    if status.state == "finished":
        view(run_dir)
    return True


with guard("the Compare page"):
    models = _models()
    busy = bool(table.running(owner))
    if not models:
        st.info(
            "No checkpoint is available: the shipped ones (checkpoints/) are missing from this build. Train a "
            "classical and a quantum model on the Train page, then come back."
        )
    elif data_source() is not None:  # else the data set's problem is shown; nothing is measured on it
        req, go = _form(models, busy)
        if busy:
            st.caption("Your job is running: Reconstruct and Sample are enabled again when it ends.")
            rerun_when_my_job_ends()
        if len(req.models) == 1:
            st.warning("One model is chosen (or only one is available), so it is shown alone.")
        try:
            if go:
                _open(req, "run")
            if not _section("run", req, "cmp", "Reconstruction", _reconstructions):
                st.info("Press Reconstruct: the models reconstruct the jets in a job of their own process.")

            st.subheader("Generation metrics, side by side")
            with st.form("cmp_gen_form"):
                g1, g2 = st.columns(2)
                n_gen = int(g1.number_input("Generated jets per model", 24, 512, 64, key="cmp_gen_n"))
                size = _resolution(req.models, g2)
                go_gen = st.form_submit_button("Sample both and measure", icon=":material/science:", disabled=busy)
            gen_req = CompareRequest(GENERATE, req.models, data_path(), data_name(), n_gen, seed=0, size=size)
            if go_gen:
                _open(gen_req, "gen")
            _section("gen", gen_req, "cmp_gen", "Sampling and measuring", _generation)
        except JobLimitError as err:
            st.error(str(err))
