"""Generate jets from a quantum checkpoint as a real device would: transpiled chain, device noise, shots.

``prepare`` transpiles the model's reverse chain (``core.quantum.device_chain``) once for a device;
``sample_on_device`` binds each jet's angles (one chain per channel state), runs it on Aer with the
device's noise scaled by a factor (or a plain depolarising error per gate) and turns the measured
frequencies into GeV images with the task's classical channel energies.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import torch

from core.errors import JetInputError
from core.quantum import devices
from core.quantum.device_chain import chain_angles, chain_template, run_chain
from core.quantum.export import reverse_circuit
from core.quantum.hybrid import draw_latents

DEFAULT_SHOTS = 4096


@dataclass
class PreparedChain:
    """A model's reverse chain transpiled for one device, with what transpiling cost."""

    backend: str
    transpiled: object  # qiskit.QuantumCircuit (parameterised, no measurements) on all the device's qubits
    measured: list[int]  # physical qubit of each data qubit at the end of the chain
    chain: devices.CircuitStats  # the whole chain (T steps, resets and re-noising)
    step: devices.CircuitStats  # one reverse step (the PQC at t = T) on its own
    data_qubits: int
    step_circuit: object = None  # the transpiled reverse step at t = T on the qubits it touches (for drawing)

    def attrs(self) -> dict:
        """What an output file records about the device run."""
        return {
            "backend": self.backend,
            "transpiled_depth": self.chain.depth,
            "two_qubit_gates": self.chain.two_qubit_gates,
            "step_transpiled_depth": self.step.depth,
            "step_two_qubit_gates": self.step.two_qubit_gates,
            "physical_qubits": list(self.chain.physical_qubits),
        }


def prepare(model, backend_name: str, seed: int = 0) -> PreparedChain:
    """Transpile the model's chain (and one step, for the record) to the device ``backend_name``."""
    name = devices.canonical_name(backend_name)
    backend = devices.get_backend(name)
    need = model.cfg.data_qubits + model.cfg.ancillas
    if backend.num_qubits < need:
        raise JetInputError(f"backend {name!r}: {backend.num_qubits} qubits, the model needs {need}")
    template, _ = chain_template(model, measure=False)
    transpiled, final = devices.transpile_for(template, backend, seed)
    step, _ = devices.transpile_for(reverse_circuit(model, model.cfg.diffusion_steps), backend, seed)
    n = model.cfg.data_qubits
    return PreparedChain(
        name,
        transpiled,
        final[:n],
        devices.circuit_stats(transpiled),
        devices.circuit_stats(step),
        n,
        devices.compact_circuit(step),
    )


def noise_label(kind: str, level: float) -> str:
    return f"device errors x {level:g}" if kind == "device" else f"depolarising p = {level:g} per gate"


def device_probabilities(
    task,
    net,
    prepared: PreparedChain,
    labels: torch.Tensor,
    kind: str,
    level: float,
    shots,
    seed: int,
    energies: torch.Tensor | None = None,
) -> np.ndarray:
    """Measured data-qubit distributions (N * rows_per_jet, 2**n) of the jets ``labels`` on the device.

    A channel-context model runs its channels in turn (``task.in_turn``): each channel's chains get the context
    of the distributions measured for the jet's earlier channels, as a device run would have to; each run has its
    own simulator seed (seed, seed + 1, ...). ``energies``: the jets' drawn energies, for a model that draws its
    shapes given them (energy context)."""
    g = torch.Generator().manual_seed(int(seed))
    cond = task.row_labels(labels)
    z = draw_latents(net.cfg, len(cond), task.rows_per_jet, g)
    noise = devices.noise_for(prepared.backend, kind, level)
    run_seeds = itertools.count(int(seed))

    def run(rows: slice, ctx: torch.Tensor | None) -> torch.Tensor:
        angles = chain_angles(net, cond[rows], z[rows], ctx)
        return torch.as_tensor(run_chain(prepared.transpiled, angles, prepared.measured, noise, shots, next(run_seeds)))

    return task.in_turn(len(labels), run, lambda p: p, extra=task.energy_extra(energies)).numpy()


def sample_on_device(
    task,
    net,
    prepared: PreparedChain,
    labels: torch.Tensor,
    kind: str = "device",
    level: float = 1.0,
    shots: int | None = DEFAULT_SHOTS,
    seed: int = 0,
) -> torch.Tensor:
    """Jets (N, 3, size, size) GeV generated on the (simulated, noisy) device; same seed, same jets."""
    if not hasattr(task, "reverse_circuit"):
        raise JetInputError(f"--backend: only models with a circuit run on a device, not {task.family!r} ones")
    if shots is not None and shots < 1:
        raise JetInputError(f"shots: must be a positive integer, got {shots}")
    labels = torch.as_tensor(labels, dtype=torch.long)
    numbers = torch.Generator().manual_seed(int(seed) + 1)  # the energies, then the readout's draws
    aux = task.draw_aux(labels, numbers)
    probs = device_probabilities(task, net, prepared, labels, kind, level, shots, seed, energies=aux)
    return task.read_jets(torch.as_tensor(probs), aux, labels, numbers).float()


def device_run(ckpt, labels: torch.Tensor | None, args, command: str) -> tuple[torch.Tensor, dict]:
    """``sample --backend``: jets from the checkpoint on the device and the attributes the file records."""
    if not hasattr(ckpt.task, "reverse_circuit"):
        raise JetInputError(
            f"--backend: only models with a circuit run on a device; {ckpt.path} is a {ckpt.task.family!r} checkpoint"
        )
    if args.noise_scale < 0:
        raise JetInputError(f"--noise-scale: must be >= 0, got {args.noise_scale}")
    shots = args.shots or DEFAULT_SHOTS
    if labels is None:
        labels = torch.randint(0, 2, (args.n,), generator=torch.Generator().manual_seed(int(args.seed)))
    net = ckpt.ema.cpu()
    prepared = prepare(net, args.backend, seed=args.seed)
    x = sample_on_device(ckpt.task, net, prepared, labels, "device", args.noise_scale, shots, args.seed)
    attrs = {
        **prepared.attrs(),
        "sampler": f"device:{prepared.backend}",
        "command": f"{command} --backend {prepared.backend} --noise-scale {args.noise_scale:g}"
        + ("" if args.shots else f" --shots {shots}"),
        "noise": noise_label("device", args.noise_scale),
        "noise_scale": float(args.noise_scale),
        "shots": shots,
        "readout": f"{shots} shots per state on Aer (density matrix) with the {prepared.backend} noise model"
        + ckpt.task.lit_note,
    }
    return x, attrs


SHAPE_KEYS = ("mass", "width", "ptd", "mult_tracks", "mult_ecal", "mult_hcal")
WHOLE = ("mass", "width")  # also over the whole image
DEVICE_SCALES = (0.0, 0.1, 1.0)
DEPOLARIZING_PS = (0.0, 1e-3, 1e-2)


def noise_conditions() -> list[tuple[str, float]]:
    """The issue's grid: device error rates x 0, 0.1, 1 and depolarising p = 0, 1e-3, 1e-2 per gate."""
    return [("device", s) for s in DEVICE_SCALES] + [("depolarizing", p) for p in DEPOLARIZING_PS[1:]]


def shape_distances(reference: torch.Tensor, images: torch.Tensor) -> dict[str, float]:
    """W1 of the shape observables within R = 0.4 between two jet sets, and their mean in units of the reference's
    spread; and the mass and width over the whole image (``mass (whole image)``, ``width (whole image)``): with
    energies drawn inside and outside the cone the four central pixels hold a fixed energy, and shapes differ most
    outside them."""
    from core.data.observables import jet_observables
    from core.metrics.physics import wasserstein_distances

    a, b = jet_observables(reference), jet_observables(images)
    w1 = wasserstein_distances(a, b, SHAPE_KEYS)
    spread = {k: float(np.std(a[k])) or 1.0 for k in SHAPE_KEYS}
    w1["mean W1 / spread"] = float(np.mean([w1[k] / spread[k] for k in SHAPE_KEYS]))
    whole = wasserstein_distances(jet_observables(reference, radius=None), jet_observables(images, radius=None), WHOLE)
    w1.update({f"{k} (whole image)": v for k, v in whole.items()})
    return w1


def energy_moved(reference: torch.Tensor, images: torch.Tensor) -> float:
    """Mean over jets of the fraction of a jet's energy in other pixels than in its ``reference`` twin (0 to 1).

    Same seed, same latents and energies: what the noise alone did to each jet, which distances between
    distributions hide when the noise moves energy between jets' pixels in ways that average out.
    """
    a, b = reference.flatten(1).double(), images.flatten(1).double()
    total = a.sum(1).clamp_min(1e-12)
    return float((0.5 * (a - b).abs().sum(1) / total).mean())


def noiseless_columns(noiseless: torch.Tensor, images: torch.Tensor) -> dict[str, float]:
    """How far noisy jets are from the same jets generated without noise: per jet and as distributions."""
    return {
        "energy moved vs noiseless": energy_moved(noiseless, images),
        "mean W1 / spread vs noiseless": shape_distances(noiseless, images)["mean W1 / spread"],
    }


def noise_table(
    task,
    net,
    prepared: PreparedChain,
    labels,
    real: torch.Tensor,
    shots: int | None,
    seed: int = 0,
    conditions=None,
    noiseless: torch.Tensor | None = None,
) -> tuple[list[dict], dict[str, torch.Tensor]]:
    """Distances of device-generated jets to ``real`` jets for each noise condition (same seed, same latents).

    Each row also compares its jets with the same jets at zero noise: ``noiseless`` when given, else the first
    zero-noise condition's (rows before it get the columns once it is known). Returns one row per condition and
    the generated images keyed by the condition's label.
    """
    rows, images = [], {}
    for kind, level in conditions or noise_conditions():
        x = sample_on_device(task, net, prepared, labels, kind, level, shots, seed)
        label = noise_label(kind, level)
        images[label] = x
        if noiseless is None and level == 0:
            noiseless = x
        rows.append({"noise": label, "kind": kind, "level": level, **shape_distances(real, x)})
    if noiseless is not None:
        for row, x in zip(rows, images.values(), strict=True):
            row.update(noiseless_columns(noiseless, x))
    return rows, images


def device_report(ckpt, backend_name: str, n_per_class: int, real: torch.Tensor, shots: int | None, seed: int = 0):
    """Everything the Quantum lab's device section shows: circuit costs, the step drawing, the noise table, jets."""
    net = ckpt.ema.cpu()
    prepared = prepare(net, backend_name, seed=seed)
    labels = torch.tensor([1] * n_per_class + [0] * n_per_class)
    rows, images = noise_table(ckpt.task, net, prepared, labels, real, shots, seed)
    return {
        "attrs": prepared.attrs(),
        "step_circuit": prepared.step_circuit,
        "rows": rows,
        "images": images,
        "labels": labels,
    }
