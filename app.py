"""Jet Diffusion Lab: the Streamlit entry point (``streamlit run app.py``).

Navigation over ``pages/`` and the shared sidebar (data set, device). Every page is a thin reader over
``core``; the first page (Jets) opens on the embedded sample within seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pages._common import data_sidebar, freeze_after_first_run, mark_entry  # noqa: E402

# The favicon is a local file: a ":material/…:" favicon is fetched from fonts.gstatic.com by the browser.
st.set_page_config(page_title="Jet Diffusion Lab", page_icon=str(ROOT / "assets" / "favicon.png"), layout="wide")

PAGES = [
    st.Page("pages/jets.py", title="Jets", icon=":material/grid_on:", default=True),
    st.Page("pages/noising.py", title="Forward noising", icon=":material/blur_on:"),
    st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("pages/generate.py", title="Generate", icon=":material/auto_awesome:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/quantum_lab.py", title="Quantum lab", icon=":material/memory:"),
    st.Page("pages/runs.py", title="Runs", icon=":material/stacked_line_chart:"),
]

mark_entry()
data_sidebar()
page = st.navigation(PAGES)
page.run()
freeze_after_first_run(page.url_path)  # keeps the garbage collector's full passes short (see pages/_common.py)
