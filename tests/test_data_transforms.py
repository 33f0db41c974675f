"""Downsampling conserves energy; every intensity transform has an exact inverse."""

import numpy as np
import pytest
import torch

from core.data.transforms import (
    bilinear_resize,
    downsample,
    fit_transform,
    make_transform,
    pixel_centres,
    pixel_width,
)


def sparse_batch(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 3, 125, 125)
    idx = torch.randint(0, 125, (n, 3, 30, 2), generator=g)
    for i in range(n):
        for c in range(3):
            x[i, c, idx[i, c, :, 0], idx[i, c, :, 1]] = torch.rand(30, generator=g) * 50
    return x


@pytest.mark.parametrize("size", [64, 32, 16, 8])
def test_downsample_conserves_each_channel_energy(size):
    x = sparse_batch()
    y = downsample(x, size)
    assert y.shape == (8, 3, size, size)
    torch.testing.assert_close(y.double().sum(dim=(2, 3)), x.double().sum(dim=(2, 3)), rtol=1e-5, atol=1e-4)


def test_downsample_composes_and_keeps_geometry():
    x = sparse_batch()
    torch.testing.assert_close(downsample(downsample(x, 32), 8), downsample(x, 8), rtol=1e-5, atol=1e-4)
    assert pixel_width(32) == pytest.approx(0.0174 * 4)
    centres = pixel_centres(32)
    assert len(centres) == 32 and np.allclose(np.diff(centres), pixel_width(32))
    # The jet axis (centre of pixel 62 of 125) stays within a fraction of a coarse pixel of 0.
    assert abs(centres[15:17].mean()) < 0.25 * pixel_width(32)


def test_bilinear_resize_loses_energy_of_sparse_deposits():
    x = sparse_batch(2)
    lost = 1 - bilinear_resize(x, 32).sum() / x.sum()
    assert abs(lost) > 0.5  # bilinear samples the image, so most isolated deposits vanish or are scaled down


def test_downsample_refuses_sizes_that_do_not_divide():
    with pytest.raises(ValueError, match="cannot sum-pool"):
        downsample(torch.zeros(1, 3, 125, 125), 48)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        downsample(torch.zeros(3, 125, 125), 32)


@pytest.mark.parametrize("kind", ["identity", "scale", "log"])
def test_intensity_transforms_round_trip_through_their_dicts(kind):
    x = downsample(sparse_batch(), 32)
    t = fit_transform(x, kind)
    z = t.forward(x)
    rebuilt = make_transform(t.to_dict())
    torch.testing.assert_close(rebuilt.inverse(z), x, rtol=1e-4, atol=1e-4)
    if kind != "identity":
        assert z.min() >= -1.0 - 1e-6 and torch.quantile(z.flatten(), 0.99) <= 1.0


def test_unknown_transform_is_refused():
    with pytest.raises(ValueError, match="unknown intensity transform"):
        make_transform({"kind": "sqrt"})
