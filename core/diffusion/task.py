"""The classical diffusion families as ``Task`` objects: the U-Net DDPM and the seed baseline.

Both train on log-transformed intensities (``core.data.transforms``, fitted on the training set and
stored in the config) with the DDPM loss || eps - eps_theta(xt, t) ||^2 (or the v target), and sample
back to GeV with the inverse transform, negative GeV clamped to 0.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from core.data.energies import (
    JET_RADIUS,
    cone_mask,
    draw_channel_energies,
    draw_region_energies,
    fit_cone_energies,
    is_cone_table,
    region_energies,
    region_sums,
    rescale_channels,
    rescale_regions,
)
from core.data.hcal_towers import HCAL, TOWER_SIZE, centre_pixels, from_tower_space, to_tower_space
from core.data.multiplicity import (
    channel_widths,
    draw_neighbours,
    draw_picks,
    fit_counts,
    has_concentrations,
    region_concentrations,
    region_counts,
    uses_widths,
)
from core.data.readout import (
    hard_thresholds,
    hold_threshold,
    light_by_count,
    match_concentration,
    zero_suppression,
)
from core.data.spectrum import calibrate, has_spectrum_map
from core.data.transforms import channel_shares, fit_transform, make_transform
from core.diffusion.noise import channel_noise, check_correlation
from core.diffusion.samplers import SAMPLERS, Trace, run_sampler
from core.diffusion.schedules import make_schedule
from core.diffusion.seed_baseline import SEED_TIMESTEPS, SimpleDiffusionCNN
from core.diffusion.unet import NULL_LABEL, UNet, UNetConfig, unet_config
from core.errors import JetInputError
from core.training.task import Trajectory, check_guidance_from

PREDICTIONS = ("eps", "v")
REGION_DIMS = 9  # the region condition: lit pixels inside and outside the cone (6), energy share inside (3)


class Lit(NamedTuple):
    """What the multiplicity readout of one sample needs: each jet's pick among its nearest training jets (n,),
    a jitter breaking ties among the network's pixels (n, 3, H, W), the labels (n,) or None, and, with the region
    condition, the neighbours already drawn (``draw_neighbours``'s dict) whose counts the network was told."""

    picks: torch.Tensor
    jitter: torch.Tensor
    labels: torch.Tensor | None
    drawn: dict | None = None


TITLES = {"ddpm": "U-Net DDPM", "seed-baseline": "seed baseline (SimpleDiffusionCNN, 50 steps)"}
LOSS_TITLES = {"ddpm": "loss (MSE of the network's target)", "seed-baseline": "loss (MSE of the predicted noise)"}
# The request fields each classical family reads (the Train page shows these).
TRAIN_OPTIONS = {
    "ddpm": (
        "size",
        "preset",
        "schedule",
        "beta_start",
        "beta_end",
        "prediction",
        "no_energy_condition",
        "no_multiplicity",
        "no_concentration",
        "hcal_towers",
        "noise_correlation",
        "region_condition",
        "energy_shares",
        "bright_weight",
    ),
    "seed-baseline": ("size", "beta_start", "beta_end"),
}


def default_config(
    family: str = "ddpm",
    size: int = 32,
    preset: str = "tiny",
    schedule: str = "cosine",
    *,
    timesteps: int | None = None,
    beta_start: float = 1e-4,
    beta_end: float = 0.02,
    **overrides,
) -> dict:
    """A complete config for ``build_task`` (the transform is fitted at build time when absent).

    The schedule is saved whole (kind, timesteps, beta_start, beta_end), so a checkpoint alone rebuilds it.
    """
    betas = {"beta_start": float(beta_start), "beta_end": float(beta_end)}
    if family == "seed-baseline":
        cfg = {
            "family": family,
            "size": size,
            "network": {"hidden": 16},
            "schedule": {"kind": "linear", "timesteps": timesteps or SEED_TIMESTEPS, **betas},
            "prediction": "eps",
            "cond_drop": 0.0,
            # Not in the seed notebook: without it the inverse log transform of a stray value explodes.
            "x0_clip": [-1.0, 1.0],
        }
    elif family == "ddpm":
        cfg = {
            "family": family,
            "size": size,
            "network": unet_config(preset, size).to_dict(),
            "preset": preset,
            "schedule": {"kind": schedule, "timesteps": timesteps or 1000, **betas},
            "prediction": "v",
            "cond_drop": 0.1,
            "x0_clip": [-1.0, 1.0],
            "zero_gap": 0.1,
            # Energy-factorised generation: the channel energies come from the classical copula
            # (core.data.energies), the network draws the shape given them (see DiffusionTask).
            "energy_condition": True,
        }
    else:
        raise JetInputError(f"model {family!r}: not a classical diffusion family")
    make_schedule(**cfg["schedule"])  # a bad schedule fails here, before any data is read
    cfg["transform_kind"] = "log"
    cfg.update(overrides)
    if family == "ddpm":
        cfg["network"]["cond_dim"] = (3 if cfg.get("energy_condition") else 0) + (
            REGION_DIMS if cfg.get("region_condition") else 0
        )
    return cfg


def config_from_request(req) -> dict:
    """The task config of a ``core.requests.TrainRequest`` (the seed baseline keeps its schedule kind and eps)."""
    common = {"timesteps": req.timesteps, "beta_start": req.beta_start, "beta_end": req.beta_end}
    if req.family == "seed-baseline":
        return default_config(req.family, req.size, **common)
    if req.hcal_towers and req.size != TOWER_SIZE:  # before any data is read
        raise JetInputError(f"--hcal-towers: defined at {TOWER_SIZE} x {TOWER_SIZE}, not --size {req.size}")
    if req.region_condition and (req.no_energy_condition or req.no_multiplicity):
        raise JetInputError(
            "--region-condition: the network is given the counts the multiplicity readout lights and the energies "
            "the copula draws; drop --no-energy-condition and --no-multiplicity"
        )
    if req.energy_shares and (req.no_energy_condition or req.region_condition):
        raise JetInputError(
            "--energy-shares: the network draws each channel's shares of the energies the copula draws; it needs "
            "the energy condition and does not take --region-condition"
        )
    return default_config(
        req.family,
        req.size,
        req.preset,
        req.schedule,
        prediction=req.prediction,
        energy_condition=not req.no_energy_condition,
        multiplicity=not (req.no_energy_condition or req.no_multiplicity),
        **({"hcal_towers": True} if req.hcal_towers else {}),
        **({"concentration": False} if req.no_concentration else {}),
        **({"noise_correlation": check_correlation(req.noise_correlation)} if req.noise_correlation else {}),
        **({"region_condition": True} if req.region_condition else {}),
        **({"energy_shares": True} if req.energy_shares else {}),
        **({"bright_weight": check_bright_weight(req.bright_weight)} if req.bright_weight else {}),
        **common,
    )


class DiffusionTask:
    """eps- or v-prediction diffusion on transformed images; see ``core.training.task.Task``."""

    samplers = tuple(SAMPLERS)
    default_sampler = "fast"
    default_sampler_steps = 20
    readouts = ("exact",)

    def __init__(self, config: dict, model: nn.Module, transform):
        self.family = config["family"]
        self._config = config
        self.model = model
        self.transform = transform
        self.size = int(config["size"])
        self.schedule = make_schedule(**config["schedule"])
        self.prediction = config.get("prediction", "eps")
        if self.prediction not in PREDICTIONS:
            raise JetInputError(f"prediction {self.prediction!r}: use 'eps' or 'v'")
        self.conditional = self.family == "ddpm"
        self.takes_guidance = (
            self.conditional
        )  # classifier-free guidance needs the label dropout of conditional training
        # The weight samples get when none is asked (a checkpoint's measured choice; 1: the conditional model).
        self.default_guidance = float(config.get("guidance", 1.0)) if self.takes_guidance else 1.0
        if not (math.isfinite(self.default_guidance) and self.default_guidance >= 0):
            raise JetInputError(f"task config: 'guidance' must be a finite weight >= 0, got {config.get('guidance')}")
        self.cond_drop = float(config.get("cond_drop", 0.0))
        self.x0_clip = config.get("x0_clip")
        self.zero_below = config.get("zero_below")
        self.hard_threshold = [bool(v) for v in config.get("hard_threshold", [False] * 3)]
        self.zero_gap = float(config.get("zero_gap", 0.0))
        self.energy_condition = bool(config.get("energy_condition", False))
        # HCAL drawn as towers at their centre pixels (core.data.hcal_towers), spread over its pixels at the end.
        self.hcal_towers = bool(config.get("hcal_towers", False))  # at 32 x 32 only: build_task checks
        # Correlation of the noise between a pixel's channels (core.diffusion.noise), in training and sampling.
        self.noise_correlation = check_correlation(config.get("noise_correlation", 0.0))
        if self.energy_condition and not ("energies" in config and "energy_norm" in config):
            raise JetInputError("task config: 'energy_condition' needs the fitted 'energies' and 'energy_norm'")
        # The network also sees each region's lit pixels and energy share (:meth:`image_condition`, :meth:`condition`).
        self.region_condition = bool(config.get("region_condition", False))
        if self.region_condition and not (
            self.energy_condition
            and is_cone_table(config["energies"])
            and "multiplicity_table" in config
            and "region_norm" in config
        ):
            raise JetInputError(
                "task config: 'region_condition' needs the energy condition with a cone table, the "
                "'multiplicity_table' and the fitted 'region_norm'"
            )
        # The network draws each pixel's share of its channel's energy; the drawn energies scale it back.
        self.energy_shares = bool(config.get("energy_shares", False))
        if self.energy_shares and (not self.energy_condition or self.region_condition):
            raise JetInputError("task config: 'energy_shares' needs the energy condition and no region condition")
        # The loss weights each pixel by 1 + bright_weight x its clean brightness in [0, 1] (:meth:`loss`).
        self.bright_weight = check_bright_weight(config.get("bright_weight", 0.0))

    @property
    def timesteps(self) -> int:
        """Steps T of the forward process (the most sampler steps a reverse run can take)."""
        return self.schedule.timesteps

    def config(self) -> dict:
        return dict(self._config)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[-1] != self.size or x.shape[-2] != self.size:
            raise JetInputError(f"training images: expected (N, 3, {self.size}, {self.size}), got {tuple(x.shape)}")
        if self.hcal_towers:
            x = to_tower_space(x.float())
        totals = None
        if self.energy_shares:
            x, totals = channel_shares(x)
        z = self.transform.forward(x.float())
        if self.zero_gap > 0:
            # Empty pixels stay at -1; every deposit moves up to at least -1 + 2 gap, so the network's
            # small errors around -1 cannot turn empty pixels into faint deposits.
            z = torch.where(
                x > 0, -1.0 + 2.0 * (self.zero_gap + (1.0 - self.zero_gap) * (z + 1.0) / 2.0), z.new_tensor(-1.0)
            )
        return z if totals is None else pack_energies(z, totals)

    def split_prepared(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A batch of :meth:`prepare`'s output -> model-space images (N, 3, H, W) and, for a model drawing
        shares, the jets' channel energies (N, 3) GeV (None otherwise)."""
        return unpack_energies(batch) if self.energy_shares else (batch, None)

    def loss(self, net: nn.Module, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        x, totals = self.split_prepared(x)
        n = x.shape[0]
        t = torch.randint(0, self.schedule.timesteps, (n,), generator=generator, device=x.device)
        eps = channel_noise(x.shape, self.noise_correlation, generator, x.device, x.dtype)
        xt = self.schedule.q_sample(x, t, eps)
        labels = None
        if self.conditional:
            # Classifier-free guidance: drop the label to the null label with probability cond_drop.
            drop = torch.rand(n, generator=generator, device=x.device) < self.cond_drop
            labels = torch.where(drop, torch.full_like(y, NULL_LABEL), y)
        target = eps if self.prediction == "eps" else self.schedule.v_target(x, t, eps)
        cond = None
        if totals is not None:
            cond = self.condition(totals)
        elif self.energy_condition:
            cond = self.image_condition(x)
        out = net(xt, t, labels, cond) if cond is not None else net(xt, t, labels)
        if not self.bright_weight:
            return F.mse_loss(out.float(), target.float())
        # A jet's shape lives in its few bright core pixels; the plain MSE weighs them like its ~95 % empty ones.
        weight = 1.0 + self.bright_weight * ((x.float() + 1.0) / 2.0).clamp(0.0, 1.0)
        return (weight * (out.float() - target.float()) ** 2).mean()

    def image_condition(self, z: torch.Tensor) -> torch.Tensor:
        """The network's condition read off model-space images ``z`` (training, reconstructions): their channel
        energies and, with the region condition, their lit pixels and energy shares inside the cone."""
        x = self.to_gev(z)
        if not self.region_condition:
            return self.condition(x.sum((-1, -2)))
        lit = z > -1.0 + self.zero_gap if self.zero_gap > 0 else x > 0  # a deposit sits at -1 + 2 gap or above
        return self.condition(region_sums(x), region_sums(lit.float()))

    def condition(self, energies: torch.Tensor, counts: torch.Tensor | None = None) -> torch.Tensor:
        """The network's continuous condition: log(1 + E / GeV) per channel, standardised on the training jets;
        with the region condition, ``energies`` are (N, 2, 3) inside and outside the cone and ``counts`` (N, 2, 3)
        each region's lit pixels, and :func:`region_features` follow the totals."""
        totals = channel_totals(energies)
        out = _standardised(torch.log1p(totals.float().clamp_min(0)), self._config["energy_norm"])
        if not self.region_condition:
            return out
        if counts is None or energies.ndim != 3:
            raise JetInputError("region condition: needs energies inside and outside the cone and their lit pixels")
        extra = _standardised(region_features(energies, counts), self._config["region_norm"])
        return torch.cat([out, extra], 1)

    def draw_energies(self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None) -> torch.Tensor:
        """Energies from the fitted copula of each jet's class (all jets when unlabelled): (n, 3) GeV per
        channel, or (n, 2, 3) inside and outside the jet cone for a table in cone coordinates."""
        return self.draw_numbers(n, labels, generator)[0]

    def draw_numbers(
        self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The energies (as :meth:`draw_energies`) and, from a table fitted with multiplicities, which of the
        nearest training jets each jet takes its lit pixels from (n,) (else None): drawn together, so that a seed
        gives the same jets; the counts themselves are read once the image exists (:meth:`_to_jets`)."""
        keys = labels.cpu() if labels is not None else torch.full((n,), -1)
        generator = _cpu(generator)
        table = self._config["energies"]
        if not is_cone_table(table):
            return draw_channel_energies(table, keys, generator), None
        energies = draw_region_energies(table, keys, generator)
        counts = self._config.get("multiplicity_table")
        return energies, None if counts is None else draw_picks(counts, n, generator)

    def eps_fn(
        self,
        net: nn.Module,
        labels: torch.Tensor | None,
        guidance: float = 1.0,
        cond: torch.Tensor | None = None,
        guidance_from: float = 0.0,
    ):
        """The function samplers call: guided, converted to eps, with the x0 estimate clipped to the data range.

        ``cond``: the energy condition (``condition(energies)``) of an energy-conditioned model.
        ``guidance_from``: the guidance weight applies only at the noisier steps, t / T >= guidance_from (0:
        every step); below it the conditional model alone (weight 1) draws. A jet's class shows in its coarse
        shape, decided early in the reverse process; its faint deposits are drawn late, where extrapolating
        between the conditional and the null model exaggerates them (guidance in a limited interval,
        Kynkaanniemi et al. 2024).
        """
        if labels is not None and not self.conditional:
            raise JetInputError(f"{self.family}: this model is unconditional; sample without a label")
        if self.energy_condition and cond is None:
            raise JetInputError(f"{self.family}: this model draws shapes given channel energies; pass cond")
        check_guidance_from(guidance_from)
        first_guided = guidance_from * self.schedule.timesteps

        def call(xt: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None, c: torch.Tensor | None):
            if not self.conditional:
                return net(xt, t)
            return net(xt, t, y, c) if c is not None else net(xt, t, y)

        def raw(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if labels is None:
                return call(xt, t, None, cond)
            active = t >= first_guided  # (n,): the steps where the weight applies
            if guidance == 1 or not bool(active.any()):
                return call(xt, t, labels, cond)
            if guidance == 0 and bool(active.all()):
                return call(xt, t, None, cond)
            # Classifier-free guidance: one batched pass for conditional and null labels.
            null = torch.full_like(labels, NULL_LABEL)
            both_cond = None if cond is None else torch.cat([cond, cond])
            both = call(torch.cat([xt, xt]), torch.cat([t, t]), torch.cat([labels, null]), both_cond)
            c_out, u_out = both.chunk(2)
            guided = u_out + guidance * (c_out - u_out)
            return torch.where(active.view(-1, *[1] * (xt.ndim - 1)), guided, c_out)

        def fn(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            out = raw(xt, t).float()
            eps = out if self.prediction == "eps" else self.schedule.eps_from_v(xt, t, out)
            if self.x0_clip is not None:
                x0 = self.schedule.x0_from_eps(xt, t, eps).clamp(*self.x0_clip)
                eps = self.schedule.eps_from_x0(xt, t, x0)
            return eps

        return fn

    def to_gev(self, z: torch.Tensor, energies: torch.Tensor | None = None) -> torch.Tensor:
        """Model space -> GeV: undo the zero gap (below half of it a pixel is empty), the inverse transform,
        negative GeV clamped to 0, and pixels below the training data's zero-suppression level
        (``zero_below``, GeV per channel) set to 0, as a detector would; except in a channel with a hard
        readout threshold (``hard_threshold``: the tracker's pT cut), where a pixel the network put at or above
        the zero gap (the level of the smallest deposit) is a deposit, so it gets the threshold's value rather
        than being dropped: the network smears the cut's sharp edge, and dropping that smear lost a third of
        the tracks. Values outside the data range (``x0_clip``) are clamped to it first: a sampler run with
        very few steps can end outside it, and the inverse log transform would turn that into TeV pixels.
        A model drawing shares (``energy_shares``) needs the jets' ``energies`` (N, 3) GeV to scale them by."""
        z = z.float()
        if self.energy_shares and energies is None:
            raise JetInputError("a model drawing energy shares needs the jets' channel energies to give GeV")
        if self.x0_clip is not None:
            z = z.clamp(*self.x0_clip)
        empty = None
        if self.zero_gap > 0:
            u = (z + 1.0) / 2.0
            empty = u < self.zero_gap / 2.0
            z = 2.0 * ((u - self.zero_gap) / (1.0 - self.zero_gap)).clamp_min(0.0) - 1.0
        x = self.transform.inverse(z).clamp_min(0.0)
        if self.energy_shares:
            x = x * channel_totals(energies).to(x).view(len(x), -1, 1, 1)
        if empty is not None:
            x = torch.where(empty, torch.zeros_like(x), x)
        if self.zero_below is not None:
            thr = torch.as_tensor(self.zero_below, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
            below = x < thr
            if self.zero_gap > 0 and any(self.hard_threshold):
                hard = torch.as_tensor(self.hard_threshold, device=x.device).view(1, -1, 1, 1)
                deposit = hard & (u >= self.zero_gap)
                x = torch.where(below & deposit, thr.expand_as(x), x)
                below = x < thr
            x = torch.where(below, torch.zeros_like(x), x)
        return x

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
        eta: float | None = None,
        shots: int | None = None,
        guidance_from: float = 0.0,
        logsnr_floor: float | None = None,
    ) -> torch.Tensor | Trajectory:
        """``n`` jets (GeV) or, with ``trajectory``, their reverse process. ``logsnr_floor``: the fast sampler's
        grid starts no noisier than this lambda (``core.diffusion.samplers.timesteps_for``)."""
        if shots is not None:
            raise JetInputError(f"shots: the {self.family} model does not measure; its readout is exact")
        sampler = sampler or self.default_sampler
        if sampler not in SAMPLERS:
            raise JetInputError(f"sampler {sampler!r}: unknown; use one of {', '.join(SAMPLERS)}")
        device = next(net.parameters()).device
        # Energies first (their own draws), so a seed gives the same jets with or without a trajectory.
        energies, picks, drawn, cond = self._draws_before_network(n, labels, generator, device)
        if labels is not None:
            labels = labels.to(device)
        x_T = channel_noise((n, 3, self.size, self.size), self.noise_correlation, generator, device)
        options = {"eta": eta} if eta is not None and sampler == "ddim" else {}
        if logsnr_floor is not None:
            if sampler != "fast":
                raise JetInputError(f"log-SNR floor: for the fast sampler only, not {sampler!r}")
            options["logsnr_floor"] = float(logsnr_floor)
        was_training = net.training
        net.eval()
        try:
            fn = self.eps_fn(net, labels, guidance, cond, guidance_from)
            out = run_sampler(
                sampler,
                fn,
                x_T,
                self.schedule,
                sampler_steps,
                generator,
                trajectory,
                correlation=self.noise_correlation,
                **options,
            )
        finally:
            net.train(was_training)
        lit = None
        if picks is not None:  # the multiplicity readout; ties among the network's pixels broken at random
            jitter = torch.rand((n, 3, self.size, self.size), generator=_cpu(generator))
            lit = Lit(picks, jitter, None if labels is None else labels.cpu(), drawn)
        if not trajectory:
            return self._to_jets(out, energies, lit)
        x, trace = out
        return self._trajectory(x, trace, energies, lit)

    def _draws_before_network(
        self, n: int, labels: torch.Tensor | None, generator: torch.Generator | None, device: torch.device
    ) -> tuple:
        """An energy-conditioned sample's numbers, drawn before its network runs: energies, picks among the
        nearest training jets, the region condition's neighbours (else None) and the network's condition."""
        if not self.energy_condition:
            return None, None, None, None
        energies, picks = self.draw_numbers(n, labels, generator)
        drawn = self._draw_regions(energies, picks, labels) if self.region_condition else None
        cond = self.condition(energies, None if drawn is None else drawn["counts"]).to(device)
        return energies, picks, drawn, cond

    def _to_jets(self, z: torch.Tensor, energies: torch.Tensor | None, lit=None) -> torch.Tensor:
        """Model space -> GeV; an energy-conditioned sample gets exactly the channel energies it was drawn for.
        ``lit`` (:class:`Lit`; a tuple of its first three fields reads the same): light each channel's number of
        pixels inside and outside the cone, those of a training jet near this one (:meth:`_light`), the network's
        highest (``core.data.readout.light_by_count``), before the rescaling."""
        x = self.to_gev(z, energies).cpu()
        if lit is not None:
            x = self._light(z, x, energies, lit)
        inside = None
        if energies is not None and energies.ndim == 3:  # inside and outside the cone, each to its own energy
            x = rescale_regions(x, energies, self._config["energies"]["radius"])
            inside = cone_mask(self.size, self._config["energies"]["radius"])
        elif energies is not None:
            x = rescale_channels(x, energies)
        if energies is not None and self.zero_below is not None and any(self.hard_threshold):
            x = hold_threshold(x, inside, self.zero_below, self.hard_threshold)  # no track under the cut
        if self.spectrum_map is not None and inside is not None and lit is not None:
            x = calibrate(x, lit[2], self.spectrum_map, energies, self.zero_below, self.hard_threshold)
        return self.to_pixels(x)

    @property
    def spectrum_map(self) -> dict | None:
        """The spectrum calibration's table (``core.data.spectrum``) of a U-Net with the multiplicity readout
        whose config holds one (``scripts/refit_energy_table.py --spectrum``); in the model's layout (HCAL towers
        for a tower model, mapped before they are spread over their pixels)."""
        table = self._config.get("spectrum_map")
        return table if has_spectrum_map(table) else None

    def to_pixels(self, x: torch.Tensor) -> torch.Tensor:
        """GeV images in the model's own layout -> detector pixels (HCAL towers spread over their pixels)."""
        return from_tower_space(x) if self.hcal_towers else x

    def _light(self, z: torch.Tensor, x: torch.Tensor, energies: torch.Tensor, lit) -> torch.Tensor:
        """The multiplicity readout of GeV image ``x`` (model-space ``z`` ranks the pixels). A table fitted with
        channel widths is read twice: counts for the energies alone light a first image, whose widths (those of
        a jet with a real jet's number of deposits; the network's unlit image, with every faint pixel, is far
        broader) then choose the counts that are lit. With the region condition the counts are those the network
        was told (``lit[3]``), lit as they are."""
        picks, jitter, labels, drawn = Lit(*lit)
        table = self._config["multiplicity_table"]
        score = (z.float().cpu().clamp(-1.0, 1.0) + 1.0) / 2.0 + 1e-6 * jitter
        if self.hcal_towers:  # a tower is lit at its centre; a deposit between centres would merge into one
            score[:, HCAL] = torch.where(centre_pixels(), score[:, HCAL], torch.full_like(score[:, HCAL], -1.0))
        inside = cone_mask(self.size, table["radius"])  # the counts' own cone
        levels = self.zero_below or [0.0, 0.0, 0.0]
        if drawn is None:  # counts not given to the network: read for the image's own widths
            drawn = self._draw_regions(energies, picks, labels)
        if not self.region_condition and uses_widths(table):
            widths = channel_widths(light_by_count(score, x, drawn["counts"], inside, levels), table["radius"])
            drawn = draw_neighbours(table, energies, labels, widths=widths, picks=picks)
        out = light_by_count(score, x, drawn["counts"], inside, levels)
        if "concentrations" in drawn:  # how each region's energy is shared: as in the same neighbour
            out = match_concentration(out, drawn["concentrations"], inside, levels)
        return out

    def _draw_regions(self, energies: torch.Tensor, picks: torch.Tensor, labels: torch.Tensor | None) -> dict:
        """Each jet's neighbour in the multiplicity table for its energies alone (``draw_neighbours``): its lit
        pixels per region and, from a table with them, concentrations. The region condition draws them before
        the network runs (it is told the counts), so they cannot depend on the image's widths."""
        keys = None if labels is None else labels.cpu()
        drawn = draw_neighbours(self._config["multiplicity_table"], energies, keys, picks=picks)
        if self.region_condition:  # told to the network: no deposit in a region drawn empty (rescaling empties it)
            drawn["counts"] = torch.where(energies > 0, drawn["counts"], torch.zeros_like(drawn["counts"]))
        return drawn

    def _trajectory(self, x: torch.Tensor, trace: Trace, energies: torch.Tensor | None = None, lit=None) -> Trajectory:
        return Trajectory(
            t=list(trace.t),
            xt=torch.stack([s.float().cpu() for s in trace.xt]),
            x0=torch.stack([self._to_jets(s, energies, lit) for s in trace.x0]),
            final=self._to_jets(x, energies, lit),
        )

    def reconstructor(
        self,
        net: nn.Module,
        labels: torch.Tensor | None = None,
        sampler: str = "ddim",
        sampler_steps: int | None = None,
    ):
        """This model as a ``core.metrics.reconstruct.Reconstructor`` (SSIM / PSNR of reconstructions).

        One-step: the network's x0 prediction (clipped as its samplers clip it). Reverse: ``sampler`` started
        at t with ``sampler_steps`` network evaluations (default: the sampler's, at most t + 1). ``labels`` (N,)
        condition a class-conditional model on the jets' true labels. Images go in and come out on the CPU;
        the network runs where its weights are.
        """
        from core.metrics.reconstruct import GaussianReconstructor

        device = next(net.parameters()).device
        labels = labels.to(device) if labels is not None and self.conditional else None
        schedule, correlation = self.schedule, self.noise_correlation
        jets: dict = {}  # an energy-conditioned model reconstructs given each jet's own channel energies

        def to_model(x0: torch.Tensor) -> torch.Tensor:
            z, jets["energies"] = self.split_prepared(self.prepare(x0))
            if self.region_condition:  # the jet's own lit pixels per region, as in training
                jets["cond"] = self.image_condition(z.to(device))
            elif self.energy_condition:
                jets["cond"] = self.condition(x0.to(device).sum((-1, -2)))
            return z

        def eps_fn(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.eps_fn(net, labels, 1.0, jets.get("cond"))(xt, t)

        def x0_fn(xt: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            xd, td = xt.to(device), t.to(device)
            return schedule.x0_from_eps(xd, td, eps_fn(xd, td)).to(xt.device)

        def reverse_fn(xt: torch.Tensor, t: int, generator: torch.Generator) -> torch.Tensor:
            seed = int(torch.randint(0, 2**62, (1,), generator=generator))
            g = torch.Generator(device).manual_seed(seed)
            xd = xt.to(device)
            out = run_sampler(sampler, eps_fn, xd, schedule, sampler_steps, g, start=int(t), correlation=correlation)
            return out.to(xt.device)

        return GaussianReconstructor(
            schedule=schedule,
            x0_fn=x0_fn,
            to_model=to_model,
            to_gev=lambda z: self.to_pixels(self.to_gev(z, jets.get("energies"))),
            reverse_fn=reverse_fn,
            correlation=correlation,
        )

    def card(self) -> dict:
        """What a model card says about this model beyond family and size."""
        return {
            "image_size": self.size,
            "schedule": self.schedule.config(),
            "prediction": self.prediction,
            "energy_condition": self.energy_condition,
            **({"hcal_towers": True} if self.hcal_towers else {}),
            **({"region_condition": True} if self.region_condition else {}),
            **({"energy_shares": True} if self.energy_shares else {}),
            **({"bright_weight": self.bright_weight} if self.bright_weight else {}),
            **(
                {"concentration_readout": True}
                if has_concentrations(self._config.get("multiplicity_table") or {})
                else {}
            ),
            **({"spectrum_calibration": True} if self.spectrum_map is not None else {}),
            **({"noise_correlation": self.noise_correlation} if self.noise_correlation else {}),
            **({"preset": self._config["preset"]} if "preset" in self._config else {}),
        }

    def signal_levels(self) -> np.ndarray:
        """alpha_bar at each step t (what is left of the image at t; the reverse animation shows it)."""
        return self.schedule.alpha_bar.double().numpy()


def build_network(config: dict) -> nn.Module:
    """The network of a config (no weights loaded)."""
    if config["family"] == "seed-baseline":
        net = config.get("network", {})
        return SimpleDiffusionCNN(
            size=int(config["size"]), hidden=int(net.get("hidden", 16)), timesteps=int(config["schedule"]["timesteps"])
        )
    return UNet(UNetConfig.from_dict(config["network"]))


def _cpu(generator: torch.Generator | None) -> torch.Generator | None:
    """A CPU generator continuing ``generator``'s seed (CPU draws of a sample made on a GPU)."""
    if generator is None or generator.device.type == "cpu":
        return generator
    return torch.Generator().manual_seed(generator.initial_seed())


def check_bright_weight(value) -> float:
    """The loss's extra weight on bright pixels: a finite number >= 0 (0: the plain MSE)."""
    weight = float(value)
    if not (math.isfinite(weight) and weight >= 0):
        raise JetInputError(f"bright weight: a finite number >= 0, got {value}")
    return weight


def pack_energies(z: torch.Tensor, totals: torch.Tensor) -> torch.Tensor:
    """Model-space images (N, 3, H, W) and their channel energies (N, 3) as one (N, 4, H, W) tensor (the
    energies in the first pixels of a fourth plane), so the training loop batches them together."""
    plane = z.new_zeros(z.shape[0], 1, *z.shape[2:])
    plane.view(len(z), -1)[:, : totals.shape[1]] = totals.to(z)
    return torch.cat([z, plane], 1)


def unpack_energies(batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inverse of :func:`pack_energies`."""
    if batch.ndim != 4 or batch.shape[1] != 4:
        raise JetInputError(
            f"a model drawing energy shares: prepared batches are (N, 4, H, W), got {tuple(batch.shape)}"
        )
    return batch[:, :3], batch[:, 3].reshape(len(batch), -1)[:, :3]


def region_features(energies: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """(N, 9) what the region condition adds, before standardising: log(1 + lit pixels) inside and outside the
    cone per channel (6) and each channel's share of its energy inside the cone (3; 0 for an empty channel).
    Why: the multiplicity readout lights a real jet's number of deposits among the network's highest pixels;
    a network told that number (and where the energy sits) draws a shape made for it, rather than one whose
    faint pixels the readout has to pick from (issue 13)."""
    e = torch.as_tensor(energies).double().clamp_min(0)
    total = e.sum(1)
    share = torch.where(total > 0, e[:, 0] / total.clamp_min(1e-300), torch.zeros_like(total))
    logs = torch.log1p(torch.as_tensor(counts).double().clamp_min(0)).reshape(len(e), 6)
    return torch.cat([logs, share], 1).float()


def fit_region_norm(x: torch.Tensor) -> dict:
    """Mean and spread of :func:`region_features` over the training jets (GeV images in the model's layout)."""
    x = torch.as_tensor(x).float()
    f = region_features(region_sums(x), region_sums((x > 0).float()))
    return {"mean": f.mean(0).tolist(), "std": f.std(0).clamp_min(1e-6).tolist()}


def _standardised(v: torch.Tensor, norm: dict) -> torch.Tensor:
    mean = torch.as_tensor(norm["mean"], dtype=torch.float32, device=v.device)
    std = torch.as_tensor(norm["std"], dtype=torch.float32, device=v.device)
    return (v.float() - mean) / std


def channel_totals(energies: torch.Tensor) -> torch.Tensor:
    """(N, 3) channel energies from (N, 3) or from (N, 2, 3) energies inside and outside the cone."""
    return energies.sum(1) if energies.ndim == 3 else energies


def fit_energy_model(x: torch.Tensor, y: torch.Tensor | None) -> dict:
    """The per-class copula of the energies inside and outside the jet cone, and the normalisation of the
    network's energy condition (the channel totals)."""
    energies = x.double().sum((-1, -2))  # (N, 3) GeV
    logs = torch.log1p(energies)
    return {
        "energies": fit_cone_energies(region_energies(x), None if y is None else y.numpy()),
        "energy_norm": {"mean": logs.mean(0).tolist(), "std": logs.std(0).clamp_min(1e-6).tolist()},
    }


def fit_multiplicity(x: torch.Tensor, y: torch.Tensor | None, concentrations: bool = False) -> dict:
    """The table that draws each channel's lit pixels inside and outside the cone for a jet's region energies
    (``core.data.multiplicity``), from the training jets; with ``concentrations``, also how each region's
    energy is shared (the concentration readout)."""
    labels = None if y is None else y.numpy()
    counts, widths = region_counts(x, JET_RADIUS), channel_widths(x, JET_RADIUS)
    shares = region_concentrations(x, JET_RADIUS) if concentrations else None
    return fit_counts(region_energies(x), counts, labels, JET_RADIUS, widths=widths, concentrations=shares)


def build_task(config: dict, x_train: torch.Tensor | None = None, y_train: torch.Tensor | None = None) -> DiffusionTask:
    """Registry builder: fit the log transform and the zero-suppression levels on ``x_train`` when absent."""
    config = dict(config)
    if config.get("hcal_towers") and int(config["size"]) != TOWER_SIZE:
        raise JetInputError(
            f"hcal_towers: defined at {TOWER_SIZE} x {TOWER_SIZE}, not {config['size']} x {config['size']}"
        )
    if config.get("hcal_towers") and x_train is not None:  # every fit reads HCAL as the network draws it
        x_train = to_tower_space(torch.as_tensor(x_train).float())
    if "transform" not in config:
        if x_train is None:
            raise JetInputError("task config: no 'transform' and no training data to fit one on")
        shapes = channel_shares(x_train)[0] if config.get("energy_shares") else x_train  # what the network draws
        config["transform"] = fit_transform(shapes, config.get("transform_kind", "log")).to_dict()
    if "zero_below" not in config and x_train is not None:
        config["zero_below"] = zero_suppression(x_train)
    if "hard_threshold" not in config and x_train is not None:
        config["hard_threshold"] = hard_thresholds(x_train)
    if config.get("energy_condition") and "energies" not in config:
        if x_train is None:
            raise JetInputError("task config: an energy-conditioned model needs training jets to fit its energies on")
        config.update(fit_energy_model(x_train, y_train))
    if config.get("multiplicity") and "multiplicity_table" not in config and x_train is not None:
        # The concentration readout for HCAL drawn as towers only: real HCAL pixels are towers spread over their
        # pixels, and a pixel-HCAL network's single HCAL pixels given their concentration went to 5x the in-cone
        # mass and width floors (README, "The concentration readout").
        shares = bool(config.get("hcal_towers")) and config.get("concentration", True)
        config["multiplicity_table"] = fit_multiplicity(x_train, y_train, concentrations=shares)
    if config.get("region_condition") and "region_norm" not in config and x_train is not None:
        config["region_norm"] = fit_region_norm(x_train)
    return DiffusionTask(config, build_network(config), make_transform(config["transform"]))
