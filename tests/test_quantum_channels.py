"""Noise channels against qiskit_aer.noise / qiskit.quantum_info, closed forms against step-by-step application."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.quantum_info import DensityMatrix, Kraus, SuperOp, random_density_matrix

from core.errors import JetInputError
from core.quantum import sim
from core.quantum.channels import CHANNEL_NAMES, ChannelSchedule, fixed_point, make_channel

LOCAL = [c for c in CHANNEL_NAMES if c != "global_depolarizing"]


def _rho(n: int, seed: int) -> torch.Tensor:
    return torch.as_tensor(random_density_matrix(2**n, seed=seed).data)[None]


@pytest.mark.parametrize("name", LOCAL)
def test_local_channel_matches_qiskit_aer_on_each_qubit(name):
    ch = make_channel(name, 0.37 if "flip" not in name else 0.21)
    err = ch.to_qiskit()
    np.testing.assert_allclose(SuperOp(Kraus(ch.kraus())).data, SuperOp(err).data, atol=1e-12)
    rho = _rho(3, seed=11)
    ref = DensityMatrix(rho[0].numpy())
    for q in range(3):
        ref = ref.evolve(Kraus(err), qargs=[q])
    np.testing.assert_allclose(ch.apply(rho)[0].numpy(), ref.data, atol=1e-10)


def test_global_depolarizing_matches_qiskit():
    ch = make_channel("global_depolarizing", 0.4)
    rho = _rho(2, seed=3)
    ref = DensityMatrix(rho[0].numpy()).evolve(Kraus(ch.to_qiskit(2)))
    np.testing.assert_allclose(ch.apply(rho)[0].numpy(), ref.data, atol=1e-10)
    np.testing.assert_allclose(SuperOp(Kraus(ch.kraus(2))).data, SuperOp(ch.to_qiskit(2)).data, atol=1e-12)


@pytest.mark.parametrize("name", CHANNEL_NAMES)
@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_closed_form_equals_step_by_step(name, kind):
    sched = ChannelSchedule(name, diffusion_steps=6, kind=kind)
    rho0 = _rho(2, seed=5)
    rho = rho0
    for t in range(1, 7):
        rho = sched.step(t).apply(rho)
        np.testing.assert_allclose(sched.cumulative(t).apply(rho0).numpy(), rho.numpy(), atol=1e-10)
    assert sched.cumulative(0).p == pytest.approx(0.0)


def test_fixed_points():
    rho0 = _rho(2, seed=9)
    for name in ("depolarizing", "global_depolarizing", "amplitude_damping"):
        end = ChannelSchedule(name, diffusion_steps=5).cumulative(5).apply(rho0)
        np.testing.assert_allclose(end.numpy(), fixed_point(name, 2).numpy(), atol=1e-10)
    # dephasing keeps the computational-basis probabilities: it is invisible to a Z-basis readout
    end = ChannelSchedule("phase_damping", diffusion_steps=5).cumulative(5).apply(rho0)
    np.testing.assert_allclose(sim.probabilities(end).numpy(), sim.probabilities(rho0).numpy(), atol=1e-12)
    np.testing.assert_allclose(end[0].numpy(), np.diag(np.diag(rho0[0].numpy())), atol=1e-12)


@pytest.mark.parametrize("name", CHANNEL_NAMES)
def test_trajectories_average_to_the_channel(name):
    ch = make_channel(name, 0.3)
    psi = torch.as_tensor(np.random.default_rng(0).normal(size=(1, 8)) + 0j)
    psi = psi / psi.norm()
    g = torch.Generator().manual_seed(0)
    samples = ch.sample_sv(psi.expand(20000, -1).clone(), generator=g)
    mean = sim.to_density(samples).mean(0)
    np.testing.assert_allclose(mean.numpy(), ch.apply(sim.to_density(psi))[0].numpy(), atol=0.02)


def test_bad_channel_input():
    with pytest.raises(JetInputError, match="unknown"):
        make_channel("scrambling", 0.1)
    with pytest.raises(JetInputError, match="outside"):
        make_channel("bit_flip", 0.7)
    with pytest.raises(JetInputError, match="outside"):
        ChannelSchedule("depolarizing", diffusion_steps=3).cumulative(4)
