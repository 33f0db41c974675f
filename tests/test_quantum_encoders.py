"""Encoders: exact round trips, states equal to their qiskit circuits, clear errors on wrong sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.quantum_info import Statevector

from core.errors import JetInputError
from core.quantum.encoders import make_encoder, prepare_images


def _jets(n=3, c=3, h=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, c, h, h, generator=g) * 20
    x[x < 12] = 0  # sparse, like jets
    return x


@pytest.mark.parametrize(
    "name,shape,kw",
    [
        ("amplitude", (3, 8, 8), {}),
        ("amplitude", (3, 8, 8), {"order": "centred"}),
        ("amplitude", (3, 8, 8), {"order": "centred", "pad_first": True}),
        ("angle", (3, 8, 8), {"patch": 2}),
        ("dense_angle", (3, 8, 8), {"patch": 2}),
        ("frqi", (3, 8, 8), {}),
    ],
)
def test_round_trip(name, shape, kw):
    enc = make_encoder(name, shape, **kw)
    x = _jets(c=shape[0], h=shape[1])
    out = enc.round_trip(x)
    np.testing.assert_allclose(out.numpy(), x.numpy(), atol=1e-4)
    norms = enc.encode(x).state.abs().pow(2).sum(-1)
    np.testing.assert_allclose(norms.numpy(), 1.0, atol=1e-12)


def test_amplitude_keeps_total_energy_classically():
    enc = make_encoder("amplitude", (3, 8, 8))
    x = _jets()
    e = enc.encode(x)
    assert enc.num_qubits == 8
    np.testing.assert_allclose(e.aux[:, 0].numpy(), x.sum((1, 2, 3)).numpy(), rtol=1e-6)
    np.testing.assert_allclose(
        (e.state[:, 0].abs() ** 2)[:, :192].numpy(), (x.reshape(3, -1) / x.sum((1, 2, 3))[:, None]).numpy(), atol=1e-7
    )


@pytest.mark.parametrize(
    "name,shape,kw",
    [
        ("amplitude", (1, 8, 8), {}),
        ("amplitude", (3, 8, 8), {}),
        ("amplitude", (3, 8, 8), {"order": "centred"}),
        ("angle", (1, 2, 4), {"patch": 2}),
        ("dense_angle", (1, 4, 4), {"patch": 2}),
        ("frqi", (1, 4, 4), {}),
        ("frqi", (3, 4, 4), {}),
    ],
)
def test_state_matches_qiskit_circuit(name, shape, kw):
    enc = make_encoder(name, shape, **kw)
    x = _jets(n=1, c=shape[0], h=max(shape[1:]), seed=2)[..., : shape[1], : shape[2]]
    state = enc.encode(x).state[0]  # (B, 2**q)
    full = state[0]
    for b in range(1, state.shape[0]):  # later blocks on higher qubits
        full = torch.kron(state[b], full)
    ref = Statevector(enc.circuit(x)).data
    np.testing.assert_allclose(full.numpy(), ref, atol=1e-8)


def test_prepare_images_conserves_energy():
    x = torch.rand(2, 3, 125, 125)
    small = prepare_images(x, 8)
    assert small.shape == (2, 3, 8, 8)
    np.testing.assert_allclose(small.sum((2, 3)).numpy(), x.sum((2, 3)).numpy(), rtol=1e-5)


def test_wrong_sizes_raise():
    enc = make_encoder("amplitude", (3, 8, 8))
    with pytest.raises(JetInputError, match="built for"):
        enc.encode(torch.rand(1, 3, 16, 16))
    with pytest.raises(JetInputError, match="patches"):
        make_encoder("angle", (1, 5, 5), patch=2)
    with pytest.raises(JetInputError, match="unknown"):
        make_encoder("basis", (1, 8, 8))
    with pytest.raises(JetInputError, match="qubits"):
        make_encoder("amplitude", (3, 125, 125 * 2000))
