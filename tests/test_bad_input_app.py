"""The dashboard against a hostile visitor (AppTest): hosted mode offers no server path, refuses the attacks of
issue 11 without reading them, and names the visitor's file, never a server path; local mode keeps paths but
never reads devices or /proc."""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402
from test_app_pages import _navigation_v2  # noqa: E402, F401 (autouse: the app's st.navigation mode)

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGES = [
    "pages/jets.py",
    "pages/noising.py",
    "pages/train.py",
    "pages/generate.py",
    "pages/compare.py",
    "pages/runs.py",
]
SECRET = b"root:x:0:0:TOP-SECRET-MARKER:/root:/bin/bash\n"


@pytest.fixture(autouse=True)
def _runs_dir(tmp_path, monkeypatch) -> None:
    """Jobs a page starts (the Runs page samples the final weights) write under the test's folder."""
    import core.jobs.training as training

    monkeypatch.setattr(training, "RUNS_DIR", tmp_path / "runs")


@pytest.fixture()
def uploads(tmp_path, monkeypatch) -> Path:
    import pages._common as common

    monkeypatch.setattr(common, "UPLOAD_DIR", tmp_path / "uploads")
    return tmp_path / "uploads"


@pytest.fixture()
def hosted(monkeypatch, uploads):
    monkeypatch.setenv("JETLAB_HOSTED", "1")
    return uploads


def app(page=None, **state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    for key, value in state.items():
        at.session_state[key] = value
    if page:
        at.switch_page(page)
    return at.run()


def texts(at: AppTest) -> list[str]:
    """Every message a visitor sees (errors, warnings, infos, captions, markdown)."""
    out = []
    for kind in ("error", "warning", "info", "caption", "markdown", "success"):
        out += [str(e.value) for e in getattr(at, kind)]
    return out


def external_storage_upload(tmp_path) -> bytes:
    secret = tmp_path / "server_secret.txt"
    secret.write_bytes(SECRET * 100)
    evil = tmp_path / "evil.h5"
    with h5py.File(evil, "w") as f:
        f.create_dataset("X_jets", shape=(2, 8, 8, 3), dtype="f4", external=[(str(secret), 0, h5py.h5f.UNLIMITED)])
        f["y"] = np.array([1.0, 0.0])
    return evil.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_hosted_pages_offer_no_server_path(hosted, page):
    at = app(page)
    assert not at.exception, [e.value for e in at.exception]
    assert [r.options for r in at.radio if r.key == "data_mode"] == [["Embedded sample", "Upload"]]
    boxes = [t.label for t in at.text_input]
    assert not any(word in label.lower() for label in boxes for word in ("path", "directory", "folder")), boxes
    if page.endswith("generate.py"):
        assert all("on the server" not in o for s in at.selectbox if s.key == "gen_choice" for o in s.options)


def test_hosted_ignores_a_forced_file_path(hosted, monkeypatch):
    import core.data.readers as readers

    opened = []
    real = readers.open_jets
    monkeypatch.setattr(readers, "open_jets", lambda *a, **k: opened.append(a) or real(*a, **k))
    at = app(data_mode="File path", data_path_text="/dev/zero")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.session_state["data_mode"] == "Embedded sample"
    assert at.session_state["data_path"] is None
    assert all("/dev/zero" not in str(a) for a in opened)


def test_hosted_generate_ignores_a_forced_checkpoint_directory(hosted):
    at = app("pages/generate.py", gen_choice="a checkpoint directory on the server…", gen_path="/proc/self")
    assert not at.exception
    assert not any("/proc" in t for t in texts(at))
    assert not [t for t in at.text_input if t.key == "gen_path"]


def test_hosted_external_storage_upload_is_refused_naming_the_visitors_file(hosted, tmp_path):
    at = app(data_mode="Upload")
    at.file_uploader(key="data_upload").upload("evil.h5", external_storage_upload(tmp_path)).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any(e.startswith("evil.h5:") and "external file" in e for e in errors), errors
    shown = " ".join(texts(at))
    assert "TOP-SECRET-MARKER" not in shown and str(hosted) not in shown and "/tmp" not in shown
    assert "server_secret" not in shown
    # kept in this visitor's own folder, and nowhere else
    saved = [p for p in hosted.rglob("*") if p.is_file()]
    assert len(saved) == 1 and saved[0].parent.parent == hosted


def test_hosted_upload_caps(hosted, monkeypatch, tmp_path):
    monkeypatch.setenv("JETLAB_UPLOAD_MAX_MB", "0.001")  # about 1 KB
    at = app(data_mode="Upload")
    at.file_uploader(key="data_upload").upload("big.h5", b"x" * 5000).run()
    assert not at.exception
    assert any(e.value.startswith("big.h5:") and "upload limit" in e.value for e in at.error)
    assert not any(p.is_file() for p in hosted.rglob("*"))


def test_upload_named_like_a_path_stays_in_the_upload_folder(hosted, tmp_path):
    at = app(data_mode="Upload")
    at.file_uploader(key="data_upload").upload("../../../../etc/passwd.h5", b"not hdf5").run()
    assert not at.exception
    assert any(e.value.startswith("passwd.h5:") and "not an HDF5 file" in e.value for e in at.error)
    assert all(hosted in p.parents for p in hosted.rglob("*"))
    assert hashlib.sha256(Path("/etc/passwd").read_bytes()).hexdigest()  # untouched and still readable


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/dev/zero", "system path"),
        ("/proc/self/environ", "system path"),
        ("../../../../../../../etc/passwd", "not an HDF5 file"),
    ],
)
def test_local_file_path_never_reads_devices_or_proc(uploads, path, problem):
    at = app(data_mode="File path", data_path_text=path)
    assert not at.exception
    assert any(problem in e.value for e in at.error), [e.value for e in at.error]


def test_local_generate_refuses_proc(uploads):
    at = app("pages/generate.py", gen_choice="a checkpoint directory on the server…", gen_path="/proc/self")
    assert not at.exception
    assert any("system path" in e.value for e in at.error), [e.value for e in at.error]


def test_visitor_folders_go_when_the_session_ends_or_idles(tmp_path):
    import os

    from core.data.uploads import prune_visitors, save_visitor_upload
    from core.hosting import UploadCaps

    caps = UploadCaps(max_file_bytes=100, max_files=2, max_total_bytes=1000, idle_seconds=3600)
    for i in range(3):
        save_visitor_upload(tmp_path, "alice", f"a{i}.h5", bytes([i]) * 10, caps)
    assert len(list((tmp_path / "alice").iterdir())) == 2  # count cap: the oldest went
    save_visitor_upload(tmp_path, "bob", "b.h5", b"b" * 10, caps)
    now = os.stat(tmp_path / "bob").st_mtime
    assert prune_visitors(tmp_path, 3600, active={"alice", "bob"}, now=now + 200) == []
    assert prune_visitors(tmp_path, 3600, active={"alice"}, now=now + 200) == [tmp_path / "bob"]  # ended
    assert prune_visitors(tmp_path, 3600, active=None, now=now + 7200) == [tmp_path / "alice"]  # idle
    with pytest.raises(Exception, match="invalid visitor"):
        save_visitor_upload(tmp_path, "../x", "a.h5", b"x", caps)
