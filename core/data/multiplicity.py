"""How many deposits a jet has, given its energies: the multiplicity side of energy-factorised generation.

A real jet's lit pixels come with its energy: more energy outside the cone, more faint deposits there. The
U-Net draws a jet's energies inside and outside the cone from a copula (``core.data.energies``); its network
then places too few faint deposits, too bright (issue 13). Here each channel's lit pixels inside and outside
the cone are drawn from training jets of its class nearest to it (k nearest neighbours), and the readout
(``core.data.readout.light_by_count``) lights that many of the network's highest pixels. Nearest in what: the
jet's drawn energies (standardised log energy), and, in a table fitted with them, its channel widths inside the
cone (those of the jet as first lit for its energies alone: ``DiffusionTask._light``): a broad jet has more
deposits than a narrow one of the same energy, and counts
drawn for the energies alone came with no memory of the shape they were lit in (generated jets' multiplicities
and masses were uncorrelated; issue 13). The table stores a seeded subset of the training jets' region
energies, channel widths and counts (numbers only, no images), and, in tables fitted since 7 December, each
region's concentration (its sum of squared pixel shares): the same neighbour that gives a jet its counts gives
how its energy is shared among them (``core.data.readout.match_concentration``; for the quantum model since 7 December
evening the shares in full, ``region_profiles`` and ``core.data.readout.match_profile``). In real jets a channel that
holds more of the jet is more concentrated (within R = 0.4, corr(ECAL share, ECAL concentration) +0.35); the
networks' jets did not follow it (+0.03), and their pTD missed by it (issues 13, 14).

The quantum model (``core.quantum.task``) reads its Born probabilities the same way; its jets' classical numbers
are the three channel totals (N, 3), so its table matches on those (``energy_dims`` 3; the U-Net's region
energies are 6).
"""

from __future__ import annotations

import base64

import numpy as np
import torch

from core.data.cone_donors import encode_fractions
from core.data.energies import cone_mask, region_sums
from core.data.observables import channel_widths as observable_widths
from core.errors import JetInputError

NEIGHBOURS = 20
JETS_PER_CLASS = 2000  # kept in the table: enough for the neighbours, small in config.json


def region_counts(x: torch.Tensor | np.ndarray, radius: float) -> np.ndarray:
    """(N, 3, H, W) GeV images -> (N, 2, 3): each channel's lit pixels inside and outside the cone."""
    return region_sums(torch.as_tensor(x) > 0, radius).numpy()


def region_concentrations(x: torch.Tensor | np.ndarray, radius: float) -> np.ndarray:
    """(N, 3, H, W) GeV images -> (N, 2, 3): each channel's sum of squared pixel shares inside and outside the
    cone (1 for one deposit, 1 / k for k equal ones; 0 for an empty region): how concentrated its deposits are."""
    x = torch.as_tensor(x).double().clamp_min(0)
    inside = cone_mask(x.shape[-1], radius)
    out = []
    for mask in (inside, ~inside):
        a = x * mask
        total = a.sum((-1, -2))
        squares = (a * a).sum((-1, -2))
        out.append(torch.where(total > 0, squares / total.clamp_min(1e-300) ** 2, torch.zeros_like(total)))
    return torch.stack(out, 1).numpy()


def cone_diagonals(x: torch.Tensor | np.ndarray, radius: float) -> np.ndarray:
    """(N, 3, H, W) GeV images -> (N, 2, 3) int: where a cone of four pixels (a 2 x 2 block: 8 x 8 images) puts
    the pixel diagonal to its brightest, 1-3 (the 2nd to 4th brightest), 0 with fewer than two lit there, or an
    unlit diagonal; 0 outside the cone and for other cones. In real jets it is the 2nd brightest in 36 / 36 / 10 %
    of Tracks / ECAL / HCAL cones with two or more deposits (4,000 held-out jets)."""
    x = torch.as_tensor(x).double()
    out = np.zeros((len(x), 2, 3), dtype=np.int64)
    inside = cone_mask(x.shape[-1], radius)
    if int(inside.sum()) != 4:
        return out
    a = x[..., inside]  # (N, 3, 4) in row-major order: pixels 0 and 3, 1 and 2 are diagonal
    order = a.argsort(dim=-1, descending=True, stable=True)
    position = order.argsort(-1)  # each pixel's place, 0 the brightest
    diagonal = 3 - order[..., 0]
    place = position.gather(-1, diagonal[..., None])[..., 0]
    lit = (a > 0).sum(-1) >= 2
    seen = a.gather(-1, diagonal[..., None])[..., 0] > 0
    out[:, 0] = torch.where(lit & seen, place, torch.zeros_like(place)).numpy()
    return out


PROFILE_STEP = 1e-3  # nats: a stored share is within 0.05 % of the training jet's


def region_profiles(x: torch.Tensor | np.ndarray, radius: float) -> list[list[np.ndarray]]:
    """(N, 3, H, W) GeV images -> per jet, 6 arrays (inside the cone Tracks, ECAL, HCAL, then outside): the
    shares of the region's energy in its lit pixels, brightest first. How a real jet shares each region's energy
    among its deposits, in full; as many as :func:`region_counts` counts."""
    x = torch.as_tensor(x).double().clamp_min(0)
    inside = cone_mask(x.shape[-1], radius)
    rows: list[list[np.ndarray]] = [[] for _ in range(len(x))]
    for mask in (inside, ~inside):
        a = x[..., mask]  # (N, 3, P)
        ordered = (a / a.sum(-1, keepdim=True).clamp_min(1e-300)).sort(-1, descending=True).values.numpy()
        for n in range(len(x)):
            rows[n].extend(v[v > 0] for v in ordered[n])
    return rows


def encode_profile(row: list[np.ndarray]) -> str:
    """A jet's 6 share arrays -> one ASCII string for a JSON table: -log(share) in steps of ``PROFILE_STEP`` as
    little-endian uint16, base64 (2.7 characters a deposit; shares below e^-65 are stored as e^-65)."""
    logs = -np.log(np.clip(np.concatenate([np.asarray(v, dtype=np.float64) for v in row]), 1e-300, 1.0))
    q = np.clip(np.rint(logs / PROFILE_STEP), 0, np.iinfo(np.uint16).max).astype("<u2")
    return base64.b64encode(q.tobytes()).decode("ascii")


def decode_profile(text: str, counts: np.ndarray) -> list[np.ndarray]:
    """The inverse of :func:`encode_profile`, split by the jet's 6 counts (its lit pixels per region and
    channel, the lengths of its arrays)."""
    shares = np.exp(-np.frombuffer(base64.b64decode(text), dtype="<u2").astype(np.float64) * PROFILE_STEP)
    counts = np.asarray(counts, dtype=np.int64).reshape(-1)
    if len(shares) != counts.sum():
        raise JetInputError(f"multiplicity table: a profile of {len(shares)} shares for {counts.sum()} lit pixels")
    return np.split(shares, np.cumsum(counts)[:-1])


def profile_tensor(rows: list[list[np.ndarray]]) -> torch.Tensor:
    """Profiles as :func:`region_profiles` gives them -> (n, 2, 3, P) float64 shares, 0 past each array's end."""
    width = max([len(v) for row in rows for v in row] + [1])
    out = np.zeros((len(rows), 6, width))
    for n, row in enumerate(rows):
        for k, v in enumerate(row):
            out[n, k, : len(v)] = v
    return torch.from_numpy(out).view(len(rows), 2, 3, width)


def channel_widths(x: torch.Tensor | np.ndarray, radius: float) -> np.ndarray:
    """(N, 3, H, W) GeV images -> (N, 3): each channel's width within the cone
    (``core.data.observables.channel_widths``), 0 for a channel empty there (a distance needs a number): the
    shape the counts are matched on."""
    return np.nan_to_num(observable_widths(x, radius), nan=0.0)


def fit_counts(
    regions: np.ndarray,
    counts: np.ndarray,
    labels: np.ndarray | None,
    radius: float,
    seed: int = 0,
    widths: np.ndarray | None = None,
    concentrations: np.ndarray | None = None,
    profiles: list | None = None,
    diagonals: np.ndarray | None = None,
    fractions: np.ndarray | None = None,
) -> dict:
    """The table: per class ("all" without labels) up to ``JETS_PER_CLASS`` training jets' log energies, channel
    widths (N, 3) when given, counts (N, 6) and, when given, concentrations (N, 6; :func:`region_concentrations`)
    and profiles (per jet 6 arrays, :func:`region_profiles`, stored by :func:`encode_profile`), and where its cone's
    diagonal pixel ranks (N, 2, 3; :func:`cone_diagonals`) and each channel's cone fractions (N, 3, K;
    ``core.data.cone_donors``) when given, with the scale the
    distances use. ``regions``: each jet's energies as its sampler draws them, inside and outside the cone
    (N, 2, 3) or channel totals (N, 3)."""
    r, k = np.asarray(regions, dtype=np.float64), np.asarray(counts)
    if r.shape[1:] not in ((2, 3), (3,)) or k.shape != (len(r), 2, 3) or len(r) < 1:
        raise JetInputError(
            f"multiplicity table: expected energies (N >= 1, 2, 3) or (N, 3) and counts (N, 2, 3), "
            f"got {r.shape} and {k.shape}"
        )
    if widths is not None and np.shape(widths) != (len(r), 3):
        raise JetInputError(
            f"multiplicity table: expected channel widths of shape ({len(r)}, 3), got {np.shape(widths)}"
        )
    for name, value in (("concentrations", concentrations), ("diagonals", diagonals)):
        if value is not None and np.shape(value) != (len(r), 2, 3):
            raise JetInputError(f"multiplicity table: expected {name} of shape ({len(r)}, 2, 3), got {np.shape(value)}")
    if fractions is not None and (np.ndim(fractions) != 3 or np.shape(fractions)[:2] != (len(r), 3)):
        raise JetInputError(
            f"multiplicity table: expected cone fractions of shape ({len(r)}, 3, K), got {np.shape(fractions)}"
        )
    lengths = None if profiles is None else [[len(v) for v in p] for p in profiles]
    if lengths is not None and (len(lengths) != len(r) or lengths != k.reshape(len(r), 6).tolist()):
        raise JetInputError(f"multiplicity table: expected {len(r)} profiles of 6 arrays as long as the counts")
    logs = np.log1p(np.clip(r, 0, None)).reshape(len(r), -1)
    dims = logs.shape[1]
    if widths is not None:
        logs = np.concatenate([logs, np.asarray(widths, dtype=np.float64)], axis=1)
    y = np.full(len(r), -1) if labels is None else np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)
    groups = {}
    for lab in np.unique(y).tolist():
        rows = np.flatnonzero(y == lab)
        keep = np.sort(rng.choice(rows, size=min(JETS_PER_CLASS, len(rows)), replace=False))
        group = {"log_energies": np.round(logs[keep, :dims], 4).tolist()}
        if widths is not None:
            group["widths"] = np.round(logs[keep, dims:], 5).tolist()
        group["counts"] = k[keep].reshape(len(keep), -1).astype(int).tolist()
        group.update(_per_jet_rows(keep, concentrations, profiles, diagonals, fractions))
        groups["all" if lab == -1 else str(int(lab))] = group
    # Few training jets (a small test run): fewer neighbours, as many as the smallest class has.
    neighbours = min([NEIGHBOURS] + [len(g["counts"]) for g in groups.values()])
    scale = logs.std(0).clip(1e-6) if len(logs) > 1 else np.ones(logs.shape[1])
    shape = {} if dims == 6 else {"energy_dims": dims}  # tables fitted before channel totals have 6
    return {"radius": float(radius), "neighbours": neighbours, "scale": scale.tolist(), **shape, **groups}


def _per_jet_rows(keep: np.ndarray, concentrations, profiles, diagonals, fractions) -> dict:
    """The optional per-jet fields of a table group, for the training jets ``keep``, in the table's order."""
    out: dict = {}
    if concentrations is not None:
        out["concentrations"] = np.round(np.asarray(concentrations)[keep].reshape(len(keep), -1), 4).tolist()
    if profiles is not None:
        out["profiles"] = [encode_profile(profiles[i]) for i in keep]
    if diagonals is not None:
        out["diagonals"] = np.asarray(diagonals)[keep].reshape(len(keep), -1).astype(int).tolist()
    if fractions is not None:
        out["cone_fractions"] = [encode_fractions(fractions[i]) for i in keep]
    return out


def energy_dims(table: dict) -> int:
    """How many energies the table matches on: 6 (inside and outside the cone) or 3 (channel totals)."""
    return int(table.get("energy_dims", 6))


def uses_widths(table: dict) -> bool:
    """Whether the table matches jets on their channel widths as well as their energies."""
    return len(table["scale"]) > energy_dims(table)


def groups_have(table: dict, name: str) -> bool:
    """Whether every class group of the table has the per-jet field ``name``."""
    groups = [v for v in table.values() if isinstance(v, dict) and "counts" in v]
    return bool(groups) and all(name in g for g in groups)


def has_concentrations(table: dict) -> bool:
    """Whether the table also gives each jet its neighbour's concentrations (the readout then matches them)."""
    return groups_have(table, "concentrations")


def has_profiles(table: dict) -> bool:
    """Whether the table also gives each jet its neighbour's profiles (the readout then copies them)."""
    return groups_have(table, "profiles")


def draw_picks(table: dict, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(n,) which of its nearest training jets each jet takes its counts from: drawn with the energies, before
    the image exists (a seed gives the same jets), and used once the widths are known (:func:`draw_counts`)."""
    return torch.randint(int(table["neighbours"]), (n,), generator=generator)


def draw_counts(
    table: dict,
    energies: torch.Tensor,
    labels: torch.Tensor | None,
    generator: torch.Generator | None = None,
    widths: torch.Tensor | np.ndarray | None = None,
    picks: torch.Tensor | None = None,
) -> torch.Tensor:
    """(n, 2, 3) int64 lit pixels for jets with energies ``energies`` GeV, (n, 2, 3) or (n, 3) as the table was
    fitted, and, when given (a table fitted with them), channel widths ``widths`` (n, 3): those of one of the
    ``neighbours`` training jets of the jet's class nearest to them, chosen by ``picks`` (drawn here from
    ``generator`` when not given)."""
    return draw_neighbours(table, energies, labels, generator, widths, picks)["counts"]


def draw_neighbours(
    table: dict,
    energies: torch.Tensor,
    labels: torch.Tensor | None,
    generator: torch.Generator | None = None,
    widths: torch.Tensor | np.ndarray | None = None,
    picks: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """What the chosen neighbour of each jet gives it (as :func:`draw_counts`): ``"counts"`` (n, 2, 3) int64 and,
    from a table that has them, ``"concentrations"`` (n, 2, 3) float64 and ``"profiles"`` (n, 2, 3, P) float64
    (:func:`profile_tensor`) and ``"diagonals"`` (n, 2, 3) int64 (:func:`cone_diagonals`), and from a table in
    cone coordinates its ``"energies"`` (n, 2, 3) GeV inside and outside the cone, all of the same training jet."""
    e = torch.as_tensor(energies, dtype=torch.float64)
    n = len(e)
    dims = energy_dims(table)  # the energies alone, unless widths are given
    if e.reshape(n, -1).shape[1] != dims:
        raise JetInputError(
            f"multiplicity table: energies of shape {tuple(e.shape)} given; the table was fitted on {dims} per jet"
        )
    keys = ["all"] * n if labels is None else [str(int(v)) for v in torch.as_tensor(labels).tolist()]
    scale = torch.tensor(table["scale"], dtype=torch.float64)
    query = torch.log1p(e.clamp_min(0)).reshape(n, -1)
    if widths is not None:
        if not uses_widths(table) or tuple(np.shape(widths)) != (n, 3):
            raise JetInputError(
                f"multiplicity table: channel widths of shape {tuple(np.shape(widths))} given; the table "
                + (f"expects ({n}, 3)" if uses_widths(table) else "was fitted without widths")
            )
        query = torch.cat([query, torch.as_tensor(np.asarray(widths), dtype=torch.float64)], 1)
        dims += 3
    query = query / scale[:dims]
    pick = draw_picks(table, n, generator) if picks is None else torch.as_tensor(picks)
    fields = {"counts": torch.int64, **({"concentrations": torch.float64} if has_concentrations(table) else {})}
    if groups_have(table, "diagonals"):
        fields["diagonals"] = torch.int64
    out = {name: torch.zeros(n, 6, dtype=dtype) for name, dtype in fields.items()}
    profiled = has_profiles(table)
    profiles: list = [None] * n  # ragged: each a jet's 6 arrays
    groups = {k: v for k, v in table.items() if isinstance(v, dict) and "counts" in v}
    logs = torch.zeros(n, energy_dims(table), dtype=torch.float64)  # the neighbour's own log energies
    for key in sorted(set(keys)):
        # An unlabelled jet (or a class the table lacks) draws from the jets of every class.
        members = [groups[key]] if key in groups else list(groups.values())
        rows = torch.tensor([i for i, k in enumerate(keys) if k == key])
        ref = torch.from_numpy(np.concatenate([_features(g)[:, :dims] for g in members])) / scale[:dims]
        near = torch.cdist(query[rows], ref).topk(min(int(table["neighbours"]), len(ref)), largest=False).indices
        chosen = near[torch.arange(len(rows)), pick[rows] % near.shape[1]]
        logs[rows] = torch.tensor([e for g in members for e in g["log_energies"]], dtype=torch.float64)[chosen]
        for name, dtype in fields.items():
            out[name][rows] = torch.tensor([c for g in members for c in g[name]], dtype=dtype)[chosen]
        if profiled:
            pool = [p for g in members for p in g["profiles"]]
            for row, i in zip(rows.tolist(), chosen.tolist(), strict=True):
                profiles[row] = decode_profile(pool[i], out["counts"][row].numpy())
    drawn = {name: v.view(n, 2, 3) for name, v in out.items()}
    if profiled:
        drawn["profiles"] = profile_tensor(profiles)
    if energy_dims(table) == 6:
        drawn["energies"] = torch.expm1(logs).view(n, 2, 3)
    return drawn


def _features(group: dict) -> np.ndarray:
    """(n, energies [+ 3]) one table group's log energies, then its channel widths when it has them."""
    parts = [group["log_energies"]] + ([group["widths"]] if "widths" in group else [])
    return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts], axis=1)
