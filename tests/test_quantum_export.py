"""The exported reverse circuit on AerSimulator (with the channel's noise model) against the torch simulator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.quantum.export import noisy_step_circuit, reverse_circuit, run_probabilities, torch_step_probabilities
from core.quantum.hybrid import HybridConfig, HybridModel


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return HybridModel(
        HybridConfig(
            data_qubits=4, ancillas=1, layers=2, diffusion_steps=3, channel="amplitude_damping", latent=4, hidden=16
        )
    )


@pytest.mark.parametrize("channel", ["amplitude_damping", "depolarizing", "phase_damping", "bit_flip"])
def test_noisy_step_on_aer_matches_torch(channel):
    torch.manual_seed(1)
    m = HybridModel(
        HybridConfig(data_qubits=3, ancillas=1, layers=2, diffusion_steps=3, channel=channel, latent=4, hidden=16)
    )
    state = torch.rand(8, dtype=torch.float64)
    state = state / state.norm()
    for t in (1, 3):
        qc, noise = noisy_step_circuit(m, state, t, label=1, seed=2)
        aer = run_probabilities(qc, noise, qubits=[0, 1, 2])
        ours = torch_step_probabilities(m, state, t, label=1, seed=2)
        np.testing.assert_allclose(ours, aer, atol=1e-6)


def test_reverse_circuit_draws_and_exports_qasm3(model):
    from qiskit import qasm3

    qc = reverse_circuit(model, t=2, label=0, seed=3)
    assert qc.num_qubits == 5 and qc.num_parameters == 0
    text = qasm3.dumps(qc)
    assert "OPENQASM 3" in text and "ry(" in text
    assert "q_0" in str(qc.draw(output="text")) or "q" in str(qc.draw(output="text"))


def test_shots_converge_to_exact(model):
    state = torch.ones(16, dtype=torch.float64) / 4
    qc, noise = noisy_step_circuit(model, state, 2, label=1)
    exact = run_probabilities(qc, noise, qubits=[0, 1, 2, 3])
    shots = run_probabilities(qc, noise, qubits=[0, 1, 2, 3], shots=20000, seed=1)
    assert np.abs(exact - shots).max() < 0.02
