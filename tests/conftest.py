"""Shared fixtures: small seeded jet files made by the real simulator, once per test session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("OMP_NUM_THREADS", "2")


@pytest.fixture(scope="session")
def small_sim(tmp_path_factory) -> Path:
    """20 Pythia jets (10 quark, 10 gluon) in the CMS layout, seed 5."""
    from core.cli import main

    out = tmp_path_factory.mktemp("sim") / "jets20.h5"
    assert main(["simulate", "--jets", "20", "--out", str(out), "--seed", "5"]) == 0
    return out


@pytest.fixture(scope="session")
def embedded():
    """The embedded sample (10,000 jets), opened once."""
    from core.data.readers import open_jets

    src = open_jets()
    yield src
    src.close()


@pytest.fixture(scope="session")
def embedded_32():
    """The embedded sample sum-pooled to 32 x 32, with labels."""
    from core.data.readers import load_tensors

    return load_tensors(None, size=32)
