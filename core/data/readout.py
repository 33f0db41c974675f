"""Detector readout rules fitted on training jets and applied to every generated image, classical or quantum.

A detector reads no deposit below its zero-suppression level, and a tracker reads no track below its pT cut.
Generated images, whose pixels come from a network's continuous output or from Born probabilities times a
channel energy, obey neither by themselves; these rules make them, with levels taken from the training jets.
"""

from __future__ import annotations

import torch

SUBSAMPLE = 100_000  # pixels per channel enough for a 1st percentile


def zero_suppression(x: torch.Tensor, quantile: float = 0.01) -> list[float]:
    """Per channel, the 1st percentile of the non-zero training pixels (GeV): below it, generated pixels are noise."""
    out = []
    for c in range(x.shape[1]):
        v = x[:, c][x[:, c] > 0].float()
        if v.numel() > SUBSAMPLE:
            v = v[torch.randperm(v.numel(), generator=torch.Generator().manual_seed(0))[:SUBSAMPLE]]
        out.append(float(torch.quantile(v, quantile)) if v.numel() else 0.0)
    return out


def hard_thresholds(x: torch.Tensor, quantile: float = 0.01, edge: float = 0.5) -> list[bool]:
    """Per channel, whether the training pixels start at a hard readout threshold: the smallest non-zero
    pixel is at least ``edge`` times the 1st percentile (the tracker's pT cut: 0.49 against 0.51 GeV), not a
    spectrum running down towards zero (the calorimeters: 1e-5 against 0.01 GeV)."""
    out = []
    for c, level in enumerate(zero_suppression(x, quantile)):
        v = x[:, c][x[:, c] > 0]
        out.append(bool(v.numel() and level > 0 and float(v.min()) >= edge * level))
    return out


def suppress_below(x: torch.Tensor, levels: list[float]) -> torch.Tensor:
    """(N, C, H, W) GeV with each channel's pixels under its level set to 0. A channel that would lose every
    pixel keeps them all (its energy has to go somewhere; the caller rescales to the drawn energies)."""
    thr = torch.as_tensor(levels, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    out = torch.where(x < thr, torch.zeros_like(x), x)
    emptied = (out.sum((-1, -2), keepdim=True) <= 0) & (x.sum((-1, -2), keepdim=True) > 0)
    return torch.where(emptied, x, out)


def light_by_count(
    score: torch.Tensor, values: torch.Tensor, counts: torch.Tensor, inside: torch.Tensor, levels: list[float]
) -> torch.Tensor:
    """(N, C, H, W) GeV images whose lit pixels are, per channel and region (inside the cone, outside it), the
    ``counts[n, region, c]`` pixels of highest ``score``; each holds its value in ``values``, at least its
    channel's readout level. The multiplicity readout: how many deposits a jet has is drawn with its energies
    (``core.data.energies``), where they go is the generator's choice (its highest pixels). Ties in
    ``score`` are broken by index: give it a small random jitter to spread them."""
    thr = torch.as_tensor(levels, dtype=values.dtype, device=values.device).view(1, -1, 1, 1)
    floor = torch.maximum(values, thr)
    out = torch.zeros_like(values)
    for region, mask in enumerate((inside, ~inside)):
        mask = mask.to(values.device)
        masked = torch.where(mask, score, torch.full_like(score, -torch.inf)).flatten(2)
        rank = masked.argsort(-1, descending=True).argsort(-1).view_as(values)
        wanted = counts[:, region, :].to(values.device)[:, :, None, None]
        out = torch.where((rank < wanted) & mask, floor, out)
    return out
