"""How a channel's energy is spread over its pixels: the multiplicity side of a jet's shape.

Born probabilities are smooth: a state that holds a jet's core puts a little probability on nearly every pixel,
and those pixels pass the detector's zero suppression, so a generated ECAL lights 28 pixels where a real one
lights 18 at 8 x 8. The radial profile (``core.quantum.context``) cannot see this: a few faint pixels barely
move a ring's energy. These features do: the share of pixels holding more than 0.01 %, 0.1 % and 1 % of the
channel's energy (a multiplicity spectrum, as constituent counts above pT fractions are for quark and gluon
jets) and the sum of squared pixel fractions (pTD squared at pixel level). Each is a function of the Born
probabilities alone, so a device's measured frequencies give it too. The counts are soft (a logistic in the
log fraction) so that gradients reach the pixels near each level. They are read after the detector's readout
(pixels under its zero suppression removed, as a fraction of a typical channel energy): the tracker's 0.5 GeV
cut removes a tenth of a percent of a Tracks channel, and a state that spreads its Tracks energy thinly loses
those pixels at readout, so it must be compared as it will be read.
"""

from __future__ import annotations

import math

import torch

LEVELS = (1e-4, 1e-3, 1e-2)  # fractions of the channel's energy
SOFTNESS = 0.5  # logistic width in ln(fraction): a factor e**0.5 = 1.65 from soft to hard
FEATURES = len(LEVELS) + 1


def sparsity_features(
    probs: torch.Tensor, softness: float = SOFTNESS, readout: torch.Tensor | None = None
) -> torch.Tensor:
    """Pixel fractions (M, P) (any non-negative scale; each row is normalised) -> (M, FEATURES): the soft share of
    the P pixels above each of ``LEVELS`` of the row's total, and the sum of squared fractions.

    ``readout``: per row (M,), the fraction of the channel's energy under which the detector reads nothing (its
    zero suppression over a typical channel energy); pixels under it are softly removed first, as the readout
    removes them from generated jets, so the features describe the jet that will be read out."""
    p = probs.double().clamp_min(0)
    p = p / p.sum(-1, keepdim=True).clamp_min(1e-300)
    if readout is not None:
        level = torch.as_tensor(readout, dtype=p.dtype).reshape(-1, 1).clamp_min(1e-30)
        p = p * torch.sigmoid((torch.log(p.clamp_min(1e-30)) - torch.log(level)) / softness)
        p = p / p.sum(-1, keepdim=True).clamp_min(1e-300)
    log_p = torch.log(p.clamp_min(1e-30))
    shares = [torch.sigmoid((log_p - math.log(level)) / softness).mean(-1) for level in LEVELS]
    return torch.stack([*shares, (p * p).sum(-1)], -1).float()
