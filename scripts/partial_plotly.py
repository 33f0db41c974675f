"""Serve Streamlit's plotly chunk with the dashboard's own partial plotly.js build instead of the full one.

Streamlit inlines the whole of plotly.js (4.7 MB: maps, 3-D, WebGL, finance, ...) in its ``PlotlyChart`` chunk,
and a new browser tab runs all of it before it draws a figure: about 1 s of the tab's main thread on the pages
with figures (``benchmarks/bench_figure_cost.py``). The dashboard draws scatter, bar, histogram, heatmap and (on
request) one 3-D Bloch sphere, so ``assets/plotly/plotly-jetlab.min.js`` registers only those
(``scripts/build_plotly_bundle.sh`` re-creates it from npm's ``plotly.js`` sources; its ``entry.js`` registers the
two 3-D traces only when a figure first needs them, and skips the draw Streamlit makes of each figure hidden before
it knows the column's width, which is redrawn at once at that width). Here the chunk's plotly
module is swapped for that build in a copy of Streamlit's static folder, and ``scripts/serve.py`` points
Streamlit at the copy. Anything unexpected (another Streamlit build, a missing bundle, a folder that cannot be
written) leaves Streamlit's own files in place with one line saying why: the dashboard then works as before,
only slower to start a figure page. ``JETLAB_PLOTLY=full`` keeps Streamlit's full plotly.js on purpose (a page
of your own that draws maps or other traces the partial build lacks).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "assets" / "plotly" / "plotly-jetlab.min.js"
# The plotly module in the chunk: a CommonJS wrapper around plotly.js's UMD header, ending where plotly.js
# hands back its global. Group 1: the wrapper's head up to its body; group 2: the name of its `module`.
_MODULE_HEAD = re.compile(
    r"(var \w+=\w+\(\(\(\w+,(\w+),\w+\)=>\{)\(function\(\w+,\w+\)\{typeof \2==`object`&&\2\.exports\?"
    r"\2\.exports=\w+\(\):\w+\.moduleName=\w+\(\)\}\)"
)
_MODULE_TAIL = "return window.Plotly=e,e})}))"


class ChunkLayoutError(ValueError):
    """The chunk does not hold plotly where this Streamlit build keeps it."""


def patched_chunk(chunk: str, bundle: str) -> str:
    """``chunk`` with its plotly module's body replaced by ``bundle`` (an iife that defines ``var Plotly``)."""
    heads = list(_MODULE_HEAD.finditer(chunk))
    if len(heads) != 1:
        raise ChunkLayoutError(f"expected one plotly module header in the chunk, found {len(heads)}")
    head = heads[0]
    tail = chunk.find(_MODULE_TAIL, head.end())
    if tail < 0 or chunk.count(_MODULE_TAIL) != 1:
        raise ChunkLayoutError("the plotly module's end (window.Plotly) is not where expected")
    if not re.search(r"\bvar Plotly=", bundle[:200]):
        raise ChunkLayoutError("the bundle does not start by defining `var Plotly` (an esbuild iife)")
    module = head.group(2)
    body = f"{bundle};{module}.exports=Plotly,window.Plotly=Plotly}}))"
    return chunk[: head.end(1)] + body + chunk[tail + len(_MODULE_TAIL) :]


def plotly_chunk(static_dir: Path) -> Path:
    """The one ``PlotlyChart.*.js`` chunk of a Streamlit static folder."""
    found = sorted((static_dir / "static" / "js").glob("PlotlyChart.*.js"))
    if len(found) != 1:
        raise ChunkLayoutError(f"expected one PlotlyChart chunk in {static_dir}, found {len(found)}")
    return found[0]


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "jetlab" / "streamlit-static"


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # the same bytes, no space: Streamlit's files are only read
    except OSError:
        shutil.copy2(src, dst)


def static_dir_with_bundle(static_dir: Path, bundle: Path = BUNDLE, cache_root: Path | None = None) -> Path:
    """A copy of Streamlit's static folder whose plotly chunk runs ``bundle``; made once per (Streamlit build,
    bundle) under the user's cache, written under a temporary name and renamed, and reused after."""
    chunk_path = plotly_chunk(static_dir)
    chunk, code = chunk_path.read_text(encoding="utf-8"), bundle.read_text(encoding="utf-8")
    key = hashlib.sha256(chunk.encode() + b"\0" + code.encode()).hexdigest()[:16]
    root = cache_root if cache_root is not None else _cache_root()
    target = root / key
    relative = chunk_path.relative_to(static_dir)
    if (target / relative).is_file():
        return target
    patched = patched_chunk(chunk, code)  # before anything is written: a layout error leaves no folder behind
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
    try:
        shutil.copytree(static_dir, tmp / "static", copy_function=_link_or_copy)
        (tmp / "static" / relative).unlink()  # a hard link: never write through it into Streamlit's own file
        (tmp / "static" / relative).write_text(patched, encoding="utf-8")
        try:
            os.rename(tmp / "static", target)
        except OSError:  # another server made it first
            if not (target / relative).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def revalidate_plotly_chunk() -> bool:
    """Have Streamlit serve its plotly chunk with ``Cache-Control: no-cache`` (the browser revalidates it by its
    ETag: a 304 while it is unchanged) instead of a year of ``immutable``. The chunk keeps Streamlit's file name
    whichever plotly.js it holds (this build, a rebuilt one, Streamlit's own with ``JETLAB_PLOTLY=full``), so a
    browser would otherwise keep the first one it saw. False when this Streamlit has no such rule to extend."""
    try:
        from streamlit.web.server.starlette import starlette_static_routes as routes
    except ImportError:
        return False
    pattern = getattr(routes, "_NO_CACHE_PATTERN", None)
    if not isinstance(pattern, re.Pattern):
        return False
    if not pattern.search(_CHUNK_EXAMPLE):
        routes._NO_CACHE_PATTERN = re.compile(rf"(?:{pattern.pattern})|(?:^|/)PlotlyChart\.[^/]+\.js$")
    return True


_CHUNK_EXAMPLE = "static/js/PlotlyChart.example.js"


def use_partial_plotly() -> str:
    """Point Streamlit's static file server at the patched copy; returns one line saying what was done."""
    from streamlit import file_util

    revalidate_plotly_chunk()
    if os.environ.get("JETLAB_PLOTLY", "").strip().lower() == "full":
        return "jetlab: Streamlit's full plotly.js kept (JETLAB_PLOTLY=full)"
    original = Path(file_util.get_static_dir())
    try:
        if not BUNDLE.is_file():
            shown = BUNDLE.relative_to(ROOT) if BUNDLE.is_relative_to(ROOT) else BUNDLE
            raise ChunkLayoutError(f"{shown} is missing")
        try:
            folder = static_dir_with_bundle(original)
        except PermissionError:  # no writable cache: a private folder of this server's, removed when it stops
            private = Path(tempfile.mkdtemp(prefix="jetlab-static-"))
            atexit.register(shutil.rmtree, private, ignore_errors=True)
            folder = static_dir_with_bundle(original, cache_root=private)
    except (ChunkLayoutError, OSError, UnicodeDecodeError) as err:
        return f"jetlab: Streamlit's full plotly.js kept ({err})"
    file_util.get_static_dir = lambda: str(folder)
    return f"jetlab: plotly charts run the dashboard's partial plotly.js ({BUNDLE.stat().st_size / 1e6:.1f} MB)"
