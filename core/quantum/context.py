"""What the angle network of a later channel learns about a jet's earlier channels.

With one state per channel the three channel states of a jet are drawn one after the other: Tracks first,
then ECAL given a summary of the Tracks shape, then HCAL given Tracks and ECAL. The summary is the channel's
radial profile around the jet axis (energy fractions in rings, and the energy-weighted mean distance) and how
its core leans (the core's energy in each quadrant around the axis): a jet's channels come from one shower,
so a wide jet is wide and an off-centre core is off-centre in every channel (real jets' channel widths
correlate at about 0.45 between Tracks and ECAL within a class; at 8 x 8 the width within R = 0.4 is read from
the four central pixels alone, so the lean is what it measures). Training reads the summary from the clean
channels (teacher forcing), sampling from the generated ones.
"""

from __future__ import annotations

import torch

from core.data.energies import JET_RADIUS
from core.data.transforms import pixel_geometry

RING_EDGES = (1.0, 2.0, 3.0)  # in units of size / 8 pixels from the jet axis: 4 rings at 8 x 8
FEATURES_PER_CHANNEL = len(RING_EDGES) + 1 + 1 + 4  # ring fractions, mean distance, core quadrant fractions
EARLIER_CHANNELS = 2  # Tracks and ECAL can inform the channels after them
MEAN_DISTANCE = len(RING_EDGES) + 1  # where a profile holds the channel's energy-weighted mean distance (its width)
LEAN = slice(MEAN_DISTANCE + 1, MEAN_DISTANCE + 5)  # where it holds the core's four quadrant fractions


def radial_profile(images: torch.Tensor) -> torch.Tensor:
    """Channel shapes (M, s, s) (any scale) -> (M, FEATURES_PER_CHANNEL): the fraction of the channel's energy
    in each ring around the image centre, its energy-weighted mean distance over s / 2 (0 .. ~1.4), and the
    fraction of the core's (innermost ring's) energy in each quadrant around the centre (0.25 each for an empty
    or symmetric core)."""
    m, h, w = images.shape
    ys = torch.arange(h, dtype=torch.float64) - (h - 1) / 2
    xs = torch.arange(w, dtype=torch.float64) - (w - 1) / 2
    r = torch.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2) * (8.0 / h)
    p = images.double().reshape(m, -1).clamp_min(0)
    p = p / p.sum(-1, keepdim=True).clamp_min(1e-12)
    edges = torch.tensor((0.0, *RING_EDGES, float("inf")), dtype=torch.float64)
    ring = torch.bucketize(r.reshape(-1), edges[1:-1], right=True)  # 0 .. len(RING_EDGES)
    onehot = torch.nn.functional.one_hot(ring, len(RING_EDGES) + 1).double()
    fractions = p @ onehot
    mean_r = (p * r.reshape(-1)).sum(-1, keepdim=True) / 4.0
    quadrant = ((ys[:, None] > 0).long() * 2 + (xs[None, :] > 0).long()).reshape(-1)
    core = onehot[:, 0:1] * torch.nn.functional.one_hot(quadrant, 4).double()  # (s*s, 4): core pixels by quadrant
    lean = p @ core
    lean = torch.where(lean.sum(-1, keepdim=True) > 0, lean / lean.sum(-1, keepdim=True).clamp_min(1e-12), 0.25)
    return torch.cat([fractions, mean_r, lean], -1).float()


def context_rows(profiles: torch.Tensor, channel: int) -> torch.Tensor:
    """Profiles of a jet's earlier channels (N, EARLIER_CHANNELS, F) -> the context of its ``channel`` row,
    (N, EARLIER_CHANNELS * F): the profiles of the channels before it, zeros for the others."""
    keep = (torch.arange(EARLIER_CHANNELS) < channel).to(profiles.dtype)
    return (profiles * keep[None, :, None]).reshape(profiles.shape[0], -1)


def context_size(extra: int = 0) -> int:
    """Inputs the angle network gets for the context; ``extra`` features per channel after the profile (the
    halo's, ``core.quantum.halo``, for a model with a halo term)."""
    return EARLIER_CHANNELS * (FEATURES_PER_CHANNEL + extra)


def cone_width(images: torch.Tensor, radius: float = JET_RADIUS) -> torch.Tensor:
    """Channel shapes (M, s, s) (any scale) -> (M, 1): the energy-weighted mean Delta R from the jet axis of the
    pixels within ``radius`` of it, in the observables' geometry (``core.data.observables.channel_widths``); the
    mean over the cone's pixels where the cone holds nothing. Unlike the profile's mean distance, measured from the
    image centre, this sees which of the central pixels a channel favours: the axis is not at the centre."""
    deta, dphi = pixel_geometry(images.shape[-1])
    dr = torch.from_numpy((deta**2 + dphi**2) ** 0.5).to(torch.float64).reshape(-1)
    inside = (dr < radius).to(torch.float64)
    p = images.double().reshape(len(images), -1).clamp_min(0) * inside
    total = p.sum(-1, keepdim=True)
    uniform = (inside * dr).sum() / inside.sum().clamp_min(1)
    width = (p * dr).sum(-1, keepdim=True) / total.clamp_min(1e-300)
    return torch.where(total > 0, width, uniform).float()
