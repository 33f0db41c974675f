"""The spectrum calibration (``core.data.spectrum``): lit-pixel energies mapped by quantile from a generator's own
spectrum onto the training jets', per class, channel and region."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from core.data.energies import cone_mask, region_energies
from core.data.hcal_towers import to_tower_space
from core.data.readers import load_tensors
from core.data.spectrum import fit_spectrum_map, has_spectrum_map, interp, lit_log_quantiles, map_spectrum
from core.diffusion.task import build_task, default_config, fit_multiplicity
from core.errors import JetInputError

ROOT = Path(__file__).resolve().parents[1]


def _jets(n: int, size: int, seed: int, power: float = 1.0) -> torch.Tensor:
    """(n, 3, size, size) GeV: about one pixel in five lit, values log-uniform over three decades, raised to
    ``power`` (a known monotone distortion of the spectrum)."""
    g = torch.Generator().manual_seed(seed)
    values = 10 ** (3 * torch.rand(n, 3, size, size, generator=g, dtype=torch.float64) - 1)
    return (values**power) * (torch.rand(n, 3, size, size, generator=g) < 0.2)


def test_interp_is_numpys_and_takes_the_middle_of_an_atom():
    g = torch.Generator().manual_seed(0)
    xp = torch.sort(torch.rand(40, generator=g, dtype=torch.float64)).values
    fp = torch.cumsum(torch.rand(40, generator=g, dtype=torch.float64), 0)
    x = torch.rand(500, generator=g, dtype=torch.float64) * 1.4 - 0.2  # beyond both ends too
    assert np.allclose(interp(x, xp, fp).numpy(), np.interp(x.numpy(), xp.numpy(), fp.numpy()), atol=1e-12)
    xp = torch.tensor([0.0, 1.0, 2.0, 2.0, 2.0, 5.0], dtype=torch.float64)
    fp = torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], dtype=torch.float64)
    out = interp(torch.tensor([2.0, 0.5, 3.5], dtype=torch.float64), xp, fp)
    assert out.tolist() == pytest.approx([0.6, 0.1, 0.9])  # on the run of 2s: the middle of 0.4 ... 0.8


def test_the_map_undoes_a_known_distortion_per_class():
    # Class 0 generated with every value squared, class 1 with its square root: F_train^-1(F_gen(v)) is then
    # the inverse distortion, sqrt(v) and v^2, up to the quantile table's resolution.
    training = _jets(400, 16, seed=1)
    y = (torch.arange(400) % 2).long()
    generated = torch.where((y == 0).view(-1, 1, 1, 1), _jets(400, 16, seed=2) ** 2, _jets(400, 16, seed=2) ** 0.5)
    table = fit_spectrum_map(generated, y, training, y, 0.4)
    assert has_spectrum_map(table) and set(table["generated"]) == {"0", "1"}
    fresh = _jets(50, 16, seed=3)
    labels = (torch.arange(50) % 2).long()
    distorted = torch.where((labels == 0).view(-1, 1, 1, 1), fresh**2, fresh**0.5)
    out = map_spectrum(distorted, labels, table)
    lit = fresh > 0
    assert torch.equal(out > 0, lit)  # the same pixels lit, none invented
    ratio = (out[lit] / fresh[lit]).log().abs()
    assert float(ratio.median()) < 0.05 and float(ratio.quantile(0.95)) < 0.15  # within a few percent
    # Monotone: within a channel and region of one jet, the brighter of two pixels stays the brighter.
    inside = cone_mask(16, 0.4)
    a, b = distorted[0, 1][inside], out[0, 1][inside]
    order = torch.argsort(a[a > 0])
    assert (b[a > 0][order].diff() >= 0).all()


def test_the_map_gives_the_training_spectrum_and_leaves_thin_regions_alone():
    training, generated = _jets(300, 16, seed=4), _jets(300, 16, seed=5, power=1.7)
    table = fit_spectrum_map(generated, None, training, None, 0.4)
    assert set(table["generated"]) == {"all"}
    out = map_spectrum(_jets(300, 16, seed=6, power=1.7), None, table)
    got = lit_log_quantiles(out, None, 0.4)["all"]
    for c in range(3):
        for region in range(2):
            want = np.array(table["training"]["all"][c][region])
            assert np.abs(np.array(got[c][region])[5:-5] - want[5:-5]).max() < 0.25  # log GeV, other jets
    # A channel's region with too few lit pixels to fit has no quantiles, and keeps its values.
    sparse = generated.clone()
    sparse[:, 2] = 0
    sparse[0, 2, 0, 0] = 3.0
    thin = fit_spectrum_map(sparse, None, training, None, 0.4)
    assert thin["generated"]["all"][2][1] is None
    assert map_spectrum(sparse, None, thin)[0, 2, 0, 0] == 3.0
    with pytest.raises(JetInputError, match="generated groups"):
        fit_spectrum_map(generated, None, training, (torch.arange(300) % 2).long(), 0.4)
    with pytest.raises(JetInputError, match="finite values"):
        lit_log_quantiles(torch.full((2, 3, 8, 8), float("nan")), None, 0.4)


def _task_with_map(size: int = 16):
    x = _jets(200, size, seed=7) * torch.linspace(1, 10, 200, dtype=torch.float64).view(-1, 1, 1, 1)
    x = x.float()
    y = (torch.arange(200) % 2).long()
    config = {**default_config("ddpm", size), "multiplicity": True, "multiplicity_table": fit_multiplicity(x, y)}
    task = build_task({**config, "hard_threshold": [True, False, False]}, x, y)
    return task, x, y


def test_sampled_jets_are_calibrated_keep_their_energies_lit_pixels_and_tracker_cut():
    task, x, y = _task_with_map()
    labels = y[:16]
    gen = torch.Generator().manual_seed(8)
    energies, picks = task.draw_numbers(16, labels, gen)
    z = torch.rand(16, 3, 16, 16, generator=gen) * 1.6 - 1.0  # graded values standing in for a network's
    lit = (picks, torch.rand(z.shape, generator=gen), labels)
    plain = task._to_jets(z, energies, lit)
    table = fit_spectrum_map(plain, labels, x, y, 0.4)  # its own jets against the training jets
    calibrated = build_task({**task.config(), "spectrum_map": table})
    assert calibrated.card()["spectrum_calibration"] and "spectrum_calibration" not in task.card()
    out = calibrated._to_jets(z, energies, lit)
    assert torch.equal(out > 0, plain > 0)
    assert np.allclose(region_energies(out), energies.numpy(), rtol=1e-4)  # each region keeps its drawn energy
    tracks = out[:, 0][out[:, 0] > 0]
    assert float(tracks.min()) >= task.zero_below[0] * (1 - 1e-5)  # no track under the cut
    # The faint end moves to the training jets' (ECAL: the plain jets' faintest decile sits far below it).
    real = x[:, 1][x[:, 1] > 0].double()
    before, after = plain[:, 1][plain[:, 1] > 0].double(), out[:, 1][out[:, 1] > 0].double()
    q = torch.tensor([0.1, 0.5], dtype=torch.float64)
    assert (after.quantile(q).log() - real.quantile(q).log()).abs().max() < (
        before.quantile(q).log() - real.quantile(q).log()
    ).abs().max()


def _script():
    spec = importlib.util.spec_from_file_location("refit_energy_table", ROOT / "scripts" / "refit_energy_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_refit_script_fits_the_calibration_and_a_later_refit_drops_it(tmp_path):
    refit = _script()
    ckpt = tmp_path / "unet_32"
    shutil.copytree(ROOT / "checkpoints" / "unet_32", ckpt)
    weights = (ckpt / "ema.safetensors").read_bytes()
    refit.calibrate_spectrum(ckpt, n=16)
    task = json.loads((ckpt / "config.json").read_text())["task"]
    assert has_spectrum_map(task["spectrum_map"]) and set(task["spectrum_map"]["generated"]) == {"0", "1"}
    assert (ckpt / "ema.safetensors").read_bytes() == weights
    card = json.loads((ckpt / "model_card.json").read_text())
    assert card["spectrum_calibration"].endswith("--spectrum")
    refit.refit(ckpt)  # the same jets, the same draws: kept
    assert "spectrum_map" in json.loads((ckpt / "config.json").read_text())["task"]
    assert "dropped" in refit.refit(ckpt, guidance=1.0)  # other draws: dropped, and said
    assert "spectrum_map" not in json.loads((ckpt / "config.json").read_text())["task"]
    # A U-Net drawing HCAL as towers is calibrated in its own layout: the training jets' HCAL read as towers.
    towers = json.loads((ckpt / "config.json").read_text())
    towers["task"]["hcal_towers"] = True
    (ckpt / "config.json").write_text(json.dumps(towers))
    refit.calibrate_spectrum(ckpt, n=16)
    table = json.loads((ckpt / "config.json").read_text())["task"]["spectrum_map"]
    x, y = load_tensors(ROOT / "assets" / "jets_sample.h5", size=32)
    assert table["training"] == lit_log_quantiles(to_tower_space(x.float()), y.numpy(), 0.4)
    assert table["training"] != lit_log_quantiles(x, y.numpy(), 0.4)
    towers["task"].pop("multiplicity_table")
    (ckpt / "config.json").write_text(json.dumps(towers))
    with pytest.raises(SystemExit, match="--spectrum needs a U-Net or quantum model with the multiplicity readout"):
        refit.calibrate_spectrum(ckpt, n=16)


def test_the_quantum_readout_takes_the_same_calibration():
    from core.training.checkpoint import load_checkpoint

    ckpt = load_checkpoint(ROOT / "checkpoints" / "quantum_hybrid", device="cpu")
    labels = (torch.arange(24) % 2).long()
    plain = ckpt.task.sample(ckpt.ema, 24, labels=labels, generator=torch.Generator().manual_seed(3))
    x, y = load_tensors(ROOT / "assets" / "jets_sample.h5", size=8, max_jets=2000)
    own = ckpt.task.sample(ckpt.ema, 200, labels=(torch.arange(200) % 2).long(), generator=torch.Generator())
    ckpt.task._config["spectrum_map"] = fit_spectrum_map(own, torch.arange(200) % 2, x, y, 0.4)
    assert ckpt.task.card()["spectrum_calibration"]
    out = ckpt.task.sample(ckpt.ema, 24, labels=labels, generator=torch.Generator().manual_seed(3))
    assert torch.equal(out > 0, plain > 0) and not torch.allclose(out, plain)  # same pixels, other values
    assert np.allclose(region_energies(out), region_energies(plain), rtol=1e-4)  # the same drawn energies
