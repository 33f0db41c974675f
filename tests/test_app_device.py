"""The Quantum lab's device section under AppTest: a run on a fake 7-qubit device, as a job in its own process
(slow: ~60 noisy chains)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
pytest.importorskip("qiskit_ibm_runtime")
from streamlit.testing.v1 import AppTest  # noqa: E402
from test_app_pages import _navigation_v2, _wait_for, runs_dir  # noqa: E402, F401 (autouse: st.navigation mode)

ROOT = Path(__file__).resolve().parents[1]
STATE = {"dev_n": 2, "dev_shots": 256, "dev_backend": "nairobi", "qlab_tab": "On a real device's noise"}


def _app(session: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    for key, value in {**STATE, "jetlab_session": session}.items():  # the page's tabs are computed when opened
        at.session_state[key] = value
    at.switch_page("pages/quantum_lab.py")
    return at.run()


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "checkpoints" / "quantum_hybrid" / "config.json").exists(), reason="no checkpoint")
def test_device_section_runs_the_shipped_model_on_a_fake_device_in_a_job(runs_dir):  # noqa: F811
    from core.jobs import read_status

    at = _app("tester")
    assert not at.exception
    assert not list(runs_dir.glob("device-*"))  # nothing runs before the button
    at.button(key="dev_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run_dir = runs_dir / at.query_params["device"]
    status = read_status(run_dir)
    assert status.kind == "device" and status.owner == "tester" and status.request["backend"] == "nairobi"
    assert json.loads((run_dir / "status.json").read_text())["pid"] != os.getpid()  # not the server's process
    at = _wait_for(at, lambda a: len(a.dataframe) > 0, timeout=600)
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[-1].value
    assert list(table["noise"])[:3] == ["device errors x 0", "device errors x 0.1", "device errors x 1"]
    assert {"mass", "width", "mean W1 / spread"} <= set(table.columns)
    assert any("nairobi" in e.label for e in at.expander)
    assert len(at.get("metric")) == 4
    progress = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert [e["done"] for e in progress if e["type"] == "progress"] == [1, 2, 3, 4, 5, 6]
    again = _app("visitor 2")  # the same request: the finished run's answer, no new job
    assert not again.exception and len(again.dataframe) > 0 and len(again.get("metric")) == 4
    assert [p.name for p in runs_dir.iterdir()] == [run_dir.name]


@pytest.mark.skipif(not (ROOT / "checkpoints" / "quantum_hybrid" / "config.json").exists(), reason="no checkpoint")
def test_a_refused_device_run_is_one_error_and_prepares_nothing(runs_dir, monkeypatch):  # noqa: F811
    from core.jobs import JobLimitError
    from core.jobs.runner import JobTable

    def busy(self, owner):
        raise JobLimitError("server busy: 2 of 2 jobs are running; try again soon")

    monkeypatch.setattr(JobTable, "_check_locked", busy)
    at = _app("refused")
    assert not at.exception and not at.error
    assert not at.dataframe and not at.get("metric")  # nothing measured before the button
    at.button(key="dev_run").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["server busy: 2 of 2 jobs are running; try again soon"]
    assert not runs_dir.exists() and "device" not in at.query_params
