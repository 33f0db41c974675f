"""The hybrid quantum model as a ``core.training.task.Task`` (registry key ``"quantum"``).

Training images (N, 3, H, W) GeV are downsampled (energy conserving) to ``size`` x ``size`` and
amplitude-encoded. The energy scale stays classical: by default (``energy="channels"``) the three
channel energies of each jet, modelled per class by a Gaussian copula (``core.data.energies``), so
the quantum state only has to carry the shape within each channel; ``energy="total"`` keeps one total
energy (quantiles per class) and lets the state carry the channel split as well.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from torch import nn

from core.data.energies import (
    JET_RADIUS,
    cone_mask,
    draw_channel_energies,
    draw_region_energies,
    fit_channel_energies,
    fit_cone_energies,
    is_cone_table,
    region_energies,
    rescale_channels,
    rescale_regions,
)
from core.data.multiplicity import groups_have, has_concentrations, has_profiles
from core.data.readout import hard_thresholds, hold_threshold, suppress_below, zero_suppression
from core.data.spectrum import calibrate, has_spectrum_map
from core.errors import JetInputError
from core.quantum.channels import check_generation, valid_channels
from core.quantum.context import EARLIER_CHANNELS, cone_width, context_rows, context_size, radial_profile
from core.quantum.encoders import make_encoder, prepare_images
from core.quantum.energy_context import FEATURES as ENERGY_FEATURES
from core.quantum.energy_context import energy_features, fit_energy_norm
from core.quantum.halo import FEATURES as HALO_FEATURES
from core.quantum.halo import halo_features
from core.quantum.hybrid import HybridConfig, HybridModel, hybrid_loss, sample_states
from core.quantum.lit_pixels import draw_readout, fit_table, light
from core.quantum.sim import shot_frequencies
from core.quantum.sparsity import sparsity_features
from core.training.task import Trajectory

HYBRID_ENCODERS = ("amplitude", "frqi")
N_QUANTILES = 101
BORN_NAMES = ("born", "exact", "fast", "ddpm", "ddim")
ENERGY_MODES = ("channels", "cone", "total")  # cone: each channel's energy inside and outside the jet cone
LAYOUTS = ("joint", "per_channel")  # 3 channels in one state (8 qubits at 8 x 8), or one state per channel (6)


def default_config(
    size: int = 8,
    encoder: str = "amplitude",
    order: str = "centred",
    pad_first: bool = False,
    energy: str | None = None,
    layout: str | None = None,
    channel_context: bool = False,
    multiplicity: bool = False,
    concentration: bool = True,
    halo_draw: bool = True,
    channel_order: bool = True,
    **hybrid,
) -> dict:
    """A complete config for ``build_task``; ``hybrid`` overrides ``HybridConfig`` fields.

    New amplitude models default to one state per channel with classical channel energies (the best
    variant in ``benchmarks/bench_quantum.py``); FRQI or ``energy="total"`` mean the joint layout.
    ``channel_context``: draw a jet's channel states one after the other, each given the earlier ones'
    radial profile and core lean (``core.quantum.context``). ``multiplicity``: read the final state with the
    multiplicity readout (``core.quantum.lit_pixels``; classical channel energies only), with each region's
    energy shared as in the training jet that gives its counts unless ``concentration`` is False, and the lit
    pixels outside the cone drawn from the Born probabilities unless ``halo_draw`` is False, and the channels'
    shares ordered together (``core.quantum.lit_pixels.cone_order``) unless ``channel_order`` is False.
    """
    if layout is None:
        layout = "per_channel" if encoder == "amplitude" and energy in (None, "channels", "cone") else "joint"
    return {
        "family": "quantum",
        "size": size,
        "encoder": encoder,
        "order": order,
        "pad_first": pad_first,
        **({"energy": energy} if energy else {}),
        "layout": layout,
        **({"channel_context": True} if channel_context else {}),
        **({"multiplicity": True} if multiplicity else {}),
        **({} if concentration else {"concentration": False}),
        **({} if halo_draw else {"halo_draw": False}),
        **({} if channel_order else {"channel_order": False}),
        "hybrid": HybridConfig(**hybrid).to_dict(),
    }


TITLE = "hybrid quantum (PQC reverse circuit)"
LOSS_TITLE = "loss (weighted infidelity + MMD)"
TRAIN_OPTIONS = (
    "encoder",
    "qubits",
    "layers",
    "channel",
    "diffusion_steps",
    "ancillas",
    "channel_context",
    "energy",
    "chain_weight",
    "chain_jets",
    "profile_weight",
    "profile_sparsity",
    "width_weight",
    "lean_weight",
    "halo_weight",
    "cone_width_weight",
    "energy_context",
    "no_multiplicity",
    "no_concentration",
    "no_halo_draw",
    "no_channel_order",
)


def model_size(size: int) -> int:
    """The quantum model works on 8 x 8 jets unless 4, 8 or 16 is asked (the train default 32 means 8)."""
    return size if size in (4, 8, 16) else 8


def layout_for_qubits(encoder: str, size: int, qubits: int | None, energy: str | None) -> str | None:
    """The state layout a number of data qubits means (None: the encoder's default); one line when none fits."""
    joint = make_encoder(encoder, (3, size, size)).num_qubits
    per_channel = make_encoder(encoder, (1, size, size)).num_qubits
    if qubits is None:
        return None
    if qubits == joint:
        return "joint"
    if qubits != per_channel or encoder != "amplitude":
        options = f"{joint} (3 channels in one state)" + (
            f" or {per_channel} (one state per channel)" if encoder == "amplitude" else ""
        )
        raise JetInputError(f"--qubits {qubits}: the {encoder} encoder of 3 x {size} x {size} jets takes {options}")
    if energy == "total":
        raise JetInputError(f"--qubits {qubits} (one state per channel) needs --energy channels or cone")
    return "per_channel"


def config_from_request(req) -> dict:
    """The task config of a ``core.requests.TrainRequest`` (its quantum fields)."""
    size = model_size(req.size)
    check_generation(req.channel, req.encoder)  # before any data is read
    return default_config(
        layout=layout_for_qubits(req.encoder, size, req.qubits, req.energy),
        size=size,
        encoder=req.encoder,
        order=req.pixel_order,
        pad_first=req.pad_first,
        energy=req.energy,
        ancillas=req.ancillas,
        layers=req.layers,
        channel=req.channel,
        diffusion_steps=req.diffusion_steps,
        latent=req.latent,
        mmd_weight=req.mmd_weight,
        chain_weight=req.chain_weight,
        chain_jets=req.chain_jets,
        profile_weight=req.profile_weight,
        profile_sparsity=req.profile_sparsity,
        width_weight=req.width_weight,
        lean_weight=req.lean_weight,
        halo_weight=req.halo_weight,
        cone_width_weight=req.cone_width_weight,
        energy_context=ENERGY_FEATURES if req.energy_context else 0,
        shared_latent=req.shared_latent,
        channel_context=req.channel_context,
        multiplicity=not req.no_multiplicity and req.encoder == "amplitude" and req.energy != "total",
        concentration=not req.no_concentration,
        halo_draw=not req.no_halo_draw,
        channel_order=not req.no_channel_order,
    )


def request_summary(req) -> str:
    """One line for the Train page: qubits and what stays classical."""
    size = model_size(req.size)
    layout = (
        layout_for_qubits(req.encoder, size, req.qubits, req.energy)
        or default_config(size, req.encoder, energy=req.energy)["layout"]
    )
    n = data_qubits(req.encoder, size, layout)
    where = " per channel state" if layout == "per_channel" else ""
    energy = (
        "the three channel energies of each jet stay classical numbers (drawn per class when sampling)"
        if req.encoder == "amplitude"
        else "the energy scale of each jet stays a classical number"
    )
    channels = ", ".join(valid_channels(req.encoder))
    chain = (
        f" Whole-chain term on: each step also runs the {req.diffusion_steps}-step reverse chain, about 4 times "
        "slower per step"
        + (" (channels in turn, whole jets: about 6 times)" if req.chain_jets and req.channel_context else "")
        + "."
        if req.chain_weight > 0
        else ""
    )
    if req.width_weight > 0 and not (req.chain_jets and req.profile_weight > 0):
        chain += " The width term acts on whole jets with the profile term: it needs whole jets and a profile weight."
    if req.lean_weight > 0 and not (req.chain_jets and req.profile_weight > 0):
        chain += (
            " The core-split term acts on whole jets with the profile term: it needs whole jets and a profile weight."
        )
    if req.halo_weight > 0 and not (req.chain_jets and req.profile_weight > 0):
        chain += " The halo term acts on whole jets with the profile term: it needs whole jets and a profile weight."
    if req.cone_width_weight > 0 and not (req.chain_jets and req.profile_weight > 0):
        chain += (
            " The cone-width term acts on whole jets with the profile term: it needs whole jets and a profile weight."
        )
    if req.profile_sparsity and req.profile_weight <= 0:
        chain += " Pixel spread is part of the profile term: it needs a profile weight above 0."
    if (req.chain_jets or req.profile_weight > 0) and req.chain_weight <= 0:
        chain += " Whole jets and the profile term act only with a whole-chain weight above 0."
    if req.chain_jets and not req.channel_context:
        chain += " Whole jets need channels in turn."
    if req.energy_context and not (req.channel_context and req.energy == "cone"):
        chain += " Shapes given the jet's energies need channels in turn and cone energies (energy 'cone')."

    return (
        f"{n} data qubits{where} + {req.ancillas} ancilla(s); {energy}. Channels that can generate: {channels}.{chain}"
    )


def data_qubits(encoder: str, size: int, layout: str) -> int:
    """Data qubits of a model: one channel's size x size pixels, or all three in one state."""
    channels = 1 if layout == "per_channel" else 3
    return make_encoder(encoder, (channels, size, size)).num_qubits


def channel_energies(images: torch.Tensor) -> torch.Tensor:
    """Per-jet channel energies (N, 3) GeV of images (N, 3, H, W)."""
    return images.double().sum((-1, -2))


def encoder_options(config: dict) -> dict:
    """Keyword options of the encoder stored in a task config (pixel order of the amplitude encoder)."""
    if config["encoder"] != "amplitude":
        return {}
    return {"order": config.get("order", "raster"), "pad_first": bool(config.get("pad_first", False))}


def _aux_quantiles(aux: np.ndarray, y: np.ndarray | None) -> dict[str, list[float]]:
    qs = np.linspace(0, 1, N_QUANTILES)
    out = {"all": np.quantile(aux, qs).tolist()}
    if y is not None:
        for lab in (0, 1):
            if (y == lab).sum() > 1:
                out[str(lab)] = np.quantile(aux[y == lab], qs).tolist()
    return out


class QuantumTask:
    """Hybrid PQC diffusion on amplitude- (or FRQI-) encoded 8 x 8 jets; see ``core.training.task.Task``."""

    family = "quantum"
    conditional = True
    samplers = ("born",)
    default_sampler = "born"
    default_sampler_steps = None  # the model always runs its trained reverse steps
    readouts = ("exact", "shots")
    takes_guidance = False

    def __init__(self, config: dict, model: HybridModel) -> None:
        self._config = config
        self.model = model
        self.size = int(config["size"])
        self.layout = config.get("layout", "joint")
        self.rows_per_jet = 3 if self.layout == "per_channel" else 1
        self.channel_context = bool(model.cfg.context)
        # Energy context (core.quantum.energy_context): prepared jets carry their features after the amplitudes.
        self.energy_context = model.cfg.energy_context > 0
        self.state_size = 2**model.cfg.data_qubits
        shape = (3 // self.rows_per_jet, self.size, self.size)
        self.encoder = make_encoder(config["encoder"], shape, **encoder_options(config))
        self.hybrid_cfg = model.cfg
        # A halo term puts each channel's halo direction (core.quantum.halo) after its profile, context included.
        self.halo = model.cfg.halo_weight > 0
        self.zero_below = config.get("zero_below")  # GeV per channel; absent in checkpoints saved before it
        # Which channels read out at a hard threshold (the tracker's cut); absent before 7 December: none held.
        self.hard_threshold = [bool(v) for v in config.get("hard_threshold", [False] * 3)]

    @property
    def timesteps(self) -> int:
        """Reverse steps K of the quantum process."""
        return self.hybrid_cfg.diffusion_steps

    def config(self) -> dict:
        return dict(self._config)

    def encode_rows(self, small: torch.Tensor) -> torch.Tensor:
        """Images (N, 3, size, size) -> clean statevectors, one row per state: (N * rows_per_jet, 2**n) complex64."""
        rows = small.reshape(-1, 3 // self.rows_per_jet, self.size, self.size)
        return self.encoder.encode(rows).state[:, 0].to(torch.complex64)

    def row_labels(self, y: torch.Tensor) -> torch.Tensor:
        """The condition of each state row: the label, or label + 2 * channel when each channel has its own state."""
        y = torch.as_tensor(y).long().reshape(-1)
        if self.rows_per_jet == 1:
            return y
        return (y[:, None] + 2 * torch.arange(self.rows_per_jet)[None, :]).reshape(-1)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Images in GeV -> clean statevectors (N, rows_per_jet, 2**n) as complex64."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise JetInputError(f"training images: expected (N, 3, H, W), got {tuple(x.shape)}")
        small = prepare_images(x, self.size)
        states = self.encode_rows(small).reshape(len(small), self.rows_per_jet, -1)
        if not self.energy_context:
            return states
        feats = energy_features(region_energies(small), self._config["energy_norm"])
        return torch.cat([states, feats[:, None, :].expand(-1, self.rows_per_jet, -1).to(states.dtype)], -1)

    def split_prepared(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Prepared jets -> their clean states (B, rows, 2**n) and, with energy context, the energy features
        (B, FEATURES) that ``prepare`` put after the amplitudes."""
        if not self.energy_context:
            return x, None
        return x[..., : self.state_size], x[:, 0, self.state_size :].real.float()

    def loss(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x, extra = self.split_prepared(x)
        rows = x.reshape(-1, x.shape[-1])
        ctx = self.training_context(x, extra) if self.channel_context else None
        in_turn = None
        if self.channel_context:
            in_turn = partial(self.in_turn, extra=extra) if self.energy_context else self.in_turn
        return hybrid_loss(
            net, rows, self.row_labels(y), generator, self.hybrid_cfg, group=self.rows_per_jet, ctx=ctx,
            in_turn=in_turn, profiles=self.loss_profiles,
        )  # fmt: skip

    def loss_profiles(self, probs: torch.Tensor) -> torch.Tensor:
        """What the profile term compares for each state row (N, 2**n): its radial profile, and with
        ``profile_sparsity`` how its energy spreads over the pixels (``core.quantum.sparsity``), and with a
        cone-width term its width within the cone last (``core.quantum.context.cone_width``)."""
        shapes = self.channel_shapes(probs)
        profiles = self.profiles_of(shapes)
        if self.hybrid_cfg.profile_sparsity:
            profiles = torch.cat([profiles, sparsity_features(probs.abs())], -1)
        if self.hybrid_cfg.cone_width_weight > 0:
            profiles = torch.cat([profiles, cone_width(shapes)], -1)
        return profiles

    def channel_shapes(self, probs: torch.Tensor) -> torch.Tensor:
        """Born probabilities of one channel's states (N, 2**n) -> its images (N, size, size)."""
        return self.encoder.decode(probs.abs().double(), torch.ones(len(probs), 1)).reshape(len(probs), self.size, -1)

    def channel_profiles(self, probs: torch.Tensor) -> torch.Tensor:
        """Born probabilities of one channel's states (N, 2**n) -> their radial profiles (N, F), and with a halo
        term the halo's direction after them."""
        return self.profiles_of(self.channel_shapes(probs))

    def profiles_of(self, shapes: torch.Tensor) -> torch.Tensor:
        """One channel's images (N, size, size) -> :meth:`channel_profiles`."""
        if not self.halo:
            return radial_profile(shapes)
        return torch.cat([radial_profile(shapes), halo_features(shapes)], -1)

    def training_context(self, x: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """Clean states (B, 3, 2**n) -> each row's context (B * 3, context): its jet's clean earlier channels,
        and with energy context its energy features ``extra`` (B, FEATURES)."""
        profiles = torch.stack([self.channel_profiles(x[:, c].abs() ** 2) for c in range(EARLIER_CHANNELS)], 1)
        rows = [self.row_context(context_rows(profiles, c), extra) for c in range(3)]
        return torch.stack(rows, 1).reshape(-1, self.hybrid_cfg.context)

    def row_context(self, earlier: torch.Tensor, extra: torch.Tensor | None) -> torch.Tensor:
        """A channel row's context: its earlier channels' profiles, then the jet's energy features (energy context
        only; a model with it refuses to run without them)."""
        if not self.energy_context:
            return earlier
        if extra is None:
            raise JetInputError(
                "this quantum model draws each channel's shape given the jet's energies (energy context): "
                "this path does not supply them"
            )
        return torch.cat([earlier, extra.to(earlier.dtype)], -1)

    def in_turn(
        self,
        n: int,
        run: Callable[[slice, torch.Tensor | None], torch.Tensor],
        probabilities: Callable[[torch.Tensor], torch.Tensor],
        extra: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run ``run(rows, ctx)`` on the state rows of ``n`` jets (jet-major, a channel's rows are
        ``slice(c, None, 3)``) and return its outputs in row order. With channel context the channels run in turn,
        each with the context of the earlier channels' results (their Born probabilities: ``probabilities(out)``);
        without it, one call on every row with no context. ``extra``: the jets' energy features (energy context)."""
        if not self.channel_context:
            return run(slice(None), None)
        per_channel = (self.hybrid_cfg.context - self.hybrid_cfg.energy_context) // EARLIER_CHANNELS
        profiles = torch.zeros(n, EARLIER_CHANNELS, per_channel)
        outs = []
        for c in range(3):
            out = run(slice(c, None, 3), self.row_context(context_rows(profiles, c), extra))
            if c < EARLIER_CHANNELS:
                profiles[:, c] = self.channel_profiles(probabilities(out))
            outs.append(out)
        return torch.stack(outs, 1).reshape(3 * n, *outs[0].shape[1:])

    def sample_probs(
        self,
        net: nn.Module,
        labels: torch.Tensor,
        generator: torch.Generator | None = None,
        record: bool = False,
        energies: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Final Born probabilities of every state row (N * rows_per_jet, 2**n), and with ``record`` each reverse
        step's. With channel context the channels are drawn in turn, each given the ones drawn before it (and
        with energy context the jets' drawn ``energies``, (N, 2, 3) GeV)."""
        labels = torch.as_tensor(labels, dtype=torch.long)
        conditions = self.row_labels(labels)
        histories: list[list[torch.Tensor]] = []

        def run(rows: slice, ctx: torch.Tensor | None) -> torch.Tensor:
            group = self.rows_per_jet if ctx is None else 1  # a shared latent spans a whole jet's rows
            p, h = sample_states(net, conditions[rows], generator=generator, record=record, group=group, ctx=ctx)
            histories.append(h)
            return p

        probs = self.in_turn(len(labels), run, lambda p: p, extra=self.energy_extra(energies))
        steps = len(histories[0]) if record else 0
        history = [torch.stack([h[k] for h in histories], 1).reshape(len(probs), -1) for k in range(steps)]
        return probs, history

    def energy_extra(self, energies: torch.Tensor | None) -> torch.Tensor | None:
        """The energy-context features of drawn energies (N, 2, 3) GeV; None without energy context or energies."""
        if not self.energy_context or energies is None:
            return None
        return energy_features(energies, self._config["energy_norm"])

    @property
    def per_channel_energy(self) -> bool:
        """True when the classical numbers are per channel (copula of the totals, or of the energies inside and
        outside the jet cone) rather than one total."""
        return self._config.get("energy") in ("channels", "cone")

    def energies_of(self, x: torch.Tensor) -> torch.Tensor:
        """The classical numbers of real jets (GeV images) as ``decode`` takes them: (N, 3), (N, 2, 3) or (N, 1)."""
        small = prepare_images(x, self.size)
        if self._config.get("energy") == "cone":
            return torch.from_numpy(region_energies(small))
        return channel_energies(small) if self.per_channel_energy else self.encoder.encode(small).aux

    def draw_aux(self, labels: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Draw the classical numbers per sample: channel energies or energies inside and outside the cone
        (copula), or a total energy / scale (quantiles)."""
        if self.per_channel_energy:
            table = self._config.get("channel_energies") or fit_channel_energies(np.ones((3, 3)))
            if is_cone_table(table):
                return draw_region_energies(table, labels, generator)
            return draw_channel_energies(table, labels, generator)
        table = self._config.get("aux_quantiles") or {"all": [1.0] * N_QUANTILES}
        u = torch.rand(labels.shape[0], generator=generator).numpy()
        qs = np.linspace(0, 1, N_QUANTILES)
        out = np.empty(labels.shape[0])
        for i, lab in enumerate(labels.tolist()):
            curve = table.get(str(lab), table["all"])
            out[i] = np.interp(u[i], qs, curve)
        return torch.as_tensor(out)[:, None]

    @property
    def multiplicity_table(self) -> dict | None:
        """The multiplicity readout's table (``core.quantum.lit_pixels``), or None: every pixel with weight lit."""
        return self._config.get("multiplicity_table")

    @property
    def spectrum_map(self) -> dict | None:
        """The spectrum calibration's table (``core.data.spectrum``; with the multiplicity readout only), or None."""
        table = self._config.get("spectrum_map")
        return table if has_spectrum_map(table) and self.multiplicity_table is not None else None

    def draw_lit(self, labels: torch.Tensor, generator: torch.Generator | None) -> tuple | None:
        """What the multiplicity readout draws for jets of ``labels`` (None without a table); drawn after the
        energies, so that a checkpoint without a table samples what it always did."""
        table = self.multiplicity_table
        return None if table is None else draw_readout(table, len(labels), (3, self.size, self.size), generator)

    def read_jets(
        self, probs: torch.Tensor, aux: torch.Tensor, labels: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """Final Born probabilities (or shot frequencies) -> GeV jets, with the multiplicity readout when the
        model has one (its draws from ``generator``)."""
        return self.decode(probs, aux, lit=self.draw_lit(labels, generator), labels=labels)

    def decode(
        self,
        probs: torch.Tensor,
        aux: torch.Tensor,
        zero_suppress: bool = True,
        lit: tuple | None = None,
        labels: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Born probabilities of the state rows (N * rows_per_jet, 2**n) and the classical numbers per jet,
        (N, 1), channel energies (N, 3) or energies inside and outside the cone (N, 2, 3) -> GeV images
        (N, 3, size, size). ``zero_suppress=False`` skips the detector's zero suppression (for shapes decoded
        with unit energies, whose pixels are fractions, not GeV). ``lit`` (:meth:`draw_lit`) and the jets'
        ``labels``: the multiplicity readout instead of the zero suppression."""
        aux = torch.as_tensor(aux, dtype=torch.float64)
        probs = probs.double().reshape(-1, probs.shape[-1])
        if aux.ndim == 3 or aux.shape[-1] == 3:
            rescale = rescale_regions if aux.ndim == 3 else rescale_channels
            shapes = self.encoder.decode(probs[:, None, :], torch.ones(len(probs), 1)).clamp_min(0)
            shapes = shapes.reshape(-1, 3, self.size, self.size)
            if lit is not None:
                x = self._hold(light(self.multiplicity_table, shapes, aux, labels, lit, self.zero_below), aux)
                table = self.spectrum_map
                return x if table is None else calibrate(x, labels, table, aux, self.zero_below, self.hard_threshold)
            x = rescale(shapes, aux)
            if self.zero_below is None or not zero_suppress:
                return x
            # The detector's readout: no pixel under the training jets' zero-suppression level (no track under
            # the tracker's cut); the channel energies drawn for the jet stay what they were.
            return self._hold(rescale(suppress_below(x, self.zero_below), aux), aux)
        return self.encoder.decode(probs[:, None, :], aux).clamp_min(0)

    def _hold(self, x: torch.Tensor, aux: torch.Tensor) -> torch.Tensor:
        """No track under the tracker's cut after the rescaling to the drawn energies, each region (inside and
        outside the cone with cone energies) keeping its energy (``core.data.readout.hold_threshold``)."""
        if self.zero_below is None or not any(self.hard_threshold):
            return x
        inside = cone_mask(self.size, JET_RADIUS) if aux.ndim == 3 else None
        return hold_threshold(x, inside, self.zero_below, self.hard_threshold)

    def reconstructor(self, net: nn.Module, labels: torch.Tensor | None = None, **_options):
        """This model as a ``core.metrics.reconstruct.Reconstructor``; it is class-conditional, so it needs
        the jets' ``labels``."""
        from core.quantum.reconstructor import QuantumReconstructor

        if labels is None:
            raise JetInputError("quantum reconstruction: the jets' labels are needed (the model is class-conditional)")
        return QuantumReconstructor(self, net, labels.cpu())

    def card(self) -> dict:
        """What a model card says about this model beyond family and size."""
        cfg = self.hybrid_cfg
        return {
            "image_size": self.size,
            "encoder": self._config["encoder"],
            "layout": self.layout,
            "data_qubits": cfg.data_qubits,
            "ancillas": cfg.ancillas,
            "channel": cfg.channel,
            "diffusion_steps": cfg.diffusion_steps,
            "channel_context": self.channel_context,
            "multiplicity_readout": self.multiplicity_table is not None,
            **({"spectrum_calibration": True} if self.spectrum_map is not None else {}),
            "concentration_readout": has_concentrations(self.multiplicity_table or {}),
            "profile_readout": has_profiles(self.multiplicity_table or {}),
            "halo_draw_temperature": (self.multiplicity_table or {}).get("halo_temperature"),
            "channel_order": (self.multiplicity_table or {}).get("cone_rank_mix"),
            "cone_donor_energy_weight": (self.multiplicity_table or {}).get("donor_energy_weight"),
        }

    def signal_levels(self) -> np.ndarray:
        """The channel's keep factor s_bar(t), t = 0..T (what is left of the state at t)."""
        return self.model.schedule.keep_bar()

    def reverse_circuit(self, net: nn.Module, t: int, label: int, seed: int = 0, channel: int = 0):
        """The trained reverse step at t as a bound qiskit circuit (the Quantum lab draws it)."""
        from core.quantum.export import reverse_circuit

        return reverse_circuit(net, t, label, seed=seed, channel=channel)

    @property
    def lit_note(self) -> str:
        """What the multiplicity readout adds to a readout's description ("" without it)."""
        if self.multiplicity_table is None:
            return ""
        table = self.multiplicity_table
        note = "; each channel lights the lit pixels of a training jet near it in energy, its most probable ones"
        if "halo_temperature" in table:
            note += (
                " within R = 0.4 and, outside it, as many drawn from the Born probabilities to the power 1 / "
                f"{table['halo_temperature']:g} (Tracks and HCAL sharing the draw)"
            )
        if has_profiles(table):
            note += ", each region's energy shared among them in that jet's shares, in the " + (
                "channels' joint order (ECAL and HCAL after Tracks' in the cone, HCAL's halo after Tracks' GeV"
                + (
                    "; the pixel diagonal to the brightest where that jet had it)"
                    if groups_have(table, "diagonals")
                    else ")"
                )
                if "cone_rank_mix" in table
                else "order of the probabilities"
            )
            if any(table.get("anchored_at_cut", ())):
                note += " (Tracks' shares of its GeV above the tracker's cut)"
            if "donor_energy_weight" in table:
                note += (
                    "; ECAL's and HCAL's energy in the cone then shared as in a training jet whose Tracks cone and "
                    "cone energies are near this jet's (a donor)"
                )
        elif has_concentrations(table):
            note += ", each region's energy shared among them as concentrated as in that jet"
        return note

    def readout_description(self, shots: int | None) -> str:
        """How the final state was read, for files and cards."""
        lit = self.lit_note
        if shots is None:
            return "exact Born probabilities" + lit
        where = " (per channel with one state per channel)" if self.layout == "per_channel" else ""
        return f"{shots} shots per state{where} from the final Born distribution" + lit

    def sample(
        self,
        net: nn.Module,
        n: int,
        *,
        labels: torch.Tensor | None = None,
        sampler: str | None = None,
        sampler_steps: int | None = None,
        guidance: float = 1.0,
        generator: torch.Generator | None = None,
        trajectory: bool = False,
        shots: int | None = None,
        **_ignored,
    ) -> torch.Tensor | Trajectory:
        """Generate ``n`` jets (N, 3, size, size) in GeV.

        ``sampler``: "born" (the default; the classical names "fast"/"ddpm"/"ddim" mean the same). ``shots``:
        None reads the exact Born probabilities; N draws N measurement shots per state from them (with one
        state per channel, N shots for each channel).
        ``sampler_steps`` and ``guidance`` are ignored: the model always runs its trained number of reverse steps.
        """
        if (sampler or "born") not in BORN_NAMES:
            raise JetInputError(f"quantum sampler {sampler!r}: use 'born' (and shots=N for a measured readout)")
        if shots is not None and int(shots) < 1:
            raise JetInputError(f"shots: must be a positive integer, got {shots}")
        if labels is None:
            labels = torch.randint(0, 2, (n,), generator=generator)
        labels = torch.as_tensor(labels, dtype=torch.long)
        # With energy context the energies come first: the circuit draws each shape given them. Otherwise they are
        # drawn after the states, so that older checkpoints sample what they always did from a seed.
        aux = self.draw_aux(labels, generator) if self.energy_context else None
        probs, history = self.sample_probs(net, labels, generator=generator, record=trajectory, energies=aux)
        if shots is not None:
            probs = shot_frequencies(probs, int(shots), generator)
        if aux is None:
            aux = self.draw_aux(labels, generator)
        lit = self.draw_lit(labels, generator)
        final = self.decode(probs, aux, lit=lit, labels=labels)
        if not trajectory:
            return final
        imgs = torch.stack([self.decode(p, aux, lit=lit, labels=labels) for p in history])
        t_list = list(range(self.hybrid_cfg.diffusion_steps, 0, -1))
        start = torch.zeros_like(final)
        return Trajectory(t=t_list, xt=torch.cat([start[None], imgs]), x0=imgs, final=final, extra={"probs": probs})


def build_task(config: dict, x_train: torch.Tensor | None = None, y_train: torch.Tensor | None = None) -> QuantumTask:
    """Build (and, with ``x_train``, fit the classical energy quantiles of) the hybrid quantum task."""
    config = dict(config)
    config.setdefault("size", 8)
    config.setdefault("encoder", "amplitude")
    if config["encoder"] not in HYBRID_ENCODERS:
        raise JetInputError(f"quantum model encoder {config['encoder']!r}: use one of {', '.join(HYBRID_ENCODERS)}")
    config.setdefault("order", "centred")
    legacy = "aux_quantiles" in config or config["encoder"] != "amplitude"
    energy = config.setdefault("energy", "total" if legacy else "channels")
    layout = config.setdefault("layout", "joint")
    if layout not in LAYOUTS:
        raise JetInputError(f"quantum model layout {layout!r}: use one of {', '.join(LAYOUTS)}")
    if layout == "per_channel" and (config["encoder"] != "amplitude" or energy not in ("channels", "cone")):
        raise JetInputError(
            "quantum model layout 'per_channel' (one state per channel) needs the amplitude encoder "
            "and classical channel energies (energy 'channels' or 'cone')"
        )
    if energy not in ENERGY_MODES:
        raise JetInputError(f"quantum model energy {energy!r}: use one of {', '.join(ENERGY_MODES)}")
    if energy in ("channels", "cone") and config["encoder"] != "amplitude":
        raise JetInputError(f"quantum model energy {energy!r} needs the amplitude encoder, not {config['encoder']!r}")
    hybrid = dict(config.get("hybrid") or {})
    check_generation(hybrid.get("channel", HybridConfig.channel), config["encoder"])
    per_state = 1 if layout == "per_channel" else 3
    encoder = make_encoder(
        config["encoder"], (per_state, int(config["size"]), int(config["size"])), **encoder_options(config)
    )
    hybrid["data_qubits"] = encoder.num_qubits
    if config.get("channel_context"):
        if layout != "per_channel":
            raise JetInputError("quantum model channel context needs one state per channel (layout 'per_channel')")
        if hybrid.get("shared_latent"):
            raise JetInputError("quantum model: choose channel context or a shared latent, not both")
        hybrid["context"] = context_size(HALO_FEATURES if hybrid.get("halo_weight", 0) > 0 else 0)
        hybrid["context"] += int(hybrid.get("energy_context", 0))
    if hybrid.get("energy_context") and not (config.get("channel_context") and energy == "cone"):
        raise JetInputError(
            "quantum model energy context: needs channels in turn (channel context) and cone energies (energy 'cone')"
        )
    hybrid["classes"] = 6 if layout == "per_channel" else 2
    cfg = HybridConfig.from_dict(hybrid)
    config["hybrid"] = cfg.to_dict()
    config["family"] = "quantum"
    if x_train is not None:
        _fit_training_tables(config, x_train, y_train, encoder, cfg)
    if cfg.energy_context and "energy_norm" not in config:
        raise JetInputError("quantum model energy context: the config lacks the fitted 'energy_norm'")
    if config.get("multiplicity") and energy == "total":
        raise JetInputError(
            "quantum model multiplicity readout needs classical channel energies ('channels' or 'cone')"
        )
    return QuantumTask(config, HybridModel(cfg))


def _fit_training_tables(config: dict, x_train: torch.Tensor, y_train, encoder, cfg: HybridConfig) -> None:
    """Fit, into ``config``, what the task reads from its training jets and the config lacks: zero-suppression
    levels, the classical energy table, the energy context's scale, the multiplicity table."""
    energy = config["energy"]
    small = prepare_images(x_train, int(config["size"]))
    y = None if y_train is None else np.asarray(y_train)
    if energy in ("channels", "cone") and "zero_below" not in config:
        config["zero_below"] = zero_suppression(small)
    if energy in ("channels", "cone") and "hard_threshold" not in config:
        config["hard_threshold"] = hard_thresholds(small)
    if energy == "channels" and "channel_energies" not in config:
        config["channel_energies"] = fit_channel_energies(channel_energies(small), y)
    if energy == "cone" and "channel_energies" not in config:
        config["channel_energies"] = fit_cone_energies(region_energies(small), y)
    if cfg.energy_context and "energy_norm" not in config:
        config["energy_norm"] = fit_energy_norm(region_energies(small))
    if config.get("multiplicity") and energy != "total" and "multiplicity_table" not in config:
        shares = config.get("concentration", True)  # how each region's energy is shared: a training jet's
        config["multiplicity_table"] = fit_table(
            small,
            y,
            energy,
            concentrations=shares,
            profiles=shares,
            halo_draw=config.get("halo_draw", True),
            channel_order=config.get("channel_order", True),
        )
    if energy == "total" and "aux_quantiles" not in config:
        aux = encoder.encode(small).aux[:, 0].numpy()  # joint layout only
        config["aux_quantiles"] = _aux_quantiles(aux, y)
