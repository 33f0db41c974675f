"""The quantum model as a Reconstructor: known answers (identity circuit, t = 0), energy conservation, live metrics."""

from __future__ import annotations

import torch

from core.metrics.compare import model_reconstruction
from core.metrics.live import make_metrics_fn
from core.metrics.reconstruct import reconstruct, reconstruction_metrics
from core.quantum.reconstructor import QuantumReconstructor
from core.quantum.task import build_task, channel_energies, default_config
from core.training.checkpoint import Checkpoint


def _jets(n=6, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g) ** 4 * 40, torch.tensor([0, 1] * (n // 2))


def _task(x, y, zero_angles=False):
    torch.manual_seed(0)
    task = build_task(default_config(size=8, layout="joint", layers=2, diffusion_steps=3, latent=2, hidden=8), x, y)
    if zero_angles:  # RY(0) everywhere: the circuit is CZs only, which leave Born probabilities unchanged
        with torch.no_grad():
            task.model.net[-1].weight.zero_()
            task.model.net[-1].bias.zero_()
    return task


def test_step_zero_is_the_clean_jet_and_energies_are_conserved():
    x, y = _jets()
    task = _task(x, y)
    task.zero_below = None  # the exact readout (no zero suppression), so the round trip is exact
    model = QuantumReconstructor(task, task.model, y)
    assert model.timesteps == 4
    small = torch.nn.functional.avg_pool2d(x, 2) * 4
    g = torch.Generator().manual_seed(0)
    clean = model.noise(x, torch.zeros(6, dtype=torch.long), g)
    assert torch.allclose(model.noisy_gev(clean), small, rtol=1e-4, atol=1e-4)
    for t in (1, 3):
        xt = model.noise(x, torch.full((6,), t), g)
        energies = channel_energies(small)
        for img in (model.predict_x0(xt, torch.full((6,), t)), model.reverse_from(xt, t, g)):
            assert torch.allclose(img.double().sum((-1, -2)), energies, rtol=1e-4)
        # A damping jump can empty a channel of the noisy state: each channel has its energy or none.
        sums = model.noisy_gev(xt).double().sum((-1, -2))
        assert (torch.isclose(sums, energies, rtol=1e-4) | (sums == 0)).all()


def test_identity_circuit_reconstructs_the_noisy_input():
    x, y = _jets()
    task = _task(x, y, zero_angles=True)
    model = QuantumReconstructor(task, task.model, y)
    xt = model.noise(x, torch.full((6,), 2), torch.Generator().manual_seed(1))
    noisy = model.noisy_gev(xt)
    assert torch.allclose(model.predict_x0(xt, torch.full((6,), 2)), noisy, atol=1e-4)
    out = model.reverse_states(xt, 1, torch.Generator().manual_seed(2))
    assert torch.allclose(model.state_fidelity(out, xt), (xt.clean.conj() * xt.states).sum(-1).abs() ** 2, atol=1e-5)


def test_reconstruct_and_compare_are_reproducible():
    x, y = _jets()
    task = _task(x, y)
    model = QuantumReconstructor(task, task.model, y)
    small = torch.nn.functional.avg_pool2d(x, 2) * 4
    a = reconstruct(model, small, 2, mode="reverse", seed=3)
    b = reconstruct(model, small, 2, mode="reverse", seed=3)
    assert torch.equal(a.x0_hat, b.x0_hat) and a.x0_hat.shape == (6, 3, 8, 8)
    m = reconstruction_metrics(reconstruct(model, small, 1, mode="one_step", seed=0))
    assert set(m["model"]) >= {"ssim", "psnr"}
    ckpt = Checkpoint(path=None, task=task, ema=task.model, config={}, state={}, card={})
    rec = model_reconstruction("quantum", ckpt, x, y, fraction=0.5, seed=0)
    assert rec.t == 2 and rec.x0_hat.shape == (6, 3, 8, 8)
    fid = rec.extra["state_fidelity"]
    assert fid.shape == (6,) and ((fid >= 0) & (fid <= 1 + 1e-5)).all()


def test_live_metrics_report_ssim_and_psnr_for_the_quantum_model():
    x, y = _jets(8)
    task = _task(x, y)
    fn = make_metrics_fn(x, y, n_recon=4, n_generate=8)
    out = fn(task, task.model, 0)
    assert {"ssim", "psnr", "recon_t", "ssim_empty"} <= set(out)
    assert out["recon_t"] == 1 and -1 <= out["ssim"] <= 1
