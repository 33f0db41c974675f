"""Start the dashboard with its heavy imports done before the server answers: ``python scripts/serve.py [options]``.

``streamlit run`` imports nothing of the app until the first visitor's session runs app.py, so that visitor
waits for torch, qiskit, pandas, plotly and the core modules to import (most of the 5-10 s the first Jets
page took). Here they are imported (every model family, scipy.stats and the fake IBM devices included: the
Quantum lab's first visitor waited seconds for those), the embedded sample opened and plotly's figure machinery
exercised first, and the Jets page's observable table read and checked; Streamlit's plotly chunk is pointed at the
dashboard's partial plotly.js build (``scripts/partial_plotly.py``); then the same ``streamlit run app.py``
starts in this process (its options and .streamlit/config.toml apply unchanged), and /_stcore/health answers
only once all of that is done.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def warm_up() -> float:
    """Import what every page needs and build one small figure of each kind; returns the seconds it took."""
    t0 = time.perf_counter()
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import numpy as np

    import pages._common  # noqa: F401  torch, pandas, plotly, h5py, core.*; starts the qiskit keeper thread
    from core.data.readers import open_jets
    from core.viz.images import channel_images, class_average_images, observable_histograms
    from core.viz.noising import Curve, process_animation
    from core.viz.stats import default_overview_index, quick_overview
    from pages._common import file_stamp

    path = os.environ.get("JETLAB_DATA") or None  # the data set the sidebar opens with
    try:
        src = open_jets(path)
        src.images([0])
        quick_overview(src, path, file_stamp(path), np.asarray(default_overview_index(src)))  # checks the table
    except Exception as err:  # a bad data set is the page's to report, in one line; the server still starts
        print(f"jetlab: warm-up skipped the data set ({type(err).__name__}: {err})", flush=True)
    _import_families()
    img = np.ones((3, 8, 8), dtype=np.float32)
    channel_images(img, log=True).to_json()
    class_average_images({"quark": img}).to_json()
    observable_histograms({"pt": np.arange(4.0)}, np.array([0, 1, 0, 1])).to_json()
    process_animation(img[None], ["x0"], [0], [Curve("c", np.arange(2), np.ones(2))], ["A", "B", "C"]).to_json()
    return time.perf_counter() - t0


def _import_families() -> None:
    """Import every model family (the quantum one pulls in qiskit and scipy.stats) and the fake IBM devices
    (qiskit_ibm_runtime): seconds of imports the Quantum lab's first visitor would otherwise wait for."""
    from core.quantum.devices import DEVICES, get_backend
    from core.training.registry import TASK_BUILDERS, family_module

    for family in TASK_BUILDERS:
        try:
            family_module(family)
        except Exception as err:  # a broken plug-in family is the Train page's to report
            print(f"jetlab: warm-up skipped family {family} ({type(err).__name__}: {err})", flush=True)
    get_backend(next(iter(DEVICES)))


def main() -> None:
    seconds = warm_up()
    print(f"jetlab: imports and caches warmed in {seconds:.1f} s; starting streamlit", flush=True)
    from partial_plotly import use_partial_plotly  # scripts/ is on sys.path: this file's own folder
    from streamlit.web.cli import main as streamlit_main

    print(use_partial_plotly(), flush=True)

    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), *sys.argv[1:]]
    streamlit_main()


if __name__ == "__main__":
    main()
