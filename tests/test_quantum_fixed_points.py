"""Every channel with every encoder, against qiskit.quantum_info: the state after many steps of the channel is
the fixed point the reverse chain starts from, or the channel is refused for generation in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit.quantum_info import DensityMatrix, Kraus, SuperOp

from core.errors import JetInputError
from core.quantum.channels import CHANNEL_NAMES, channel_class, generation_refusal, make_channel, valid_channels
from core.quantum.encoders import ENCODERS, make_encoder
from core.quantum.hybrid import HybridConfig, fixed_point_states

GENERATIVE = {"depolarizing", "global_depolarizing", "amplitude_damping"}


def _jets(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand((3, 1, 2, 2), generator=g, dtype=torch.float64) ** 3
    x[0] = 0
    x[0, 0, 1, 1] = 2.0  # a one-pixel jet beside two spread ones
    return x


def _after_many_steps(name: str, psi: np.ndarray, steps: int = 60) -> np.ndarray:
    """qiskit.quantum_info: ``steps`` applications of the channel (its aer form) on every qubit."""
    ch = make_channel(name, 0.5 if "flip" not in name else 0.3)
    n = int(np.log2(psi.size))
    if ch.is_global:  # its 4**n Kraus operators equal qiskit-aer's (tests/test_quantum_channels.py)
        one_step = SuperOp(Kraus(ch.kraus(n)))
    else:
        one_step = SuperOp(Kraus(ch.to_qiskit()))
        for _ in range(n - 1):
            one_step = one_step.tensor(SuperOp(Kraus(ch.to_qiskit())))
    many = SuperOp(np.linalg.matrix_power(one_step.data, steps), input_dims=one_step.input_dims())
    return DensityMatrix(psi).evolve(many).data


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("name", CHANNEL_NAMES)
def test_fixed_point_is_where_the_chain_starts_or_the_channel_is_refused(name, encoder):
    enc = make_encoder(encoder, (1, 2, 2))
    states = enc.encode(_jets(0)).state[:, 0].to(torch.complex128).numpy()
    ends = [_after_many_steps(name, psi) for psi in states]
    same_end = all(np.allclose(e, ends[0], atol=1e-8) for e in ends)
    refusal = generation_refusal(name, encoder)
    assert (refusal is None) == same_end == (name in GENERATIVE)
    cls = channel_class(name)
    n = enc.num_qubits
    if refusal is None:
        start = cls.start_density(n).numpy()
        np.testing.assert_allclose(ends[0], start, atol=1e-8)
        # The start states are trajectories of that density: their average projector is it.
        cfg = HybridConfig(data_qubits=n, channel=name)
        psi = fixed_point_states(cfg, 4000, torch.Generator().manual_seed(1), torch.complex128)
        mean = torch.einsum("bi,bj->ij", psi, psi.conj()).numpy() / len(psi)
        np.testing.assert_allclose(mean, start, atol=0.04)
        assert name in valid_channels(encoder)
    else:
        assert refusal.startswith(f"channel {name} with the {encoder} encoder cannot serve generation")
        assert "\n" not in refusal and name not in valid_channels(encoder)
        with pytest.raises(JetInputError, match="cannot serve generation"):
            fixed_point_states(HybridConfig(data_qubits=n, channel=name), 2, None, torch.complex64)
    # The fixed point of each state, as the class computes it, is qiskit's end state.
    for psi, end in zip(states, ends, strict=True):
        rho = torch.as_tensor(np.outer(psi, psi.conj()))[None]
        np.testing.assert_allclose(cls.fixed_point(rho)[0].numpy(), end, atol=1e-8)


def test_a_refused_channel_is_refused_by_the_cli_and_the_task(tmp_path, capsys):
    from core.cli import main
    from core.quantum.task import build_task, default_config

    assert main(["train", "--model", "quantum", "--channel", "phase_damping", "--out", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "channel phase_damping with the amplitude encoder cannot serve generation" in err[0]
    with pytest.raises(JetInputError, match="bit_flip with the frqi encoder cannot serve generation"):
        build_task(default_config(encoder="frqi", channel="bit_flip", layers=1, diffusion_steps=2))
