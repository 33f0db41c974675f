"""Hostile jet files: every one is refused with one line naming the file and the problem, before its data is read.

Each case reproduces an attack found on the hosted dashboard (issue 11): data kept outside the file
(external storage, virtual datasets, links), devices and FIFOs, files that declare data they do not store,
and sparse files whose indices would land outside their jet.
"""

import hashlib
import os
import threading
import zipfile

import h5py
import numpy as np
import pytest

from core.cli import main
from core.data import safe_open
from core.data.readers import load_tensors, open_jets
from core.data.writers import SPARSE_FORMAT
from core.errors import JetInputError

Y = np.array([1.0, 0.0, 1.0, 0.0])


def images(n=4, size=8):
    x = np.zeros((n, size, size, 3), np.float32)
    x[:, 3:5, 3:5, :] = 1.0
    return x


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest() if os.path.isfile(path) else None


def refused(path, expected, capsys=None):
    """open_jets and `python -m core info` both refuse, with one line holding ``expected``; file untouched."""
    before = digest(path)
    with pytest.raises(JetInputError) as err:
        src = open_jets(path)
        src.images(slice(None))
    msg = str(err.value)
    assert expected in msg and "\n" not in msg, msg
    assert main(["info", str(path)]) == 2
    if capsys is not None:
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], lines
    assert digest(path) == before
    return msg


def test_external_storage_is_refused_and_never_read(tmp_path, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 200)
    path = tmp_path / "ext.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("X_jets", shape=(2, 8, 8, 3), dtype="f4", external=[(str(secret), 0, h5py.h5f.UNLIMITED)])
        f["y"] = np.array([1.0, 0.0])
    msg = refused(path, "keeps its data in an external file", capsys)
    assert "root:x" not in msg


def test_external_storage_of_etc_passwd(tmp_path):
    path = tmp_path / "passwd.h5"
    with h5py.File(path, "w") as f:
        f["X_jets"] = images()
        f.create_dataset("y", shape=(4,), dtype="f4", external=[("/etc/passwd", 0, h5py.h5f.UNLIMITED)])
    refused(path, "key 'y' keeps its data in an external file")


def test_virtual_dataset_is_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = images()
    layout = h5py.VirtualLayout(shape=(4, 8, 8, 3), dtype="f4")
    layout[:] = h5py.VirtualSource(str(other), "data", shape=(4, 8, 8, 3))
    path = tmp_path / "vds.h5"
    with h5py.File(path, "w") as f:
        f.create_virtual_dataset("X_jets", layout)
        f["y"] = Y
    refused(path, "virtual dataset")


def test_external_link_is_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["X_jets"] = images()
    path = tmp_path / "extlink.h5"
    with h5py.File(path, "w") as f:
        f["X_jets"] = h5py.ExternalLink(str(other), "/X_jets")
        f["y"] = Y
    refused(path, "key 'X_jets' is an external link")


def test_soft_link_is_refused(tmp_path):
    path = tmp_path / "softlink.h5"
    with h5py.File(path, "w") as f:
        f["elsewhere/X"] = images()
        f["X_jets"] = h5py.SoftLink("/elsewhere/X")
        f["y"] = Y
    refused(path, "key 'X_jets' is a soft link")


def test_soft_link_to_an_external_link_is_refused(tmp_path):
    path = tmp_path / "soft_ext.h5"
    with h5py.File(path, "w") as f:
        f["ext"] = h5py.ExternalLink("/etc/passwd", "/")
        f["X_jets"] = images()
        f["y"] = h5py.SoftLink("/ext")
    refused(path, "key 'y' is a soft link")


@pytest.mark.parametrize("chunked", [False, True])
def test_declared_jets_without_data_are_refused(tmp_path, chunked):
    path = tmp_path / "hollow.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("X_jets", shape=(1000, 8, 8, 3), dtype="f4", chunks=(10, 8, 8, 3) if chunked else None)
        f["y"] = np.ones(1000)
    refused(path, "declares shape (1000, 8, 8, 3)")


def test_oversized_chunk_is_refused(tmp_path):
    path = tmp_path / "bigchunk.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset(
            "X_jets", shape=(4096, 125, 125, 3), dtype="f4", chunks=(4096, 125, 125, 3), compression="gzip"
        )
        f["y"] = np.ones(4096)
    refused(path, "chunks of")


def test_x_jets_stored_as_a_group(tmp_path):
    path = tmp_path / "group.h5"
    with h5py.File(path, "w") as f:
        f.create_group("X_jets")
        f["y"] = Y
    refused(path, "key 'X_jets' is a group")


def test_string_labels(tmp_path):
    path = tmp_path / "strings.h5"
    with h5py.File(path, "w") as f:
        f["X_jets"] = images()
        f["y"] = np.array([b"q", b"g", b"q", b"g"])
    refused(path, "key 'y' has dtype")


def test_zero_jets(tmp_path):
    path = tmp_path / "zero.h5"
    with h5py.File(path, "w") as f:
        f["X_jets"] = np.zeros((0, 8, 8, 3), np.float32)
        f["y"] = np.zeros(0)
    refused(path, "holds no jets")


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/urandom", "/proc/self/environ", "/sys/kernel/notes"])
def test_system_paths_are_refused_without_reading(target, monkeypatch, capsys):
    opened = []
    monkeypatch.setattr(zipfile, "is_zipfile", lambda f: opened.append(f) or False)
    monkeypatch.setattr(h5py, "File", lambda *a, **k: opened.append(a) or None)
    with pytest.raises(JetInputError, match="system path"):
        open_jets(target)
    assert main(["info", target]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert opened == []


def test_symlink_to_dev_zero_and_relative_escape(tmp_path, monkeypatch):
    link = tmp_path / "innocent.h5"
    link.symlink_to("/dev/zero")
    with pytest.raises(JetInputError, match="system path"):
        open_jets(link)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(JetInputError, match="not an HDF5 file|not a jet file"):
        open_jets("../../../../../../etc/passwd")


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.h5"
    os.mkfifo(fifo)
    result = {}

    def attempt():
        try:
            open_jets(fifo)
        except JetInputError as err:
            result["msg"] = str(err)

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(10)
    assert "is a FIFO" in result.get("msg", ""), result


def test_directory_and_size_cap(tmp_path, monkeypatch):
    with pytest.raises(JetInputError, match="is a directory"):
        open_jets(tmp_path)
    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as f:
        f["X_jets"] = images()
        f["y"] = Y
    monkeypatch.setenv("JETLAB_MAX_FILE_GB", str(1 / 1024**3))  # one byte
    with pytest.raises(JetInputError, match="over the"):
        open_jets(path)


def test_errors_name_the_visitors_file_not_the_server_path(tmp_path):
    path = tmp_path / "0123abcd.h5"
    path.write_text("not hdf5")
    with pytest.raises(JetInputError) as err:
        open_jets(path, name="my_jets.h5")
    assert str(err.value).startswith("my_jets.h5:") and str(tmp_path) not in str(err.value)


def npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def good_particles(n=4, m=5):
    x = np.zeros((n, m, 4))
    x[:, :3, 0] = 10.0
    x[:, :3, 1] = np.linspace(-0.1, 0.1, 3)
    x[:, :3, 2] = 1.0
    x[:, :3, 3] = 211
    return x


@pytest.mark.parametrize(
    "case, expected",
    [
        ("complex", "key 'X' has dtype complex128"),
        ("strings", "key 'X' has dtype <U"),
        ("y strings", "key 'y' has dtype <U"),
        ("zero", "holds no jets"),
        ("empty jet", "jet 1 has no particle"),
        ("huge rapidity", "infinite jet momenta"),
        ("nan y", "key 'y' holds NaN"),
    ],
)
def test_bad_npz(tmp_path, case, expected):
    x, y = good_particles(), Y.copy()
    if case == "complex":
        x = x.astype(complex)
    elif case == "strings":
        x = x.astype(str)
    elif case == "y strings":
        y = y.astype(str)
    elif case == "zero":
        x, y = x[:0], y[:0]
    elif case == "empty jet":
        x[1, :, 0] = 0
    elif case == "huge rapidity":
        x[2, 0, 1] = 1e4
    elif case == "nan y":
        y[0] = np.nan
    refused(npz(tmp_path / f"{case.replace(' ', '_')}.npz", X=x, y=y), expected)


def test_npz_bomb_is_refused_before_unpacking(tmp_path, monkeypatch):
    path = npz(tmp_path / "bomb.npz", X=np.zeros((64, 100, 4)), y=np.ones(64))
    monkeypatch.setattr("core.limits.available_memory", lambda: 1000)
    refused(path, "unpack to")


def sparse_file(path, offsets, index, channel, value, n=None):
    n = len(offsets) - 1 if n is None else n
    with h5py.File(path, "w") as f:
        f.attrs["format"] = SPARSE_FORMAT
        f["offsets"] = np.asarray(offsets, np.int64)
        f["index"] = np.asarray(index)
        f["channel"] = np.asarray(channel, np.uint8)
        f["value"] = np.asarray(value, np.float32)
        f["y"] = np.ones(max(n, 0))
    return path


@pytest.mark.parametrize(
    "offsets, index, channel, value, expected",
    [
        ([0, 2, 3], [5, 15625, 7], [0, 0, 2], [1, 1, 1], "key 'index' holds 15625 for channel 0 (jet 0)"),
        ([0, 2, 3], [5, 6, 625], [0, 1, 2], [1, 1, 1], "key 'index' holds 625 for channel 2 (jet 1)"),
        ([0, 2, 3], [5, 6, 7], [0, 3, 2], [1, 1, 1], "key 'channel' holds 3"),
        ([0, 2, 5], [5, 6, 7], [0, 1, 2], [1, 1, 1], "ends at 5 but 3 pixels"),
        ([0, 3, 2, 3], [5, 6, 7], [0, 1, 2], [1, 1, 1], "decreases at jet 1"),
        ([1, 2, 3], [5, 6, 7], [0, 1, 2], [1, 1, 1], "starts at 1"),
        ([0, 2, 3], [5, 6, 7], [0, 1, 2], [1, np.nan, 1], "key 'value' holds NaN or infinite values (jet 0)"),
        ([0, 2, 3], [5, 6, 7], [0, 1, 2], [1, 1, -2], "negative energies (jet 1"),
        ([0], [], [], [], "holds no jets"),
    ],
)
def test_bad_sparse(tmp_path, offsets, index, channel, value, expected):
    refused(sparse_file(tmp_path / "sparse.h5", offsets, index, channel, value), expected)


def test_good_sparse_still_reads(tmp_path):
    path = sparse_file(tmp_path / "ok.h5", [0, 2, 3], [5, 6, 624], [0, 1, 2], [1, 2, 3])
    src = open_jets(path)
    img = src.images([0, 1])
    assert img[0, 0, 5, 0] == 1 and img[0, 0, 6, 1] == 2 and img[1, 120:, 120:, 2].sum() == 3 * 25
    x, _ = load_tensors(path, size=16)
    assert float(x.sum()) == pytest.approx(1 + 2 + 3 * 25)


def test_max_jets_zero_and_memory_check(monkeypatch):
    with pytest.raises(JetInputError, match="max jets: must be at least 1"):
        load_tensors(None, max_jets=0)
    monkeypatch.setattr("core.limits.available_memory", lambda: 1000)
    with pytest.raises(JetInputError, match="needs about"):
        load_tensors(None, size=32)


def test_is_hdf5_reads_only_the_signature(tmp_path):
    path = tmp_path / "x.h5"
    with h5py.File(path, "w") as f:
        f["a"] = np.zeros(3)
    assert safe_open.is_hdf5(path)
    (tmp_path / "t.h5").write_text("hello")
    assert not safe_open.is_hdf5(tmp_path / "t.h5")
