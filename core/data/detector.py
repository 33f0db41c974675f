"""A simple CMS-like detector: particles in, a (125, 125, 3) image of deposited pT in GeV out.

Tracks: charged particles above a pT threshold inside the tracker, with a 1 % resolution.
ECAL: photons and electrons, summed per pixel and smeared with the CMS ECAL resolution.
HCAL: all other visible particles (hadrons), summed in towers of 5 x 5 pixels, smeared with an
HCAL resolution, and spread evenly over the 25 pixels of each tower, as in the CMS images.
Muons and neutrinos leave nothing in the calorimeters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from core.data.layout import HCAL_TOWER, IMAGE_SIZE, PIXEL_WIDTH

# PDG ids of long-lived charged final-state particles; every other visible id is neutral.
CHARGED_IDS = frozenset({11, 13, 211, 321, 2212, 3112, 3222, 3312, 3334})
INVISIBLE_IDS = frozenset({12, 14, 16})
ELECTROMAGNETIC_IDS = frozenset({11, 22})
MUON_ID = 13


@dataclass(frozen=True)
class DetectorConfig:
    """Resolutions as sigma(E)/E = a / sqrt(E) (+) b / E (+) c, energies in GeV."""

    track_pt_min: float = 0.5
    track_eta_max: float = 2.5
    track_resolution: float = 0.01
    ecal_stochastic: float = 0.028
    ecal_noise: float = 0.12
    ecal_constant: float = 0.003
    hcal_stochastic: float = 1.0
    hcal_noise: float = 0.0
    hcal_constant: float = 0.05

    def to_dict(self) -> dict:
        return asdict(self)


def charge_from_pid(pid: np.ndarray) -> np.ndarray:
    """Electric charge sign (0 or 1 as 'is charged') from PDG ids of stable particles."""
    apid = np.abs(np.asarray(pid, dtype=np.int64))
    return np.isin(apid, list(CHARGED_IDS))


def wrap_phi(dphi: np.ndarray) -> np.ndarray:
    """Wrap azimuthal differences into [-pi, pi)."""
    return (np.asarray(dphi) + np.pi) % (2 * np.pi) - np.pi


def pixel_indices(deta: np.ndarray, dphi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row (eta) and column (phi) of each offset from the jet axis, and which fall inside."""
    half = IMAGE_SIZE / 2
    row = np.floor(deta / PIXEL_WIDTH + half).astype(np.int64)
    col = np.floor(dphi / PIXEL_WIDTH + half).astype(np.int64)
    inside = (row >= 0) & (row < IMAGE_SIZE) & (col >= 0) & (col < IMAGE_SIZE)
    return row, col, inside


def _smear(pt: np.ndarray, eta: np.ndarray, a: float, b: float, c: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian smearing of transverse momenta with an energy resolution, clipped at zero."""
    energy = np.maximum(pt * np.cosh(eta), 1e-9)
    rel = np.sqrt((a**2) / energy + (b / energy) ** 2 + c**2)
    return np.maximum(pt * (1.0 + rel * rng.standard_normal(pt.shape)), 0.0)


def _bin(values: np.ndarray, flat: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(flat, weights=values, minlength=n)


def pixelise(
    pt: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    pid: np.ndarray,
    jet_eta: float,
    jet_phi: float,
    rng: np.random.Generator,
    config: DetectorConfig = DetectorConfig(),
) -> np.ndarray:
    """Image of one jet: float32 (125, 125, 3), channels Tracks, ECAL, HCAL, in GeV of pT."""
    pt = np.asarray(pt, dtype=np.float64)
    eta = np.asarray(eta, dtype=np.float64)
    apid = np.abs(np.asarray(pid, dtype=np.int64))
    deta = eta - jet_eta
    dphi = wrap_phi(np.asarray(phi, dtype=np.float64) - jet_phi)
    row, col, inside = pixel_indices(deta, dphi)
    visible = (pt > 0) & ~np.isin(apid, list(INVISIBLE_IDS))
    image = np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.float64)
    npix = IMAGE_SIZE * IMAGE_SIZE

    # Tracks: charged particles in the tracker acceptance.
    charged = charge_from_pid(apid)
    trk = inside & visible & charged & (pt > config.track_pt_min) & (np.abs(eta) < config.track_eta_max)
    if trk.any():
        smeared = pt[trk] * (1.0 + config.track_resolution * rng.standard_normal(int(trk.sum())))
        image[..., 0] = _bin(np.maximum(smeared, 0.0), row[trk] * IMAGE_SIZE + col[trk], npix).reshape(
            IMAGE_SIZE, IMAGE_SIZE
        )

    # ECAL: photons and electrons, summed per pixel, then smeared.
    em = inside & visible & np.isin(apid, list(ELECTROMAGNETIC_IDS))
    if em.any():
        flat = row[em] * IMAGE_SIZE + col[em]
        summed = _bin(pt[em], flat, npix)
        hit = np.flatnonzero(summed)
        pix_eta = jet_eta + (hit // IMAGE_SIZE - IMAGE_SIZE / 2 + 0.5) * PIXEL_WIDTH
        summed[hit] = _smear(summed[hit], pix_eta, config.ecal_stochastic, config.ecal_noise, config.ecal_constant, rng)
        image[..., 1] = summed.reshape(IMAGE_SIZE, IMAGE_SIZE)

    # HCAL: hadrons, summed per 5 x 5 tower, smeared, spread evenly over the tower's pixels.
    had = inside & visible & ~np.isin(apid, list(ELECTROMAGNETIC_IDS)) & (apid != MUON_ID)
    if had.any():
        ntow = IMAGE_SIZE // HCAL_TOWER
        flat = (row[had] // HCAL_TOWER) * ntow + col[had] // HCAL_TOWER
        towers = _bin(pt[had], flat, ntow * ntow)
        hit = np.flatnonzero(towers)
        tow_eta = jet_eta + ((hit // ntow + 0.5) * HCAL_TOWER - IMAGE_SIZE / 2) * PIXEL_WIDTH
        towers[hit] = _smear(towers[hit], tow_eta, config.hcal_stochastic, config.hcal_noise, config.hcal_constant, rng)
        per_pixel = towers.reshape(ntow, ntow) / (HCAL_TOWER * HCAL_TOWER)
        image[..., 2] = np.kron(per_pixel, np.ones((HCAL_TOWER, HCAL_TOWER)))
    return image.astype(np.float32)


def jet_axis(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> tuple[float, float]:
    """pT-weighted centroid in (eta, phi), phi measured from the hardest particle to avoid the wrap."""
    pt = np.asarray(pt, dtype=np.float64)
    if pt.sum() <= 0:
        return 0.0, 0.0
    lead = int(np.argmax(pt))
    dphi = wrap_phi(np.asarray(phi) - phi[lead])
    return float(np.average(eta, weights=pt)), float(phi[lead] + np.average(dphi, weights=pt))
