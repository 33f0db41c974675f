"""What every page shares: the data set chosen in the sidebar, cached data, the job manager, downloads and
the guard that turns bad input into one clear message. UI glue only; the work is in ``core``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from core.cache import ByteCache
from core.data.layout import class_counts_text
from core.data.readers import EMBEDDED_SAMPLE, JetSource, load_tensors, open_jets
from core.errors import JetInputError
from core.jobs import JobLimits, JobTable
from core.jobs.qiskit_thread import ensure_qiskit_thread
from core.jobs.uploads import save_upload
from core.viz.export import figure_png, table_csv

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "checkpoints"
UPLOAD_DIR = Path(tempfile.gettempdir()) / "jetlab-uploads"
DATA_MODES = ("Embedded sample", "File path", "Upload")
LOG = logging.getLogger("jetlab.app")

# Script runs end their threads; qiskit must first be imported on one that lives (see core.jobs.qiskit_thread).
ensure_qiskit_thread()


# ---------------------------------------------------------------- device, session, jobs


@st.cache_resource(show_spinner=False)
def device() -> str:
    """'cuda' when a GPU is visible, else 'cpu' (checked once per process)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def device_label() -> str:
    if device() == "cuda":
        return f"GPU: {torch.cuda.get_device_name(0)}"
    n = torch.get_num_threads()
    return f"CPU ({n} thread{'s' if n > 1 else ''}), no GPU"


@st.cache_resource(show_spinner=False)
def job_manager() -> JobTable:
    """One job table for the whole server, so the limits cover every visitor and every kind of job."""
    return JobTable(JobLimits.from_env(on_gpu=device() == "cuda"))


def session_id() -> str:
    """A stable id for this browser session: jobs are owned per session."""
    if "jetlab_session" not in st.session_state:
        st.session_state["jetlab_session"] = uuid.uuid4().hex
    return st.session_state["jetlab_session"]


# ---------------------------------------------------------------- entry point

ENTRY_FLAG = "_jetlab_entry"


def mark_entry() -> None:
    """Called by app.py on every run, before the page runs."""
    st.session_state[ENTRY_FLAG] = True


def require_entry() -> None:
    """Make sure app.py (navigation, sidebar) ran before this page.

    Streamlit still knows the old multipage mode for a folder named ``pages/``: the first request a fresh
    server gets for a page URL (a bookmark of /train) runs the page file alone, without app.py. Switch
    that mode off and rerun, so app.py runs and the page comes back inside it.
    """
    if st.session_state.pop(ENTRY_FLAG, False):
        return
    try:
        from streamlit.runtime.pages_manager import PagesManager

        PagesManager.uses_pages_directory = False
    except (ImportError, AttributeError):  # a Streamlit without the old mode: nothing to switch off
        pass
    st.rerun()


# ---------------------------------------------------------------- errors


@contextlib.contextmanager
def guard(what: str = "this page") -> Iterator[None]:
    """Show bad input as one st.error line (never a traceback); unexpected errors are logged and summarised."""
    try:
        yield
    except (JetInputError, FileNotFoundError, ValueError, KeyError, OSError) as err:
        st.error(f"{_one_line(err)}")
    except Exception as err:  # keep the page and the app alive whatever happens
        LOG.exception("error in %s", what)
        st.error(f"Something went wrong in {what}: {type(err).__name__}: {_one_line(err)}")


def _one_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    if isinstance(err, KeyError):
        text = f"missing key {text}"
    return text.splitlines()[0]


# ---------------------------------------------------------------- data set


def _save_upload(name: str, data: bytes) -> Path:
    return save_upload(UPLOAD_DIR, name, data)  # prunes uploads older than a day or beyond 2 GB


def data_sidebar() -> None:
    """The data-set chooser and the device line, drawn in the sidebar of every page."""
    with st.sidebar:
        st.subheader("Data set")
        mode = st.radio("Jets from", DATA_MODES, key="data_mode", label_visibility="collapsed")
        upload = None
        path: str | None = os.environ.get("JETLAB_DATA") or None  # a host may set the default data set
        if mode == "File path":
            path = (
                st.text_input("Path to a CMS-layout .h5 or EnergyFlow .npz file", key="data_path_text").strip() or None
            )
            if path is None:
                path = os.environ.get("JETLAB_DATA") or None
                st.info("Type a path; the default data set is used meanwhile.")
        elif mode == "Upload":
            upload = st.file_uploader(
                "CMS-layout .h5 or EnergyFlow .npz", type=["h5", "hdf5", "npz"], key="data_upload"
            )
            if upload is not None:
                path = str(_save_upload(upload.name, upload.getvalue()))
            else:
                path = os.environ.get("JETLAB_DATA") or None
                st.info("Upload a file; the default data set is used meanwhile.")
        st.session_state["data_path"] = path
        st.session_state["data_name"] = (
            "embedded sample" if path is None else (upload.name if mode == "Upload" and upload is not None else path)
        )
        src, error = _try_open(path)
        if error:
            st.error(error)
        elif src is not None:
            st.caption(
                f"{st.session_state['data_name']}: {len(src):,} jets ({class_counts_text(src.y)}), "
                f"{src.image_size}×{src.image_size} px"
            )
        st.divider()
        st.markdown(f"**Device:** {device_label()}")
        busy = bool(job_manager().running(session_id()))
        st.fragment(_jobs_line, run_every=20.0 if busy else None)()


def rerun_when_my_job_ends() -> None:
    """While this visitor's job runs, check every 2 s and redraw the page when it has ended (Start comes back)."""
    table, owner = job_manager(), session_id()
    if not table.running(owner):
        return

    def check() -> None:
        if not table.running(owner):
            st.rerun()

    st.fragment(check, run_every=2.0)()


def _jobs_line() -> None:
    """The job count, and the visitor's sign of life: while they have a job it reruns every 20 s, so a job
    whose browser has closed is stopped after the table's grace time (JETLAB_ABANDON_SECONDS)."""
    table, owner = job_manager(), session_id()
    table.touch(owner)
    limits = table.limits
    steps = "no step limit" if limits.max_steps is None else f"≤ {limits.max_steps:,} steps"
    secs = "no time limit" if limits.max_seconds is None else f"≤ {limits.max_seconds:.0f} s"
    st.caption(f"Jobs: {table.running_count()} of {limits.max_concurrent} running; {steps}, {secs} each")


def file_stamp(path: str | None) -> float:
    p = EMBEDDED_SAMPLE if path is None else Path(path)
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(show_spinner="Opening the jet file…", max_entries=8)
def open_cached(path: str | None, stamp: float) -> JetSource:
    return open_jets(path)


def _try_open(path: str | None) -> tuple[JetSource | None, str | None]:
    try:
        return open_cached(path, file_stamp(path)), None
    except (JetInputError, FileNotFoundError, ValueError, OSError) as err:
        return None, _one_line(err)
    except Exception as err:  # a file that breaks a reader in an unforeseen way is still just bad input
        LOG.exception("cannot open %s", path)
        return None, f"{path}: cannot read this file ({type(err).__name__}: {_one_line(err)})"


def data_path() -> str | None:
    return st.session_state.get("data_path")


def data_source() -> JetSource | None:
    """The chosen jet file, opened once per process; None (with a message) if it cannot be read."""
    src, error = _try_open(data_path())
    if error:
        st.error(f"The data set cannot be used: {error}. Choose another one in the sidebar.")
        return None
    return src


CACHE_MB = int(os.environ.get("JETLAB_CACHE_MB", "1024") or 1024)


@st.cache_resource(show_spinner=False)
def byte_cache(name: str, budget_mb: int = CACHE_MB) -> ByteCache:
    """One cache per name for the whole server, bounded in bytes (JETLAB_CACHE_MB), not in entries."""
    return ByteCache(budget_mb * 2**20)


def _load_tensors(path: str | None, size: int, max_jets: int | None, seed: int):
    with st.spinner("Downsampling jets…"):
        return load_tensors(path, size=size, max_jets=max_jets, seed=seed)


def jet_tensors(size: int = 32, max_jets: int | None = 2000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, size, size) in GeV and labels of the chosen data set (cached; treat as read-only)."""
    path = data_path()
    key = (path, file_stamp(path), size, max_jets, seed)
    return byte_cache("tensors").get_or_make(key, lambda: _load_tensors(path, size, max_jets, seed))


# ---------------------------------------------------------------- figures and tables


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "figure"


def show_figure(fig: go.Figure, name: str, key: str | None = None, png: bool = True) -> None:
    """Draw a plotly figure with a 'PNG' download beside it (rendered by kaleido only when clicked)."""
    key = key or _slug(name)
    st.plotly_chart(
        fig, key=f"chart_{key}", config={"displaylogo": False, "toImageButtonOptions": {"filename": _slug(name)}}
    )
    if png:
        st.download_button(
            "Download PNG",
            data=_png_callable(fig),
            file_name=f"{_slug(name)}.png",
            mime="image/png",
            key=f"png_{key}",
            icon=":material/download:",
            on_click="ignore",
        )


def _png_callable(fig: go.Figure) -> Callable[[], bytes]:
    def render() -> bytes:
        return figure_png(fig)

    return render


def show_table(table: pd.DataFrame, name: str, key: str | None = None) -> None:
    """Draw a table with a 'CSV' download."""
    key = key or _slug(name)
    st.dataframe(table, hide_index=True, key=f"table_{key}")
    st.download_button(
        "Download CSV",
        data=table_csv(table),
        file_name=f"{_slug(name)}.csv",
        mime="text/csv",
        key=f"csv_{key}",
        icon=":material/download:",
        on_click="ignore",
    )


def checkpoint_dirs() -> dict[str, Path]:
    """Shipped checkpoints (a folder with config.json) by name; empty if none have landed."""
    if not CHECKPOINTS.is_dir():
        return {}
    return {p.name: p for p in sorted(CHECKPOINTS.iterdir()) if p.is_dir() and (p / "config.json").exists()}


def as_int_array(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)
