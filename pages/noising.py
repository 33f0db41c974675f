"""Forward noising: x_t of one jet for every step t of a classical schedule, and the quantum forward process."""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.data.layout import CHANNELS, label_name
from core.data.transforms import fit_transform
from core.diffusion.schedules import make_schedule
from core.quantum.channels import ChannelSchedule
from core.quantum.encoders import make_encoder, prepare_images
from core.quantum.forward import forward_channels, quantum_forward
from core.viz.noising import classical_forward, data_range, frame_steps, process_animation, schedule_curves
from core.viz.quantum import forward_animation, purity_summary
from pages._common import (
    cached_figure,
    data_path,
    data_source,
    file_stamp,
    guard,
    jet_tensors,
    require_entry,
    show_figure,
)

require_entry()
st.title("Forward noising")
st.caption(
    "The forward process q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I) applied to one jet, frame by frame, "
    "beside ᾱ_t (alpha_bar) and the signal-to-noise ratio ᾱ_t / (1 − ᾱ_t). Press ▶ Play or drag the slider. The second tab runs a quantum noise channel on the same jet."
)

TABS = ["Classical: Gaussian noise", "Quantum: a noise channel"]
SCHEDULES = {
    "seed baseline (linear, 50 steps)": ("linear", 50),
    "linear (DDPM, 1000 steps)": ("linear", 1000),
    "cosine (1000 steps)": ("cosine", 1000),
}


@st.cache_resource(show_spinner=False, max_entries=4)
def _fitted_transform(path: str | None, stamp: float, size: int):
    x, _ = jet_tensors(size)
    return fit_transform(x, "log")


@st.cache_data(show_spinner="Running the quantum channel…", max_entries=16)
def _quantum(path: str | None, stamp: float, jet: int, encoder: str, channel: str, kind: str, diffusion_steps: int):
    x, _ = jet_tensors(32)
    small = prepare_images(x[jet : jet + 1], 8)
    enc = make_encoder(encoder, (3, 8, 8))
    result = quantum_forward(enc, small[0], ChannelSchedule(channel, diffusion_steps, kind=kind))
    return result, small[0], enc.total_qubits()


def _classical_figure(jet: int, sched_name: str, schedule, size: int, space: str):
    """The animation of x_t (seeded noise): built once per choice for the whole server (``cached_figure``)."""
    x, _ = jet_tensors(size)
    steps = frame_steps(schedule.timesteps, 50)
    if space.startswith("model"):
        transform = _fitted_transform(data_path(), file_stamp(data_path()), size)
        x0 = transform.forward(x[jet : jet + 1])[0]
        colour_title = "z (log-scaled)"
    else:
        x0 = x[jet]
        colour_title = "GeV"
    frames = classical_forward(schedule, x0, steps, seed=0)
    zrange = data_range(frames)  # from the data: the clean jet's extremes and the noise's bulk
    labels = ["x0"] + [f"t={t}" for t in steps]
    return process_animation(
        frames,
        labels,
        [None] + steps,
        schedule_curves(schedule),
        CHANNELS,
        colour_title=colour_title,
        zrange=zrange,
        title=f"{sched_name}: x_t per channel ({size}×{size})",
    )


def _classical_section(jet: int) -> None:
    """x_t of the chosen jet for every step of a classical schedule, as an animation beside alpha_bar and SNR."""
    c1, c2, c3, c4 = st.columns([2, 1, 1, 1])
    sched_name = c1.selectbox("Schedule", list(SCHEDULES), key="noise_schedule")
    kind, default_T = SCHEDULES[sched_name]
    timesteps = int(c2.number_input("Steps T", 2, 4000, default_T, key=f"noise_T_{sched_name}"))
    size = int(c3.selectbox("Image size", [32, 16, 64], key="noise_size"))
    space = c4.radio("Shown in", ["model space (log)", "GeV"], key="noise_space")
    schedule = make_schedule(kind, timesteps)
    path = data_path()
    key = ("noise_classical", path, file_stamp(path), jet, sched_name, timesteps, size, space)
    fig = cached_figure(key, lambda: _classical_figure(jet, sched_name, schedule, size, space))
    show_figure(fig, "forward_noising_classical", key="noise_classical")
    ab_end = float(schedule.alpha_bar[-1])
    st.write(
        f"At the last step ᾱ_T = **{ab_end:.3g}** (signal amplitude √ᾱ_T = {ab_end**0.5:.3g}): "
        + (
            "the jet is still visible, so sampling from pure noise starts far from this state."
            if ab_end > 0.05
            else "essentially pure noise, as sampling assumes."
        )
    )


@st.fragment
def _quantum_section(jet: int) -> None:
    """The quantum forward process of the chosen jet; a fragment, so its widgets rerun only this part."""
    with guard("the quantum forward process"):
        st.caption(
            "The jet is downsampled to 8×8 per channel (energy conserving) and encoded as a quantum state; "
            "the noise channel acts on every qubit step by step (closed form of the cumulative channel). "
            "The image is decoded from the Born probabilities measured at each step."
        )
        q1, q2, q3, q4 = st.columns(4)
        encoder = q1.selectbox("Encoder", ["amplitude", "angle", "frqi"], key="noise_q_encoder")
        channel = q2.selectbox(
            "Channel",
            forward_channels(make_encoder(encoder, (3, 8, 8))),
            key=f"noise_q_channel_{encoder}",
            help="global depolarising acts on one register: not offered for the angle encoder (one block per pixel)",
        )
        q_kind = q3.selectbox("Schedule", ["cosine", "linear"], key="noise_q_kind")
        q_diffusion_steps = int(q4.number_input("Diffusion steps", 2, 50, 10, key="noise_q_steps"))
        result, clean, n_qubits = _quantum(
            data_path(), file_stamp(data_path()), jet, encoder, channel, q_kind, q_diffusion_steps
        )
        qfig = forward_animation(result, f"{encoder} encoding ({n_qubits} qubits), {channel} channel")
        show_figure(qfig, "forward_noising_quantum", key="noise_quantum")
        st.write(
            f"{purity_summary(result.t, result.purity)}; fidelity to the encoded jet goes "
            f"from {result.fidelity[0]:.3f} to {result.fidelity[-1]:.3g} after {q_diffusion_steps} steps."
        )
        if np.allclose(result.images[-1].numpy(), clean.numpy(), atol=1e-4) and channel in (
            "phase_damping",
            "phase_flip",
        ):
            st.info(
                "Dephasing channels leave the Born probabilities unchanged: the measured image does not change, "
                "only the coherences (purity, fidelity) decay."
            )


with guard("the Forward noising page"):
    src = data_source()
    if src is not None:
        x, y = jet_tensors(32)  # the same jets at every size: the index and the sum do not depend on it
        jet = int(st.slider("Jet (index into the loaded jets)", 0, len(x) - 1, 0, key="noise_jet"))
        st.caption(f"Jet {jet}: {label_name(y[jet])}, Σ pT = {float(x[jet, 1:].sum()):.1f} GeV (ECAL + HCAL)")
        # Lazy tabs: only the open process is computed and drawn (one animation per page view, not two).
        classical, quantum = st.tabs(TABS, key="noise_tab", on_change="rerun")
        if classical.open:
            with classical:
                _classical_section(jet)
        if quantum.open:
            with quantum:
                _quantum_section(jet)
