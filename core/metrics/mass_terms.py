"""Where a sample's jet mass comes from: the mean m^2 split over pairs of (channel, region) groups.

The jet mass of ``core.data.observables`` is that of the calorimeter pixels (ECAL + HCAL) taken as massless
four-vectors. Summing each group's pixels first, m^2 = |sum_g p_g|^2 = sum_{g, h} p_g . p_h (Minkowski), so the
mean m^2 of a sample is exactly a sum of terms, one per pair of groups: a group's own term is its own mass
squared, a cross term 2 p_g . p_h grows with both groups' energies and the angle between them. With the groups
ECAL and HCAL, within and outside the jet cone, a model whose whole-image mass is off shows which pair carries
the excess: too much energy outside the cone, deposits there too far from the core, or out-of-cone deposits
scattered where real ones cluster (the pairs "outside x outside" then grow, as they do for both shipped
models: README, "Which features separate").
"""

from __future__ import annotations

import numpy as np
import torch

from core.data.energies import JET_RADIUS, cone_mask
from core.data.transforms import pixel_geometry
from core.metrics.checks import as_images
from core.metrics.report import text_table

CALORIMETERS = {"ECAL": 1, "HCAL": 2}  # Tracks carry the same charged particles: the jet mass leaves them out


def group_names(radius: float = JET_RADIUS) -> list[str]:
    return [f"{name} {where}" for name in CALORIMETERS for where in (f"R < {radius:g}", f"R > {radius:g}")]


def group_momenta(x: torch.Tensor, radius: float = JET_RADIUS) -> np.ndarray:
    """(N, 4, 4): the four-momenta (E, px, py, pz; GeV) of each jet's ECAL and HCAL pixels within and outside
    ``radius`` of the image centre, in :func:`group_names` order, each pixel massless at its (deta, dphi)."""
    arr = as_images(x, "jets").double().numpy()
    deta, dphi = pixel_geometry(arr.shape[-1])
    inside = cone_mask(arr.shape[-1], radius).numpy()
    unit = np.stack([np.cosh(deta), np.cos(dphi), np.sin(dphi), np.sinh(deta)])  # (4, H, W) per GeV of pT
    out = []
    for channel in CALORIMETERS.values():
        for mask in (inside, ~inside):
            out.append(np.einsum("nhw,khw->nk", arr[:, channel] * mask, unit))
    return np.stack(out, 1)


def mass_terms(x: torch.Tensor, radius: float = JET_RADIUS) -> dict[str, float]:
    """The mean over jets of each pair's term of m^2 (GeV^2), keyed "A x B"; they sum to the mean m^2."""
    p = group_momenta(x, radius)
    metric = np.array([1.0, -1.0, -1.0, -1.0])
    names = group_names(radius)
    terms = {}
    for i, a in enumerate(names):
        for j in range(i, len(names)):
            dot = (p[:, i] * p[:, j] * metric).sum(-1)
            terms[f"{a} x {names[j]}"] = float((dot if i == j else 2.0 * dot).mean())
    return terms


def mass_term_rows(
    generated: torch.Tensor, real: torch.Tensor, real_b: torch.Tensor | None = None, radius: float = JET_RADIUS
) -> list[dict]:
    """One row per pair: real and generated mean term (GeV^2), their difference, its share of the total
    difference in mean m^2 and (with ``real_b``, other real jets) the same difference between real sets, the
    floor; largest difference first."""
    gen, ref = mass_terms(generated, radius), mass_terms(real, radius)
    other = mass_terms(real_b, radius) if real_b is not None else None
    total = sum(gen.values()) - sum(ref.values())
    rows = [
        {"pair": k, "real": ref[k], "generated": gen[k], "difference": gen[k] - ref[k],
         "share": (gen[k] - ref[k]) / total if total else float("nan"),
         "floor": other[k] - ref[k] if other is not None else float("nan")}
        for k in ref
    ]  # fmt: skip
    rows.sort(key=lambda r: -abs(r["difference"]))
    return rows


def format_mass_terms(rows: list[dict]) -> str:
    """The rows as a plain-text table (GeV^2), with the totals (mean m^2) last."""
    body = [("pair of groups", "real", "generated", "difference", "share of it", "floor (real vs real)")]
    for r in rows:
        cells = f"{r['real']:.0f}", f"{r['generated']:.0f}", f"{r['difference']:+.0f}", f"{r['share']:+.2f}"
        body.append((r["pair"], *cells, f"{r['floor']:+.0f}"))
    real, gen = sum(r["real"] for r in rows), sum(r["generated"] for r in rows)
    floor = sum(r["floor"] for r in rows)
    body.append(("all pairs: mean m^2", f"{real:.0f}", f"{gen:.0f}", f"{gen - real:+.0f}", "+1.00", f"{floor:+.0f}"))
    return text_table(body)
