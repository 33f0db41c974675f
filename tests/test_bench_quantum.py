"""``benchmarks/bench_quantum.py --quick`` prints every table at a tiny size (slow: about two minutes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "checkpoints" / "quantum_hybrid" / "config.json").exists(), reason="no checkpoint")
def test_quick_benchmark_prints_every_table(capsys, tmp_path):
    pytest.importorskip("qiskit_ibm_runtime")
    spec = importlib.util.spec_from_file_location("bench_quantum", ROOT / "benchmarks" / "bench_quantum.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick", "--json", str(tmp_path / "q.json")]) == 0
    out = capsys.readouterr().out
    for header in (
        "# load average",
        "| simulator task | torch (ours) | qiskit-aer | aer / torch |",
        "| metric | floor | hybrid-6q | classical |",
        "# nairobi: chain depth",
        "| device errors x 0.1 |",
        "| depolarising p = 0.01 per gate |",
        "# quality against shots per state",
        "| 65536 |",
        "| set | Tracks-ECAL | ECAL-HCAL | Tracks-HCAL |",
    ):
        assert header in out, header
    assert (tmp_path / "q.json").stat().st_size > 0
