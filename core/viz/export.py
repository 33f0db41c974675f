"""Downloads: figures as PNG (plotly + kaleido, offline through a local Chromium), tables as CSV, samples as HDF5.

Kaleido drives a headless Chromium; starting it costs seconds, so one browser is kept for the process
and calls are serialised with a lock. Nothing is fetched from the network.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import torch

from core.data.layout import UNLABELLED, UNLABELLED_MEANING
from core.data.writers import write_cms

_LOCK = threading.Lock()
_SERVER_STARTED = False
CHROME_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chrome() -> str | None:
    """Path of a local Chromium/Chrome for kaleido (BROWSER_PATH wins), or None."""
    explicit = os.environ.get("BROWSER_PATH")
    if explicit and os.path.exists(explicit):
        return explicit
    for name in CHROME_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _ensure_server() -> None:
    global _SERVER_STARTED
    if _SERVER_STARTED:
        return
    chrome = find_chrome()
    if chrome is None:
        raise RuntimeError("PNG export needs a local Chromium (apt-get install chromium); none was found")
    os.environ.setdefault("BROWSER_PATH", chrome)
    import kaleido

    start = getattr(kaleido, "start_sync_server", None)  # kaleido >= 1.0; older ones start a browser per call
    if start is not None:
        start(silence_warnings=True)
    _SERVER_STARTED = True


def figure_png(fig: go.Figure, width: int | None = None, height: int | None = None, scale: float = 2.0) -> bytes:
    """Render a plotly figure to PNG bytes (an animation renders its first frame)."""
    import warnings

    with _LOCK:
        _ensure_server()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fig.to_image(
                format="png",
                width=width or fig.layout.width or 1100,
                height=height or fig.layout.height or 500,
                scale=scale,
            )


def table_csv(table: pd.DataFrame | Mapping[str, Sequence] | Sequence[Mapping]) -> bytes:
    """A table (DataFrame, dict of columns or list of rows) as UTF-8 CSV bytes."""
    frame = table if isinstance(table, pd.DataFrame) else pd.DataFrame(table)
    return frame.to_csv(index=False).encode("utf-8")


def samples_h5(
    x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray | None, attrs: Mapping[str, object] | None = None
) -> bytes:
    """Generated jets (N, 3, H, W) in GeV written in the CMS layout (X_jets channels last), as file bytes.

    Unconditional samples (``y`` None) get y = -1 (``UNLABELLED``), the attribute ``label = "none"`` and a
    ``y_meaning``, as ``python -m core sample`` writes them, so every reader takes both files back.
    """
    arr = x.detach().cpu().float().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float32)
    attrs = dict(attrs or {})
    if y is None:
        labels = np.full(arr.shape[0], UNLABELLED)
        attrs.setdefault("label", "none")
        attrs["y_meaning"] = UNLABELLED_MEANING
    else:
        labels = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
        attrs.setdefault("y_meaning", "requested label (1 = quark, 0 = gluon)")
    if arr.ndim != 4 or arr.shape[1] != 3:
        raise ValueError(f"samples must be (N, 3, H, W), got shape {arr.shape}")
    with tempfile.TemporaryDirectory(prefix="jetlab-h5-") as tmp:
        path = os.path.join(tmp, "samples.h5")
        write_cms(path, np.transpose(arr, (0, 2, 3, 1)), labels, attrs=attrs)
        with open(path, "rb") as f:
            return io.BytesIO(f.read()).getvalue()
