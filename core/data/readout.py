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


def match_concentration(
    x: torch.Tensor, target: torch.Tensor, inside: torch.Tensor, levels: list[float], iterations: int = 40
) -> torch.Tensor:
    """(N, C, H, W) GeV images whose lit pixels in each channel and region (inside the cone, outside it) are
    raised to the power that gives the region ``target[n, region, c]`` as its sum of squared shares
    (``core.data.multiplicity.region_concentrations``); each region keeps its energy and its lit pixels, and
    every pixel stays at least its channel's readout level. Where the deposits go and how many there are is the
    generator's and the count's; how the energy is shared among them follows a training jet of the same energies
    (in real jets a channel holding more of the jet is more concentrated, which the generators miss: issue 13).
    A target of 0 (an empty region in the training jet), a region with fewer than two lit pixels or with equal
    pixels is left as it is. The power is found by bisection on its log in [-4, 5] (the concentration rises with it)."""
    out = x.clone()
    thr = torch.as_tensor(levels, dtype=torch.float64, device=x.device).view(1, -1, 1)
    for region, mask in enumerate((inside, ~inside)):
        mask = mask.to(x.device)
        v = torch.where(mask, x, torch.zeros_like(x)).double().flatten(2)  # (N, C, P)
        want = target[:, region].to(device=x.device, dtype=torch.float64)  # (N, C)
        new = _matched_values(v, want, thr, iterations)
        active = (want > 0) & ((v > 0).sum(-1) > 1)
        new = torch.where((v > 0) & active.unsqueeze(-1), new, v)
        out = torch.where(mask, new.view_as(x).to(x.dtype), out)
    return out


def match_profile(
    x: torch.Tensor, profiles: torch.Tensor, inside: torch.Tensor, order: torch.Tensor | None = None
) -> torch.Tensor:
    """(N, C, H, W) GeV images whose lit pixels in each channel and region (inside the cone, outside it) take the
    shares of ``profiles[n, region, c]`` (brightest first, 0 past the end; ``core.data.multiplicity``), in the
    order of the image's own values, times the region's energy: where the deposits go is the generator's, how the
    energy is shared among them a training jet's of the same energies, in full (the concentration readout matches
    one number of it). A region with more lit pixels than its profile has shares, or none lit, is left as it is;
    with fewer, the leading shares are renormalised. ``order`` (same shape as ``x``): the lit pixels take the
    shares in its order instead of their values' (the channels ordered together, ``core.quantum.lit_pixels``)."""
    out = x.clone()
    for region, mask in enumerate((inside, ~inside)):
        mask = mask.to(x.device)
        v = x[..., mask].double()  # (N, C, P)
        shares = profiles[:, region].to(device=x.device, dtype=torch.float64)  # (N, C, W)
        lit = v > 0
        m, k = lit.sum(-1, keepdim=True), (shares > 0).sum(-1, keepdim=True)
        key = v if order is None else torch.where(lit, order[..., mask].double(), -torch.inf)
        rank = key.argsort(dim=-1, descending=True, stable=True).argsort(dim=-1).clamp_max(shares.shape[-1] - 1)
        norm = shares.cumsum(-1).gather(-1, (m - 1).clamp(0, shares.shape[-1] - 1))
        new = shares.gather(-1, rank) / norm.clamp_min(1e-300) * v.sum(-1, keepdim=True)
        active = (m > 0) & (m <= k)
        out[..., mask] = torch.where(lit & active, new, v).to(x.dtype)
    return out


def anchor_profiles(
    profiles: torch.Tensor, neighbour: torch.Tensor, energies: torch.Tensor, levels: list[float], anchored: list[bool]
) -> torch.Tensor:
    """(N, 2, C, P) shares (brightest first; ``core.data.multiplicity``) for regions holding ``energies`` (N, 2, C)
    GeV, from a neighbour's shares of its own ``neighbour`` energies: in a channel with a hard readout threshold
    (``anchored[c]``, level ``levels[c]``: the tracker's pT cut) each deposit keeps the level and its GeV above
    it scales, v_i = L + (s_i E_n - L) (E - k L) / (E_n - k L), so the neighbour's faintest track stays a track.
    Scaling every share by E instead pushed them under the cut whenever E < E_n, where the cut rule
    (:func:`hold_threshold`) piled them at the level (7 December: 6.6 % of lit Tracks pixels of the quantum model
    within 0.5 % of 0.51 GeV, against 0.5 % in real jets). A region where E or E_n cannot give its k deposits the
    level keeps its shares; the other channels keep theirs."""
    out = profiles.clone()
    counts = (profiles > 0).sum(-1, keepdim=True).double()
    for c, (level, on) in enumerate(zip(levels, anchored, strict=True)):
        if not on or level <= 0:
            continue
        shares = profiles[:, :, c].double()  # (N, 2, P)
        e_n, e = neighbour[:, :, c, None].double(), energies[:, :, c, None].double()
        room_n, room = e_n - counts[:, :, c] * level, e - counts[:, :, c] * level
        above = (shares * e_n - level).clamp_min(0) * room / room_n.clamp_min(1e-300)
        values = torch.where(shares > 0, level + above, torch.zeros_like(shares))
        new = values / values.sum(-1, keepdim=True).clamp_min(1e-300)
        ok = (room > 0) & (room_n > 0) & (counts[:, :, c] > 0)
        out[:, :, c] = torch.where(ok, new, shares).to(out.dtype)
    return out


def _matched_values(v: torch.Tensor, want: torch.Tensor, thr: torch.Tensor, iterations: int) -> torch.Tensor:
    """(N, C, P) the lit pixels of ``v`` raised to the power p per (N, C), rescaled to their sum and floored at
    ``thr``, whose sum of squared shares is ``want`` (bisection on log p in [-4, 5]; the floor caps how
    concentrated a region with faint pixels can get)."""
    lit = v > 0
    logs = torch.where(lit, (v / v.amax(-1, keepdim=True).clamp_min(1e-300)).clamp_min(1e-300).log(), 0.0)
    total = v.sum(-1, keepdim=True)

    def values(log_power: torch.Tensor) -> torch.Tensor:
        w = torch.where(lit, (log_power.exp().unsqueeze(-1) * logs).exp(), 0.0)
        w = torch.maximum(w / w.sum(-1, keepdim=True).clamp_min(1e-300) * total, thr).clamp_min(1e-30)
        return torch.where(lit, w, 0.0)

    lo, hi = torch.full_like(want, -4.0), torch.full_like(want, 5.0)
    for _ in range(iterations):
        mid = (lo + hi) / 2
        w = values(mid)
        above = (w * w).sum(-1) > want * w.sum(-1) ** 2
        hi, lo = torch.where(above, mid, hi), torch.where(above, lo, mid)
    return values((lo + hi) / 2)


def hold_threshold(
    x: torch.Tensor, inside: torch.Tensor | None, levels: list[float], hard: list[bool], iterations: int = 60
) -> torch.Tensor:
    """(N, C, H, W) GeV images in which every lit pixel of a channel with a hard readout threshold (``hard``: the
    tracker's pT cut) is at least its level, each region (inside the cone ``inside`` and outside it; the whole
    image when None) keeping its energy. Rescaling a generated channel to its drawn energy (last step of every
    sampler) can push its faintest tracks under the cut, where a real tracker reads none (measured 7 December: 13 % of
    the shipped U-Net's Tracks pixels, in half its jets; a classifier needs one pixel to tell). Here the pixels
    below the level are raised to it and the others scaled down so the region keeps its energy (water filling:
    max(level, s v) summing to the energy, s by bisection); a region whose energy cannot give every lit pixel the
    level keeps its floor(energy / level) brightest pixels (at least one)."""
    out = x.clone()
    regions = [torch.ones(x.shape[-2:], dtype=torch.bool)] if inside is None else [inside, ~inside]
    for c, (level, on) in enumerate(zip(levels, hard, strict=True)):
        if not on or level <= 0:
            continue
        for mask in regions:
            mask = mask.to(x.device)
            v = torch.where(mask, x[:, c], torch.zeros_like(x[:, c])).double().flatten(1)  # (N, P)
            new = _water_fill(v, float(level), iterations)
            out[:, c] = torch.where(mask, new.view_as(x[:, c]).to(x.dtype), out[:, c])
    return out


def _water_fill(v: torch.Tensor, level: float, iterations: int) -> torch.Tensor:
    """(N, P) values -> the same sums with every kept pixel >= level (see :func:`hold_threshold`)."""
    total = v.sum(-1, keepdim=True)
    lit = v > 0
    room = torch.floor(total / level + 1e-9).clamp_min(1)  # how many pixels the energy can hold at the level
    rank = v.argsort(-1, descending=True).argsort(-1)
    keep = lit & (rank < room)
    kept = torch.where(keep, v, 0.0)
    lo = torch.zeros_like(total)
    hi = total / kept.sum(-1, keepdim=True).clamp_min(1e-300)  # at s = hi the sum is >= total
    for _ in range(iterations):
        mid = (lo + hi) / 2
        over = torch.where(keep, torch.maximum(mid * kept, torch.full_like(kept, level)), 0.0).sum(-1, keepdim=True)
        hi, lo = torch.where(over > total, mid, hi), torch.where(over > total, lo, mid)
    filled = torch.where(keep, torch.maximum(hi * kept, torch.full_like(kept, level)), 0.0)
    filled = filled * (total / filled.sum(-1, keepdim=True).clamp_min(1e-300))  # exact sums (a region < level: 1 pixel)
    return torch.where(lit.any(-1, keepdim=True), filled, v)
