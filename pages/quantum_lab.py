"""Quantum lab: an encoder applied to a jet, a noise channel on one qubit and on the whole state, and the
reverse circuit of a quantum model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.data.layout import CHANNELS, label_from_name, label_name
from core.quantum import sim
from core.quantum.channels import ChannelSchedule
from core.quantum.encoders import ENCODERS, make_encoder, prepare_images
from core.quantum.forward import bloch_path, forward_channels, quantum_forward
from core.training.checkpoint import load_checkpoint
from core.viz.images import channel_images
from core.viz.quantum import bloch_figure, bloch_projections, circuit_text, forward_animation, probability_image
from pages._common import (
    cached_figure,
    data_path,
    file_stamp,
    guard,
    jet_tensors,
    model_checkpoints,
    require_entry,
    show_figure,
    show_table,
)
from pages._device_noise import device_noise_section

require_entry()
st.title("Quantum lab")
st.caption(
    "Jets are sum-pooled to 8×8 per channel (energy conserving) before encoding. Qubit order is qiskit's: "
    "qubit k is bit k of the basis-state index."
)


TABS = ["Encoded jet", "Noise channel", "Reverse circuit", "On a real device's noise"]


@st.cache_resource(show_spinner="Loading the checkpoint…", max_entries=4)
def _checkpoint(path: str):
    return load_checkpoint(path)


@st.cache_data(show_spinner="Running the channel on the whole state…", max_entries=16)
def _whole_state(jet: int, encoder: str, channel: str, diffusion_steps: int, size: int, order: str | None = None):
    x, _ = jet_tensors(32)
    small = prepare_images(x[jet : jet + 1], size)[0]
    options = {"order": order} if order else {}
    return quantum_forward(
        make_encoder(encoder, (3, size, size), **options), small, ChannelSchedule(channel, diffusion_steps)
    )


def _circuit_models() -> dict[str, str]:
    """Checkpoints whose task has a reverse circuit to draw (shipped, then trained in this session)."""
    out = {}
    for label, path in model_checkpoints().items():
        try:
            if hasattr(_checkpoint(path).task, "reverse_circuit"):
                out[label] = path
        except Exception:  # an unreadable checkpoint is skipped here; Generate reports it
            continue
    return out


@st.cache_data(show_spinner=False, max_entries=32)
def _circuit(jet: int, encoder: str, size: int, order: str | None) -> tuple[int, int, str]:
    """The encoder's circuit for a jet: qubits, depth and qiskit's text drawing (cached: the drawing of a
    256-amplitude state preparation is the slowest part of switching encoders)."""
    x, _ = jet_tensors(32)
    options = {"order": order} if order else {}
    qc = make_encoder(encoder, (3, size, size), **options).circuit(prepare_images(x[jet : jet + 1], size))
    return qc.num_qubits, qc.depth(), circuit_text(qc)


@st.cache_data(show_spinner=False, max_entries=32)
def _reverse_drawing(path: str, t: int, label: str, seed: int, channel: int) -> tuple[int, str]:
    """Depth and text drawing of a quantum model's reverse circuit at step t (cached: every rerun of the page
    would otherwise rebuild and draw it)."""
    ckpt = _checkpoint(path)
    qc = ckpt.task.reverse_circuit(ckpt.ema, t, label_from_name(label), seed=seed, channel=channel)
    return qc.depth(), circuit_text(qc)


def _lazy_code(label: str, text: str, key: str) -> None:
    """A circuit drawing in an expander that sends it only once opened (the browser's code view is a large
    script to load: a page that shows no drawing does not load it)."""
    box = st.expander(label, key=key, on_change="rerun")
    if box.open:
        with box:
            st.code(text, language=None)


jet, small, enc, encoded = 0, None, None, None


def _encoded_view(jet: int, small, enc, encoded, encoder_name: str, size: int, order: str | None) -> None:
    """The encoder's circuit, the state's Born probabilities and the jet decoded from them."""
    n_qubits, depth, drawing = _circuit(jet, encoder_name, size, order)
    _lazy_code(f"Circuit ({n_qubits} qubits, depth {depth})", drawing, "qlab_circuit_open")

    def probs_figure():
        probs = enc.probabilities(encoded)
        if encoder_name == "dense_angle":
            probs = encoded.state.abs() ** 2  # dense angle decodes from the state; show its Born probabilities
        return probability_image(probs[0, 0], title=f"Born probabilities (block 0 of {enc.num_blocks})")

    path = data_path()
    key = (path, file_stamp(path), jet, encoder_name, size, order)  # what the encoded jet depends on
    col1, col2 = st.columns([1, 2])
    with col1:
        show_figure(cached_figure(("qlab_probs", *key), probs_figure), "encoded_probabilities", key="qlab_probs")
    with col2:
        decoded = enc.round_trip(small)[0]
        fig = cached_figure(
            ("qlab_decoded", *key), lambda: channel_images(decoded, log=True, title="Decoded jet (GeV, log colour)")
        )
        show_figure(fig, "decoded_jet", key="qlab_decoded")
        err = float((decoded - small[0]).abs().max())
        st.caption(f"Largest difference to the pooled jet: {err:.2e} GeV (exact probabilities, no shots).")


@st.fragment
def _noise_section(jet: int, enc, encoded, encoder_name: str, size: int, order: str | None) -> None:
    """A channel on one qubit and on the whole state; a fragment, so its widgets rerun only this part."""
    with guard("the noise channel"):
        st.subheader("A noise channel on one qubit and on the whole state")
        d1, d2, d3 = st.columns(3)
        channel = d1.selectbox(
            "Channel",
            forward_channels(enc),
            key=f"qlab_channel_{encoder_name}",
            help="global depolarising acts on one register: not offered for encoders that split the jet into blocks",
        )
        diffusion_steps = int(d2.number_input("Diffusion steps", 2, 50, 10, key="qlab_steps"))
        qubit = int(d3.number_input("Qubit", 0, enc.num_qubits - 1, 0, key="qlab_qubit"))
        schedule = ChannelSchedule(channel, diffusion_steps)
        rho_block = sim.to_density(encoded.state[0, :1])  # block 0, (1, d, d)
        n = sim.num_qubits_of(rho_block.shape[-1])
        rho_q = sim.partial_trace(rho_block, tuple(q for q in range(n) if q != qubit)) if n > 1 else rho_block
        name_1q = "depolarizing" if channel == "global_depolarizing" else channel
        path = bloch_path(rho_q, 0, ChannelSchedule(name_1q, diffusion_steps))
        b1, b2 = st.columns([1, 1])
        with b1:
            sphere = st.toggle(
                "3-D sphere", value=False, key="qlab_bloch_3d", help="slow to draw in a browser without a GPU"
            )
            draw = bloch_figure if sphere else bloch_projections
            show_figure(
                draw(
                    path,
                    [f"t={t}" for t in range(diffusion_steps + 1)],
                    title=f"Qubit {qubit}: Bloch vector under {channel}",
                ),
                "bloch_vector",
                key="qlab_bloch",
            )
            st.caption("The reduced state of one qubit; on it the global depolarising channel acts as the local one.")
        with b2:
            table = pd.DataFrame(
                {
                    "t": np.arange(diffusion_steps + 1),
                    "x": path[:, 0],
                    "y": path[:, 1],
                    "z": path[:, 2],
                    "|r|": np.linalg.norm(path, axis=1),
                    "strength p_t": np.concatenate([[0.0], schedule.strengths()]),
                }
            )
            show_table(table, "bloch_path", key="qlab_bloch_table")
        if encoder_name == "dense_angle":
            st.info(
                "The dense angle encoder decodes from the full state (phases), so the measured image of a mixed "
                "state is not defined; pick amplitude, angle or FRQI for the whole-state view."
            )
        else:
            result = _whole_state(jet, encoder_name, channel, diffusion_steps, size, order)
            show_figure(
                forward_animation(result, f"Whole state: measured image, purity and fidelity under {channel}"),
                "whole_state_channel",
                key="qlab_whole",
            )


def _reverse_section() -> None:
    """The reverse circuit of a quantum model (shipped or trained here) at step t."""
    with guard("the reverse circuit"):
        st.subheader("Reverse circuit of a quantum model")
        options = _circuit_models()
        if not options:
            st.info(
                "No model with a reverse circuit is available: checkpoints/quantum_hybrid is missing from this build "
                "and this session has trained no quantum model (Train page, model 'hybrid quantum')."
            )
        else:
            label = st.selectbox("Quantum model", list(options), key="qlab_model")
            ckpt = _checkpoint(options[label])
            cfg = ckpt.task.hybrid_cfg
            e1, e2, e3 = st.columns(3)
            t = int(e1.number_input("Reverse step t", 1, cfg.diffusion_steps, cfg.diffusion_steps, key="qlab_t"))
            lab = e2.selectbox("Label", ["quark", "gluon"], key="qlab_label")
            z_seed = int(e3.number_input("Latent seed", 0, 10_000, 0, key="qlab_z"))
            channel = 0
            if cfg.classes > 2:  # one state per channel: each channel has its own condition
                channel = CHANNELS.index(st.selectbox("Channel (one state per channel)", CHANNELS, key="qlab_ch"))
            depth, drawing = _reverse_drawing(options[label], t, lab, z_seed, channel)
            st.markdown(
                f"{cfg.data_qubits} data qubits + {cfg.ancillas} ancilla(s) (the highest qubits, traced out), "
                f"{cfg.layers} layers, channel **{cfg.channel}**, {cfg.diffusion_steps} steps; "
                f"{ckpt.ema.circuit.num_params} circuit angles come from the angle network at each step."
            )
            if cfg.context and channel > 0:
                st.caption(
                    "This model draws a jet's channels in turn, each given the earlier ones' radial profile and core "
                    "lean; the circuit here is drawn without that context (as for a jet's first channel), so its "
                    "angles are not the ones a sampled jet gets."
                )
            _lazy_code(f"Circuit at t = {t} (depth {depth})", drawing, "qlab_reverse_open")


jet, small, enc, encoded, encoder_name, size, order = 0, None, None, None, "", 8, None
with guard("the encoder"):
    x, y = jet_tensors(32)
    c1, c2, c3, c4 = st.columns(4)
    encoder_name = c1.selectbox("Encoder", list(ENCODERS), key="qlab_encoder")
    size = int(c2.selectbox("Pixels per side", [8, 4], key="qlab_size"))
    jet = int(c3.number_input("Jet", 0, len(x) - 1, 0, key="qlab_jet"))
    if encoder_name == "amplitude":
        order = c4.selectbox(
            "Pixel order",
            ["raster", "centred"],
            key="qlab_order",
            help="centred: neighbouring central pixels differ in one bit (the shipped model's order)",
        )
    small = prepare_images(x[jet : jet + 1], size)
    enc = make_encoder(encoder_name, (3, size, size), **({"order": order} if order else {}))
    encoded = enc.encode(small)
    st.markdown(
        f"**{encoder_name}** encoding of jet {jet} ({label_name(y[jet])}): "
        f"{enc.num_blocks} block(s) of {enc.num_qubits} qubits; classical numbers kept beside the state: "
        f"{', '.join(f'{v:.3g}' for v in encoded.aux[0].tolist())} GeV."
    )

# Lazy tabs: only the open one is computed and drawn (a first view of this page was four figures and a device).
encoded_tab, noise_tab, reverse_tab, device_tab = st.tabs(TABS, key="qlab_tab", on_change="rerun")
if encoded_tab.open and encoded is not None:
    with encoded_tab, guard("the encoder"):
        _encoded_view(jet, small, enc, encoded, encoder_name, size, order)
if noise_tab.open and encoded is not None:
    with noise_tab:
        _noise_section(jet, enc, encoded, encoder_name, size, order)
if reverse_tab.open:
    with reverse_tab:
        _reverse_section()
if device_tab.open:
    with device_tab:
        device_noise_section()
