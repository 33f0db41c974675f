"""Compare: a classical and a quantum model on the same jets, noised to the same level, side by side;
then the generation metrics of both."""

from __future__ import annotations

import streamlit as st
import torch

from core.data.transforms import downsample
from core.jobs.training import session_runs
from core.metrics.compare import ModelReconstruction, classical_reconstruction, compare_rows, quantum_reconstruction
from core.training.checkpoint import load_checkpoint
from core.training.task import describe
from core.viz.images import image_rows
from core.viz.tables import SMALL_IMAGE_CAVEAT, blank_note, metric_table, reconstruction_table
from pages._common import (
    CHECKPOINTS,
    checkpoint_dirs,
    guard,
    jet_tensors,
    require_entry,
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
    "the sidebar (for example `python -m core simulate --jets 500 --seed 7 --out fresh.h5`)."
)


@st.cache_resource(show_spinner="Loading the checkpoint…", max_entries=6)
def _checkpoint(path: str):
    return load_checkpoint(path)


def _families() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {"classical": {}, "quantum": {}}
    candidates = {f"shipped: {k}": str(v) for k, v in checkpoint_dirs().items() if k != "jet_classifier"}
    candidates.update({f"trained here: {p.name}": str(p) for p in session_runs(session_id())})
    for label, path in candidates.items():
        try:
            family = _checkpoint(path).task.family
        except Exception:  # an unreadable checkpoint is skipped here; Generate reports it
            continue
        out["quantum" if family == "quantum" else "classical"][label] = path
    return out


@st.cache_resource(show_spinner="Reconstructing the jets…", max_entries=8)
def _reconstruct(c_path: str | None, q_path: str | None, n: int, fraction: float, seed: int):
    x, y = jet_tensors(32, max_jets=n, seed=1000 + seed)
    recs = []
    q_size = None
    if q_path:
        q = _checkpoint(q_path)
        q_size = int(q.task.size)
    if c_path:
        c = _checkpoint(c_path)
        x_hat, t = classical_reconstruction(
            c, x if c.task.size == 32 else jet_tensors(c.task.size, max_jets=n, seed=1000 + seed)[0], y, fraction, seed
        )
        native = int(x_hat.shape[-1])
        if q_size is not None:
            x_hat = downsample(x_hat, q_size)
        recs.append(
            ModelReconstruction(
                "classical",
                c.task.family,
                describe(c.task)["parameters"],
                t,
                int(c.task.schedule.timesteps),
                x_hat,
                native,
            )
        )
    if q_path:
        x_hat, t, fid = quantum_reconstruction(q, x, y, fraction, seed)
        recs.append(
            ModelReconstruction(
                "quantum",
                q.task.family,
                describe(q.task)["parameters"],
                t,
                int(q.task.hybrid_cfg.steps),
                x_hat,
                q_size,
                {"state_fidelity": fid.numpy()},
            )
        )
    return x, y, recs


@st.cache_resource(show_spinner="Sampling both models and measuring them against real jets…", max_entries=4)
def _generation(paths: tuple[str, ...], n: int, seed: int):
    from core.metrics.report import evaluate_sets
    from core.training.sampling import sample_images

    out = {}
    for path in paths:
        ckpt = _checkpoint(path)
        label = "mixed" if ckpt.task.conditional else None
        kw = {"sampler": "born"} if ckpt.task.family == "quantum" else {"sampler": "fast", "steps": 20}
        x = sample_images(ckpt, n, label=label, seed=seed, **kw)
        y = (torch.arange(n) % 2).long() if label else None
        real, y_real = jet_tensors(int(x.shape[-1]), max_jets=max(400, 2 * n), seed=1)
        classifier = None if (CHECKPOINTS / "jet_classifier").is_dir() and x.shape[-1] >= 8 else False
        try:
            out[path] = evaluate_sets(real, x, y_real, y, classifier=classifier, seed=seed)
        except Exception:
            out[path] = evaluate_sets(real, x, y_real, y, classifier=False, seed=seed)
    return out


with guard("the Compare page"):
    fams = _families()
    c1, c2 = st.columns(2)
    c_label = c1.selectbox("Classical model", list(fams["classical"]) or ["(none available)"], key="cmp_classical")
    q_label = c2.selectbox("Quantum model", list(fams["quantum"]) or ["(none available)"], key="cmp_quantum")
    c_path = fams["classical"].get(c_label)
    q_path = fams["quantum"].get(q_label)
    if not c_path and not q_path:
        st.info(
            "No checkpoint is available: the shipped ones (checkpoints/) are missing from this build. Train a "
            "classical and a quantum model on the Train page, then come back."
        )
    else:
        if not c_path or not q_path:
            st.warning(
                "Only one kind of model is available, so it is shown alone. Train the other kind on the Train page."
            )
        d1, d2, d3 = st.columns(3)
        n = int(d1.number_input("Jets", 2, 256, 16, key="cmp_n"))
        fraction = float(
            d2.slider("Noise level f (fraction of each forward process)", 0.05, 1.0, 0.3, 0.05, key="cmp_f")
        )
        seed = int(d3.number_input("Seed", 0, 10_000, 0, key="cmp_seed"))
        x, y, recs = _reconstruct(c_path, q_path, n, fraction, seed)
        rows = compare_rows(x, recs)
        show_table(reconstruction_table(rows), "reconstruction_comparison", key="cmp_table")
        st.caption(
            "One row per quantity, one column per model. These scores are paired (each reconstruction against its own "
            "clean jet): real vs real is SSIM 1, PSNR ∞ dB and fidelity 1, the values a perfect reconstruction reaches."
        )
        jet = int(st.slider("Jet", 0, len(x) - 1, 0, key="cmp_jet")) if len(x) > 1 else 0
        size = recs[0].x0_hat.shape[-1]
        images = {"real": (downsample(x[jet : jet + 1], size) if x.shape[-1] != size else x[jet : jet + 1])[0].numpy()}
        for rec in recs:
            images[f"{rec.name} (t={rec.t}/{rec.timesteps})"] = rec.x0_hat[jet].numpy()
        show_figure(
            image_rows(images, log=True, colour_title="pT [GeV]", title=f"Jet {jet}: clean and reconstructed"),
            "reconstructions_side_by_side",
            key="cmp_images",
        )

        st.subheader("Generation metrics, side by side")
        g1, g2 = st.columns(2)
        n_gen = int(g1.number_input("Generated jets per model", 24, 512, 64, key="cmp_gen_n"))
        if g2.button("Sample both and measure", key="cmp_gen_go") or st.session_state.get("cmp_gen_done") == (
            c_path,
            q_path,
            n_gen,
        ):
            st.session_state["cmp_gen_done"] = (c_path, q_path, n_gen)
            paths = tuple(p for p in (c_path, q_path) if p)
            reports = _generation(paths, n_gen, 0)
            named = {name: reports[path].rows for name, path in (("classical", c_path), ("quantum", q_path)) if path}
            table = metric_table(named)
            show_table(table, "generation_comparison", key="cmp_gen_table")
            st.caption(
                "Each model is measured against real jets at its own resolution; beside each number, "
                "'real vs real' is the same distance between two halves of the real jets at that resolution and N "
                "(the best a model can reach). " + blank_note(table)
            )
            if any(int(r.native_size or 0) <= 8 for r in recs):
                st.caption(SMALL_IMAGE_CAVEAT)
