"""Where a channel's energy outside the jet cone points: the halo features of the quantum profile term.

Real jets' energy outside R = 0.4 is a subjet or a spray of radiation, clustered in one direction around the
axis (the share of that pT along one direction is 0.50-0.57 per channel at 8 x 8), and a jet's ECAL and HCAL
halos point the same way (cosine 0.48). The shipped circuit learned a stripe instead: every jet's halo on the
same column of pixels, on both sides of the core, so the pairs of out-of-cone deposits carry the whole excess of
its mean squared mass (``core.metrics.mass_terms``). The radial profile (``core.quantum.context``) cannot see
this: a ring's energy is the same whichever way the halo points. These features can: the first and second
angular harmonics of the halo (its direction, and its axis, which also catches a two-sided stripe), and its
energy-weighted distance from the axis (a term on direction alone drew halos closer to the core: 0.63 against
0.71-0.77 real, and the core-halo pairs of the mass fell short by a quarter). They are functions of the Born
probabilities alone, so a device's measured frequencies give them too.
"""

from __future__ import annotations

import torch

from core.data.energies import JET_RADIUS, cone_mask
from core.data.transforms import pixel_geometry

FEATURES = 5  # cos and sin of the halo's direction (first harmonic) and of twice it (its axis); its distance
EMPTY = 1e-3  # a halo holding less than about this share of the channel's energy has no direction


def halo_basis(size: int, radius: float = JET_RADIUS) -> torch.Tensor:
    """(size * size, FEATURES + 1): per pixel outside ``radius``, cos and sin of its angle around the axis and
    of twice it, its distance from the axis, then 1 (the halo's energy); zero rows inside the cone."""
    deta, dphi = (torch.as_tensor(a, dtype=torch.float64) for a in pixel_geometry(size))
    theta = torch.atan2(dphi, deta)
    outside = (~cone_mask(size, radius)).double()
    distance = torch.sqrt(deta**2 + dphi**2)
    columns = [torch.cos(theta), torch.sin(theta), torch.cos(2 * theta), torch.sin(2 * theta), distance]
    columns.append(torch.ones_like(theta))
    return (torch.stack(columns, -1) * outside[..., None]).reshape(size * size, FEATURES + 1)


def halo_features(images: torch.Tensor, radius: float = JET_RADIUS) -> torch.Tensor:
    """Channel shapes (M, s, s) (any non-negative scale) -> (M, FEATURES): the out-of-cone energy-weighted
    means of (cos theta, sin theta, cos 2 theta, sin 2 theta, R), theta the pixel's angle around the axis and R
    its distance from it. The first two's length is how concentrated the halo is (1: one direction, 0: spread
    evenly or no halo at all)."""
    m, h, w = images.shape
    p = images.double().reshape(m, -1).clamp_min(0)
    p = p / p.sum(-1, keepdim=True).clamp_min(1e-300)
    moments = p @ halo_basis(h, radius)
    return (moments[:, :FEATURES] / (moments[:, FEATURES:] + EMPTY)).float()


def jet_halos(halos: torch.Tensor) -> torch.Tensor:
    """A jet's channels' halo features (N, channels, FEATURES) -> (N, channels * FEATURES + pairs): side by side,
    then for each pair of channels the dot product of their first harmonics (how far both halos point the same
    way: a kernel on the raw directions, uniform around the axis, hardly sees whether two channels agree)."""
    n, channels, _ = halos.shape
    direction = halos[..., :2]
    pairs = [(direction[:, a] * direction[:, b]).sum(-1) for a in range(channels) for b in range(a + 1, channels)]
    return torch.cat([halos.flatten(1), torch.stack(pairs, -1)], -1)
