"""The Quantum lab's device section under AppTest: a run on a fake 7-qubit device (slow: ~60 noisy chains)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
pytest.importorskip("qiskit_ibm_runtime")
from streamlit.runtime.pages_manager import PagesManager  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _navigation_v2(monkeypatch):
    """As in test_app_pages: pin the st.navigation behaviour the app uses."""
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "checkpoints" / "quantum_hybrid" / "config.json").exists(), reason="no checkpoint")
def test_device_section_runs_the_shipped_model_on_a_fake_device():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    for key, value in {"jetlab_session": "tester", "dev_n": 2, "dev_shots": 256, "dev_backend": "nairobi"}.items():
        at.session_state[key] = value
    at.switch_page("pages/quantum_lab.py")
    at.run()
    assert not at.exception
    at.button(key="dev_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[-1].value
    assert list(table["noise"])[:3] == ["device errors x 0", "device errors x 0.1", "device errors x 1"]
    assert {"mass", "width", "mean W1 / spread"} <= set(table.columns)
    assert any("nairobi" in e.label for e in at.expander)
    assert len(at.get("metric")) == 4
