"""Jet observables computed from images, so real and generated jets are measured the same way.

Pixels are massless four-vectors at their centres (deta, dphi from the jet axis, which sits at
eta = 0 here: masses and widths are boost-invariant along the beam to a good approximation for
narrow jets). Only pixels whose centre lies within ``radius`` (0.4, the jet radius) of the axis
count, so soft radiation from the rest of the event at the image's edges does not inflate the jet
mass. The calorimeter channels (ECAL + HCAL) carry all visible energy; the Tracks channel
measures the charged part again, so kinematics use ECAL + HCAL only.
"""

from __future__ import annotations

import numpy as np
import torch

from core.data.transforms import pixel_geometry
from core.errors import JetInputError

OBSERVABLES = (
    "pt",
    "mass",
    "mult_tracks",
    "mult_ecal",
    "mult_hcal",
    "width",
    "ptd",
    "frac_tracks",
    "frac_ecal",
    "frac_hcal",
)
UNITS = {"pt": "GeV", "mass": "GeV", "width": "", "ptd": ""}
LABELS = {
    "pt": "jet pT [GeV]",
    "mass": "jet mass [GeV]",
    "mult_tracks": "non-empty Tracks pixels",
    "mult_ecal": "non-empty ECAL pixels",
    "mult_hcal": "non-empty HCAL pixels",
    "width": "jet width (girth)",
    "ptd": "pT dispersion pTD",
    "frac_tracks": "Tracks fraction of image pT",
    "frac_ecal": "ECAL fraction of image pT",
    "frac_hcal": "HCAL fraction of image pT",
}


def jet_observables(
    x: torch.Tensor | np.ndarray, threshold: float = 1e-3, radius: float | None = 0.4
) -> dict[str, np.ndarray]:
    """Observables of each jet in (N, 3, H, W) GeV images; a pixel counts as non-empty above ``threshold`` GeV.

    ``radius`` keeps pixels within that Delta R of the jet axis (``None``: the whole image).

    Returns arrays of shape (N,) keyed by :data:`OBSERVABLES`.
    """
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    arr = arr.astype(np.float64)
    if arr.ndim != 4 or arr.shape[1] != 3 or arr.shape[2] != arr.shape[3]:
        raise ValueError(f"observables expect (N, 3, H, W) square images, got shape {arr.shape}")
    deta, dphi = pixel_geometry(arr.shape[-1])
    if radius is not None:
        arr = arr * (np.hypot(deta, dphi) < radius)
    calo = arr[:, 1] + arr[:, 2]  # (N, H, W) pT per pixel
    pt_sum = calo.sum(axis=(1, 2))
    # Massless pixels at (deta, dphi), eta measured from the jet axis.
    px = (calo * np.cos(dphi)).sum(axis=(1, 2))
    py = (calo * np.sin(dphi)).sum(axis=(1, 2))
    pz = (calo * np.sinh(deta)).sum(axis=(1, 2))
    energy = (calo * np.cosh(deta)).sum(axis=(1, 2))
    pt = np.hypot(px, py)
    mass = np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0))
    safe = np.where(pt_sum > 0, pt_sum, 1.0)
    dr = np.hypot(deta, dphi)
    width = (calo * dr).sum(axis=(1, 2)) / safe
    ptd = np.sqrt((calo**2).sum(axis=(1, 2))) / safe
    totals = arr.sum(axis=(2, 3))  # (N, 3)
    all_sum = np.where(totals.sum(axis=1) > 0, totals.sum(axis=1), 1.0)
    mult = (arr > threshold).sum(axis=(2, 3))
    return {
        "pt": pt,
        "mass": mass,
        "mult_tracks": mult[:, 0].astype(np.float64),
        "mult_ecal": mult[:, 1].astype(np.float64),
        "mult_hcal": mult[:, 2].astype(np.float64),
        "width": width,
        "ptd": ptd,
        "frac_tracks": totals[:, 0] / all_sum,
        "frac_ecal": totals[:, 1] / all_sum,
        "frac_hcal": totals[:, 2] / all_sum,
    }


def channel_widths(x: torch.Tensor | np.ndarray, radius: float | None = 0.4) -> np.ndarray:
    """(N, 3): each channel's energy-weighted mean Delta R from the jet axis (pixels within ``radius``).

    A channel with no energy gets NaN (it has no width).
    """
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    arr = arr.astype(np.float64)
    if arr.ndim != 4 or arr.shape[1] != 3 or arr.shape[2] != arr.shape[3]:
        raise JetInputError(f"channel widths: expected (N, 3, H, H) images, got shape {arr.shape}")
    deta, dphi = pixel_geometry(arr.shape[-1])
    dr = np.hypot(deta, dphi)
    if radius is not None:
        arr = arr * (dr < radius)
    energy = arr.sum(axis=(2, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(energy > 0, (arr * dr).sum(axis=(2, 3)) / energy, np.nan)
