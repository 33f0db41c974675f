"""The spectrum calibration: a generator's lit-pixel energies mapped, quantile to quantile, onto the training jets'.

The multiplicity readout (``core.data.multiplicity``) gives each channel's region (inside the jet cone, outside
it) as many lit pixels as a training jet of its energies has, and the network chooses which. It does not say how
bright they are, and the network lights its faintest ones at values it barely drew: the shipped U-Net's lit
ECAL pixels in the cone had their 5th percentile at 0.011 GeV against 0.12 GeV in real jets, HCAL 0.003 against
0.05 (7 December, 32 x 32), and a quarter of its lit pixels sat at the readout level, tied.

Here, as a calorimeter's response is calibrated, each lit pixel's energy goes through a monotone map: the
quantile it holds among the generator's own lit pixels of the same class, channel and region is sent to the same
quantile of the training jets' (``F_train^-1(F_gen(E))``, in log GeV). The generator's order of brightness, within
a jet and between jets, is kept; its spectrum becomes the training jets'. ``F_gen`` is fitted once on a seeded
sample of the model's own jets (``scripts/refit_energy_table.py --spectrum``), ``F_train`` on the training jets;
held-out jets are never read. After the map each region is rescaled to its drawn energy again, which moves the
brightest pixels little (the faint ones hold little energy).

Mapping the values by quantile, not each pixel's share of its region nor a draw per pixel, is what measured best
(7 December, README "The spectrum calibration"): draws of each pixel's share from training regions of the same
count and mean, handed out in the network's order, fixed the counts of faint pixels but lost each jet's leading
pixel (pTD 11x its floor).

The table holds quantiles only (no image, no jet): per group (a class, or "all"), channel and region, ``LEVELS``
quantiles of log GeV of the lit pixels, for the generator and for the training jets.
"""

from __future__ import annotations

import numpy as np
import torch

from core.data.energies import cone_mask, rescale_channels, rescale_regions
from core.data.readout import hold_threshold
from core.errors import JetInputError

LEVELS = 101  # quantiles per group, channel and region (probabilities 0, 0.01, ..., 1)
MIN_PIXELS = 50  # lit pixels a group's channel and region needs to be mapped


def lit_log_quantiles(x: torch.Tensor, y: torch.Tensor | np.ndarray | None, radius: float) -> dict:
    """(N, 3, H, W) GeV jets and their labels -> {group: [channel][region] LEVELS quantiles of log GeV of the lit
    pixels, or None where fewer than MIN_PIXELS are lit}; groups "0" and "1" by class, "all" without labels."""
    x = torch.as_tensor(x).double()
    if x.ndim != 4 or x.shape[1] != 3 or not torch.isfinite(x).all():
        raise JetInputError(
            f"spectrum calibration: jets of shape (N, 3, H, W) with finite values, got {tuple(x.shape)}"
        )
    inside = cone_mask(x.shape[-1], radius)
    labels = None if y is None else np.asarray(y)
    groups = {"all": np.arange(len(x))} if labels is None else {str(c): np.flatnonzero(labels == c) for c in (0, 1)}
    probabilities = np.linspace(0.0, 1.0, LEVELS)
    out = {}
    for name, rows in groups.items():
        if len(rows) == 0:
            continue
        jets = x[torch.from_numpy(rows)]
        out[name] = [[_quantiles(jets[:, c][:, mask], probabilities) for mask in (inside, ~inside)] for c in range(3)]
    return out


def _quantiles(v: torch.Tensor, probabilities: np.ndarray) -> list[float] | None:
    lit = v[v > 0]
    if lit.numel() < MIN_PIXELS:
        return None
    return np.round(np.quantile(lit.log().numpy(), probabilities), 6).tolist()


def fit_spectrum_map(
    generated: torch.Tensor,
    generated_labels: torch.Tensor | np.ndarray | None,
    training: torch.Tensor,
    training_labels: torch.Tensor | np.ndarray | None,
    radius: float,
) -> dict:
    """The calibration table: the lit-pixel quantiles of a model's own jets (``generated``, sampled without the
    map) and of its training jets, per group, channel and region."""
    gen = lit_log_quantiles(generated, generated_labels, radius)
    train = lit_log_quantiles(training, training_labels, radius)
    if set(gen) != set(train):
        raise JetInputError(f"spectrum calibration: generated groups {sorted(gen)} but training groups {sorted(train)}")
    return {"radius": radius, "levels": LEVELS, "generated": gen, "training": train}


def has_spectrum_map(table: dict | None) -> bool:
    """Whether a config holds a calibration table (older checkpoints do not)."""
    return bool(table) and "generated" in table and "training" in table


def map_spectrum(x: torch.Tensor, labels: torch.Tensor | None, table: dict) -> torch.Tensor:
    """(N, 3, H, W) GeV jets with every lit pixel's energy mapped by the table (``F_train^-1(F_gen(E))`` per group,
    channel and region); empty pixels stay empty, and a channel's region without quantiles keeps its values. Region
    energies change: the caller rescales them."""
    inside = cone_mask(x.shape[-1], table["radius"]).to(x.device)
    out = x.double().clone()
    for name, rows in _group_rows(len(x), labels, table["generated"]).items():
        for c in range(x.shape[1]):
            for region, mask in enumerate((inside, ~inside)):
                gen, train = table["generated"][name][c][region], table["training"][name][c][region]
                if gen is None or train is None:
                    continue
                block = out[rows, c]
                block[:, mask] = _map_values(block[:, mask], gen, train)
                out[rows, c] = block
    return out.to(x.dtype)


def calibrate(
    x: torch.Tensor,
    labels: torch.Tensor | None,
    table: dict,
    energies: torch.Tensor,
    levels: list[float] | None,
    hard: list[bool] | None,
) -> torch.Tensor:
    """Finished jets -> calibrated jets: :func:`map_spectrum`, then each channel (``energies`` (N, 3)) or each
    region inside and outside the cone ((N, 2, 3)) rescaled to its drawn energy, and the tracker's cut held
    again (``core.data.readout.hold_threshold``); the same steps for the U-Net and the quantum model."""
    e = torch.as_tensor(energies, dtype=torch.float64)
    x = map_spectrum(x, labels, table)
    x = rescale_regions(x, e, table["radius"]) if e.ndim == 3 else rescale_channels(x, e)
    if levels is None or hard is None or not any(hard):
        return x
    inside = cone_mask(x.shape[-1], table["radius"]) if e.ndim == 3 else None
    return hold_threshold(x, inside, levels, hard)


def _group_rows(n: int, labels: torch.Tensor | None, groups: dict) -> dict[str, torch.Tensor]:
    """Which jets each group reads: by class where the table has classes and the jets labels, else one group."""
    if "all" in groups or labels is None:
        return {("all" if "all" in groups else next(iter(groups))): torch.arange(n)}
    labels = torch.as_tensor(labels).cpu()
    return {name: torch.nonzero(labels == int(name)).ravel() for name in groups}


def _map_values(v: torch.Tensor, gen: list[float], train: list[float]) -> torch.Tensor:
    """Lit values (> 0) through ``exp(F_train^-1(F_gen(log v)))``; zeros stay zero."""
    probabilities = torch.linspace(0.0, 1.0, len(gen), dtype=torch.float64)
    lit = v > 0
    p = interp(v.clamp_min(1e-300).log(), torch.tensor(gen, dtype=torch.float64), probabilities)
    mapped = interp(p, probabilities, torch.tensor(train, dtype=torch.float64)).exp()
    return torch.where(lit, mapped, torch.zeros_like(v))


def interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """``numpy.interp`` in torch: piecewise linear through (xp, fp), xp non-decreasing, constant beyond its ends.
    A value on a run of equal xp (an atom: pixels at a readout level) takes the middle of the run's fp."""
    n = len(xp)
    lo = torch.searchsorted(xp, x, right=False)  # first xp >= x
    hi = torch.searchsorted(xp, x, right=True)  # first xp > x
    right = lo.clamp(1, n - 1)
    left = right - 1
    t = ((x - xp[left]) / (xp[right] - xp[left]).clamp_min(1e-300)).clamp(0.0, 1.0)
    out = fp[left] + t * (fp[right] - fp[left])
    middle = (fp[lo.clamp(max=n - 1)] + fp[(hi - 1).clamp(min=0)]) / 2
    return torch.where(hi > lo, middle, out)
