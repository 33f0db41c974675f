"""The quantum model's multiplicity readout: how many pixels of each channel a generated jet lights.

Born probabilities times a channel energy light every pixel a state gives any weight (over the whole image the W1 of
lit Tracks and HCAL pixels was 37x and 21x its real-vs-real floor: issue 14), or as many as shots land on. Here, as
for the U-Net (``core.data.multiplicity``), each channel's lit pixels inside and outside the cone are those of one
of the 20 training jets of the jet's class nearest to it in its drawn energies; the readout lights that many of the
state's most probable pixels (``core.data.readout.light_by_count``) and gives each channel back its energy. Where
the state puts nothing (a pixel no shot landed on) nothing is lit: the rule never invents a deposit the measurement
did not see. The table is numbers fitted on the training jets, a readout rule like the zero-suppression levels; the
circuit does not change.
"""

from __future__ import annotations

import numpy as np
import torch

from core.data.energies import JET_RADIUS, cone_mask, region_energies, rescale_channels, rescale_regions
from core.data.multiplicity import draw_neighbours, draw_picks, fit_counts, region_concentrations, region_counts
from core.data.readout import light_by_count, match_concentration


def fit_table(
    small: torch.Tensor, labels: torch.Tensor | np.ndarray | None, energy: str, concentrations: bool = True
) -> dict:
    """The table for training jets ``small`` (N, 3, size, size) GeV at the model's size, matched on the numbers
    the model draws: channel totals (``energy="channels"``) or energies inside and outside the cone ("cone"),
    with each region's concentration (the concentration readout) unless ``concentrations`` is False."""
    energies = region_energies(small) if energy == "cone" else small.double().sum((-1, -2)).numpy()
    y = None if labels is None else np.asarray(labels)
    shares = region_concentrations(small, JET_RADIUS) if concentrations else None
    return fit_counts(energies, region_counts(small, JET_RADIUS), y, JET_RADIUS, concentrations=shares)


def draw_readout(table: dict, n: int, shape: tuple[int, ...], generator: torch.Generator | None) -> tuple:
    """What the readout of ``n`` jets draws, before any image exists (a seed gives the same jets): which of the
    nearest training jets each takes its counts from, and a tiny jitter that breaks ties between pixels."""
    return draw_picks(table, n, generator), torch.rand((n, *shape), generator=generator)


def light(
    table: dict,
    shapes: torch.Tensor,
    energies: torch.Tensor,
    labels: torch.Tensor | None,
    drawn: tuple,
    levels: list[float] | None,
) -> torch.Tensor:
    """Decoded shapes (N, 3, size, size; each channel's pixels are its Born probabilities) and the jets' drawn
    energies, (N, 3) or (N, 2, 3) -> GeV images with each channel's drawn number of lit pixels, the most probable
    ones, at least the channel's readout level, rescaled to the drawn energies."""
    picks, jitter = drawn
    e = torch.as_tensor(energies, dtype=torch.float64)
    rescale = rescale_regions if e.ndim == 3 else rescale_channels
    values = rescale(shapes, e).double()
    score = shapes.double() / shapes.double().sum((-1, -2), keepdim=True).clamp_min(1e-300) + 1e-9 * jitter
    drawn = draw_neighbours(table, e, labels, picks=picks)
    inside = cone_mask(shapes.shape[-1], table["radius"])
    lit = light_by_count(score, values, drawn["counts"], inside, levels or [0.0] * 3)
    if "concentrations" in drawn:  # how each region's energy is shared: as in the same neighbour
        lit = match_concentration(lit, drawn["concentrations"], inside, levels or [0.0] * 3)
    return rescale(torch.where(shapes > 0, lit, torch.zeros_like(lit)), e)
