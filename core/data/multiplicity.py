"""How many deposits a jet has, given its energies: the multiplicity side of energy-factorised generation.

A real jet's lit pixels come with its energy: more energy outside the cone, more faint deposits there. The
U-Net draws a jet's energies inside and outside the cone from a copula (``core.data.energies``); its network
then places too few faint deposits, too bright (issue 13). Here each channel's lit pixels inside and outside
the cone are drawn for the jet's drawn energies from training jets of its class with the nearest energies
(k nearest neighbours in standardised log energy), and the readout (``core.data.readout.light_by_count``)
lights that many of the network's highest pixels. The table stores a seeded subset of the training jets'
region energies and counts (numbers only, no images).
"""

from __future__ import annotations

import numpy as np
import torch

from core.data.energies import cone_mask
from core.errors import JetInputError

NEIGHBOURS = 20
JETS_PER_CLASS = 2000  # kept in the table: enough for the neighbours, small in config.json


def region_counts(x: torch.Tensor | np.ndarray, radius: float) -> np.ndarray:
    """(N, 3, H, W) GeV images -> (N, 2, 3): each channel's lit pixels inside and outside the cone."""
    lit = torch.as_tensor(x) > 0
    inside = cone_mask(lit.shape[-1], radius)
    return torch.stack([(lit & inside).sum((-1, -2)), (lit & ~inside).sum((-1, -2))], 1).numpy()


def fit_counts(
    regions: np.ndarray, counts: np.ndarray, labels: np.ndarray | None, radius: float, seed: int = 0
) -> dict:
    """The table: per class ("all" without labels) up to ``JETS_PER_CLASS`` training jets' log region energies
    (N, 6) and counts (N, 6), with the scale the distances use."""
    r, k = np.asarray(regions, dtype=np.float64), np.asarray(counts)
    if r.shape != k.shape or r.ndim != 3 or r.shape[1:] != (2, 3) or len(r) < NEIGHBOURS:
        raise JetInputError(
            f"multiplicity table: expected region energies and counts of one shape (N >= {NEIGHBOURS}, 2, 3), "
            f"got {r.shape} and {k.shape}"
        )
    logs = np.log1p(np.clip(r, 0, None)).reshape(len(r), -1)
    y = np.full(len(r), -1) if labels is None else np.asarray(labels).reshape(-1)
    rng = np.random.default_rng(seed)
    groups = {}
    for lab in np.unique(y).tolist():
        rows = np.flatnonzero(y == lab)
        if len(rows) < NEIGHBOURS:
            continue
        keep = np.sort(rng.choice(rows, size=min(JETS_PER_CLASS, len(rows)), replace=False))
        groups["all" if lab == -1 else str(int(lab))] = {
            "log_energies": np.round(logs[keep], 4).tolist(),
            "counts": k[keep].reshape(len(keep), -1).astype(int).tolist(),
        }
    return {"radius": float(radius), "neighbours": NEIGHBOURS, "scale": logs.std(0).clip(1e-6).tolist(), **groups}


def draw_counts(
    table: dict, energies: torch.Tensor, labels: torch.Tensor | None, generator: torch.Generator | None = None
) -> torch.Tensor:
    """(n, 2, 3) int64 lit pixels for jets with region energies ``energies`` (n, 2, 3) GeV: those of one of the
    ``neighbours`` training jets of the jet's class nearest in log energy, chosen at random."""
    e = torch.as_tensor(energies, dtype=torch.float64)
    n = len(e)
    keys = ["all"] * n if labels is None else [str(int(v)) for v in torch.as_tensor(labels).tolist()]
    scale = torch.tensor(table["scale"], dtype=torch.float64)
    query = torch.log1p(e.clamp_min(0)).reshape(n, -1) / scale
    pick = torch.randint(int(table["neighbours"]), (n,), generator=generator)
    out = torch.zeros(n, 6, dtype=torch.int64)
    groups = {k: v for k, v in table.items() if isinstance(v, dict)}
    for key in sorted(set(keys)):
        # An unlabelled jet (or a class the table lacks) draws from the jets of every class.
        members = [groups[key]] if key in groups else list(groups.values())
        rows = torch.tensor([i for i, k in enumerate(keys) if k == key])
        ref = torch.tensor([e for g in members for e in g["log_energies"]], dtype=torch.float64) / scale
        counts = torch.tensor([c for g in members for c in g["counts"]], dtype=torch.int64)
        near = torch.cdist(query[rows], ref).topk(min(int(table["neighbours"]), len(ref)), largest=False).indices
        chosen = near[torch.arange(len(rows)), pick[rows] % near.shape[1]]
        out[rows] = counts[chosen]
    return out.view(n, 2, 3)
