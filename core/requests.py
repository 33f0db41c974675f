"""One request type per verb: what ``train`` and ``sample`` are asked to do, from the page, the CLI or Python.

``TrainRequest`` and ``SampleRequest`` are plain dataclasses. Each field carries its command-line flag, help
text, choices and group in its metadata, so the argparse options (``add_arguments``), the Train page's form
and ``to_argv`` are all generated from the same fields and share every default. Choices that belong to
another module (the registered families, the schedules, the quantum channels) are named as
``"module:ATTRIBUTE"`` and read when asked for, so importing this module stays cheap.

The task config is built in one place: ``TrainRequest.task_config`` asks the family's module (the one its
registry builder lives in) for ``config_from_request(request)``; a family without one gets
``{"family", "size"}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from core.errors import JetInputError

COMMON, DIFFUSION, QUANTUM, MONITOR = "common", "diffusion", "quantum", "monitor"


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    choices: Sequence | str | None = None,
    group: str = COMMON,
    label: str | None = None,
    minimum: float | None = None,
    aliases: Sequence[str] = (),
    cli: bool = True,
) -> Any:
    """A dataclass field with what argparse and the page need: flag, help, choices, group, label, minimum."""
    meta = {
        "help": help,
        "flag": flag,
        "choices": choices,
        "group": group,
        "label": label,
        "minimum": minimum,
        "aliases": tuple(aliases),
        "cli": cli,
    }
    return field(default=default, metadata=meta)


def resolve(ref: str) -> Any:
    """``"module:ATTRIBUTE"`` -> the attribute (a dict gives its keys, in order)."""
    module, _, name = ref.partition(":")
    value = getattr(importlib.import_module(module), name)
    return list(value) if isinstance(value, dict) else value


def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def choices_of(cls: type, name: str) -> list | None:
    """The allowed values of a request field, or None when any value of its type is allowed."""
    choices = cls.__dataclass_fields__[name].metadata.get("choices")
    if choices is None:
        return None
    return list(resolve(choices)) if isinstance(choices, str) else list(choices)


def help_of(cls: type, name: str) -> str:
    return cls.__dataclass_fields__[name].metadata.get("help", "")


def flag_of(cls: type, name: str) -> str:
    return cls.__dataclass_fields__[name].metadata.get("flag") or "--" + name.replace("_", "-")


def base_type(cls: type, name: str) -> type:
    """The field's type without ``| None`` (int, float, str, bool)."""
    hint = _hints(cls)[name]
    args = [a for a in getattr(hint, "__args__", ()) if a is not type(None)]
    return args[0] if args else hint


def fields_in(cls: type, group: str | None = None) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if group is None or f.metadata.get("group") == group]


class Request:
    """Behaviour shared by the request dataclasses: argparse in, argv out, checked choices."""

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser, required: Sequence[str] = ()) -> None:
        """Add one option per CLI field; ``required`` names fields the verb cannot run without."""
        groups: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if not f.metadata.get("cli", True):
                continue
            group = f.metadata.get("group", COMMON)
            if group not in groups:
                groups[group] = p if group == COMMON else p.add_argument_group(f"{group} options")
            cls._add_one(groups[group], f, f.name in required)

    @classmethod
    def _add_one(cls, p: Any, f: dataclasses.Field, required: bool) -> None:
        meta = f.metadata
        typ = base_type(cls, f.name)
        names = [flag_of(cls, f.name), *meta.get("aliases", ())]
        help_text = meta["help"]
        if typ is bool:
            p.add_argument(*names, dest=f.name, action="store_true", help=help_text)
            return
        choices = choices_of(cls, f.name)
        if choices is not None:
            help_text += f"; one of {', '.join(str(c) for c in choices if c is not None)}"
        if not required and f.default is not None:
            help_text += f" (default {f.default})"
        # Choices are checked by ``check`` (one line naming the option), not by argparse (usage + exit).
        p.add_argument(
            *names, dest=f.name, type=typ, default=None if required else f.default, required=required, help=help_text
        )

    @classmethod
    def from_namespace(cls, args: argparse.Namespace) -> Request:
        """The request an argparse namespace holds (fields absent from it keep their defaults)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in vars(args).items() if k in names})

    def to_argv(self) -> list[str]:
        """Command-line arguments that rebuild this request (only the fields that differ from the default)."""
        cls = type(self)
        argv: list[str] = []
        for f in dataclasses.fields(cls):
            value = getattr(self, f.name)
            if not f.metadata.get("cli", True) or value is None or value == f.default:
                continue
            if base_type(cls, f.name) is bool:
                argv.append(flag_of(cls, f.name))
            else:
                argv += [flag_of(cls, f.name), format(value, "g") if isinstance(value, float) else str(value)]
        return argv

    def check(self) -> None:
        """Refuse a value outside a field's choices or below its minimum, naming the option."""
        cls = type(self)
        for f in dataclasses.fields(cls):
            value = getattr(self, f.name)
            if value is None:
                continue
            choices = choices_of(cls, f.name)
            flag = flag_of(cls, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise JetInputError(f"{flag}: must be a finite number, got {value}")
            if choices is not None and value not in choices:
                known = ", ".join(str(c) for c in choices if c is not None)
                raise JetInputError(f"{flag} {value!r}: unknown; use one of {known}")
            minimum = f.metadata.get("minimum")
            if minimum is not None and value < minimum:
                need = "a positive integer" if minimum == 1 and isinstance(value, int) else f"at least {minimum:g}"
                raise JetInputError(f"{flag}: must be {need}, got {value}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TrainRequest(Request):
    """Everything ``train`` needs; the CLI, the Train page and Python fill the same fields."""

    family: str = option(
        "ddpm", "model family", flag="--model", choices="core.training.registry:TASK_BUILDERS", label="Model"
    )
    data: str | None = option(
        None, "jet file (CMS HDF5, sparse HDF5 or EnergyFlow .npz); default: the embedded sample", cli=True
    )
    size: int = option(
        32,
        "image size after energy-conserving pooling (the quantum model uses 8 unless 4, 8 or 16 is given)",
        choices="core.data.transforms:SIZES",
        label="Image size",
    )
    steps: int = option(
        2000, "total optimisation steps (with --resume: the new total)", minimum=1, label="Training steps"
    )
    out: str | None = option(None, "checkpoint directory")
    resume: bool = option(False, "continue from the checkpoint in --out")
    init_from: str | None = option(
        None,
        "start the network from this checkpoint's EMA weights (same family and network; a fresh optimizer at step "
        "0; everything fitted on the jets, such as the layout with --hcal-towers, is this run's own)",
    )
    batch_size: int = option(32, "batch size per process", flag="--batch", minimum=1, label="Batch size")
    lr: float = option(1e-3, "peak learning rate (AdamW)", label="Learning rate")
    lr_schedule: str = option(
        "constant",
        "after warm-up: constant, or cosine down to 10 %% of the peak at the last step",
        choices=("constant", "cosine"),
        label="Learning-rate schedule",
    )
    warmup: int = option(200, "linear warm-up steps", minimum=0, label="Warm-up steps")
    ema: float = option(0.999, "EMA decay", label="EMA decay")
    max_jets: int | None = option(None, "train on a seeded random subset of the file", minimum=2, label="Jets used")
    seed: int = option(0, "seed of initialisation, data order and noise", label="Seed")
    device: str = option("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    checkpoint_every: int = option(500, "steps between checkpoints (0: only at the end)", minimum=0)
    inference_only: bool = option(False, "the final checkpoint keeps only the EMA weights (small, not resumable)")
    threads: int | None = option(None, "CPU threads for torch", minimum=1)
    # Classical diffusion (ddpm; the seed baseline keeps its own 50-step linear schedule and eps target).
    preset: str = option(
        "tiny", "U-Net size", choices="core.diffusion.unet:PRESETS", group=DIFFUSION, label="U-Net preset"
    )
    schedule: str = option(
        "cosine", "noise schedule", choices="core.diffusion.schedules:KINDS", group=DIFFUSION, label="Schedule"
    )
    beta_start: float = option(1e-4, "first beta of the linear schedule", group=DIFFUSION, label="beta start")
    beta_end: float = option(0.02, "last beta of the linear schedule", group=DIFFUSION, label="beta end")
    timesteps: int | None = option(
        None, "diffusion timesteps T (default: the family's, 1000 for ddpm)", group=DIFFUSION, minimum=1
    )
    prediction: str = option(
        "v",
        "network target (v learns much faster here)",
        choices="core.diffusion.task:PREDICTIONS",
        group=DIFFUSION,
        label="Prediction target",
    )
    no_energy_condition: bool = option(
        False,
        "ddpm: generate the channel energies with the image (default: draw them from the per-class copula of "
        "core.data.energies and condition the network on them)",
        group=DIFFUSION,
        label="Without energy condition",
    )
    no_multiplicity: bool = option(
        False,
        "ddpm and quantum: let the model's own pixels decide how many deposits a jet has (default: the "
        "multiplicity readout, each channel's lit pixels inside and outside the cone taken from training jets near "
        "the generated one, in energies and, for the U-Net, channel widths: core.data.multiplicity; "
        "core.quantum.lit_pixels)",
        label="Without multiplicity readout",
    )
    no_concentration: bool = option(
        False,
        "quantum, and ddpm with HCAL as towers: leave each lit region's energy shared as the model drew it "
        "(default: shared as in the training jet that gives its lit pixels: for quantum models its shares pixel by "
        "pixel, core.data.readout.match_profile; for towers as concentrated, core.data.readout.match_concentration)",
        label="Without concentration readout",
    )
    no_halo_draw: bool = option(
        False,
        "quantum: light the most probable pixels outside the cone as well (default: draw them from the Born "
        "probabilities to the power 1 / 10, Tracks and HCAL sharing the draw: core.quantum.lit_pixels.halo_scores)",
        label="Most probable halo pixels",
    )
    no_channel_order: bool = option(
        False,
        "quantum: give each channel's lit pixels the neighbour's shares in that channel's own order of probability "
        "(default: in the channels' joint order, ECAL and HCAL leaning on Tracks' ranks in the cone and HCAL's halo "
        "on Tracks' deposits: core.quantum.lit_pixels.cone_order; then ECAL's and HCAL's cone shared as in a "
        "training jet with a Tracks cone and cone energies like the jet's: core.data.cone_donors)",
        label="Channels ordered alone",
    )
    hcal_towers: bool = option(
        False,
        "ddpm at 32 x 32: draw HCAL as the detector's 5 x 5-pixel towers, each at its centre pixel, and spread them "
        "over their pixels at the end (core.data.hcal_towers): real HCAL images are exactly such towers",
        group=DIFFUSION,
        label="HCAL as towers",
    )
    region_condition: bool = option(
        False,
        "ddpm with the multiplicity readout: tell the network, beside the channel energies, each channel's lit "
        "pixels inside and outside the cone and its energy share inside, as the readout will light them "
        "(core.diffusion.task.region_features): the shape is drawn for its number of deposits",
        group=DIFFUSION,
        label="Condition on lit pixels per region",
    )
    energy_shares: bool = option(
        False,
        "ddpm with the energy condition: the network draws each pixel's share of its channel's energy, and the "
        "energies drawn for the jet scale the shares back to GeV (core.data.transforms.channel_shares): no energy "
        "sits in the pixels, so no shape drawn for one energy is stretched to another",
        group=DIFFUSION,
        label="Shapes as shares of the channel energies",
    )
    bright_weight: float = option(
        0.0,
        "ddpm: weight the training loss at each pixel by 1 + W x its clean brightness in model space (0 for an "
        "empty pixel, 1 for the brightest), so the core's leading deposits count more than the many empty pixels; "
        "0 = the plain MSE",
        group=DIFFUSION,
        minimum=0,
        label="Loss weight on bright pixels",
    )
    noise_correlation: float = option(
        0.0,
        "ddpm: correlation, in [0, 1), of the diffusion noise between a pixel's three channels, in training and "
        "sampling (core.diffusion.noise): a jet's channels see one shower, and shared noise lets their reverse "
        "paths put deposits on the same pixels; 0 = independent channels",
        group=DIFFUSION,
        minimum=0,
        label="Noise correlation between channels",
    )
    # The hybrid quantum model.
    encoder: str = option(
        "amplitude",
        "state encoding of the 3 x 8 x 8 jets",
        choices="core.quantum.task:HYBRID_ENCODERS",
        group=QUANTUM,
        label="Encoder",
    )
    qubits: int | None = option(
        None,
        "data qubits: 6 = one state per channel (amplitude encoder, the default), 8 = the 3 channels of 8 x 8 in "
        "one state (the FRQI default is its joint state)",
        group=QUANTUM,
        label="Data qubits (empty: the encoder's default layout)",
    )
    ancillas: int = option(1, "ancilla qubits per reverse step", group=QUANTUM, minimum=0, label="Ancilla qubits")
    layers: int = option(
        6, "hardware-efficient layers of the reverse circuit", group=QUANTUM, minimum=1, label="Layers"
    )
    channel: str = option(
        "amplitude_damping",
        "forward noise channel",
        choices="core.quantum.channels:CHANNEL_NAMES",
        group=QUANTUM,
        label="Noise channel",
    )
    diffusion_steps: int = option(
        4, "forward / reverse steps K of the quantum process", group=QUANTUM, minimum=1, label="Diffusion steps"
    )
    latent: int = option(8, "size of the random latent fed to the angle network", group=QUANTUM, minimum=0)
    mmd_weight: float = option(1.0, "weight of the set-level MMD (fidelity kernel) term", group=QUANTUM, minimum=0)
    chain_weight: float = option(
        0.0,
        "weight of an MMD between the ends of whole reverse chains (run from the fixed point) and clean states",
        group=QUANTUM,
        minimum=0,
        label="Whole-chain MMD weight",
    )
    chain_jets: bool = option(
        False,
        "channels in turn: the whole-chain term draws each channel from the chain's own earlier channels and "
        "compares whole jets as well",
        group=QUANTUM,
        label="Whole-chain term on whole jets",
    )
    profile_weight: float = option(
        0.0,
        "with --chain-weight: weight of an MMD on the radial profiles (ring fractions, mean distance, core lean) of "
        "the chains' ends, per channel joint with its context (with --chain-jets: whole jets' three profiles)",
        group=QUANTUM,
        minimum=0,
        label="Profile MMD weight (whole chain)",
    )
    profile_sparsity: bool = option(
        False,
        "with --profile-weight: the profile term also compares how each channel's energy spreads over its pixels "
        "(shares of pixels above 0.01, 0.1 and 1 percent of the channel's energy, and the sum of squared fractions)",
        group=QUANTUM,
        label="Profile term sees the pixel spread",
    )
    width_weight: float = option(
        0.0,
        "with --chain-jets and --profile-weight: weight of an MMD of whole jets' three channel widths alone (each "
        "channel's energy-weighted mean distance from the axis), for the correlation of a jet's channel widths",
        group=QUANTUM,
        minimum=0,
        label="Channel-width MMD weight (whole jets)",
    )
    lean_weight: float = option(
        0.0,
        "with --chain-jets and --profile-weight: weight of an MMD of whole jets' core splits alone (each channel's "
        "core energy over its four quadrants, sorted), for how a jet shares its central pixels, in HCAL above all",
        group=QUANTUM,
        minimum=0,
        label="Core-split MMD weight (whole jets)",
    )
    halo_weight: float = option(
        0.0,
        "with --chain-jets and --profile-weight: weight of an MMD of whole jets' halo directions alone (angular "
        "harmonics of each channel's energy outside R = 0.4); the halo also joins later channels' context",
        group=QUANTUM,
        minimum=0,
        label="Halo-direction MMD weight (whole jets)",
    )
    cone_width_weight: float = option(
        0.0,
        "with --chain-jets and --profile-weight: weight of an MMD of whole jets' three channel widths within R = 0.4 "
        "of the jet axis, for the correlation of a jet's channel widths within the cone",
        group=QUANTUM,
        minimum=0,
        label="Cone-width MMD weight (whole jets)",
    )
    energy_context: bool = option(
        False,
        "with --channel-context and --energy cone: each channel's shape is drawn given the jet's energies inside and "
        "outside the cone (the copula's draw), as the U-Net's is; real jets' in-cone concentration follows them",
        group=QUANTUM,
        label="Shapes given the jet's energies",
    )
    shared_latent: bool = option(
        False,
        "one state per channel: one latent per jet for its three channel states, and an MMD on whole jets",
        group=QUANTUM,
    )
    channel_context: bool = option(
        False,
        "one state per channel: draw Tracks, then ECAL given the Tracks shape, then HCAL given both",
        group=QUANTUM,
        label="Channels in turn (context)",
    )
    pixel_order: str = option(
        "centred", "amplitude encoder pixel order", choices=("centred", "raster"), group=QUANTUM, label="Pixel order"
    )
    energy: str | None = option(
        None,
        "classical energy scale: the 3 channel energies (copula; amplitude default), each channel's energy inside "
        "and outside the jet cone (copula, as the U-Net's), or one total",
        choices=(None, "channels", "cone", "total"),
        group=QUANTUM,
        label="Classical energies",
    )
    pad_first: bool = option(False, "amplitude encoder: unused basis states first (|0...0> is no pixel)", group=QUANTUM)
    # Live monitoring (the dashboard's job; the CLI can ask for it too).
    metrics_every: int = option(
        0, "steps between held-out metrics (0: never)", group=MONITOR, minimum=0, label="Metrics every … steps"
    )
    preview_every: int = option(0, "steps between preview samples (0: never)", group=MONITOR, minimum=0)
    held_out: float = option(0.1, "fraction of jets held out for the metrics", group=MONITOR, minimum=0)
    time_limit: float | None = option(
        None, "seconds of wall time; then save and stop (status: time limit reached)", group=MONITOR, minimum=0
    )

    def task_config(self) -> dict:
        """The task config of this request: the one place a request becomes a model (see the module doc)."""
        from core.training.registry import family_module

        self.check()
        make = getattr(family_module(self.family), "config_from_request", None)
        if make is None:
            return {"family": self.family, "size": int(self.size)}
        return make(self)

    def train_config(self):
        """How to train (``core.training.loop.TrainConfig``) from this request."""
        from core.training.loop import TrainConfig

        cfg = TrainConfig(
            steps=self.steps,
            batch_size=self.batch_size,
            lr=self.lr,
            lr_schedule=self.lr_schedule,
            warmup=self.warmup,
            ema_decay=self.ema,
            seed=self.seed,
            device=self.device,
            log_every=1,
            metrics_every=self.metrics_every,
            preview_every=self.preview_every,
            checkpoint_every=self.checkpoint_every,
        )
        cfg.check()
        return cfg

    def command(self) -> str:
        """The command line that re-creates this training (recorded in the model card)."""
        return shlex.join(["python", "-m", "core", "train", *self.to_argv()])

    def to_argv(self) -> list[str]:
        """``python -m core train`` arguments of this request; ``--model`` always comes first."""
        rest = super().to_argv()
        if "--model" in rest:
            i = rest.index("--model")
            del rest[i : i + 2]
        return ["--model", self.family, *rest]


@dataclass
class SampleRequest(Request):
    """Everything ``sample`` needs; the CLI and the Generate page fill the same fields."""

    checkpoint: str = option("", "checkpoint directory (from `train`, or checkpoints/...)")
    n: int = option(100, "number of jets", minimum=1, label="Jets")
    out: str | None = option(None, "output HDF5 file")
    sampler: str | None = option(
        None, "sampler from the model's table (ddpm, ddim, fast for diffusion; born for quantum); default: the model's"
    )
    sampler_steps: int | None = option(
        None,
        "steps of the sampler (default: the model's, e.g. fast 20, ddim 50, ddpm all T; a guided step runs the "
        "network twice)",
        aliases=("--steps",),
        minimum=1,
        label="Sampler steps",
    )
    eta: float | None = option(None, "DDIM eta in [0, 1] (0: deterministic)", minimum=0)
    logsnr_floor: float | None = option(
        None,
        "fast sampler: its log-SNR grid starts no noisier than this lambda (e.g. -3; default: at T - 1, where the "
        "cosine schedule's lambda is -9.9), so few steps are not spent on pure noise",
    )
    shots: int | None = option(
        None,
        "readout by measurement: shots per state from the final Born distribution (models that measure; default: "
        "exact probabilities)",
        minimum=1,
        label="Shots",
    )
    label: str | None = option(
        None, "quark, gluon, mixed (half each) or none; default: mixed for conditional models", label="Label"
    )
    guidance: float | None = option(
        None,
        "classifier-free guidance weight (0 unconditional, 1 conditional, > 1 sharper classes; default: the "
        "model's, from its config: 1.5 for the shipped U-Net, 1 otherwise)",
        minimum=0,
        label="Guidance weight",
    )
    guidance_from: float = option(
        0.0,
        "the guidance weight applies only at the noisier steps, t / T >= this (0: every step; the conditional "
        "model alone below it)",
        minimum=0,
        label="Guidance from t / T",
    )
    seed: int = option(0, "random seed (same seed, same jets)", label="Seed")
    device: str = option("cpu", "cpu, cuda, mps or auto")
    batch_size: int = option(256, "jets per sampling batch", flag="--batch", minimum=1)
    trajectory_n: int = option(4, "jets whose reverse process is recorded (the page's animation)", cli=False)

    def command(self) -> str:
        return shlex.join(["python", "-m", "core", "sample", *self.to_argv()])
