"""The hybrid quantum model through the common training loop: loss falls, samples differ, checkpoints round-trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import JetInputError
from core.quantum.hybrid import (
    HybridConfig,
    HybridModel,
    draw_latents,
    embed_ancillas,
    fidelity_to_pure,
    fixed_point_states,
    hybrid_loss,
    mmd_fidelity,
    reverse_chain,
    run_chain,
)
from core.quantum.task import build_task, default_config
from core.training.checkpoint import load_checkpoint
from core.training.loop import TrainConfig, train
from core.training.sampling import sample_images


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny simulations: one thread avoids waiting on a busy second core."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _toy_jets(n=64, size=4, seed=0):
    """Centred blobs of random width and channel mix: a stand-in for jets, at 4 x 4."""
    g = torch.Generator().manual_seed(seed)
    r = torch.arange(size) - (size - 1) / 2
    d2 = r[:, None] ** 2 + r[None, :] ** 2
    width = 0.5 + torch.rand(n, 1, 1, 1, generator=g)
    mix = torch.rand(n, 3, 1, 1, generator=g) + 0.2
    x = mix * torch.exp(-d2 / width) * 100
    y = (torch.arange(n) % 2).long()
    return x, y


def _small_config(**kw):
    kw.setdefault("layout", "joint")  # the 3 channels in one state (one state per channel: test_quantum_per_channel)
    return default_config(size=4, layers=2, diffusion_steps=2, latent=4, hidden=16, **kw)


def test_training_loss_falls_and_checkpoint_round_trips(tmp_path):
    x, y = _toy_jets()
    torch.manual_seed(0)
    task = build_task(_small_config(), x)
    assert task.model.cfg.data_qubits == 6
    cfg = TrainConfig(steps=60, batch_size=16, lr=2e-2, warmup=1, ema_decay=0.9, seed=0, log_every=1)
    losses = [ev.loss for ev in train(task, x, y, cfg, out_dir=tmp_path / "ck")]
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:5])
    a = sample_images(tmp_path / "ck", 6, seed=3, label="mixed")
    b = sample_images(tmp_path / "ck", 6, seed=3, label="mixed")
    assert a.shape == (6, 3, 4, 4) and torch.equal(a, b)
    assert (a >= 0).all()
    ck = load_checkpoint(tmp_path / "ck")
    assert ck.task.family == "quantum" and ck.config["task"]["order"] == "centred"


def test_different_latents_give_different_jets():
    x, _ = _toy_jets(8)
    torch.manual_seed(1)
    task = build_task(_small_config(), x)
    out = task.sample(
        task.model,
        8,
        labels=torch.ones(8, dtype=torch.long),
        sampler="born",
        generator=torch.Generator().manual_seed(0),
    )
    frac = out / out.sum((1, 2, 3), keepdim=True)
    dist = torch.cdist(frac.reshape(8, -1), frac.reshape(8, -1))
    assert dist[~torch.eye(8, dtype=torch.bool)].min() > 1e-4
    shots = task.sample(task.model, 2, shots=50, generator=torch.Generator().manual_seed(0))
    assert shots.shape == (2, 3, 4, 4)
    with pytest.raises(JetInputError, match="sampler"):
        task.sample(task.model, 2, sampler="heun")


def test_loss_terms_against_known_values():
    cfg = HybridConfig(data_qubits=2, ancillas=1, layers=1, diffusion_steps=2, latent=2, hidden=4)
    psi = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 0]], dtype=torch.complex128)
    out = embed_ancillas(psi, cfg.ancillas)  # ancilla |0>, no circuit: fidelity to itself is 1
    assert torch.allclose(fidelity_to_pure(out, psi, 2), torch.ones(2, dtype=torch.float64))
    y = torch.zeros(2, dtype=torch.long)
    same = embed_ancillas(torch.tensor([[1, 0, 0, 0], [1, 0, 0, 0]], dtype=torch.complex128), cfg.ancillas)
    assert mmd_fidelity(same, same[:, :4], y, y, 2).abs().item() < 1e-12  # identical sets
    other = torch.tensor([[0, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.complex128)
    # K_gg = 1, K_rr = 0 (orthogonal), K_gr = 0: MMD^2 = 1
    assert mmd_fidelity(same, other, y, y, 2, powers=(1, 4)).item() == pytest.approx(1.0)


def test_whole_chain_term_is_the_mmd_of_the_chain_ends_and_trains_every_step():
    """With only the whole-chain term on, the loss equals the MMD between the ends of reverse chains run from the
    fixed point (the same draws replayed) and the clean states, and its gradient reaches the angle network
    through every reverse step. ``reverse_chain`` (sampling) is the same chain without autograd."""
    torch.manual_seed(0)
    cfg = HybridConfig(data_qubits=2, ancillas=1, layers=1, diffusion_steps=3, latent=2, hidden=4)
    cfg = HybridConfig(**{**cfg.to_dict(), "mmd_weight": 0.0, "fid_weight": 0.0, "chain_weight": 1.0})
    cfg = HybridConfig.from_dict(cfg.to_dict())
    model = HybridModel(cfg)
    psi0 = torch.randn(6, 4, dtype=torch.complex64)
    psi0 = psi0 / psi0.norm(dim=-1, keepdim=True)
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    loss = hybrid_loss(model, psi0, y, torch.Generator().manual_seed(3), cfg)
    # Replay the loss's draws: steps t and per-row trajectories and latents (unused, fid_weight = 0), then the chain.
    g = torch.Generator().manual_seed(3)
    torch.randint(1, cfg.diffusion_steps + 1, (6,), generator=g)
    t = torch.randint(1, cfg.diffusion_steps + 1, (6,), generator=torch.Generator().manual_seed(3))
    from core.quantum.channels import ChannelSchedule

    sched = ChannelSchedule(cfg.channel, cfg.diffusion_steps, kind=cfg.schedule)
    for step in torch.unique(t).tolist():
        sched.cumulative(step).sample_sv(psi0[t == step], generator=g)
    torch.randn(6, cfg.latent, generator=g)
    start = fixed_point_states(cfg, 6, g, psi0.dtype)
    ends, _ = run_chain(model, start, cfg.diffusion_steps, y, draw_latents(cfg, 6, 1, g), g)
    expected = mmd_fidelity(ends, psi0, y, y, cfg.data_qubits, tuple(cfg.kernel_powers))
    assert loss.item() == pytest.approx(expected.item(), abs=1e-6)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and sum(float(gr.abs().sum()) for gr in grads) > 0
    # Sampling runs the same chain: same draws, same ends.
    with torch.no_grad():
        a, _ = run_chain(model, start, 3, y, torch.zeros(6, 2), torch.Generator().manual_seed(1))
    b, _ = reverse_chain(model, start, 3, y, torch.zeros(6, 2), torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_whole_chain_weight_from_the_command_line_and_older_configs():
    from core.requests import TrainRequest

    assert TrainRequest(family="quantum", chain_weight=2.0).task_config()["hybrid"]["chain_weight"] == 2.0
    older = {k: v for k, v in HybridConfig().to_dict().items() if k != "chain_weight"}
    assert HybridConfig.from_dict(older).chain_weight == 0.0  # checkpoints saved before the term: off


def test_bad_model_input():
    with pytest.raises(JetInputError, match="unknown"):
        build_task(_small_config(channel="scrambler"))
    with pytest.raises(JetInputError, match="encoder"):
        build_task({**_small_config(), "encoder": "angle"})
    with pytest.raises(JetInputError, match="qubits"):
        build_task(default_config(size=16, ancillas=20))


SHIPPED = __import__("pathlib").Path(__file__).resolve().parents[1] / "checkpoints" / "quantum_hybrid"


@pytest.mark.skipif(not (SHIPPED / "config.json").exists(), reason="no shipped quantum checkpoint")
def test_cli_sample_on_the_shipped_checkpoint(tmp_path):
    import h5py

    from core.cli import main

    out = tmp_path / "q.h5"
    assert main(["sample", "--checkpoint", str(SHIPPED), "--n", "6", "--out", str(out), "--seed", "1"]) == 0
    with h5py.File(out) as f:
        x = f["X_jets"][:]
        y = f["y"][:]
    assert x.shape == (6, 8, 8, 3) and (x >= 0).all() and list(y) == [0, 1, 0, 1, 0, 1]
    assert np.all(x.sum((1, 2, 3)) > 100)  # totals drawn from the training distribution (hundreds of GeV)


def test_hybrid_config_reads_the_legacy_steps_key():
    """Checkpoints saved before the rename store ``diffusion_steps`` as ``steps``; both forms load the same."""
    new = HybridConfig.from_dict({"diffusion_steps": 3, "layers": 2})
    assert HybridConfig.from_dict({"steps": 3, "layers": 2}) == new and new.diffusion_steps == 3
    assert HybridConfig.from_dict({"steps": 3, "diffusion_steps": 3}).diffusion_steps == 3
    assert "steps" not in new.to_dict() and HybridConfig.from_dict(new.to_dict()) == new
    with pytest.raises(JetInputError, match="'steps' \\(3\\) and 'diffusion_steps' \\(5\\) disagree"):
        HybridConfig.from_dict({"steps": 3, "diffusion_steps": 5})


@pytest.mark.skipif(not (SHIPPED / "config.json").exists(), reason="no shipped quantum checkpoint")
def test_shipped_checkpoint_in_the_legacy_form_loads(tmp_path):
    """A checkpoint written before the rename (``steps`` in its hybrid config) loads like the shipped one."""
    import json
    import shutil

    legacy = tmp_path / "legacy"
    shutil.copytree(SHIPPED, legacy)
    config = json.loads((legacy / "config.json").read_text())
    config["task"]["hybrid"]["steps"] = config["task"]["hybrid"].pop("diffusion_steps")
    (legacy / "config.json").write_text(json.dumps(config))
    task = load_checkpoint(legacy).task
    assert task.timesteps == 4 and task.hybrid_cfg.diffusion_steps == 4
    assert task.hybrid_cfg == load_checkpoint(SHIPPED).task.hybrid_cfg


def test_frqi_encoder_trains_and_samples():
    x, y = _toy_jets(16)
    torch.manual_seed(0)
    task = build_task({**_small_config(), "encoder": "frqi"}, x)
    assert task.model.cfg.data_qubits == 7  # 48 pixels -> 6 position qubits + 1 colour qubit
    xs = task.prepare(x)
    loss = task.loss(task.model, xs, y, torch.Generator().manual_seed(0))
    loss.backward()
    out = task.sample(task.model, 2, generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 3, 4, 4) and torch.isfinite(out).all() and (out >= 0).all()
