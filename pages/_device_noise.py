"""The Quantum lab's device section: a quantum model transpiled to a fake IBM device and run with its noise.

The run is a job in its own process (``core.jobs.device``: transpiling, the noisy chains on Aer, the distances,
the shot study); this module starts it, shows its progress and draws what its run directory holds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.data.layout import label_name
from core.jobs import JobLimitError, read_status
from core.jobs.device import (
    device_argv,
    device_request,
    finished_device,
    has_circuit,
    load_device,
    load_transpiled,
    run_name,
)
from core.jobs.runner import new_run_id
from core.jobs.training import runs_dir
from core.quantum.device_sampling import DEFAULT_SHOTS
from core.quantum.devices import DEVICES, get_backend
from core.viz.device import shots_figure
from core.viz.images import channel_images
from pages._common import (
    byte_cache,
    checkpoint_dirs,
    data_name,
    data_path,
    guard,
    job_manager,
    job_progress,
    run_in_url,
    session_id,
    show_figure,
    show_table,
)


@st.cache_data(show_spinner=False)
def _device_line(backend: str) -> tuple[str, int, list[str]]:
    """Name, qubit count and native gates of a fake device (cached: the first one imports qiskit-ibm-runtime's
    fake provider, about 1.3 s once per server; then 0.01-0.3 s per device to read its calibration)."""
    dev = get_backend(backend)
    return dev.name, int(dev.num_qubits), sorted(set(dev.operation_names) & {"rz", "sx", "x", "cx", "cz", "ecr"})


def _shown_run(request: dict) -> Path | None:
    """The run in the URL when it is this request's, else this request's finished run (None: not run yet)."""
    run_dir = run_in_url("device", "device")
    if run_dir is not None and read_status(run_dir).request.get("key") == request["key"]:
        return run_dir
    return finished_device(runs_dir(), request)


def _start(request: dict) -> None:
    table = job_manager()
    path = runs_dir() / new_run_id(run_name(request))
    job = table.start(session_id(), "device", device_argv(table.threads_per_job()), path, request)
    st.query_params["device"] = job.run_id
    st.rerun()


def device_noise_section() -> None:
    """Pick a device and a model; show the transpiled step, its cost, the jets and distances at each noise level."""
    with guard("the device run"):
        st.subheader("On a real device's noise")
        models = {k: str(v) for k, v in checkpoint_dirs().items() if has_circuit(v)}
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
            "calibrated noise scaled by 0, 0.1 and 1, and with a depolarising error p per gate. It runs as a job in "
            "its own process (a minute or more; the server's job limits apply)."
        )
        request = device_request(path, backend, n, shots, 0, data_path(), data_name())
        run_dir = _shown_run(request)
        busy = run_dir is not None and read_status(run_dir).running
        if st.button("Run on the device", key="dev_run", disabled=busy):
            try:
                _start(request)
            except JobLimitError as err:
                st.error(str(err))
        if run_dir is not None:
            _show_run(run_dir, backend)


def _show_run(run_dir: Path, backend: str) -> None:
    """The job's progress while it runs (with the circuit costs once transpiled), its report once finished."""
    status = read_status(run_dir)
    st.fragment(job_progress, run_every=1.0 if status.running else None)(run_dir, "dev_job", "The device run")
    transpiled = load_transpiled(run_dir)
    if transpiled is not None:
        _show_circuit(transpiled, backend)
    if status.state != "finished":
        return
    report = byte_cache("device", 64).get_or_make((str(run_dir), status.created), lambda: load_device(run_dir))
    if report is not None:
        _show_report(report)


def _show_circuit(transpiled: dict, backend: str) -> None:
    a = transpiled["attrs"]
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Chain depth", a["transpiled_depth"])
    m2.metric("Chain 2-qubit gates", a["two_qubit_gates"])
    m3.metric("One step: depth", a["step_transpiled_depth"])
    m4.metric("One step: 2-qubit gates", a["step_two_qubit_gates"])
    with st.expander(f"Reverse step t = T transpiled to {backend} (physical qubits {a['physical_qubits']})"):
        st.code(transpiled["step_text"], language=None)


def _show_report(report: dict) -> None:
    table = pd.DataFrame(report["rows"]).drop(columns=["kind", "level"])
    show_table(table, f"device_noise_{report['attrs']['backend']}", key="dev_table")
    st.caption(
        "W1 distances to real jets (the chosen data set, pooled), within R = 0.4 unless marked whole image; "
        "mean W1 / spread averages the six shape rows within R = 0.4. The last two columns compare each row's "
        "jets with the same jets (same latents, same energies) at zero noise: the share of each jet's energy the "
        "noise put in other pixels, and the mean W1 / spread between the two sets. With energies drawn classically, "
        "they show what the device does even where the distances to real jets hardly move."
    )
    first = label_name(report["labels"][0])
    with st.expander("The first generated jet at each noise level (same latent, same energies)", expanded=True):
        for i, (name, x) in enumerate(report["images"].items()):
            show_figure(
                channel_images(x[0], log=True, title=f"{name}: a {first} jet (GeV, log colour)"),
                f"device_jet_{i}",
                key=f"dev_jet_{i}",
                png=False,
            )
    show_figure(shots_figure(report["shots"]), "quality_vs_shots", key="dev_shots_fig")
    st.caption("Torch sampler (exact Born probabilities, no device noise) read out with N shots per state.")
