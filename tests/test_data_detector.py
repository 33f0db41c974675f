"""The detector puts each kind of particle in the right channel and place, conserving what it measures."""

import numpy as np
import pytest

from core.data.detector import DetectorConfig, charge_from_pid, pixelise, wrap_phi
from core.data.layout import HCAL_TOWER, IMAGE_SIZE, PIXEL_WIDTH

PERFECT = DetectorConfig(
    track_resolution=0.0, ecal_stochastic=0.0, ecal_noise=0.0, ecal_constant=0.0, hcal_stochastic=0.0, hcal_constant=0.0
)


def image_of(particles, config=PERFECT, seed=0):
    arr = np.array(particles, dtype=float)
    return pixelise(
        arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3].astype(int), 0.3, 1.0, np.random.default_rng(seed), config
    )


def test_photon_goes_to_ecal_at_its_pixel():
    img = image_of([(50.0, 0.3 + 3.2 * PIXEL_WIDTH, 1.0 - 10.5 * PIXEL_WIDTH, 22)])
    assert img.shape == (IMAGE_SIZE, IMAGE_SIZE, 3) and img.dtype == np.float32
    assert img[..., 0].sum() == 0 and img[..., 2].sum() == 0
    row, col = np.unravel_index(np.argmax(img[..., 1]), img[..., 1].shape)
    assert (row, col) == (62 + 3, 62 - 11)
    assert img[..., 1].sum() == pytest.approx(50.0, rel=1e-6)


def test_charged_pion_gives_track_and_hcal_tower_spread_over_25_pixels():
    img = image_of([(20.0, 0.3, 1.0, 211)])
    assert img[..., 0].sum() == pytest.approx(20.0, rel=1e-6)
    assert np.count_nonzero(img[..., 0]) == 1
    assert img[..., 2].sum() == pytest.approx(20.0, rel=1e-5)
    assert np.count_nonzero(img[..., 2]) == HCAL_TOWER * HCAL_TOWER
    assert img[..., 1].sum() == 0


def test_neutral_hadron_only_in_hcal_and_neutrino_nowhere():
    img = image_of([(10.0, 0.3, 1.0, 130), (30.0, 0.3, 1.0, 12)])
    assert img[..., 0].sum() == 0 and img[..., 1].sum() == 0
    assert img[..., 2].sum() == pytest.approx(10.0, rel=1e-5)


def test_muon_is_a_track_only_and_soft_tracks_are_dropped():
    img = image_of([(15.0, 0.3, 1.0, 13), (0.2, 0.3, 1.0, 211)])
    assert img[..., 0].sum() == pytest.approx(15.0)
    assert img[..., 1].sum() == 0
    assert img[..., 2].sum() == pytest.approx(0.2, rel=1e-5)  # the soft pion still reaches HCAL


def test_particles_outside_the_image_are_dropped_and_phi_wraps():
    outside = image_of([(10.0, 0.3 + 1.2, 1.0, 22)])
    assert outside.sum() == 0
    img = pixelise(
        np.array([5.0]),
        np.array([0.0]),
        np.array([np.pi - 0.01]),
        np.array([22]),
        0.0,
        -np.pi + 0.01,
        np.random.default_rng(0),
        PERFECT,
    )
    assert img[..., 1].sum() == pytest.approx(5.0)
    assert wrap_phi(np.array([2 * np.pi + 0.1]))[0] == pytest.approx(0.1)


def test_smearing_is_seeded_unbiased_and_of_the_stated_width():
    photons = [(100.0, 0.3, 1.0, 22)]
    values = np.array([image_of(photons, DetectorConfig(), seed=s)[..., 1].sum() for s in range(400)])
    energy = 100.0 * np.cosh(0.3)
    cfg = DetectorConfig()
    rel = np.sqrt(cfg.ecal_stochastic**2 / energy + (cfg.ecal_noise / energy) ** 2 + cfg.ecal_constant**2)
    assert values.mean() == pytest.approx(100.0, rel=3 * rel / np.sqrt(400) + 1e-6)
    assert values.std() / 100.0 == pytest.approx(rel, rel=0.15)
    assert image_of(photons, DetectorConfig(), seed=3).sum() == image_of(photons, DetectorConfig(), seed=3).sum()


def test_charge_table_covers_common_final_state_particles():
    assert charge_from_pid(np.array([211, -211, 321, 2212, 11, -13])).all()
    assert not charge_from_pid(np.array([22, 130, 310, 2112, 3122, 111])).any()
