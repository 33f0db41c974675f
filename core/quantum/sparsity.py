"""How a channel's energy is spread over its pixels: the multiplicity side of a jet's shape.

Born probabilities are smooth: a state that holds a jet's core puts a little probability on nearly every pixel,
and those pixels pass the detector's zero suppression, so a generated ECAL lights 28 pixels where a real one
lights 18 at 8 x 8. The radial profile (``core.quantum.context``) cannot see this: a few faint pixels barely
move a ring's energy. These features do: the share of pixels holding more than 0.01 %, 0.1 % and 1 % of the
channel's energy (a multiplicity spectrum, as constituent counts above pT fractions are for quark and gluon
jets) and the sum of squared pixel fractions (pTD squared at pixel level). Each is a function of the Born
probabilities alone, so a device's measured frequencies give it too. The counts are soft (a logistic in the
log fraction) so that gradients reach the pixels near each level.
"""

from __future__ import annotations

import math

import torch

LEVELS = (1e-4, 1e-3, 1e-2)  # fractions of the channel's energy
SOFTNESS = 0.5  # logistic width in ln(fraction): a factor e**0.5 = 1.65 from soft to hard
FEATURES = len(LEVELS) + 1


def sparsity_features(probs: torch.Tensor, softness: float = SOFTNESS) -> torch.Tensor:
    """Pixel fractions (M, P) (any non-negative scale; each row is normalised) -> (M, FEATURES): the soft share of
    the P pixels above each of ``LEVELS`` of the row's total, and the sum of squared fractions."""
    p = probs.double().clamp_min(0)
    p = p / p.sum(-1, keepdim=True).clamp_min(1e-300)
    log_p = torch.log(p.clamp_min(1e-30))
    shares = [torch.sigmoid((log_p - math.log(level)) / softness).mean(-1) for level in LEVELS]
    return torch.stack([*shares, (p * p).sum(-1)], -1).float()
