"""The quantum model's multiplicity readout: how many pixels of each channel a generated jet lights.

Born probabilities times a channel energy light every pixel a state gives any weight (over the whole image the W1 of
lit Tracks and HCAL pixels was 37x and 21x its real-vs-real floor: issue 14), or as many as shots land on. Here, as
for the U-Net (``core.data.multiplicity``), each channel's lit pixels inside and outside the cone are those of one
of the 20 training jets of the jet's class nearest to it in its drawn energies; the readout lights that many of the
state's most probable pixels (``core.data.readout.light_by_count``) and gives each channel back its energy. Where
the state puts nothing (a pixel no shot landed on) nothing is lit: the rule never invents a deposit the measurement
did not see. The table is numbers fitted on the training jets, a readout rule like the zero-suppression levels; the
circuit does not change.

Outside the cone (the halo), tables fitted since 7 December evening draw *which* pixels are lit from the Born
distribution instead of taking the most probable ones (``halo_scores``: the Gumbel top-k trick, k distinct pixels
drawn with probability ∝ p^(1/T)). The circuit's halo is the amplitude damping's cross: damping clears row and
column bits independently, so the most probable halo pixels lie on the axis's rows and columns in every jet (a
halo pixel there lit in 38 / 55 / 67 % of generated jets, Tracks / ECAL / HCAL, against 19 / 28 / 36 % of real
ones; the 2 x 2 corner blocks in 0-2 % against 10-22 %; 7 December, 2,000 jets each). Tracks and
HCAL share their draw (a charged hadron leaves a track and a hadronic deposit in one place: in real jets 93 % of
lit Tracks halo pixels have HCAL lit too), ECAL mostly draws its own (photons land apart: 39 %). Inside the cone
the most probable pixels are lit; tables fitted since 7 December 21:15 UTC rank them in the channels' joint order
(``cone_order``), with the pixel diagonal to the brightest where the neighbour had it (``place_diagonals``); tables
fitted since 8 December then share ECAL's and HCAL's cone energy as a donor does, a training jet whose Tracks cone
is like the generated one's (``give_donor_cones``, ``core.data.cone_donors``).
"""

from __future__ import annotations

import numpy as np
import torch

from core.data.cone_donors import cone_fractions, donor_cones, draw_donors
from core.data.energies import JET_RADIUS, cone_mask, region_energies, rescale_channels, rescale_regions
from core.data.multiplicity import (
    cone_diagonals,
    draw_neighbours,
    draw_picks,
    fit_counts,
    region_concentrations,
    region_counts,
    region_profiles,
)
from core.data.readout import anchor_profiles, hard_thresholds, light_by_count, match_concentration, match_profile
from core.errors import JetInputError

# How the halo's lit pixels are drawn (``halo_scores``). Chosen on the training jets' own statistics (2,000 of them
# against 2,000 jets of the shipped circuit, 7 December): the share of lit halo pixels with a lit neighbour and the
# rates at which one channel's lit halo pixel has another lit (P(E|T), P(H|T), P(H|E): 0.39 / 0.93 / 0.42 in
# training jets; 0.41 / 0.99 / 0.45 drawn so, 0.88 / 0.95 / 0.85 with the most probable pixels).
HALO_TEMPERATURE = 10.0
HALO_SHARED = (1.0, 0.15, 1.0)  # per channel, how much of Tracks' draw it takes (Tracks itself: all)

# How the channels' deposits line up (``channel_order``; tables fitted since 7 December, 21:10 UTC). Inside the
# cone (the four central pixels at 8 x 8) channel c orders its pixels by sum_c' MIX[c][c'] x (channel c' rank by
# its own Born probability): ECAL and HCAL lean towards where Tracks is brightest, HCAL a little away from ECAL's
# brightest. In the halo, HCAL orders its lit pixels by log p_H + FOLLOW[H] x log(Tracks GeV): a charged hadron's
# hadronic deposit sits on its track. Chosen on a grid (ECAL 0.4-1.2, HCAL 0.4-0.8, HCAL from ECAL 0.2-0.45; two
# samples of 2,000 jets) against the training jets' width correlations, R < 0.4 Tracks-ECAL / ECAL-HCAL /
# Tracks-HCAL 0.47 / 0.11 / 0.35: mean gaps 0.03 / 0.01 / 0.04, against 0.21 / 0.09 / 0.22 with each channel's
# own order. With the diagonal placed as in the neighbour (``place_diagonals``, since 22:20) the same mix gives
# 0.05 / 0.03 / 0.04 on the training jets (ECAL at 1.0, where ranks tie, 0.06 / 0.03 / 0.04; at 1.2, 0.18).
CONE_RANK_MIX = ((1.0, 0.0, 0.0), (0.8, 1.0, 0.0), (0.6, -0.2, 1.0))
HALO_FOLLOWS_TRACKS = (0.0, 0.0, 1.0)
DONOR_ENERGY_WEIGHT = 0.3  # the donor's distance: Tracks' cone fractions and this x ECAL's, HCAL's log cone energy
TRACKS_FLOOR_GEV = 1e-3  # the Tracks value an unlit pixel counts as in the halo order


def fit_table(
    small: torch.Tensor,
    labels: torch.Tensor | np.ndarray | None,
    energy: str,
    concentrations: bool = True,
    halo_draw: bool = True,
    profiles: bool = True,
    channel_order: bool = True,
) -> dict:
    """The table for training jets ``small`` (N, 3, size, size) GeV at the model's size, matched on the numbers
    the model draws: channel totals (``energy="channels"``) or energies inside and outside the cone ("cone"),
    with each region's concentration (the concentration readout) unless ``concentrations`` is False, each
    region's shares in full (the profile readout, ``core.data.readout.match_profile``) unless ``profiles`` is
    False, the halo drawn from the Born distribution (``halo_scores``) unless ``halo_draw`` is False, and the
    channels' shares ordered together (``cone_order``, ``halo_order``; then ECAL's and HCAL's cone from a donor,
    ``give_donor_cones``) unless ``channel_order`` is False (it needs the profiles); with profiles in cone
    coordinates, the shares of a channel with a hard readout threshold are taken above it
    (``core.data.readout.anchor_profiles``)."""
    energies = region_energies(small) if energy == "cone" else small.double().sum((-1, -2)).numpy()
    y = None if labels is None else np.asarray(labels)
    shares = region_concentrations(small, JET_RADIUS) if concentrations else None
    rows = region_profiles(small, JET_RADIUS) if profiles else None
    ordered = channel_order and profiles
    diagonals = cone_diagonals(small, JET_RADIUS) if ordered else None
    fractions = cone_fractions(small, JET_RADIUS) if ordered else None
    counts = region_counts(small, JET_RADIUS)
    table = fit_counts(
        energies, counts, y, JET_RADIUS, concentrations=shares, profiles=rows, diagonals=diagonals, fractions=fractions
    )
    if halo_draw:
        table.update(halo_temperature=HALO_TEMPERATURE, halo_shared=list(HALO_SHARED))  # not a class group
    if ordered:
        table.update(cone_rank_mix=[list(r) for r in CONE_RANK_MIX], halo_follows_tracks=list(HALO_FOLLOWS_TRACKS))
        table["donor_energy_weight"] = DONOR_ENERGY_WEIGHT
    if profiles and energy == "cone":  # the tracker's cut: shares of the GeV above it (anchor_profiles)
        table["anchored_at_cut"] = hard_thresholds(small)
    return table


def cone_order(p: torch.Tensor, jitter: torch.Tensor, inside: torch.Tensor, mix: list) -> torch.Tensor:
    """(N, 3, H, W) scores whose order inside the cone is each channel's: its own rank there by Born probability
    (1 the least probable) mixed with the other channels' ranks, ``mix[c][c']`` (ties broken by ``jitter``);
    outside the cone -inf. With the identity the order is each channel's most probable first, as before."""
    masked = torch.where(
        inside, p.double() + 1e-9 * jitter.double(), torch.full_like(p, -torch.inf, dtype=torch.float64)
    )
    rank = masked.flatten(2).argsort(-1).argsort(-1).view_as(masked).double() - (~inside).sum() + 1
    weights = torch.as_tensor(mix, dtype=torch.float64)
    if weights.shape != (p.shape[1], p.shape[1]):
        raise JetInputError(f"cone order: needs a {p.shape[1]} x {p.shape[1]} mix, got shape {tuple(weights.shape)}")
    mixed = torch.einsum("cd,ndhw->nchw", weights, rank) + 1e-6 * jitter.double()
    return torch.where(inside, mixed, torch.full_like(mixed, -torch.inf))


def place_diagonals(score: torch.Tensor, p: torch.Tensor, inside: torch.Tensor, places: torch.Tensor) -> torch.Tensor:
    """``score`` with each channel's four cone pixels (a 2 x 2 cone) reordered so that the pixel diagonal to its
    highest-scoring one comes ``places[n, c]``-th after it (1-3; 0: as it was), the two adjacent pixels keeping
    their order. The circuit's states fall off with Hamming distance and the centred pixel code puts a diagonal
    neighbour two bit flips away, so the diagonal pixel was never the 2nd most probable (0-0.5 % of generated
    jets against 36 / 36 / 10 % of real Tracks / ECAL / HCAL cones); ``places`` come from the neighbour training
    jet (``core.data.multiplicity.cone_diagonals``). A diagonal pixel with p = 0 stays where it was."""
    if int(inside.sum()) != 4:
        return score
    a = score[..., inside]  # (N, C, 4), row-major: pixels 0 and 3, 1 and 2 diagonal
    order = a.argsort(dim=-1, descending=True, stable=True)
    position = order.argsort(-1)
    idx = torch.arange(4).view(1, 1, 4)
    top, diagonal = order[..., :1], 3 - order[..., :1]
    adjacent = (idx != top) & (idx != diagonal)
    adjacent_rank = torch.where(adjacent, position, torch.full_like(position, 9)).argsort(-1).argsort(-1)
    place = places.to(torch.int64)[..., None]
    new = torch.where(
        idx == top, 0, torch.where(idx == diagonal, place, adjacent_rank + 1 + (adjacent_rank + 1 >= place))
    )
    alive = p[..., inside].gather(-1, diagonal) > 0
    keep = (place == 0) | ~alive
    mixed = torch.where(keep, a, (3 - new).to(a.dtype))
    out = score.clone()
    out[..., inside] = mixed
    return out


def give_donor_cones(
    table: dict, lit: torch.Tensor, p: torch.Tensor, e: torch.Tensor, u: torch.Tensor, labels, levels: list[float]
) -> torch.Tensor:
    """``lit`` (N, 3, H, W) GeV with ECAL's and HCAL's cone energy shared as in a donor (``core.data.cone_donors``):
    a training jet of the class with a Tracks cone like this jet's and ECAL and HCAL cone energies like its drawn
    ones ``e`` (N, 2, 3; channel totals: Tracks alone), picked by ``u``. Where Tracks' deposits sit follows the
    circuit; ECAL's and HCAL's beside them follow a real jet with such a Tracks, on the pixels the state lit."""
    inside = cone_mask(lit.shape[-1], table["radius"])
    groups = {k: v for k, v in table.items() if isinstance(v, dict) and "cone_fractions" in v}
    names = ["all"] * len(lit) if labels is None else [str(int(v)) for v in torch.as_tensor(labels).tolist()]
    tracks = torch.from_numpy(cone_fractions(lit, table["radius"])[:, 0])
    energies = torch.log1p(e[:, 0, 1:3].clamp_min(0)) if e.ndim == 3 else None
    donor = draw_donors(groups, names, tracks, u, energies, float(table["donor_energy_weight"]))
    out = lit.clone()
    out[..., inside] = donor_cones(lit[..., inside], donor, p[..., inside] > 0, levels)
    return out


def halo_order(p: torch.Tensor, lit: torch.Tensor, follow: list[float]) -> torch.Tensor:
    """(N, 3, H, W) scores ordering each channel's lit halo pixels: log p plus ``follow[c]`` x the log of the
    Tracks GeV there (an unlit Tracks pixel counting as ``TRACKS_FLOOR_GEV``); -inf where p = 0."""
    tracks = lit[:, :1].double().clamp_min(TRACKS_FLOOR_GEV).log()
    weights = torch.as_tensor(follow, dtype=torch.float64).view(1, -1, 1, 1)
    score = p.double().clamp_min(1e-300).log() + weights * tracks
    return torch.where(p > 0, score, torch.full_like(score, -torch.inf))


def halo_scores(p: torch.Tensor, jitter: torch.Tensor, temperature: float, shared: list[float]) -> torch.Tensor:
    """(N, 3, H, W) scores whose k highest per channel are k distinct pixels drawn with probability ∝ p^(1/T)
    (Gumbel top-k: log p / T plus Gumbel noise from the uniform ``jitter``; -inf where p = 0, never lit). Channel c
    takes ``shared[c]`` of Tracks' noise and the rest of its own, so channels that share it tend to light the same
    pixels."""
    if temperature <= 0 or len(shared) != p.shape[1]:
        raise JetInputError(
            f"halo draw: needs a temperature > 0 and one shared weight per channel, got {temperature} and {shared}"
        )
    gumbel = -(-jitter.double().clamp(1e-12, 1 - 1e-12).log()).log()
    w = torch.as_tensor(shared, dtype=torch.float64).view(1, -1, 1, 1)
    noise = w * gumbel[:, :1] + (1 - w) * gumbel
    logp = p.double().clamp_min(1e-300).log() / temperature
    return torch.where(p > 0, logp + noise, torch.full_like(logp, -torch.inf))


def draw_readout(table: dict, n: int, shape: tuple[int, ...], generator: torch.Generator | None) -> tuple:
    """What the readout of ``n`` jets draws, before any image exists (a seed gives the same jets): which of the
    nearest training jets each takes its counts from, a tiny jitter that breaks ties between pixels and, for a
    table with cone donors (``give_donor_cones``), a uniform number per jet that picks its donor."""
    picks, jitter = draw_picks(table, n, generator), torch.rand((n, *shape), generator=generator)
    if "donor_energy_weight" not in table:
        return picks, jitter
    return picks, jitter, torch.rand(n, generator=generator, dtype=torch.float64)


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
    ones (outside the cone, drawn from the Born distribution when the table says so), rescaled to the drawn
    energies; each region's energy shared as in the neighbour (its shares, or without them its concentration, the
    lit pixels then at least the channel's readout level). With ``cone_rank_mix`` in the table the cone's lit
    pixels and the shares follow the channels' joint order (``cone_order``, ``halo_order``; the cone's diagonal
    pixel as in the neighbour, ``place_diagonals``, when the table has it; ECAL's and HCAL's cone shared as a
    donor's with a Tracks cone like this jet's, ``give_donor_cones``, when it has ``donor_energy_weight``); with
    ``anchored_at_cut``, a hard-threshold channel's shares are of its GeV above the cut (``anchor_profiles``)."""
    picks, jitter = drawn[:2]
    e = torch.as_tensor(energies, dtype=torch.float64)
    p = shapes.double() / shapes.double().sum((-1, -2), keepdim=True).clamp_min(1e-300)
    score = p + 1e-9 * jitter
    neighbour = draw_neighbours(table, e, labels, picks=picks)
    inside = cone_mask(shapes.shape[-1], table["radius"])
    ordered = "cone_rank_mix" in table and "profiles" in neighbour
    if ordered:  # the cone's pixels in the order the channels take together
        score = torch.where(inside, cone_order(p, jitter, inside, table["cone_rank_mix"]), score)
        if "diagonals" in neighbour:  # ... and the pixel diagonal to the brightest where the neighbour had it
            score = place_diagonals(score, p, inside, neighbour["diagonals"][:, 0])
    if "halo_temperature" in table:  # the halo drawn from the Born distribution
        halo = halo_scores(p, jitter, float(table["halo_temperature"]), table["halo_shared"])
        score = torch.where(inside, score, halo)
    lit = share_regions(table, shapes, score, e, neighbour, ordered, levels)
    if ordered and "donor_energy_weight" in table:  # ECAL and HCAL in the cone as in a real jet with this Tracks
        lit = give_donor_cones(table, lit, p, e, drawn[2], labels, levels or [0.0] * 3)
    return lit


def share_regions(
    table: dict,
    shapes: torch.Tensor,
    score: torch.Tensor,
    e: torch.Tensor,
    neighbour: dict,
    ordered: bool,
    levels: list[float] | None,
) -> torch.Tensor:
    """The GeV image (:func:`light`) for pixel scores ``score``: the neighbour's number of lit pixels per channel
    and region, the highest scores, sharing the drawn energies ``e`` as in the neighbour."""
    rescale = rescale_regions if e.ndim == 3 else rescale_channels
    inside = cone_mask(shapes.shape[-1], table["radius"])
    p = shapes.double() / shapes.double().sum((-1, -2), keepdim=True).clamp_min(1e-300)
    lit = light_by_count(score, rescale(shapes, e).double(), neighbour["counts"], inside, levels or [0.0] * 3)
    if "profiles" in neighbour:  # how each region's energy is shared: as in the same neighbour, pixel by pixel
        lit = rescale(lit, e)
        order = None
        if ordered:  # ... in the channels' joint order (the cone) and HCAL after Tracks (the halo)
            order = torch.where(inside, score, halo_order(p, lit, table["halo_follows_tracks"]))
        shares = neighbour["profiles"]
        if "anchored_at_cut" in table and "energies" in neighbour and e.ndim == 3:  # no track pushed under the cut
            shares = anchor_profiles(shares, neighbour["energies"], e, levels or [0.0] * 3, table["anchored_at_cut"])
        lit = match_profile(lit, shares, inside, order=order)
    elif "concentrations" in neighbour:  # ... or its sum of squared shares
        lit = match_concentration(lit, neighbour["concentrations"], inside, levels or [0.0] * 3)
    return rescale(torch.where(shapes > 0, lit, torch.zeros_like(lit)), e)
