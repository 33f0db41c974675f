"""Every kind of bad jet file gets one clear line naming the file and the problem, exit code 2, file untouched."""

import hashlib

import h5py
import numpy as np
import pytest

from core.cli import main
from core.data.readers import open_jets
from core.errors import JetInputError


def good_images(n=4):
    x = np.zeros((n, 125, 125, 3), np.float32)
    x[:, 60:65, 60:65, :] = 1.0
    return x


def write(path, **datasets):
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f[key] = value
    return path


def cases(tmp):
    x, y = good_images(), np.array([1.0, 0.0, 1.0, 0.0])
    nan, inf, neg = good_images(), good_images(), good_images()
    nan[2, 3, 3, 1] = np.nan
    inf[1, 0, 0, 0] = np.inf
    neg[3, 5, 5, 2] = -0.5
    (tmp / "empty.h5").write_bytes(b"")
    (tmp / "text.h5").write_text("this is not a jet file\n")
    good = write(tmp / "good.h5", X_jets=x, y=y)
    data = good.read_bytes()
    (tmp / "truncated.h5").write_bytes(data[: len(data) // 2])
    (tmp / "bad.npz").write_text("not a zip")
    np.savez(tmp / "wrongkeys.npz", A=np.zeros(3))
    return {
        "missing": (tmp / "nope.h5", "no such file"),
        "empty": (tmp / "empty.h5", "empty"),
        "not hdf5": (tmp / "text.h5", "not an HDF5 file"),
        "truncated": (tmp / "truncated.h5", "truncated or corrupt"),
        "missing X_jets": (write(tmp / "nox.h5", y=y), "missing key 'X_jets'"),
        "missing y": (write(tmp / "noy.h5", X_jets=x), "missing key 'y'"),
        "wrong shape": (write(tmp / "shape.h5", X_jets=np.zeros((4, 125, 125)), y=y), "shape"),
        "wrong dtype": (write(tmp / "dtype.h5", X_jets=x.astype(np.int32), y=y), "dtype"),
        "label shape": (write(tmp / "ylen.h5", X_jets=x, y=y[:3]), "'y' has shape"),
        "nan": (write(tmp / "nan.h5", X_jets=nan, y=y), "NaN or infinite values (jet 2)"),
        "inf": (write(tmp / "inf.h5", X_jets=inf, y=y), "NaN or infinite values (jet 1)"),
        "negative": (write(tmp / "neg.h5", X_jets=neg, y=y), "negative energies (jet 3"),
        "bad labels": (write(tmp / "lab.h5", X_jets=x, y=np.array([1.0, 2.0, 0.0, 0.0])), "key 'y' holds 2; use 1"),
        "not npz": (tmp / "bad.npz", "not an npz file"),
        "npz keys": (tmp / "wrongkeys.npz", "missing key 'X' or 'y'"),
    }


def read_all(path):
    src = open_jets(path)
    try:
        src.images(slice(None))
    finally:
        src.close()


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return cases(tmp_path_factory.mktemp("bad"))


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "empty",
        "not hdf5",
        "truncated",
        "missing X_jets",
        "missing y",
        "wrong shape",
        "wrong dtype",
        "label shape",
        "nan",
        "inf",
        "negative",
        "bad labels",
        "not npz",
        "npz keys",
    ],
)
def test_reader_names_file_and_problem(bad_files, case):
    path, problem = bad_files[case]
    before = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    with pytest.raises(JetInputError) as err:
        read_all(path)
    message = str(err.value)
    assert str(path) in message and problem in message
    assert "\n" not in message
    after = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
    assert before == after


@pytest.mark.parametrize("case", ["missing", "not hdf5", "truncated", "nan", "negative", "npz keys"])
def test_cli_exits_2_with_one_line_and_no_traceback(bad_files, case, capsys):
    path, problem = bad_files[case]
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and problem in err and str(path) in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
