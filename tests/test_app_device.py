"""The Quantum lab's device section under AppTest: a run on a fake 7-qubit device (slow: ~60 noisy chains)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
pytest.importorskip("qiskit_ibm_runtime")
from streamlit.testing.v1 import AppTest  # noqa: E402
from test_app_pages import _navigation_v2  # noqa: E402, F401 (autouse: the app's st.navigation mode)

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "checkpoints" / "quantum_hybrid" / "config.json").exists(), reason="no checkpoint")
def test_device_section_runs_the_shipped_model_on_a_fake_device():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    state = {"jetlab_session": "tester", "dev_n": 2, "dev_shots": 256, "dev_backend": "nairobi"}
    state["qlab_tab"] = "On a real device's noise"  # the page's tabs are computed only when opened
    for key, value in state.items():
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
