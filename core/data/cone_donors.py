"""Where ECAL's and HCAL's deposits sit in the cone, given Tracks': as in a real jet whose Tracks cone is alike.

At 8 x 8 the cone (R < 0.4) is the four central pixels. The jet axis is not at their common corner (their distances
to it are 0.185, 0.197, 0.197 and 0.209), so a channel's width inside the cone says which of them hold its energy,
and how much. Real jets prefer the nearest pixel (the brightest Tracks / ECAL / HCAL pixel is there in 58 / 53 / 81 %
of held-out jets), and the channels' cones belong together: a charged hadron's track, its photons and its hadronic
deposit share a direction. What ties them is more than the brightest pixels: on held-out real jets, giving ECAL
and HCAL the orders of another jet whose Tracks has the same brightest and second pixel brings their in-cone width
correlations from 0.49 / 0.08 / 0.33 (Tracks-ECAL, ECAL-HCAL, Tracks-HCAL) to 0.38 / 0.04 / 0.12; the orders of
one of the 20 jets whose Tracks cone is nearest in its four fractions, to 0.46 / 0.09 / 0.22; that jet's whole
ECAL and HCAL cones, to 0.49 / 0.10 / 0.29 (8 December).

So the multiplicity table (``core.data.multiplicity``) keeps each training jet's cone fractions per channel
(:func:`cone_fractions`, stored by :func:`encode_fractions`), and the quantum readout (``core.quantum.lit_pixels``)
draws for each generated jet a *donor*: one of the ``DONORS`` training jets of its class whose Tracks cone and
ECAL and HCAL cone energies are nearest the generated one's (:func:`draw_donors`); ECAL's and HCAL's cone energy
is then shared as the donor's (:func:`donor_cones`). Tracks' cone stays the circuit's; outside the cone every
channel does. An empirical P(ECAL, HCAL in the cone | Tracks in the cone, energies, class), a classical readout
rule like the multiplicity table itself.
"""

from __future__ import annotations

import base64

import numpy as np
import torch

from core.data.energies import cone_mask
from core.errors import JetInputError

DONORS = 20
_STEP = 65535  # a stored fraction is within 1e-5 of the training jet's


def cone_fractions(x: torch.Tensor | np.ndarray, radius: float) -> np.ndarray:
    """(N, 3, H, W) GeV images -> (N, 3, K): each channel's share of its cone energy on each of the K cone pixels
    (row-major), 0 where it holds nothing there."""
    x = torch.as_tensor(x).double()
    if x.ndim != 4 or x.shape[1] != 3:
        raise JetInputError(f"cone fractions: expected (N, 3, H, W) images, got shape {tuple(x.shape)}")
    a = x[..., cone_mask(x.shape[-1], radius)].clamp_min(0)
    total = a.sum(-1, keepdim=True)
    return torch.where(total > 0, a / total.clamp_min(1e-300), torch.zeros_like(a)).numpy()


def encode_fractions(row: np.ndarray) -> str:
    """One jet's (3, K) cone fractions -> a short string (little-endian uint16 steps of 1/65535, base64)."""
    q = np.round(np.clip(np.asarray(row, dtype=np.float64), 0, 1) * _STEP).astype("<u2")
    return base64.b64encode(q.tobytes()).decode("ascii")


def decode_fractions(texts: list[str], pixels: int) -> torch.Tensor:
    """Strings of :func:`encode_fractions` -> (n, 3, ``pixels``) float64 fractions."""
    raw = b"".join(base64.b64decode(t) for t in texts)
    q = np.frombuffer(raw, dtype="<u2").astype(np.float64) / _STEP
    if q.size != len(texts) * 3 * pixels:
        raise JetInputError(f"cone fractions: expected {len(texts)} jets of 3 x {pixels} values, got {q.size} values")
    return torch.from_numpy(q.reshape(len(texts), 3, pixels).copy())


def draw_donors(
    groups: dict,
    labels: list[str],
    tracks: torch.Tensor,
    u: torch.Tensor,
    energies: torch.Tensor | None = None,
    energy_weight: float = 0.0,
) -> torch.Tensor:
    """(N, 3, K) cone fractions of each jet's donor: of the ``DONORS`` training jets of its class group
    (``groups[labels[n]]``; every group's without it) nearest to it, the one at ``u[n]`` (uniform in [0, 1)).
    Nearest in its Tracks cone fractions ``tracks`` (N, K) and, with ``energies`` (N, 2: log(1 + GeV) of ECAL
    and HCAL in the cone), ``energy_weight`` x those (a channel's concentration goes with its energy). Each group
    holds per jet ``"cone_fractions"`` (:func:`encode_fractions`) and ``"log_energies"`` (region energies, the
    cone's first: ``core.data.multiplicity``)."""
    out = torch.zeros(len(tracks), 3, tracks.shape[1], dtype=torch.float64)
    for name in sorted(set(labels)):
        members = [groups[name]] if name in groups else list(groups.values())
        pool = decode_fractions([t for g in members for t in g["cone_fractions"]], tracks.shape[1])
        rows = torch.tensor([i for i, v in enumerate(labels) if v == name], dtype=torch.int64)
        query, ref = tracks[rows].double(), pool[:, 0]
        if energies is not None and energy_weight > 0:
            logs = torch.tensor([e[1:3] for g in members for e in g["log_energies"]], dtype=torch.float64)
            query = torch.cat([query, energy_weight * energies[rows].double()], 1)
            ref = torch.cat([ref, energy_weight * logs], 1)
        k = min(DONORS, len(pool))
        near = torch.cdist(query, ref).topk(k, largest=False).indices
        at = (u[rows].double() * k).long().clamp(0, k - 1)
        out[rows] = pool[near[torch.arange(len(rows)), at]]
    return out


def donor_cones(cone: torch.Tensor, donor: torch.Tensor, alive: torch.Tensor, levels: list[float]) -> torch.Tensor:
    """(N, 3, K) GeV cone pixels -> the same with ECAL's and HCAL's shared as their donor's fractions ``donor``
    (N, 3, K), each keeping its cone energy: only on pixels where ``alive`` (the state gave them weight: the
    readout never invents a deposit the measurement did not see), none under the channel's readout level
    ``levels[c]`` (the rest renormalised). A channel whose donor holds nothing there, or nothing that survives,
    keeps its own pixels; Tracks always does."""
    if cone.shape != donor.shape or alive.shape != cone.shape or cone.ndim != 3 or cone.shape[1] != 3:
        raise JetInputError(
            f"donor cones: expected (N, 3, K) cones, donors and masks, got {tuple(cone.shape)}, "
            f"{tuple(donor.shape)} and {tuple(alive.shape)}"
        )
    energy = cone.double().sum(-1, keepdim=True)
    share = torch.where(alive, donor.double(), torch.zeros_like(donor, dtype=torch.float64))
    for _ in range(2):  # renormalise, drop what falls under the level, renormalise again
        share = share / share.sum(-1, keepdim=True).clamp_min(1e-300)
        floor = torch.as_tensor(levels, dtype=torch.float64).view(1, -1, 1)
        share = torch.where(share * energy >= floor, share, torch.zeros_like(share))
    share = share / share.sum(-1, keepdim=True).clamp_min(1e-300)
    use = (share.sum(-1, keepdim=True) > 0) & (torch.arange(3) > 0).view(1, 3, 1)
    return torch.where(use, share * energy, cone.double()).to(cone.dtype)
