"""The energy-following diagnostic (benchmarks/unet_energy_following.py) on a tiny energy-conditioned U-Net."""

from __future__ import annotations

import pytest

from benchmarks.unet_energy_following import main as diagnose
from core.cli import main


@pytest.mark.parametrize("layout", [[], ["--energy-shares"]], ids=["gev", "shares"])
def test_it_reads_the_network_s_own_energies_and_the_loss_with_shuffled_ones(tmp_path, capsys, layout):
    out = tmp_path / "unet"
    common = ["--size", "16", "--max-jets", "64", "--batch", "8", "--threads", "1", "--checkpoint-every", "0"]
    assert main(["train", "--model", "ddpm", "--steps", "2", "--out", str(out), *common, *layout]) == 0
    capsys.readouterr()
    assert diagnose([str(out), "--jets", "24"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("ECAL") == 2 and "loss, energies shuffled within the class" in printed
    assert len([line for line in printed.splitlines() if line.endswith("%")]) == 6  # one per noise level


def test_it_refuses_a_model_without_an_energy_condition(tmp_path, capsys):
    out = tmp_path / "plain"
    common = ["--size", "16", "--max-jets", "32", "--batch", "8", "--threads", "1", "--checkpoint-every", "0"]
    assert main(["train", "--model", "seed-baseline", "--steps", "2", "--out", str(out), *common]) == 0
    with pytest.raises(SystemExit, match="not an energy-conditioned U-Net"):
        diagnose([str(out)])
