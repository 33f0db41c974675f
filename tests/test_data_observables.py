"""Observables match closed forms on simple images and show the known quark/gluon differences."""

import numpy as np
import pytest
import torch

from core.data.observables import OBSERVABLES, jet_observables
from core.data.transforms import pixel_centres


def image_with(pixels, size=32):
    x = torch.zeros(1, 3, size, size)
    for c, r, k, v in pixels:
        x[0, c, r, k] = v
    return x


def test_single_pixel_jet_has_zero_mass_and_unit_ptd():
    c = pixel_centres(32)
    obs = jet_observables(image_with([(1, 10, 20, 100.0)]), radius=None)
    assert set(obs) == set(OBSERVABLES)
    assert obs["mass"][0] == pytest.approx(0.0, abs=1e-3)
    assert obs["pt"][0] == pytest.approx(100.0)
    assert obs["ptd"][0] == pytest.approx(1.0)
    assert obs["width"][0] == pytest.approx(np.hypot(c[10], c[20]))
    assert obs["frac_ecal"][0] == pytest.approx(1.0)


def test_two_pixel_mass_matches_the_massless_pair_formula():
    c = pixel_centres(32)
    obs = jet_observables(image_with([(2, 15, 15, 60.0), (1, 18, 12, 40.0)]), radius=None)
    deta, dphi = c[18] - c[15], c[12] - c[15]
    expected = np.sqrt(2 * 60.0 * 40.0 * (np.cosh(deta) - np.cos(dphi)))
    assert obs["mass"][0] == pytest.approx(expected, rel=1e-9)
    assert obs["ptd"][0] == pytest.approx(np.hypot(60, 40) / 100)
    assert obs["mult_ecal"][0] == 1 and obs["mult_hcal"][0] == 1 and obs["mult_tracks"][0] == 0


def test_observables_refuse_wrong_shapes():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        jet_observables(torch.zeros(2, 1, 32, 32))


def test_image_kinematics_agree_with_the_clustered_jet(embedded):
    from core.data.readers import channels_first

    idx = np.arange(0, len(embedded), 25)
    obs = jet_observables(channels_first(embedded.images(idx)))
    ratio = obs["pt"] / embedded.pt[idx]
    # Calorimeter resolution and the R = 0.4 jet versus the whole image: agreement within ~10 %.
    assert 0.93 < np.median(ratio) < 1.07
    assert np.percentile(np.abs(ratio - 1), 68) < 0.1
    mass_ratio = obs["mass"] / embedded.m0[idx]
    assert 0.85 < np.median(mass_ratio) < 1.3


def test_gluon_jets_are_wider_heavier_and_busier_than_quark_jets(embedded_32):
    x, y = embedded_32
    obs = jet_observables(x)
    quark, gluon = (y == 1).numpy(), (y == 0).numpy()
    for key in ("width", "mass", "mult_tracks", "mult_ecal"):
        assert np.median(obs[key][gluon]) > np.median(obs[key][quark]), key
    assert np.median(obs["ptd"][gluon]) < np.median(obs["ptd"][quark])


def test_radius_keeps_only_the_jet_cone():
    inside = (1, 16, 17, 50.0)  # about 0.1 from the axis
    outside = (1, 2, 2, 30.0)  # about 1.3 from the axis
    cone = jet_observables(image_with([inside, outside]))
    whole = jet_observables(image_with([inside, outside]), radius=None)
    assert cone["pt"][0] == pytest.approx(50.0)
    assert whole["mass"][0] > cone["mass"][0] == pytest.approx(0.0, abs=1e-3)
