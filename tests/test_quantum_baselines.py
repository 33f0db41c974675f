"""The re-implemented baselines: sizes from their papers, sampling paths that agree, shapes that are distributions."""

from __future__ import annotations

import pytest
import torch

from core.quantum import baselines as B


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_parameter_counts_match_the_papers():
    assert B.count_parameters(B.KolleDense()) == 984  # ~990 in Kolle et al.
    assert B.count_parameters(B.PatchCircuit()) == 48  # the ML4SCI patch circuit
    assert (
        B.quantum_angle_count(B.PerStepQuDDPM(layers=2, diffusion_steps=3))
        == 3 * B.PerStepQuDDPM(layers=2, diffusion_steps=3).circuit.num_params
    )


def test_kolle_unitary_sampling_path_equals_the_circuit():
    torch.manual_seed(0)
    m = B.KolleDense(layers=2, diffusion_steps=2)
    ut = torch.randn(3, B.DIM)
    direct = m.denoise(ut)
    unitary = m.circuit.run_sv(torch.eye(B.DIM, dtype=torch.complex64), m.theta.detach()).T
    amp = (ut / ut.norm(dim=-1, keepdim=True)).to(torch.complex64)
    via = (amp @ unitary.T).abs() ** 2 * B.DIM
    torch.testing.assert_close(direct.detach(), via, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "make",
    [
        lambda: B.KolleDense(layers=2, diffusion_steps=2),
        lambda: B.PatchCircuit(layers=1, diffusion_steps=2),
        lambda: B.PerStepQuDDPM(layers=1, diffusion_steps=2),
        lambda: B.ClassicalMLP(diffusion_steps=3),
    ],
)
def test_loss_is_finite_and_samples_are_shapes(make):
    torch.manual_seed(0)
    m = make()
    g = torch.Generator().manual_seed(0)
    shapes = torch.rand(8, B.PIXELS)
    shapes = shapes / shapes.sum(-1, keepdim=True)
    y = torch.arange(8) % 2
    loss = m.loss(shapes, y, g)
    loss.backward()
    assert torch.isfinite(loss)
    out = m.sample_shapes(4, y[:4], g)
    assert out.shape == (4, B.PIXELS) and (out >= 0).all()
    torch.testing.assert_close(out.sum(-1), torch.ones(4), atol=1e-5, rtol=0)
