"""Command-line options of ``python -m core train --model quantum`` (added to the common ``train`` verb)."""

from __future__ import annotations

import argparse

from core.errors import JetInputError
from core.quantum.channels import CHANNEL_NAMES


def add_quantum_arguments(p: argparse.ArgumentParser) -> None:
    """Quantum-only options; ``--steps`` stays the number of optimisation steps, as for every family."""
    g = p.add_argument_group("quantum model (--model quantum)")
    g.add_argument(
        "--encoder", default="amplitude", choices=("amplitude", "frqi"), help="state encoding of the 3 x 8 x 8 jets"
    )
    g.add_argument(
        "--qubits",
        type=int,
        default=None,
        help="data qubits: 6 = one state per channel (amplitude encoder, each 8 x 8 channel on 6 qubits; the "
        "default), 8 = the 3 channels of 8 x 8 in one state (the FRQI default is its joint state)",
    )
    g.add_argument("--ancillas", type=int, default=1, help="ancilla qubits per reverse step (traced out / measured)")
    g.add_argument("--layers", type=int, default=6, help="hardware-efficient layers of the reverse circuit")
    g.add_argument("--channel", default="amplitude_damping", choices=CHANNEL_NAMES, help="forward noise channel")
    g.add_argument("--diffusion-steps", type=int, default=4, help="forward / reverse steps K of the quantum process")
    g.add_argument("--latent", type=int, default=8, help="size of the random latent fed to the angle network")
    g.add_argument("--mmd-weight", type=float, default=1.0, help="weight of the set-level MMD (fidelity kernel) term")
    g.add_argument(
        "--pixel-order", default="centred", choices=("centred", "raster"), help="amplitude encoder pixel order"
    )
    g.add_argument(
        "--energy",
        default=None,
        choices=("channels", "total"),
        help="classical energy scale: the 3 channel energies (copula; amplitude default) or one total",
    )
    g.add_argument(
        "--pad-first", action="store_true", help="amplitude encoder: unused basis states first (|0...0> is no pixel)"
    )


def quantum_size(args: argparse.Namespace) -> int:
    """The quantum model works on 8 x 8 (the train verb's default --size 32 means 'use the model's 8')."""
    return args.size if args.size in (4, 8, 16) else 8


def quantum_task_config(args: argparse.Namespace) -> dict:
    from core.quantum.encoders import make_encoder
    from core.quantum.task import default_config

    size = quantum_size(args)
    joint = make_encoder(args.encoder, (3, size, size)).num_qubits
    per_channel = make_encoder(args.encoder, (1, size, size)).num_qubits
    layout = None  # the default: one state per channel for amplitude, the joint state otherwise
    if args.qubits == joint:
        layout = "joint"
    elif args.qubits is not None:
        if args.qubits != per_channel or args.encoder != "amplitude":
            options = f"{joint} (3 channels in one state)" + (
                f" or {per_channel} (one state per channel)" if args.encoder == "amplitude" else ""
            )
            raise JetInputError(
                f"--qubits {args.qubits}: the {args.encoder} encoder of 3 x {size} x {size} jets takes {options}"
            )
        if args.energy == "total":
            raise JetInputError(f"--qubits {args.qubits} (one state per channel) needs --energy channels")
        layout = "per_channel"
    return default_config(
        layout=layout,
        size=size,
        encoder=args.encoder,
        order=args.pixel_order,
        pad_first=args.pad_first,
        energy=args.energy,
        ancillas=args.ancillas,
        layers=args.layers,
        channel=args.channel,
        steps=args.diffusion_steps,
        latent=args.latent,
        mmd_weight=args.mmd_weight,
    )


def quantum_recreate_args(args: argparse.Namespace) -> list[str]:
    return (
        [
            f"--encoder {args.encoder}",
            f"--ancillas {args.ancillas}",
            f"--layers {args.layers}",
            f"--channel {args.channel}",
            f"--diffusion-steps {args.diffusion_steps}",
            f"--latent {args.latent}",
            f"--mmd-weight {args.mmd_weight:g}",
            f"--pixel-order {args.pixel_order}",
        ]
        + (["--pad-first"] if args.pad_first else [])
        + ([f"--energy {args.energy}"] if args.energy else [])
        + ([f"--qubits {args.qubits}"] if args.qubits is not None else [])
    )
