"""The plain functions the dashboard calls: known answers for encoding, noise curves, Bloch vectors, the shipped model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import JetInputError
from core.quantum import api


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _jet(size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(3, size, size, generator=g)
    x[x < 0.9] = 0
    return x * 10


def test_encode_jet_round_trips_and_gives_a_circuit():
    x = _jet()
    out = api.encode_jet(x, "amplitude")
    small = api.prepare_images(x[None], 8)[0]
    np.testing.assert_allclose(out.decoded.numpy(), small.numpy(), rtol=1e-4, atol=1e-4)
    assert out.probabilities.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert out.circuit.num_qubits == out.num_qubits == 8
    frqi = api.encode_jet(x, "frqi", size=4)
    assert frqi.num_qubits == 7


def test_noise_jet_curves():
    x = _jet()
    out = api.noise_jet(x, "amplitude_damping", steps=5)
    assert out.fidelity[0] == pytest.approx(1.0) and out.purity[0] == pytest.approx(1.0)
    assert out.purity[-1] == pytest.approx(1.0)  # the fixed point |0...0> is pure again
    assert out.images[-1].reshape(-1)[0] > 0.99 * out.images[-1].sum()  # all energy in the first pixel
    deph = api.noise_jet(x, "phase_damping", steps=5)
    np.testing.assert_allclose(deph.images[-1].numpy(), deph.images[0].numpy(), atol=1e-4)  # invisible in the image
    assert deph.purity[-1] < deph.purity[0]
    dep = api.noise_jet(x, "depolarizing", steps=4)
    assert dep.purity[-1] == pytest.approx(1 / 64)


def test_bloch_vectors():
    traj = api.bloch_trajectory("depolarizing", steps=5, theta=0.0)
    np.testing.assert_allclose(traj[0], [0, 0, 1], atol=1e-12)
    np.testing.assert_allclose(traj[-1], [0, 0, 0], atol=1e-12)
    v = api.bloch_vector_under("amplitude_damping", 1.0, theta=np.pi)
    np.testing.assert_allclose(v, [0, 0, 1], atol=1e-12)
    v = api.bloch_vector_under("phase_flip", 0.5, theta=np.pi / 2, phi=0.0)
    np.testing.assert_allclose(v, [0, 0, 0], atol=1e-12)
    with pytest.raises(JetInputError, match="unknown"):
        api.bloch_vector_under("twirl", 0.1)


@pytest.mark.skipif(not (api.DEFAULT_CHECKPOINT / "config.json").exists(), reason="no shipped quantum checkpoint")
def test_shipped_model_reverse_circuit():
    ckpt = api.load_quantum_model()
    qc = api.model_reverse_circuit(2, "quark", checkpoint=ckpt)
    assert qc.num_qubits == ckpt.task.model.cfg.data_qubits + ckpt.task.model.cfg.ancillas
    assert qc.num_parameters == 0
    with pytest.raises(JetInputError, match="outside"):
        api.model_reverse_circuit(99, 1, checkpoint=ckpt)
