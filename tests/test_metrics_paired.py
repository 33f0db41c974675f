"""SSIM / PSNR on known answers, and reconstructions against their trivial floors."""

from __future__ import annotations

import math

import pytest
import torch
from metrics_synth import blur, synthetic_jets

from core.diffusion.schedules import make_schedule
from core.errors import JetInputError
from core.metrics.paired import paired_metrics
from core.metrics.reconstruct import GaussianReconstructor, reconstruct, reconstruction_metrics


def test_identical_jets_give_ssim_one_and_infinite_psnr():
    x = synthetic_jets(8)
    m = paired_metrics(x, x.clone())
    assert all(v == pytest.approx(1.0, abs=1e-6) for v in m["ssim"].values())
    assert all(math.isinf(v) for v in m["psnr"].values())
    assert set(m["data_range_gev"]) == {"Tracks", "ECAL", "HCAL"}


def test_psnr_matches_closed_form_for_a_constant_offset():
    x = synthetic_jets(4)
    m = paired_metrics(x, x + 0.5, data_range=[10.0, 20.0, 40.0])
    for name, r in zip(("Tracks", "ECAL", "HCAL"), (10.0, 20.0, 40.0), strict=True):
        assert m["psnr"][name] == pytest.approx(10 * math.log10(r**2 / 0.25), rel=1e-6)
    assert m["data_range_gev"] == {"Tracks": 10.0, "ECAL": 20.0, "HCAL": 40.0}


def test_more_blur_scores_lower():
    x = synthetic_jets(8)
    light, heavy = paired_metrics(x, blur(x, 1)), paired_metrics(x, blur(x, 3))
    for q in ("ssim", "psnr"):
        assert 1.0 > light["ssim"]["mean"] > heavy["ssim"]["mean"]
        assert light[q]["mean"] > heavy[q]["mean"]


def test_default_data_range_is_the_real_peak():
    x = synthetic_jets(4)
    m = paired_metrics(x, torch.zeros_like(x))
    assert m["data_range_gev"]["ECAL"] == pytest.approx(float(x[:, 1].max()))


@pytest.mark.parametrize(
    ("a", "b", "data_range", "match"),
    [
        (torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 16, 16), None, "does not match"),
        (torch.zeros(2, 3, 8, 8), torch.zeros(3, 3, 8, 8), None, "does not match"),
        (torch.zeros(3, 8, 8), torch.zeros(3, 8, 8), None, r"expected images \(N, C, H, W\)"),
        (torch.zeros(2, 3, 8, 8), torch.full((2, 3, 8, 8), float("nan")), None, "NaN"),
        (torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8), [1.0, 2.0], "data_range"),
        (torch.zeros(2, 3, 8, 8), torch.zeros(2, 3, 8, 8), -1.0, "data_range"),
    ],
)
def test_bad_pairs_raise_clear_errors(a, b, data_range, match):
    with pytest.raises(JetInputError, match=match):
        paired_metrics(a, b, data_range)


def _oracle(x0: torch.Tensor, steps: int = 50) -> GaussianReconstructor:
    """A 'network' that knows the clean jets: x0_hat = x0 exactly."""
    return GaussianReconstructor(make_schedule("linear", steps), lambda xt, t: x0)


def test_oracle_reconstruction_is_perfect_and_beats_the_trivial_ones():
    x0 = synthetic_jets(6)
    for mode in ("one_step", "reverse"):
        m = reconstruction_metrics(reconstruct(_oracle(x0), x0, 30, mode, seed=1))
        assert m["model"]["ssim"]["mean"] == pytest.approx(1.0, abs=1e-4)
        assert m["model"]["ssim"]["mean"] > m["noisy_xt"]["ssim"]["mean"]
        assert m["model"]["psnr"]["mean"] > m["empty"]["psnr"]["mean"]
        assert m["t"] == 30 and m["mode"] == mode


def test_noisy_floor_drops_with_t_and_is_seeded():
    x0 = synthetic_jets(6)
    rec = _oracle(x0)
    early = reconstruction_metrics(reconstruct(rec, x0, 2, seed=0))["noisy_xt"]["psnr"]["mean"]
    late = reconstruction_metrics(reconstruct(rec, x0, 45, seed=0))["noisy_xt"]["psnr"]["mean"]
    assert early > late
    a, b = reconstruct(rec, x0, 10, seed=3), reconstruct(rec, x0, 10, seed=3)
    assert torch.equal(a.xt_gev, b.xt_gev)


def test_empty_image_floor_is_deceptively_high_ssim_for_sparse_jets():
    x0 = synthetic_jets(6, size=32, hits=10)
    m = reconstruction_metrics(reconstruct(_oracle(x0), x0, 10))
    assert m["empty"]["ssim"]["mean"] > 0.5  # why the floor has to be shown


def test_bad_reconstruction_requests():
    x0 = synthetic_jets(2)
    with pytest.raises(JetInputError, match="mode"):
        reconstruct(_oracle(x0), x0, 5, mode="two_step")
    with pytest.raises(JetInputError, match="step t"):
        reconstruct(_oracle(x0), x0, 50)
