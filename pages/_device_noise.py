"""The Quantum lab's device section: a quantum model transpiled to a fake IBM device and run with its noise.

All numbers come from ``core.quantum.device_sampling`` and ``core.quantum.shot_study``; this module draws.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.data.layout import label_name
from core.quantum.device_sampling import DEFAULT_SHOTS, device_report
from core.quantum.devices import DEVICES, get_backend
from core.quantum.encoders import prepare_images
from core.quantum.shot_study import quality_vs_shots
from core.training.checkpoint import load_checkpoint
from core.viz.device import shots_figure
from core.viz.images import channel_images
from core.viz.quantum import circuit_text
from pages._common import checkpoint_dirs, guard, jet_tensors, show_figure, show_table


@st.cache_resource(show_spinner="Loading the checkpoint…", max_entries=2)
def _checkpoint(path: str):
    return load_checkpoint(path)


@st.cache_data(show_spinner=False)
def _has_circuit(path: str) -> bool:
    """Whether the checkpoint's task exports a circuit (what a device runs); unreadable ones are skipped."""
    try:
        return hasattr(load_checkpoint(path).task, "reverse_circuit")
    except Exception:  # not a model checkpoint (the jet classifier) or unreadable: Generate reports those
        return False


def _real(size: int):
    x, _ = jet_tensors(32)
    return prepare_images(x, size)


@st.cache_data(show_spinner="Transpiling and running the chain on Aer with the device's noise (a minute or two)…")
def _report(path: str, backend: str, n: int, shots: int, seed: int) -> dict:
    ckpt = _checkpoint(path)
    return device_report(ckpt, backend, n, _real(ckpt.task.size), shots, seed)


@st.cache_data(show_spinner="Reading out the model with 256 to 65,536 shots…")
def _shots(path: str, n: int, seed: int) -> list[dict]:
    ckpt = _checkpoint(path)
    labels = [1] * n + [0] * n
    return quality_vs_shots(ckpt.task, ckpt.ema, labels, _real(ckpt.task.size), seed=seed)


@st.cache_data(show_spinner=False)
def _device_line(backend: str) -> tuple[str, int, list[str]]:
    """Name, qubit count and native gates of a fake device (cached: building the backend reads its calibration
    files, a second of CPU on every run of the page otherwise)."""
    dev = get_backend(backend)
    return dev.name, int(dev.num_qubits), sorted(set(dev.operation_names) & {"rz", "sx", "x", "cx", "cz", "ecr"})


def device_noise_section() -> None:
    """Pick a device and a model; show the transpiled step, its cost, the jets and distances at each noise level."""
    with guard("the device run"):
        st.subheader("On a real device's noise")
        models = {k: str(v) for k, v in checkpoint_dirs().items() if _has_circuit(str(v))}
        if not models:
            st.info("No shipped quantum checkpoint: nothing to run on a device.")
            return
        c1, c2, c3, c4 = st.columns(4)
        path = models[c1.selectbox("Quantum model", list(models), key="dev_model")]
        backend = c2.selectbox("Device (offline fake backend)", list(DEVICES), key="dev_backend")
        n = int(c3.number_input("Jets per class", 2, 64, 4, key="dev_n"))
        shots = int(c4.number_input("Shots per state", 16, 65536, DEFAULT_SHOTS, key="dev_shots"))
        name, n_qubits, gates = _device_line(backend)
        st.caption(
            f"{name}: {n_qubits} qubits, gates {', '.join(gates)}. "
            "The whole reverse chain runs as one circuit (the ancilla is reset between steps and re-noises the data "
            "qubits), transpiled to the device and run on Aer's density-matrix simulator with the device's "
            "calibrated noise scaled by 0, 0.1 and 1, and with a depolarising error p per gate."
        )
        if not st.button("Run on the device", key="dev_run"):
            return
        report = _report(path, backend, n, shots, 0)
        _show_report(report, backend)
        rows = _shots(path, max(n, 64), 0)
        show_figure(shots_figure(rows), "quality_vs_shots", key="dev_shots_fig")
        st.caption("Torch sampler (exact Born probabilities, no device noise) read out with N shots per state.")


def _show_report(report: dict, backend: str) -> None:
    a = report["attrs"]
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Chain depth", a["transpiled_depth"])
    m2.metric("Chain 2-qubit gates", a["two_qubit_gates"])
    m3.metric("One step: depth", a["step_transpiled_depth"])
    m4.metric("One step: 2-qubit gates", a["step_two_qubit_gates"])
    with st.expander(f"Reverse step t = T transpiled to {backend} (physical qubits {a['physical_qubits']})"):
        st.code(circuit_text(report["step_circuit"]), language=None)
    table = pd.DataFrame(report["rows"]).drop(columns=["kind", "level"])
    show_table(table, f"device_noise_{backend}", key="dev_table")
    st.caption("W1 distances to real jets (embedded sample, pooled); mean W1 / spread averages the six shape rows.")
    first = label_name(report["labels"][0].item())
    with st.expander("The first generated jet at each noise level (same latent, same energies)", expanded=True):
        for i, (name, x) in enumerate(report["images"].items()):
            show_figure(
                channel_images(x[0], log=True, title=f"{name}: a {first} jet (GeV, log colour)"),
                f"device_jet_{i}",
                key=f"dev_jet_{i}",
                png=False,
            )
