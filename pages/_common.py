"""What every page shares: the data set chosen in the sidebar, cached data, the job manager, downloads and
the guard that turns bad input into one clear message. UI glue only; the work is in ``core``.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from core.cache import ByteCache, figure_nbytes
from core.data.layout import class_counts_text
from core.data.readers import EMBEDDED_SAMPLE, JetSource, load_tensors, open_jets
from core.data.uploads import prune_visitors, save_visitor_upload
from core.errors import JetInputError
from core.hosting import UploadCaps, hosted, public_text
from core.jobs import JobLimits, JobTable
from core.quantum.qiskit_thread import ensure_qiskit_thread
from core.viz.export import figure_png, table_csv

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "checkpoints"
UPLOAD_DIR = Path(tempfile.gettempdir()) / "jetlab-uploads"
DATA_MODES = ("Embedded sample", "File path", "Upload")
HOSTED_DATA_MODES = ("Embedded sample", "Upload")  # JETLAB_HOSTED=1: no server paths
LOG = logging.getLogger("jetlab.app")

# Script runs end their threads; qiskit must first be imported on one that lives (see core.quantum.qiskit_thread).
ensure_qiskit_thread()


def _freeze_imports() -> None:
    """Keep the garbage collector off the imported libraries: once torch, pandas, plotly and core are in, a
    full collection walks ~300,000 objects (about 0.2 s on this machine) and page reruns trigger such
    collections while a job trains beside the server. ``gc.freeze`` moves what exists now (modules, classes,
    constants: nothing of a session) to a generation that is never scanned. Runs once per process, when this
    module is first imported."""
    gc.collect()
    gc.freeze()


_freeze_imports()
_FROZEN_AFTER: set[str] = set()


def freeze_after_first_run(page: str) -> None:
    """After a page's first run in this process, freeze again what it imported and built once (qiskit's
    transpiler, plotly's templates, cached figures...). Once per page, so at most a few sessions' objects
    are ever frozen; later runs leave the collector alone."""
    if page in _FROZEN_AFTER:
        return
    _FROZEN_AFTER.add(page)
    _freeze_imports()


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
    """One job table for the whole server, so the limits cover every visitor and every kind of job; it counts
    the jobs a previous server left running in the runs folder (a restart does not lift the limits)."""
    from core.jobs.training import runs_dir

    return JobTable(JobLimits.from_env(on_gpu=device() == "cuda"), runs_dir=runs_dir())


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
    """The first line of an error; hosted, with server paths replaced by the visitor's names for them."""
    text = str(err).strip() or type(err).__name__
    if isinstance(err, KeyError):
        text = f"missing key {text}"
    text = text.splitlines()[0]
    return public_message(text)


def public_message(text: str) -> str:
    """Text safe to show this visitor: unchanged locally; hosted, no server path (see core.hosting.public_text)."""
    if not hosted():
        return text
    names = dict(st.session_state.get("data_names", {}))
    names[str(UPLOAD_DIR)] = "uploads"
    return public_text(text, names)


# ---------------------------------------------------------------- data set


def _folder_name(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()[:32]


def _visitor_id() -> str:
    """This browser session's upload folder name: a hash of Streamlit's session id (ours outside a server)."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        if ctx is not None and ctx.session_id:
            return _folder_name(ctx.session_id)
    except ImportError:  # pragma: no cover - every supported Streamlit has it
        pass
    return _folder_name(session_id())


def _live_sessions() -> set[str] | None:
    """Ids of the sessions the server still holds (None when unknown: then uploads go by idle time only)."""
    try:
        from streamlit.runtime import Runtime

        if not Runtime.exists():
            return None
        return {_folder_name(i.session.id) for i in Runtime.instance()._session_mgr.list_active_sessions()}
    except Exception:  # noqa: BLE001 - a Streamlit internal; idle pruning still bounds the folder
        return None


_last_prune = [0.0]


def _prune_visitors(caps: UploadCaps) -> None:
    """At most once a minute: remove the uploads of sessions that ended or idled out."""
    if time.time() - _last_prune[0] < 60:
        return
    _last_prune[0] = time.time()
    try:
        prune_visitors(UPLOAD_DIR, caps.idle_seconds, _live_sessions())
    except OSError:
        LOG.exception("pruning uploads")


def _use_upload(name: str, data: bytes) -> tuple[str | None, str, str | None]:
    """Save an upload in this visitor's own folder: (server path, the visitor's name for it, error or None)."""
    shown = Path(name).name[:120] or "upload"
    caps = UploadCaps.from_env()
    _prune_visitors(caps)
    try:
        return str(save_visitor_upload(UPLOAD_DIR, _visitor_id(), name, data, caps)), shown, None
    except (JetInputError, OSError) as err:
        LOG.warning("upload %s refused: %s", shown, err)
        return None, shown, _one_line(err)


def _default_data() -> tuple[str | None, str | None]:
    """The host's default data set (``JETLAB_DATA``), named without its path when hosted."""
    path = os.environ.get("JETLAB_DATA") or None
    return path, ("the default data set" if path and hosted() else path)


def data_sidebar() -> None:
    """The data-set chooser and the device line, drawn in the sidebar of every page.

    Hosted (``JETLAB_HOSTED=1``): no server paths, only the embedded sample (or the host's default) and uploads.
    """
    modes = HOSTED_DATA_MODES if hosted() else DATA_MODES
    if st.session_state.get("data_mode") not in modes:
        st.session_state["data_mode"] = modes[0]  # e.g. "File path" forced into a hosted session
    with st.sidebar:
        st.subheader("Data set")
        mode = st.radio("Jets from", modes, key="data_mode", label_visibility="collapsed")
        path, name = _default_data()
        upload_error = None
        if mode == "File path":
            typed = st.text_input("Path to a CMS-layout .h5 or EnergyFlow .npz file", key="data_path_text").strip()
            if typed:
                path, name = typed, typed
            else:
                st.info("Type a path; the default data set is used meanwhile.")
        elif mode == "Upload":
            upload = st.file_uploader(
                "CMS-layout .h5 or EnergyFlow .npz", type=["h5", "hdf5", "npz"], key="data_upload"
            )
            if upload is not None:
                saved, shown, upload_error = _use_upload(upload.name, upload.getvalue())
                if saved is not None:
                    path, name = saved, shown
            else:
                st.info("Upload a file; the default data set is used meanwhile.")
        st.session_state["data_path"] = path
        st.session_state["data_name"] = name or "embedded sample"
        st.session_state["data_names"] = {path: name} if path and name else {}
        src, error = _try_open(path)
        if upload_error:
            st.error(upload_error)
        elif error:
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


def run_in_url(param: str, kind: str, what: str | None = None) -> Path | None:
    """The run named by ``?<param>=<run id>`` in the URL, if it is a run of the runs folder of this kind (and
    ``request["what"]``); its job, if running, is adopted by this visitor (a reload is a new session)."""
    from core.jobs import read_status
    from core.jobs.training import runs_dir

    run_id = st.query_params.get(param, "")
    path = runs_dir() / run_id
    if not run_id or "/" in run_id or run_id.startswith(".") or not (path / "request.json").exists():
        return None
    status = read_status(path)
    if status.kind != kind or (what is not None and status.request.get("what") != what):
        return None
    job_manager().adopt(run_id, session_id())
    return path


def job_progress(run_dir: Path, key: str, what: str) -> None:
    """A job's phase and progress bar with Stop while it runs (call in a fragment that reruns every second);
    when it has ended, the page is drawn again once, and a run that did not finish says why."""
    from core.jobs import FAILED, FINISHED, read_status
    from core.jobs.rundir import ENDED, read_events

    table, owner = job_manager(), session_id()
    table.touch(owner)
    status, events = read_status(run_dir), read_events(run_dir)
    flag = f"{key}_was_running"
    if status.state in ENDED:
        if st.session_state.pop(flag, False):
            st.rerun()
        if status.state == FAILED:
            st.error(public_message(f"{what} failed: {status.error or status.message}"))
        elif status.state != FINISHED:
            st.warning(f"{what}: {status.message or status.state}.")
        return
    st.session_state[flag] = True
    done = [e for e in events if e.get("type") == "progress"]
    last = done[-1] if done else {"done": 0, "total": max(1, status.total)}
    elapsed = time.time() - events[0]["t"] if events else 0.0
    c1, c2 = st.columns([4, 1])
    text = f"{status.phase or 'starting'} · {last['done']} of {last['total']} · {elapsed:.0f} s"
    c1.progress(min(1.0, last["done"] / max(1, last["total"])), text=text)
    if c2.button("Stop", key=f"{key}_stop", icon=":material/stop:"):
        table.stop(status.run_id, run_dir)


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
def open_cached(path: str | None, stamp: float, name: str | None = None) -> JetSource:
    return open_jets(path, name)


def data_name() -> str | None:
    """What messages call the chosen data set: the visitor's upload name, the typed path, or None (embedded)."""
    return st.session_state.get("data_names", {}).get(data_path())


def _try_open(path: str | None) -> tuple[JetSource | None, str | None]:
    name = st.session_state.get("data_names", {}).get(path)
    try:
        return open_cached(path, file_stamp(path), name), None
    except (JetInputError, FileNotFoundError, ValueError, OSError) as err:
        return None, _one_line(err)
    except Exception as err:  # a file that breaks a reader in an unforeseen way is still just bad input
        LOG.exception("cannot open %s", path)
        return None, _one_line(RuntimeError(f"{name or path}: cannot read this file ({type(err).__name__}: {err})"))


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


FIGURE_CACHE_MB = int(os.environ.get("JETLAB_FIGURE_CACHE_MB", "64") or 64)


@st.cache_resource(show_spinner=False)
def _figure_cache() -> ByteCache:
    return ByteCache(FIGURE_CACHE_MB * 2**20, size=figure_nbytes)


def cached_figure(key: tuple, build: Callable[[], go.Figure]) -> go.Figure:
    """The figure ``build()`` makes, built once per ``key`` for the whole server: a page opened again, by any
    visitor, skips plotly's figure construction (0.2-0.5 s of server CPU on the figure pages). ``key`` must name
    everything the figure shows (the data file's stamp included); the figure is shared: never change it."""
    return _figure_cache().get_or_make(key, build)


def _load_tensors(path: str | None, size: int, max_jets: int | None, seed: int, name: str | None):
    with st.spinner("Downsampling jets…"):
        return load_tensors(path, size=size, max_jets=max_jets, seed=seed, name=name)


def jet_tensors(size: int = 32, max_jets: int | None = 2000, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 3, size, size) in GeV and labels of the chosen data set (cached; treat as read-only)."""
    path = data_path()
    key, name = (path, file_stamp(path), size, max_jets, seed), data_name()
    return byte_cache("tensors").get_or_make(key, lambda: _load_tensors(path, size, max_jets, seed, name))


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


def model_checkpoints() -> dict[str, str]:
    """Generative checkpoints by label: the shipped ones (not the jet classifier), then those trained here."""
    from core.jobs.training import session_runs

    out = {f"shipped: {k}": str(v) for k, v in checkpoint_dirs().items() if k != "jet_classifier"}
    out.update({f"trained here: {p.name}": str(p) for p in session_runs(session_id())})
    return out
