"""The Jets page's averages at a bounded cost: summed from the stored pixels with the file's observable table
(equal to the image-by-image pass), a table that no longer matches its file ignored, and the job that averages
the rest in its own process."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.data.readers import open_jets
from core.data.writers import write_sparse
from core.viz.stats import class_overview, observable_table, quick_overview, sparse_class_means, write_observable_table


@pytest.fixture(scope="module")
def sparse30(tmp_path_factory) -> Path:
    """30 jets of the embedded sample in the compact layout, a third of them unlabelled (y = -1)."""
    src = open_jets()
    try:
        picks = np.random.default_rng(3).choice(len(src), 30, replace=False)
        y = src.y[picks].astype(np.float32)
        y[::3] = -1
        path = tmp_path_factory.mktemp("sparse") / "jets30.h5"
        write_sparse(path, [src.sparse(int(i)) for i in picks], y, src.pt[picks], src.m0[picks])
    finally:
        src.close()
    return path


def test_sparse_means_equal_the_image_by_image_pass(sparse30):
    src = open_jets(sparse30)
    index = np.array([0, 2, 3, 5, 8, 13, 21, 29])
    means, _, _ = class_overview(src, index)
    quick = sparse_class_means(src, index)
    assert set(quick) == set(means) and "unlabelled" in means
    for k in means:
        np.testing.assert_allclose(quick[k], means[k], rtol=1e-5, atol=1e-6)
    assert float(quick[next(iter(quick))].sum()) > 0


def test_the_observable_table_gives_the_same_overview_and_a_changed_file_drops_it(sparse30, tmp_path):
    path = tmp_path / "jets30.h5"
    shutil.copy(sparse30, path)
    src = open_jets(path)
    stamp = path.stat().st_mtime
    assert quick_overview(src, str(path), stamp, np.arange(5)) is None  # no table yet
    table = write_observable_table(path)
    assert table.name == "jets30.observables.npz"
    index = np.array([1, 4, 6, 7, 20, 28])
    means, obs, y = class_overview(src, index)
    q_means, q_obs, q_y = quick_overview(src, str(path), stamp, index)
    np.testing.assert_array_equal(q_y, y)
    for k in obs:
        np.testing.assert_allclose(q_obs[k], obs[k], rtol=1e-5, atol=1e-5)
    for k in means:
        np.testing.assert_allclose(q_means[k], means[k], rtol=1e-5, atol=1e-6)
    # Another file under the same name (new bytes, new time): the old table is not used.
    other = open_jets(sparse30)
    write_sparse(path, [other.sparse(i) for i in range(29, -1, -1)], other.y[::-1], other.pt[::-1], other.m0[::-1])
    os.utime(path, (stamp + 5, stamp + 5))
    assert observable_table(str(path), stamp + 5) is None
    assert quick_overview(open_jets(path), str(path), stamp + 5, index) is None


def test_the_embedded_sample_ships_its_observable_table():
    src = open_jets()
    table = observable_table(None, src.path.stat().st_mtime)
    assert table is not None and len(table["pt"]) == len(src), "run scripts/observable_table.py"
    index = np.array([0, 17, 4242, 9999])
    _, obs, _ = class_overview(src, index)
    for k in obs:
        np.testing.assert_allclose(table[k][index], obs[k], rtol=1e-5, atol=1e-5)
