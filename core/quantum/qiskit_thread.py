"""Keep qiskit's first import on a thread that never ends.

qiskit 2.x (its Rust core) keeps per-thread state from the thread that first imports it; once that thread
exits, building a ``QuantumCircuit`` on any other thread crashes the process (SIGSEGV in
``CircuitData()``; reproduced with qiskit 2.6.2: import on thread A, let A end, build a circuit on thread B).
Streamlit runs every script run on a fresh thread that ends, and so do background jobs. Importing qiskit
here first, on a daemon thread that waits forever, keeps that state alive for every later thread.
Processes whose main thread imports qiskit (the CLI, pytest) do not need this, and it does no harm there.
"""

from __future__ import annotations

import threading

_LOCK = threading.Lock()
_READY = threading.Event()
_ERROR: list[BaseException] = []


def _keeper() -> None:
    try:
        import qiskit  # noqa: F401
        from qiskit import QuantumCircuit
        from qiskit.circuit.library import StatePreparation  # noqa: F401

        QuantumCircuit(1).ry(0.1, 0)
    except BaseException as err:  # qiskit missing or broken: the quantum pages report it when they use it
        _ERROR.append(err)
    finally:
        _READY.set()
    threading.Event().wait()


def ensure_qiskit_thread(timeout: float = 120.0) -> bool:
    """Start the keeper thread once (idempotent) and wait for its import; True when qiskit imported."""
    with _LOCK:
        if not _READY.is_set() and not any(t.name == "jetlab-qiskit-keeper" for t in threading.enumerate()):
            threading.Thread(target=_keeper, name="jetlab-qiskit-keeper", daemon=True).start()
    _READY.wait(timeout)
    return _READY.is_set() and not _ERROR
