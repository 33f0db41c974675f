"""Offline models of real IBM devices (``qiskit_ibm_runtime.fake_provider``): coupling map, gate set, noise.

Only the fake backends are used: no account, no network. A device's noise comes from its calibration
snapshot through ``qiskit_aer.noise.NoiseModel.from_backend`` (thermal relaxation + depolarising gate
error + readout error); ``scaled_noise`` multiplies every error rate by a factor (T1 and T2 divided by it),
so factor 0 is the ideal device with the same transpiled circuit and factor 1 is the device as calibrated.
``depolarizing_noise`` is the simple alternative: depolarising error p after every physical gate.
"""

from __future__ import annotations

import copy
import functools
import warnings
from dataclasses import dataclass

from core.errors import JetInputError

# Short name -> fake backend class. Every one has at least 7 qubits (the shipped model: 6 data + 1 ancilla).
DEVICES = {
    "nairobi": "FakeNairobiV2",  # 7 qubits, cx, H-shaped coupling
    "perth": "FakePerth",  # 7 qubits, cx
    "guadalupe": "FakeGuadalupeV2",  # 16 qubits, cx
    "kolkata": "FakeKolkataV2",  # 27 qubits, cx
    "brisbane": "FakeBrisbane",  # 127 qubits, ecr (Eagle)
    "torino": "FakeTorino",  # 133 qubits, cz (Heron)
    "fez": "FakeFez",  # 156 qubits, cz (Heron r2)
}
TWO_QUBIT_GATES = ("cx", "cz", "ecr", "swap", "cy", "rzz", "crx", "cry", "crz", "rxx", "ryy")


def canonical_name(name: str) -> str:
    """'FakeTorino', 'fake_torino', 'torino' -> 'torino'; an unknown name raises one line listing the choices."""
    key = str(name).strip().lower().replace("_", "").replace("-", "")
    key = key.removeprefix("fake").removesuffix("v2")
    if key not in DEVICES:
        raise JetInputError(f"backend {name!r}: unknown; use one of {', '.join(DEVICES)}")
    return key


@functools.lru_cache(maxsize=8)
def get_backend(name: str):
    """The fake backend (a ``BackendV2``) for a device name."""
    from qiskit_ibm_runtime import fake_provider

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(fake_provider, DEVICES[canonical_name(name)])()


@dataclass(frozen=True)
class CircuitStats:
    """What transpiling to a device did to a circuit."""

    depth: int
    two_qubit_gates: int
    gates: int
    physical_qubits: tuple[int, ...]

    def to_dict(self) -> dict:
        return {
            "depth": self.depth,
            "two_qubit_gates": self.two_qubit_gates,
            "gates": self.gates,
            "physical_qubits": list(self.physical_qubits),
        }


def two_qubit_count(qc) -> int:
    """Number of two-qubit gates (barriers, measurements and resets excluded)."""
    return sum(1 for inst in qc.data if inst.operation.num_qubits == 2 and inst.operation.name != "barrier")


def circuit_stats(qc) -> CircuitStats:
    """Depth (resets and measurements included), two-qubit count and the physical qubits a circuit touches."""
    used = sorted({qc.find_bit(q).index for inst in qc.data for q in inst.qubits})
    gates = sum(1 for inst in qc.data if inst.operation.name not in ("barrier", "measure", "reset"))
    return CircuitStats(qc.depth(), two_qubit_count(qc), gates, tuple(used))


def compact_qubits(backend, k: int) -> list[int]:
    """``k`` connected physical qubits grown breadth-first from the qubit with the best readout.

    Routing then stays inside them, so a density-matrix simulation holds k qubits, not the whole device.
    """
    edges = backend.coupling_map.get_edges()
    nbrs: dict[int, set[int]] = {q: set() for q in range(backend.num_qubits)}
    for a, b in edges:
        nbrs[a].add(b)
        nbrs[b].add(a)

    def readout(q: int) -> float:
        props = backend.target["measure"].get((q,)) if "measure" in backend.target else None
        return props.error if props is not None and props.error is not None else 1.0

    start = min((q for q in nbrs if len(nbrs[q]) >= 2), key=readout)
    order, seen = [start], {start}
    while len(order) < k:
        frontier = sorted({n for q in order for n in nbrs[q]} - seen, key=readout)
        if not frontier:
            raise JetInputError(f"backend {backend.name}: no {k} connected qubits")
        order.append(frontier[0])
        seen.add(frontier[0])
    return sorted(order)


def transpile_for(qc, backend, seed: int = 0, optimization_level: int = 2):
    """``qc`` mapped to the device's gate set and coupling map, routed within ``compact_qubits``.

    Returns ``(circuit on all the device's qubits, physical qubit of each virtual qubit at the end)``.
    Same seed, same layout and routing.
    """
    from qiskit import QuantumCircuit, transpile

    sub = compact_qubits(backend, qc.num_qubits)
    local = transpile(
        qc,
        basis_gates=list(backend.operation_names),
        coupling_map=backend.coupling_map.reduce(sub),
        optimization_level=optimization_level,
        seed_transpiler=int(seed),
    )
    final = local.layout.final_index_layout() if local.layout is not None else list(range(qc.num_qubits))
    full = QuantumCircuit(backend.num_qubits, name=qc.name)
    full.compose(local, qubits=sub, inplace=True)
    return full, [sub[final[q]] for q in range(qc.num_qubits)]


class _ScaledBackend:
    """Just enough of a ``BackendV2`` for ``NoiseModel.from_backend``, holding a target with scaled errors."""

    version = 2

    def __init__(self, backend, target) -> None:
        self.name = backend.name
        self.target = target
        self.operation_names = backend.operation_names
        self.dt = backend.dt


def _scaled_target(backend, scale: float):
    target = copy.deepcopy(backend.target)
    for name in target.operation_names:
        for qargs, props in (target[name] or {}).items():
            if props is not None and props.error is not None:
                props.error = min(props.error * scale, 0.99)
                target.update_instruction_properties(name, qargs, props)
    from qiskit.providers import QubitProperties

    scaled = []
    for props in target.qubit_properties or []:  # the getter returns copies: build a new list and set it
        if props is None:
            scaled.append(None)
            continue
        t1 = None if props.t1 is None else props.t1 / scale
        t2 = None if props.t2 is None else props.t2 / scale
        scaled.append(QubitProperties(t1=t1, t2=t2, frequency=props.frequency))
    if scaled:
        target.qubit_properties = scaled
    return target


@functools.lru_cache(maxsize=16)
def scaled_noise(name: str, scale: float):
    """The device's Aer noise model with every error rate times ``scale`` (None at 0: the ideal device)."""
    from qiskit_aer.noise import NoiseModel

    if scale < 0:
        raise JetInputError(f"noise scale {scale}: must be >= 0")
    if scale == 0:
        return None
    backend = get_backend(name)
    source = backend if scale == 1 else _ScaledBackend(backend, _scaled_target(backend, scale))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return NoiseModel.from_backend(source)


@functools.lru_cache(maxsize=16)
def depolarizing_noise(name: str, p: float):
    """Depolarising error p after every physical gate of the device's basis (n-qubit channel on n-qubit gates).

    ``rz`` is a virtual (frame) gate on IBM devices and gets no error. None at p = 0.
    """
    from qiskit_aer.noise import NoiseModel, depolarizing_error

    if not 0 <= p <= 1:
        raise JetInputError(f"depolarising strength {p}: must be in [0, 1]")
    if p == 0:
        return None
    backend = get_backend(name)
    nm = NoiseModel(basis_gates=list(backend.operation_names))
    one = [g for g in backend.operation_names if g in ("sx", "x", "id")]
    two = [g for g in backend.operation_names if g in TWO_QUBIT_GATES]
    nm.add_all_qubit_quantum_error(depolarizing_error(p, 1), one)
    nm.add_all_qubit_quantum_error(depolarizing_error(p, 2), two)
    return nm


def noise_for(name: str, kind: str, level: float):
    """``kind`` "device" (error rates times ``level``) or "depolarizing" (p = ``level`` per gate)."""
    if kind == "device":
        return scaled_noise(canonical_name(name), float(level))
    if kind == "depolarizing":
        return depolarizing_noise(canonical_name(name), float(level))
    raise JetInputError(f"noise kind {kind!r}: use 'device' or 'depolarizing'")


def compact_circuit(qc):
    """The same circuit on only the qubits it touches (qubit i = the i-th lowest physical qubit), for drawing."""
    from qiskit import QuantumCircuit

    used = circuit_stats(qc).physical_qubits
    index = {p: i for i, p in enumerate(used)}
    out = QuantumCircuit(len(used), name=qc.name)
    for inst in qc.data:
        out.append(inst.operation, [index[qc.find_bit(q).index] for q in inst.qubits])
    return out
