"""Channel-width correlations on toy jets whose widths are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from core.data.transforms import pixel_geometry
from core.errors import JetInputError
from core.metrics.channel_correlation import PAIRS, channel_widths, width_correlations


def _toy(rho: np.ndarray, n: int = 4000, size: int = 8, seed: int = 0):
    """Jets with all of each channel's energy in one pixel whose Delta R follows a Gaussian copula with ``rho``.

    Returns the images and the exact widths (the chosen pixels' Delta R).
    """
    rng = np.random.default_rng(seed)
    deta, dphi = pixel_geometry(size)
    dr = np.hypot(deta, dphi).reshape(-1)
    inside = np.flatnonzero(dr < 0.4)
    order = inside[np.argsort(dr[inside])]
    z = rng.multivariate_normal(np.zeros(3), rho, size=n)
    from scipy.stats import norm

    pick = order[np.minimum((norm.cdf(z) * len(order)).astype(int), len(order) - 1)]  # (n, 3) pixel indices
    x = np.zeros((n, 3, size * size))
    for c in range(3):
        x[np.arange(n), c, pick[:, c]] = rng.uniform(1, 50, n)
    return x.reshape(n, 3, size, size), dr[pick]


def test_widths_are_the_lit_pixels_distance():
    x, widths = _toy(np.eye(3), n=50)
    np.testing.assert_allclose(channel_widths(x), widths, atol=1e-12)


def test_known_correlations_are_recovered():
    rho = np.array([[1.0, 0.8, 0.5], [0.8, 1.0, 0.4], [0.5, 0.4, 1.0]])
    x, widths = _toy(rho)
    got = width_correlations(x)
    exact = {k: np.corrcoef(widths[:, a], widths[:, b])[0, 1] for k, (a, b) in zip(got, PAIRS, strict=True)}
    assert list(got) == ["Tracks-ECAL", "ECAL-HCAL", "Tracks-HCAL"]
    for k in got:
        assert got[k] == pytest.approx(exact[k], abs=1e-9)
    # the few distinct Delta R values of an 8 x 8 grid damp the copula's correlations but keep their order
    assert got["Tracks-ECAL"] > got["Tracks-HCAL"] > got["ECAL-HCAL"] > 0.2


def test_independent_channels_are_uncorrelated_and_identical_ones_fully():
    x, _ = _toy(np.eye(3))
    assert all(abs(v) < 0.06 for v in width_correlations(x).values())
    same = x.copy()
    same[:, 1] = same[:, 0]
    assert width_correlations(same)["Tracks-ECAL"] == pytest.approx(1.0)


def test_empty_channels_are_skipped_and_too_few_refused():
    x, _ = _toy(np.eye(3), n=10)
    x[:8, 2] = 0
    assert np.isnan(channel_widths(x)[:8, 2]).all()
    with pytest.raises(JetInputError, match="ECAL-HCAL: fewer than 3 jets"):
        width_correlations(x)


def _two_pixel_jet(size: int = 8):
    """Tracks on the two central pixels (3 and 4 GeV), ECAL on the first of them only, HCAL on a pixel at the
    image's corner (outside R = 0.4): cosines 3/5 (Tracks-ECAL), and nothing in HCAL within the cone."""
    x = np.zeros((1, 3, size, size))
    c = size // 2
    x[0, 0, c, c], x[0, 0, c - 1, c] = 3.0, 4.0
    x[0, 1, c, c] = 2.0
    x[0, 2, 0, 0] = 5.0
    return x


def test_channel_overlaps_are_the_cosines_of_the_images_within_the_cone():
    from core.metrics.channel_correlation import channel_overlaps

    x = _two_pixel_jet()
    within = channel_overlaps(x)[0]
    assert within[0] == pytest.approx(3 / 5)  # Tracks-ECAL: (3 x 2) / (5 x 2)
    assert np.isnan(within[1]) and np.isnan(within[2])  # HCAL holds nothing within R = 0.4
    whole = channel_overlaps(x, radius=None)[0]
    assert whole[1] == pytest.approx(0.0) and whole[2] == pytest.approx(0.0)  # no pixel holds both
    same = np.repeat(x[:, :1], 3, axis=1) * np.array([1.0, 7.0, 0.5])[None, :, None, None]
    assert channel_overlaps(same) == pytest.approx(np.ones((1, 3)))  # one image times a factor: 1
    with pytest.raises(JetInputError, match=r"channel overlaps: expected \(N, 3, H, W\)"):
        channel_overlaps(np.zeros((2, 2, 8, 8)))


def test_overlap_rows_compare_generated_with_real_and_real_with_real():
    from core.metrics.channel_correlation import format_overlaps, overlap_rows

    real, _ = _toy(np.eye(3), n=200)
    aligned = np.repeat(real[:, :1], 3, axis=1)  # every channel on the Tracks pixel
    rows = overlap_rows(aligned, real, real)
    assert [r["pair"] for r in rows] == ["Tracks-ECAL", "ECAL-HCAL", "Tracks-HCAL"]
    for r in rows:
        assert r["generated"] == pytest.approx(1.0) and r["floor"] == pytest.approx(0.0)
        assert r["difference"] == pytest.approx(1.0 - r["real"]) and r["real"] < 0.5  # independent pixels
    assert "Tracks-ECAL" in format_overlaps(rows).splitlines()[2]
