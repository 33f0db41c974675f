"""Compare: a classical and a quantum model on the same jets, noised to the same level, side by side;
then the generation metrics of both."""

from __future__ import annotations

import streamlit as st
import torch

from core.data.transforms import downsample
from core.metrics.compare import (
    OWN_RESOLUTION,
    at_common_size,
    compare_rows,
    model_reconstruction,
    resolution_note,
    resolution_options,
)
from core.training.checkpoint import load_checkpoint
from core.viz.images import image_rows
from core.viz.tables import SMALL_IMAGE_CAVEAT, blank_note, metric_table, reconstruction_table
from pages._common import (
    CHECKPOINTS,
    guard,
    jet_tensors,
    model_checkpoints,
    require_entry,
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


def _models() -> dict[str, str]:
    """Readable checkpoints by label (shipped, then trained in this session), with their family."""
    out = {}
    for label, path in model_checkpoints().items():
        try:
            family = _checkpoint(path).task.family
        except Exception:  # an unreadable checkpoint is skipped here; Generate reports it
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


@st.cache_resource(show_spinner="Reconstructing the jets…", max_entries=8)
def _reconstruct(paths: tuple[tuple[str, str], ...], n: int, fraction: float, seed: int):
    x, y = jet_tensors(32, max_jets=n, seed=1000 + seed)
    recs = []
    for name, path in paths:
        ckpt = _checkpoint(path)
        size = int(ckpt.task.size)
        xm = x if size <= 32 else jet_tensors(size, max_jets=n, seed=1000 + seed)[0]
        recs.append(model_reconstruction(name, ckpt, xm, y, fraction, seed))
    return x, y, at_common_size(recs)


@st.cache_resource(show_spinner="Sampling the model…", max_entries=4)
def _samples(path: str, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    from core.training.sampling import sample_images

    ckpt = _checkpoint(path)
    label = "mixed" if ckpt.task.conditional else None
    x = sample_images(ckpt, n, label=label, seed=seed, sampler_steps=ckpt.task.default_sampler_steps)
    return x, (torch.arange(n) % 2).long() if label else None


@st.cache_resource(show_spinner="Measuring the samples against real jets…", max_entries=8)
def _generation(paths: tuple[str, ...], n: int, seed: int, size: int | None):
    """Each model's evaluation report, at ``size`` (its samples and the real jets pooled to it) or its own."""
    from core.metrics.report import evaluate_sets

    out = {}
    for path in paths:
        x, y = _samples(path, n, seed)
        if size is not None:
            x = downsample(x, size)
        real, y_real = jet_tensors(int(x.shape[-1]), max_jets=max(400, 2 * n), seed=1)
        classifier = None if (CHECKPOINTS / "jet_classifier").is_dir() and x.shape[-1] >= 8 else False
        try:
            out[path] = evaluate_sets(real, x, y_real, y, classifier=classifier, seed=seed)
        except Exception:
            out[path] = evaluate_sets(real, x, y_real, y, classifier=False, seed=seed)
    return out


def _resolution(chosen: tuple[tuple[str, str], ...], column) -> tuple[int | None, str]:
    """The resolution the generated sets are compared at (default: the coarsest model's) and the line saying so."""
    native = {name: int(_checkpoint(path).task.size) for name, path in chosen}
    options = resolution_options(list(native.values()))
    if st.session_state.get("cmp_res", OWN_RESOLUTION) not in options:  # other models chosen since
        del st.session_state["cmp_res"]
    label = column.selectbox(
        "Compare at",
        list(options),
        index=0,
        key="cmp_res",
        help="One resolution for every model (the coarsest one's by default: finer jets are sum-pooled to it)",
    )
    return options[label], resolution_note(options[label], native)


with guard("the Compare page"):
    models = _models()
    labels = list(models) or ["(none available)"]
    first, second = _default_pair(labels) if models else (0, 0)
    c1, c2 = st.columns(2)
    a_label = c1.selectbox("Model A", labels, index=first, key="cmp_a")
    b_label = c2.selectbox("Model B", labels, index=second, key="cmp_b")
    picked = [label for label in dict.fromkeys((a_label, b_label)) if label in models]
    chosen = tuple(zip(_names(picked), (models[label] for label in picked), strict=True))
    if not chosen:
        st.info(
            "No checkpoint is available: the shipped ones (checkpoints/) are missing from this build. Train a "
            "classical and a quantum model on the Train page, then come back."
        )
    else:
        if len(chosen) == 1:
            st.warning("One model is chosen (or only one is available), so it is shown alone.")
        d1, d2, d3 = st.columns(3)
        n = int(d1.number_input("Jets", 2, 256, 16, key="cmp_n"))
        fraction = float(
            d2.slider("Noise level f (fraction of each forward process)", 0.05, 1.0, 0.3, 0.05, key="cmp_f")
        )
        seed = int(d3.number_input("Seed", 0, 10_000, 0, key="cmp_seed"))
        x, y, recs = _reconstruct(chosen, n, fraction, seed)
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
        g1, g2, g3 = st.columns(3)
        n_gen = int(g1.number_input("Generated jets per model", 24, 512, 64, key="cmp_gen_n"))
        gen_size, note = _resolution(chosen, g2)
        st.caption(note)
        if g3.button("Sample both and measure", key="cmp_gen_go") or st.session_state.get("cmp_gen_done") == (
            chosen,
            n_gen,
        ):
            st.session_state["cmp_gen_done"] = (chosen, n_gen)
            reports = _generation(tuple(path for _, path in chosen), n_gen, 0, gen_size)
            named = {name: reports[path].rows for name, path in chosen}
            table = metric_table(named)
            show_table(table, "generation_comparison", key="cmp_gen_table")
            st.caption(
                "Beside each number, 'real vs real' is the same distance between two halves of the real jets at "
                "that resolution and N (the best a model can reach). " + blank_note(table)
            )
            if any(int(r.native_size or 0) <= 8 for r in recs):
                st.caption(SMALL_IMAGE_CAVEAT)
