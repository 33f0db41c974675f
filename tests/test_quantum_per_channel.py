"""One state per channel (each 8 x 8 channel on 6 qubits, as in Kolle et al.): round trips, training, CLI, export."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import JetInputError
from core.quantum.export import condition_of, reverse_circuit
from core.quantum.reconstructor import QuantumReconstructor
from core.quantum.task import build_task, channel_energies, config_from_request, default_config
from core.requests import TrainRequest
from core.training.loop import TrainConfig, train


def _jets(n=32, size=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = torch.arange(size) - (size - 1) / 2
    d2 = r[:, None] ** 2 + r[None, :] ** 2
    width = 0.5 + torch.rand(n, 3, 1, 1, generator=g)
    x = (torch.rand(n, 3, 1, 1, generator=g) + 0.2) * torch.exp(-d2 / width) * 100
    return x, (torch.arange(n) % 2).long()


def _task(x, y, **kw):
    torch.manual_seed(0)
    cfg = default_config(size=4, layout="per_channel", layers=2, diffusion_steps=2, latent=2, hidden=16, **kw)
    return build_task(cfg, x, y)


def test_states_rows_and_decoding_round_trip():
    x, y = _jets(6)
    task = _task(x, y)
    task.zero_below = None  # the exact readout (no zero suppression), so the round trip is exact
    assert task.rows_per_jet == 3 and task.model.cfg.data_qubits == 4 and task.model.cfg.classes == 6
    states = task.prepare(x)
    assert states.shape == (6, 3, 16)
    assert torch.allclose(states.abs().pow(2).sum(-1), torch.ones(6, 3), atol=1e-6)
    assert task.row_labels(torch.tensor([0, 1])).tolist() == [0, 2, 4, 1, 3, 5]
    probs = states.reshape(18, 16).abs() ** 2
    assert torch.allclose(task.decode(probs, channel_energies(x)), x, rtol=1e-5, atol=1e-4)


def test_training_loss_falls_and_samples_carry_the_drawn_energies():
    x, y = _jets(32)
    task = _task(x, y)
    cfg = TrainConfig(steps=40, batch_size=8, lr=2e-2, warmup=1, ema_decay=0.9, seed=0, log_every=1)
    losses = [ev.loss for ev in train(task, x, y, cfg)]
    assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:4])
    labels = torch.tensor([0, 1, 0, 1])
    a = task.sample(task.model, 4, labels=labels, generator=torch.Generator().manual_seed(3))
    b = task.sample(task.model, 4, labels=labels, generator=torch.Generator().manual_seed(3))
    assert a.shape == (4, 3, 4, 4) and torch.equal(a, b)
    rec = QuantumReconstructor(task, task.model, labels)
    xt = rec.noise(x[:4], torch.full((4,), 2), torch.Generator().manual_seed(0))
    assert xt.states.shape == (12, 16)
    out = rec.reverse_states(xt, 2, torch.Generator().manual_seed(1))
    fid = rec.state_fidelity(out, xt)
    assert fid.shape == (4,) and ((fid >= 0) & (fid <= 1 + 1e-5)).all()


def test_cli_qubits_choose_the_layout():
    def ns(**kw):
        return TrainRequest(family="quantum", size=8, layers=2, diffusion_steps=2, latent=2, **kw)

    assert config_from_request(ns())["layout"] == "per_channel"  # the default for amplitude
    assert config_from_request(ns(energy="total"))["layout"] == "joint"
    assert config_from_request(ns(encoder="frqi"))["layout"] == "joint"
    assert config_from_request(ns(qubits=8))["layout"] == "joint"
    assert config_from_request(ns(qubits=6))["layout"] == "per_channel"
    with pytest.raises(JetInputError, match=r"--qubits 7: .* takes 8 \(3 channels in one state\) or 6"):
        config_from_request(ns(qubits=7))
    with pytest.raises(JetInputError, match="needs --energy channels"):
        config_from_request(ns(qubits=6, energy="total"))
    with pytest.raises(JetInputError, match="layout 'per_channel'"):
        build_task(default_config(size=4, layout="per_channel", energy="total"))


def test_export_names_the_channel():
    x, y = _jets(6)
    model = _task(x, y).model
    assert condition_of(model, 1, 2) == 5
    with pytest.raises(JetInputError, match="channel 3"):
        condition_of(model, 1, 3)
    tracks = reverse_circuit(model, 2, 1, seed=0, channel=0)
    hcal = reverse_circuit(model, 2, 1, seed=0, channel=2)
    assert tracks.num_qubits == 5 and [p for p in tracks.data] != [p for p in hcal.data]


def test_a_shared_latent_is_one_draw_per_jet_and_the_default_is_unchanged():
    from core.quantum.hybrid import HybridConfig, draw_latents

    shared = HybridConfig(latent=2, shared_latent=True)
    z = draw_latents(shared, 6, 3, torch.Generator().manual_seed(0))
    assert torch.equal(z[0], z[1]) and torch.equal(z[1], z[2]) and not torch.equal(z[2], z[3])
    own = draw_latents(HybridConfig(latent=2), 6, 3, torch.Generator().manual_seed(0))
    assert torch.equal(own, torch.randn(6, 2, generator=torch.Generator().manual_seed(0)))  # as before
    with pytest.raises(JetInputError, match="not whole jets of 3 rows"):
        draw_latents(shared, 5, 3, None)


def test_the_jet_kernel_is_the_fidelity_of_the_product_state():
    from core.quantum.hybrid import mmd_fidelity

    g = torch.Generator().manual_seed(0)
    rows = torch.randn(12, 4, generator=g, dtype=torch.float64) + 1j * torch.randn(
        12, 4, generator=g, dtype=torch.float64
    )
    rows = rows / rows.norm(dim=-1, keepdim=True)  # 4 jets of 3 two-qubit channel states
    jets = [torch.kron(torch.kron(rows[3 * j], rows[3 * j + 1]), rows[3 * j + 2]) for j in range(4)]
    product = torch.stack(jets)  # (4, 64): each jet as one 6-qubit product state
    y = torch.tensor([0, 0, 0, 0])
    gen, real = rows[:6], rows[6:]  # jets 0, 1 against jets 2, 3
    joint = mmd_fidelity(gen, real, y[:2], y[:2], 2, powers=(1, 4), group=3)
    whole = mmd_fidelity(product[:2], product[2:], y[:2], y[:2], 6, powers=(1, 4))
    assert joint.item() == pytest.approx(whole.item(), abs=1e-12)


def test_shared_latent_training_runs_and_samples_whole_jets():
    x, y = _jets(24)
    task = _task(x, y, shared_latent=True)
    assert task.model.cfg.shared_latent
    cfg = TrainConfig(steps=6, batch_size=8, lr=2e-2, warmup=1, ema_decay=0.9, seed=0, log_every=1)
    losses = [ev.loss for ev in train(task, x, y, cfg)]
    assert len(losses) == 6 and all(np.isfinite(losses))
    out = task.sample(task.model, 4, labels=torch.tensor([0, 1, 0, 1]), generator=torch.Generator().manual_seed(3))
    assert out.shape == (4, 3, 4, 4) and torch.isfinite(out).all()


def test_shared_latent_from_the_command_line():
    assert config_from_request(TrainRequest(family="quantum", shared_latent=True))["hybrid"]["shared_latent"] is True
    assert config_from_request(TrainRequest(family="quantum"))["hybrid"]["shared_latent"] is False
    assert "--shared-latent" in TrainRequest(family="quantum", shared_latent=True).to_argv()


def test_cone_energies_round_trip_and_sampled_regions_keep_their_drawn_energies():
    """``energy="cone"``: the U-Net's energy model (each channel inside and outside the jet cone) on the quantum
    shapes; decoding real states with the real jets' region energies gives the jets back."""
    from core.data.energies import is_cone_table, region_energies

    x, y = _jets(12, size=8)
    task = build_task(default_config(size=8, energy="cone", layers=1, diffusion_steps=2, latent=2, hidden=8), x, y)
    assert task.layout == "per_channel" and is_cone_table(task.config()["channel_energies"])
    states = task.prepare(x).reshape(36, -1)
    regions = task.energies_of(x)
    assert regions.shape == (12, 2, 3)
    assert torch.allclose(task.decode(states.abs() ** 2, regions), x, rtol=1e-4, atol=1e-3)
    g = torch.Generator().manual_seed(0)
    jets = task.sample(task.model, 3, labels=torch.tensor([0, 1, 1]), generator=g)
    got = torch.from_numpy(region_energies(jets)).float()
    g2 = torch.Generator().manual_seed(0)
    task.sample_probs(task.model, torch.tensor([0, 1, 1]), generator=g2)
    expected = task.draw_aux(torch.tensor([0, 1, 1]), g2)
    assert torch.allclose(got.sum(1), expected.sum(1).float(), rtol=1e-4)  # each channel keeps its total
    assert torch.allclose(got, expected.float(), rtol=1e-4, atol=1e-3)  # and each region its own energy
    with pytest.raises(JetInputError, match="amplitude"):
        build_task(default_config(size=8, encoder="frqi", energy="cone"), x, y)
