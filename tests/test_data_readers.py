"""Readers give every layout the same (N, H, W, 3) GeV images, lazily, and round-trip with the writers."""

import zipfile

import h5py
import numpy as np
import pytest
import torch

from core.data.readers import CMSFile, EnergyFlowFile, JetDataset, SparseJetFile, load_tensors, open_jets, summary
from core.data.sparse import to_dense, to_sparse
from core.data.writers import write_cms, write_sparse


def random_images(n=6, seed=0):
    rng = np.random.default_rng(seed)
    img = np.zeros((n, 125, 125, 3), np.float32)
    for i in range(n):
        for c in (0, 1):
            idx = rng.integers(0, 125, size=(20, 2))
            img[i, idx[:, 0], idx[:, 1], c] = rng.exponential(5.0, 20)
        towers = np.zeros((25, 25), np.float32)
        towers[rng.integers(0, 25, 8), rng.integers(0, 25, 8)] = rng.exponential(1.0, 8)
        img[i, ..., 2] = np.kron(towers, np.ones((5, 5), np.float32))
    return img


def test_sparse_round_trip_is_exact():
    img = random_images(3)
    for i in range(3):
        np.testing.assert_array_equal(to_dense(*to_sparse(img[i])), img[i])


def test_sparse_refuses_hcal_that_is_not_per_tower():
    img = random_images(1)[0]
    img[0, 0, 2] += 1.0
    with pytest.raises(ValueError, match="HCAL"):
        to_sparse(img)


def test_cms_file_round_trip_and_lazy_indexing(tmp_path):
    img = random_images(6)
    y = np.array([1, 0, 1, 0, 1, 0])
    path = tmp_path / "cms.h5"
    write_cms(path, img, y, pt=np.arange(6) + 500.0, m0=np.arange(6) + 10.0)
    src = open_jets(path)
    assert isinstance(src, CMSFile) and len(src) == 6 and not src.channels_first
    np.testing.assert_array_equal(src.images(slice(None)), img)
    np.testing.assert_array_equal(src.images([4, 1, 4]), img[[4, 1, 4]])
    np.testing.assert_array_equal(src.y, y)
    batches = list(src.batches(4))
    assert [len(i) for i, _ in batches] == [4, 2]
    src.close()


def test_channels_first_layout_is_recognised_by_shape(tmp_path):
    img = random_images(4)
    path = tmp_path / "cf.h5"
    with h5py.File(path, "w") as f:
        f["X_jets"] = img.transpose(0, 3, 1, 2)
        f["y"] = np.array([1.0, 0.0, 1.0, 0.0])
    src = open_jets(path)
    assert src.channels_first
    np.testing.assert_array_equal(src.images([0, 2]), img[[0, 2]])


def test_compact_file_matches_the_cms_file_of_the_same_jets(tmp_path):
    img = random_images(5)
    y, pt, m0 = np.array([1, 1, 0, 0, 1]), np.full(5, 520.0), np.full(5, 30.0)
    write_sparse(tmp_path / "c.h5", [to_sparse(i) for i in img], y, pt, m0)
    write_cms(tmp_path / "d.h5", img, y, pt, m0)
    compact, dense = open_jets(tmp_path / "c.h5"), open_jets(tmp_path / "d.h5")
    assert isinstance(compact, SparseJetFile)
    np.testing.assert_array_equal(compact.images(slice(None)), dense.images(slice(None)))
    assert summary(compact)["channel_sum_gev"] == pytest.approx(summary(dense)["channel_sum_gev"])


def test_torch_dataset_and_load_tensors_conserve_energy(tmp_path):
    img = random_images(6)
    write_cms(tmp_path / "d.h5", img, np.array([1, 0] * 3))
    src = open_jets(tmp_path / "d.h5")
    ds = JetDataset(src, size=32)
    x, label = ds[3]
    assert x.shape == (3, 32, 32) and label == 0
    np.testing.assert_allclose(x.sum(dim=(1, 2)).numpy(), img[3].sum(axis=(0, 1)), rtol=1e-5)
    xs, ys = load_tensors(tmp_path / "d.h5", size=16, batch_size=4)
    assert xs.shape == (6, 3, 16, 16) and ys.dtype == torch.int64
    np.testing.assert_allclose(xs.sum(dim=(2, 3)).numpy(), img.sum(axis=(1, 2)), rtol=1e-5)


def test_energyflow_npz_is_pixelised_by_the_same_detector(tmp_path):
    # Two jets: (pt, y, phi, pid), zero-padded to 4 particles.
    x = np.zeros((2, 4, 4))
    x[0, :3] = [(100.0, 0.1, 2.0, 22), (50.0, 0.12, 2.02, 211), (30.0, 0.09, 1.98, 130)]
    x[1, :2] = [(200.0, -0.5, 0.1, 2112), (20.0, -0.52, 0.08, -211)]
    path = tmp_path / "QG_jets.npz"
    np.savez(path, X=x, y=np.array([1.0, 0.0]))
    src = open_jets(path)
    assert isinstance(src, EnergyFlowFile) and len(src) == 2
    img = src.images([0, 1])
    assert img.shape == (2, 125, 125, 3)
    # Tracks see the charged pion only; calorimeters see everything, within resolution.
    assert img[0, ..., 0].sum() == pytest.approx(50.0, rel=0.05)
    assert img[0, ..., 1].sum() == pytest.approx(100.0, rel=0.05)
    assert img[1, ..., 1:].sum() == pytest.approx(220.0, rel=0.3)
    np.testing.assert_array_equal(src.images([0]), src.images([0]))  # seeded per jet
    assert src.pt[0] == pytest.approx(180.0, rel=0.01)
    assert zipfile.is_zipfile(path)


def test_embedded_sample_is_balanced_and_in_range(embedded):
    assert len(embedded) >= 10_000
    assert abs(int(embedded.y.sum()) - len(embedded) // 2) <= 1
    assert embedded.pt.min() > 500 and embedded.pt.max() < 550
    img = embedded.images([0, len(embedded) - 1])
    assert img.shape == (2, 125, 125, 3) and img.dtype == np.float32


@pytest.mark.parametrize("size", [125, 64, 32, 8])
def test_compact_file_downsamples_without_densifying_to_the_same_images(tmp_path, size):
    from core.data.readers import channels_first
    from core.data.transforms import downsample

    img = random_images(5, seed=3)
    write_sparse(tmp_path / "c.h5", [to_sparse(i) for i in img], np.array([1, 0, 1, 0, 1]), np.zeros(5), np.zeros(5))
    src = open_jets(tmp_path / "c.h5")
    expected = downsample(channels_first(img[[4, 0, 2]]), size)
    torch.testing.assert_close(src.downsampled([4, 0, 2], size), expected, rtol=1e-5, atol=1e-5)


def test_load_tensors_refuses_a_size_that_does_not_divide():
    with pytest.raises(ValueError, match="cannot sum-pool 125 x 125 images to 48 x 48"):
        load_tensors(None, size=48)
