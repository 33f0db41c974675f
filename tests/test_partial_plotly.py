"""The partial plotly.js build swapped into Streamlit's plotly chunk (scripts/partial_plotly.py)."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("jetlab_partial_plotly", ROOT / "scripts" / "partial_plotly.py")
pp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pp)

# The layout of the plotly module in Streamlit's chunk, in miniature: a CommonJS wrapper around plotly.js's UMD
# header whose factory ends by handing back window.Plotly; the React component after it reads the module.
HEAD = "import{x}from'./r.js';var W=n(((e,t,n)=>{"
UMD = "(function(e,n){typeof t==`object`&&t.exports?t.exports=n():e.moduleName=n()})"
FULL = "(self,()=>{var e={full:!0};return window.Plotly=e,e})}))"
REST = ",G=t({default:()=>K}),K=U(e(W(),1).default);export{K as default};"
BUNDLE = "var Plotly=(()=>{return{partial:!0}})();\n/*! licences */\n"


def test_patched_chunk_swaps_only_the_plotly_module():
    out = pp.patched_chunk(HEAD + UMD + FULL + REST, BUNDLE)
    assert out == HEAD + BUNDLE + ";t.exports=Plotly,window.Plotly=Plotly}))" + REST


def test_patched_chunk_names_the_wrappers_module_parameter():
    chunk = (
        (HEAD + UMD + FULL + REST)
        .replace("(e,t,n)=>", "(a,m,r)=>")
        .replace("t==", "m==")
        .replace("t.exports", "m.exports")
    )
    assert ";m.exports=Plotly,window.Plotly=Plotly}))" in pp.patched_chunk(chunk, BUNDLE)


@pytest.mark.parametrize(
    ("chunk", "bundle", "message"),
    [
        (HEAD + FULL + REST, BUNDLE, "found 0"),
        (HEAD + UMD + FULL + HEAD + UMD + REST, BUNDLE, "found 2"),
        (HEAD + UMD + "(self,()=>{return e})}))" + REST, BUNDLE, "end"),
        (HEAD + UMD + FULL + REST, "window.Plotly={}", "var Plotly"),
    ],
)
def test_patched_chunk_refuses_another_layout(chunk, bundle, message):
    with pytest.raises(pp.ChunkLayoutError, match=message):
        pp.patched_chunk(chunk, bundle)


def _fake_static(root: Path, chunk: str) -> Path:
    static = root / "streamlit_static"
    (static / "static" / "js").mkdir(parents=True)
    (static / "index.html").write_text("<html>index</html>")
    (static / "static" / "js" / "index.abc.js").write_text("main()")
    (static / "static" / "js" / "PlotlyChart.D9Z0.js").write_text(chunk)
    return static


def test_static_copy_patches_the_chunk_and_leaves_streamlits_files_alone(tmp_path):
    chunk = HEAD + UMD + FULL + REST
    static = _fake_static(tmp_path, chunk)
    bundle = tmp_path / "bundle.js"
    bundle.write_text(BUNDLE)
    cache = tmp_path / "cache"
    folder = pp.static_dir_with_bundle(static, bundle, cache)
    assert folder.parent == cache
    assert (folder / "static" / "js" / "PlotlyChart.D9Z0.js").read_text() == pp.patched_chunk(chunk, BUNDLE)
    assert (static / "static" / "js" / "PlotlyChart.D9Z0.js").read_text() == chunk  # not written through a link
    assert (folder / "index.html").read_text() == "<html>index</html>"
    assert (folder / "static" / "js" / "index.abc.js").read_text() == "main()"
    assert pp.static_dir_with_bundle(static, bundle, cache) == folder  # made once, then reused
    assert sorted(p.name for p in cache.iterdir()) == [folder.name]  # no temporary folder left


def test_static_copy_is_keyed_by_the_bundle(tmp_path):
    static = _fake_static(tmp_path, HEAD + UMD + FULL + REST)
    first, second = tmp_path / "a.js", tmp_path / "b.js"
    first.write_text(BUNDLE)
    second.write_text(BUNDLE.replace("partial", "other"))
    cache = tmp_path / "cache"
    assert pp.static_dir_with_bundle(static, first, cache) != pp.static_dir_with_bundle(static, second, cache)


def test_static_copy_of_an_unknown_layout_writes_nothing(tmp_path):
    static = _fake_static(tmp_path, "export default 1;")
    bundle = tmp_path / "bundle.js"
    bundle.write_text(BUNDLE)
    with pytest.raises(pp.ChunkLayoutError):
        pp.static_dir_with_bundle(static, bundle, tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_installed_streamlit_chunk_takes_the_shipped_bundle():
    """The Streamlit in requirements.txt keeps plotly where the swap looks for it: a Streamlit upgrade that
    moves it fails here, not silently in a visitor's slower page."""
    from streamlit import file_util

    chunk_path = pp.plotly_chunk(Path(file_util.get_static_dir()))
    chunk, bundle = chunk_path.read_text(encoding="utf-8"), pp.BUNDLE.read_text(encoding="utf-8")
    out = pp.patched_chunk(chunk, bundle)
    assert out.count(bundle) == 1 and "moduleName" not in out
    assert out.startswith(chunk[:1000]) and out.endswith(chunk[-3000:])  # Streamlit's own code around it kept
    assert len(out) < len(chunk) / 2


def test_use_partial_plotly_points_streamlit_at_the_copy(monkeypatch, tmp_path):
    from streamlit import file_util

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(file_util, "get_static_dir", file_util.get_static_dir)  # restored after the test
    original = file_util.get_static_dir()
    line = pp.use_partial_plotly()
    assert line.startswith("jetlab: plotly charts run the dashboard's partial plotly.js")
    folder = Path(file_util.get_static_dir())
    assert folder != Path(original) and folder.is_relative_to(tmp_path / "jetlab" / "streamlit-static")
    assert (folder / "index.html").read_bytes() == (Path(original) / "index.html").read_bytes()


@pytest.mark.parametrize("case", ["asked", "no bundle"])
def test_use_partial_plotly_keeps_streamlits_own_with_one_line(monkeypatch, tmp_path, case):
    from streamlit import file_util

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(file_util, "get_static_dir", file_util.get_static_dir)
    original = file_util.get_static_dir()
    if case == "asked":
        monkeypatch.setenv("JETLAB_PLOTLY", "full")
    else:
        monkeypatch.setattr(pp, "BUNDLE", tmp_path / "missing.js")
    line = pp.use_partial_plotly()
    assert line.startswith("jetlab: Streamlit's full plotly.js kept (") and "\n" not in line
    assert ("JETLAB_PLOTLY=full" if case == "asked" else "missing.js is missing") in line
    assert file_util.get_static_dir() == original
    assert not (tmp_path / "jetlab").exists()


# plotly.graph_objects constructors -> plotly.js trace types
_TRACE_TYPES = {"Scatter": "scatter", "Bar": "bar", "Histogram": "histogram", "Heatmap": "heatmap"}
_TRACE_TYPES |= {"Scatter3d": "scatter3d", "Surface": "surface"}


def _traces_drawn_by_the_dashboard() -> set[str]:
    """Every ``go.<Trace>(...)`` in core/viz and pages (a new one needs a row above and the bundle rebuilt)."""
    names: set[str] = set()
    for path in [*(ROOT / "core" / "viz").glob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "go":
                if node.attr[0].isupper() and node.attr not in {"Figure", "Frame", "Layout"}:
                    names.add(node.attr)
    assert not names - set(_TRACE_TYPES), (
        f"traces missing from the partial plotly.js build: {names - set(_TRACE_TYPES)}"
    )
    return {_TRACE_TYPES[n] for n in names}


def test_the_bundle_registers_every_trace_the_dashboard_draws():
    entry = (ROOT / "assets" / "plotly" / "entry.js").read_text()
    registered = {"scatter"} | set(re.findall(r"require\('plotly\.js/lib/(\w+)'\)", entry)) - {"core"}
    assert _traces_drawn_by_the_dashboard() <= registered
    bundle = pp.BUNDLE.read_text(encoding="utf-8")
    built = set(re.findall(r'moduleType:"trace",name:"(\w+)"', bundle))
    assert built == registered, "assets/plotly/plotly-jetlab.min.js is not built from entry.js"


def test_no_px_express_figures_outside_the_build():
    """plotly.express may create any trace type; the dashboard builds its figures with graph_objects only."""
    for path in [*(ROOT / "core" / "viz").glob("*.py"), *(ROOT / "pages").glob("*.py")]:
        assert "plotly.express" not in path.read_text(), path


def test_cache_root_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert pp._cache_root() == tmp_path / "jetlab" / "streamlit-static"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert pp._cache_root() == Path(os.path.expanduser("~")) / ".cache" / "jetlab" / "streamlit-static"


def test_an_unwritable_cache_falls_back_to_a_private_folder(monkeypatch, tmp_path):
    from streamlit import file_util

    real = pp.static_dir_with_bundle

    def no_cache(static_dir, bundle=pp.BUNDLE, cache_root=None):
        if cache_root is None:  # the user's cache: not writable here
            raise PermissionError(13, "Permission denied", str(tmp_path / "cache"))
        return real(static_dir, bundle, cache_root)

    monkeypatch.setattr(pp, "static_dir_with_bundle", no_cache)
    monkeypatch.setattr(file_util, "get_static_dir", file_util.get_static_dir)
    monkeypatch.setattr(pp.tempfile, "tempdir", str(tmp_path))
    line = pp.use_partial_plotly()
    assert line.startswith("jetlab: plotly charts run the dashboard's partial plotly.js")
    folder = Path(file_util.get_static_dir())
    assert folder.is_relative_to(tmp_path) and folder.parent.name.startswith("jetlab-static-")


def test_the_plotly_chunk_is_revalidated_while_other_hashed_files_stay_immutable(monkeypatch):
    """Its name is Streamlit's whichever plotly.js it holds: a browser must ask again (a 304 while unchanged)."""
    from streamlit.web.server.starlette import starlette_static_routes as routes

    monkeypatch.setattr(routes, "_NO_CACHE_PATTERN", routes._NO_CACHE_PATTERN)  # restored after the test
    assert pp.revalidate_plotly_chunk() and pp.revalidate_plotly_chunk()  # twice: extended once
    pattern = routes._NO_CACHE_PATTERN
    assert pattern.pattern.count("PlotlyChart") == 1
    for no_cache in ("static/js/PlotlyChart.D9Z0_fxz.js", "index.html", "manifest.json"):
        assert pattern.search(no_cache), no_cache
    for cached in ("static/js/index.DormvYxC.js", "static/js/PlotlyChart.D9Z0_fxz.js.map", "static/media/a.woff2"):
        assert not pattern.search(cached), cached
