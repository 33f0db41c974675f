"""``benchmarks/bench_quantum.py --quick`` prints every table at a tiny size (slow: about two minutes)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_quantum", ROOT / "benchmarks" / "bench_quantum.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "checkpoints" / "quantum_hybrid" / "config.json").exists(), reason="no checkpoint")
def test_quick_benchmark_prints_every_table(capsys, tmp_path):
    pytest.importorskip("qiskit_ibm_runtime")
    bench = _bench()
    assert bench.main(["--quick", "--json", str(tmp_path / "q.json")]) == 0
    out = capsys.readouterr().out
    for header in (
        "# load average",
        "| simulator task | torch (ours) | qiskit-aer | aer / torch |",
        "| metric | floor | hybrid-6q | unet | unet-matched | classical | patch |",
        "| metric | hybrid-6q: seeds won | tied | lost (to) |",
        "| shape metric | hybrid-6q / unet |",
        "# nairobi: chain depth",
        "| device errors x 0.1 |",
        "| depolarising p = 0.01 per gate |",
        "# quality against shots per state",
        "| 65536 |",
        "| set | Tracks-ECAL | ECAL-HCAL | Tracks-HCAL |",
    ):
        assert header in out, header
    assert (tmp_path / "q.json").stat().st_size > 0


def test_the_unet_table_divides_shape_distances_and_checks_the_2x_goal():
    def row(mass, width, fpd):
        return {"metrics": {"W1 jet mass [GeV]": (mass, 0.5), "W1 jet width (girth)": (width, 1e-4), "FPD": (fpd, 0)}}

    q = {"results": {"hybrid-6q": [row(4.0, 3e-3, 9), row(6.0, 3e-3, 9)], "unet": [row(2.0, 1e-3, 1)] * 2}}
    table = _bench().against_unet(q)
    assert "| W1 jet mass [GeV] | 2.50x FAIL |" in table
    assert "| W1 jet width (girth) | 3.00x FAIL |" in table
    assert "FPD" not in table  # shape metrics only
    q["results"]["hybrid-6q"] = [row(3.0, 1e-3, 9)]
    assert "| W1 jet mass [GeV] | 1.50x pass |" in _bench().against_unet(q)
    assert _bench().against_unet({"results": {"hybrid-6q": [row(1, 1, 1)]}}) == ""  # no U-Net in the run


def test_seed_by_seed_counts_wins_ties_and_the_baseline_that_won():
    def run(seed, mass, auc, lit):
        metrics = {"W1 jet mass [GeV]": (mass, 0.5), "C2ST AUC": (auc, 0.5), "W1 lit": (lit, 0.1)}
        return {"seed": seed, "metrics": metrics}

    q = {
        "results": {
            "hybrid-6q-widths": [run(0, 1.0, 0.90, 0.2), run(1, 3.0, 0.40, 0.2)],
            "kolle": [run(0, 2.0, 0.99, 0.2), run(1, 2.5, 0.95, 0.2)],
            "patch": [run(0, 4.0, 0.97, 0.2), run(1, 5.0, 1.00, 0.2 * (1 + 1e-7))],  # float32 noise: a tie
            "unet": [run(0, 0.1, 0.6, 0.0), run(1, 0.1, 0.6, 0.0)],  # not a quantum baseline: never counted
        }
    }
    table = _bench().seed_by_seed(q)
    assert "| W1 jet mass [GeV] | 1 | 0 | 1 (kolle) |" in table
    assert "| C2ST AUC | 2 | 0 | 0 |" in table  # 0.40 is nearer 0.5 than 0.95: the AUC counts by |AUC - 0.5|
    assert "| W1 lit | 0 | 2 | 0 |" in table  # the same value: a tie, not a win
    assert "| all rows | 3 | 2 | 1 |" in table
    assert _bench().seed_by_seed({"results": {"unet": [run(0, 1, 1, 1)]}}) == ""


def test_merged_runs_from_older_jsons_show_a_dash_for_the_rows_they_lack():
    new = {"metrics": {"W1 jet mass [GeV]": (3.0, 0.5), "W1 jet mass [GeV], whole image": (6.0, 1.0)}}
    old = {"metrics": {"W1 jet mass [GeV]": (60.0, 0.7)}}
    info = {"params": 10, "angles": 49, "steps": 100}
    table = _bench().summarise({"results": {"hybrid": [{**new, **info}], "kolle": [{**old, **info}]}})
    assert "| W1 jet mass [GeV] | 0.6 | 3 | 60 |" in table  # the floor: the mean over every run that has the row
    assert "| W1 jet mass [GeV], whole image | 1 | 6 | - |" in table


def test_the_matched_unet_has_about_the_quantum_models_parameter_count():
    from core.diffusion.unet import config_with_parameters, count_parameters

    bench = _bench()
    target = bench.hybrid_size_target(8, "channels")  # angle network + circuit angles of the shipped architecture
    assert 5_000 < target < 20_000
    assert abs(count_parameters(config_with_parameters(target, 8)) - target) <= 0.2 * target


@pytest.mark.skipif(not (ROOT / "checkpoints" / "quantum_hybrid" / "config.json").exists(), reason="no checkpoint")
def test_rim_benchmark_reads_the_clean_jets_as_the_images_say(capsys):
    """``benchmarks/quantum_rim.py``: its clean-jet rim fractions, read back through the encoder, equal the
    8 x 8 images' own; it prints one line per forward step and per sampling step."""
    import torch

    from benchmarks.quantum_rim import HELDOUT, main
    from core.data.readers import load_tensors
    from core.data.transforms import downsample

    assert main([str(ROOT / "checkpoints" / "quantum_hybrid"), "--jets", "24", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    x = downsample(load_tensors(ROOT / HELDOUT, size=32, max_jets=24, seed=3)[0], 8).double()
    c = torch.arange(8) - 3.5
    rim = (c[:, None] ** 2 + c[None, :] ** 2).sqrt() >= 2.0
    expected = (x[..., rim].sum(-1) / x.sum((-1, -2))).mean(0)
    clean = [float(v) for v in next(s for s in lines if s.startswith("clean jets:")).split(":")[1].split("/")]
    assert clean == pytest.approx(expected.tolist(), abs=1e-4)
    assert sum(s.startswith("t = ") for s in lines) == 4 and sum(s.startswith("sampling chain") for s in lines) == 4


def test_part_three_real_jets_are_shuffled_so_the_floor_halves_hold_both_classes():
    """The held-out file stores quarks first; the shots table's floor compares its two halves, which must be two
    samples of the same quark-gluon mixture (unshuffled, the "floor" was quarks against gluons)."""
    from types import SimpleNamespace

    args = SimpleNamespace(checkpoint=None, heldout=str(ROOT / "assets" / "jets_heldout.h5"), real_jets=400)
    _, x, y = _bench()._shipped(args)
    assert len(x) == len(y) == 400
    half = len(y) // 2
    for part in (y[:half], y[half:]):
        assert 0.35 < part.float().mean().item() < 0.65
