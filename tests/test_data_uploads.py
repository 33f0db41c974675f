"""Dashboard uploads: saved once under their hash, and pruned by age and total size, oldest first."""

from __future__ import annotations

import os
import time

import pytest

from core.data.uploads import prune_uploads, save_upload
from core.errors import JetInputError

NOW = 1_900_000_000.0
HOUR = 3600.0


def _file(folder, name: str, size: int, age_hours: float):
    path = folder / name
    path.write_bytes(b"x" * size)
    os.utime(path, (NOW - age_hours * HOUR, NOW - age_hours * HOUR))
    return path


def test_old_uploads_go_and_recent_ones_stay(tmp_path):
    old = _file(tmp_path, "old.h5", 10, 30)
    new = _file(tmp_path, "new.h5", 10, 1)
    assert prune_uploads(tmp_path, keep_seconds=24 * HOUR, max_bytes=10**6, now=NOW) == [old]
    assert not old.exists() and new.exists()


def test_over_the_size_budget_the_oldest_go_first(tmp_path):
    a = _file(tmp_path, "a.h5", 100, 3)
    b = _file(tmp_path, "b.h5", 100, 2)
    c = _file(tmp_path, "c.npz", 100, 1)
    assert prune_uploads(tmp_path, keep_seconds=24 * HOUR, max_bytes=150, now=NOW) == [a, b]
    assert c.exists()
    assert prune_uploads(tmp_path, keep_seconds=24 * HOUR, max_bytes=150, now=NOW) == []


def test_the_file_just_written_is_never_removed(tmp_path):
    older = _file(tmp_path, "older.h5", 100, 1)
    big = _file(tmp_path, "big.h5", 500, 48)  # too old and alone over budget, but just written
    removed = prune_uploads(tmp_path, keep_seconds=24 * HOUR, max_bytes=200, keep=[big], now=NOW)
    assert removed == [older] and big.exists()


def test_half_written_temporaries_go_by_age_only(tmp_path):
    fresh = _file(tmp_path, ".x.h5.abc.part", 1000, 0.1)  # another visitor's upload in progress
    stale = _file(tmp_path, ".y.h5.def.part", 1000, 30)
    assert prune_uploads(tmp_path, keep_seconds=24 * HOUR, max_bytes=10, now=NOW) == [stale]
    assert fresh.exists()


def test_missing_folder_and_bad_limits(tmp_path):
    assert prune_uploads(tmp_path / "none") == []
    with pytest.raises(JetInputError, match="keep_seconds"):
        prune_uploads(tmp_path, keep_seconds=-1)
    with pytest.raises(JetInputError, match="max_bytes"):
        prune_uploads(tmp_path, max_bytes=-1)


def test_save_upload_writes_once_and_prunes_around_it(tmp_path):
    stale = tmp_path / "0123456789abcdef.h5"
    stale.write_bytes(b"old")
    os.utime(stale, (time.time() - 48 * HOUR, time.time() - 48 * HOUR))
    path = save_upload(tmp_path, "Jets.H5", b"new jets")
    assert path.suffix == ".h5" and path.read_bytes() == b"new jets" and not stale.exists()
    assert save_upload(tmp_path, "again.h5", b"new jets") == path  # same content, same file
    assert save_upload(tmp_path, "notes.txt", b"text").suffix == ".bin"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
