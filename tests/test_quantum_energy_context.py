"""Energy context (core.quantum.energy_context): the circuit draws each channel's shape given the jet's energies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from quantum_synth import shared_width_jets

from core.data.energies import region_energies
from core.errors import JetInputError
from core.quantum.context import context_size
from core.quantum.encoders import prepare_images
from core.quantum.energy_context import FEATURES, energy_features, fit_energy_norm
from core.quantum.hybrid import HybridConfig
from core.quantum.task import TRAIN_OPTIONS, build_task, default_config, request_summary
from core.requests import TrainRequest


def _task(x, y, energy: str = "cone", channel_context: bool = True):
    torch.manual_seed(0)
    cfg = default_config(
        size=4, layout="per_channel", energy=energy, layers=2, diffusion_steps=2, latent=2, hidden=16,
        channel_context=channel_context, chain_weight=1.0, chain_jets=True, profile_weight=1.0,
        energy_context=FEATURES,
    )  # fmt: skip
    return build_task(cfg, x, y)


def _record_contexts(task) -> list:
    """Make the task's angle network keep a copy of every context it is given; returns the list it fills."""
    seen = []
    original = task.model.angles

    def spy(t, labels, z, ctx=None):
        seen.append(ctx.detach().clone())
        return original(t, labels, z, ctx)

    task.model.angles = spy
    return seen


def test_features_are_standardised_log_energies_of_the_training_jets():
    e = np.array([[[1.0, 2.0, 3.0], [0.0, 1.0, 0.5]], [[3.0, 4.0, 1.0], [2.0, 0.0, 0.5]]])
    norm = fit_energy_norm(e)
    feats = energy_features(torch.as_tensor(e), norm)
    assert feats.shape == (2, FEATURES)
    logs = np.log1p(e.reshape(2, -1))
    spread = np.maximum(logs.std(0), 1e-6)
    assert feats.numpy() == pytest.approx((logs - logs.mean(0)) / spread, abs=1e-5)
    with pytest.raises(JetInputError, match=r"\(N, 2, 3\)"):
        energy_features(torch.ones(2, 3), norm)
    with pytest.raises(JetInputError, match="shape"):
        fit_energy_norm(np.ones((5, 3)))


def test_prepared_jets_carry_their_energy_features_after_the_states():
    x, y = shared_width_jets(8)
    task = _task(x, y)
    cfg = task.model.cfg
    assert cfg.energy_context == FEATURES and cfg.context == context_size() + FEATURES
    prepared = task.prepare(x)
    assert prepared.shape == (8, 3, 2**cfg.data_qubits + FEATURES)
    states, feats = task.split_prepared(prepared)
    assert torch.equal(states, task.encode_rows(prepare_images(x, 4)).reshape(8, 3, -1))
    expected = energy_features(region_energies(prepare_images(x, 4)), task.config()["energy_norm"])
    assert torch.allclose(feats, expected, atol=1e-6)
    ctx = task.training_context(states, feats)
    assert ctx.shape == (24, cfg.context)
    assert torch.allclose(ctx[:, -FEATURES:], expected.repeat_interleave(3, 0), atol=1e-6)
    assert torch.isfinite(task.loss(task.model, prepared[:4], y[:4], torch.Generator().manual_seed(1)))


def test_sampling_gives_every_channel_row_the_energies_drawn_for_its_jet():
    """The energies are drawn first (same generator) and each row's context ends with their features; the jets
    are rescaled to exactly those energies."""
    x, y = shared_width_jets(8)
    task = _task(x, y)
    seen = _record_contexts(task)
    labels = torch.tensor([0, 1, 1, 0])
    jets = task.sample(task.model, 4, labels=labels, generator=torch.Generator().manual_seed(3))
    drawn = task.draw_aux(labels, torch.Generator().manual_seed(3))
    feats = energy_features(drawn, task.config()["energy_norm"])
    assert len(seen) == 3 * task.model.cfg.diffusion_steps  # channels in turn, every reverse step
    for ctx in seen:
        assert torch.allclose(ctx[:, -FEATURES:], feats, atol=1e-6)
    assert torch.allclose(torch.as_tensor(region_energies(jets)), drawn, rtol=1e-4, atol=1e-6)


def test_energy_context_refuses_what_cannot_supply_the_energies():
    x, y = shared_width_jets(8)
    with pytest.raises(JetInputError, match="energy context: needs channels in turn"):
        _task(x, y, energy="channels")
    with pytest.raises(JetInputError, match="energy context: needs channels in turn"):
        _task(x, y, channel_context=False)
    task = _task(x, y)
    with pytest.raises(JetInputError, match="given the jet's energies"):
        task.sample_probs(task.model, torch.tensor([0, 1]))
    assert "energy_context" in TRAIN_OPTIONS
    req = TrainRequest(family="quantum", channel_context=True, energy="cone", energy_context=True)
    assert "--energy-context" in req.to_argv()
    old = {k: v for k, v in HybridConfig().to_dict().items() if k != "energy_context"}
    assert HybridConfig.from_dict(old).energy_context == 0


def test_reconstruction_and_the_shot_study_give_the_circuit_the_jets_energies():
    """Compare's reconstructions read each real jet's own energies into the context; the shot study draws them
    before the states."""
    from core.quantum.shot_study import quality_vs_shots

    x, y = shared_width_jets(8)
    task = _task(x, y)
    seen = _record_contexts(task)
    rec = task.reconstructor(task.model, y)
    g = torch.Generator().manual_seed(0)
    rec.predict_x0(rec.noise(x, torch.tensor(2), g), torch.tensor(2))
    own = energy_features(region_energies(prepare_images(x, 4)), task.config()["energy_norm"])
    assert seen and all(torch.allclose(ctx[:, -FEATURES:], own, atol=1e-6) for ctx in seen)
    rows = quality_vs_shots(task, task.model, y, x, shot_counts=(64,), seed=0)
    assert [r["shots"] for r in rows] == [64, None]


def test_a_balanced_context_kernel_weighs_every_input_alike():
    """Balanced: each input divided by its spread, so scaling one input changes nothing and a wide input cannot
    drown a narrow one; unbalanced, the wide input decides."""
    from core.quantum.hybrid import context_kernel

    g = torch.Generator().manual_seed(0)
    ctx = torch.randn(40, 3, generator=g)
    labels = torch.zeros(40, dtype=torch.long)
    wide = ctx * torch.tensor([100.0, 1.0, 1.0])
    assert torch.allclose(context_kernel(wide, labels, True), context_kernel(ctx, labels, True), atol=1e-9)
    only_first = context_kernel(ctx[:, :1] * 100, labels)
    assert torch.allclose(context_kernel(wide, labels), only_first, atol=0.05)  # the others hardly count
    by_hand = ctx.double() / ctx.double().std(0)
    d2 = torch.cdist(by_hand, by_hand).pow(2)
    expected = torch.exp(-d2 / d2[d2 > 1e-12].median())
    assert torch.allclose(context_kernel(ctx, labels, True), expected, atol=1e-9)


def test_the_train_page_says_what_energy_context_needs_before_the_job_starts():
    alone = TrainRequest(family="quantum", energy_context=True)
    assert "need channels in turn and cone energies" in request_summary(alone)
    ready = TrainRequest(family="quantum", channel_context=True, energy="cone", energy_context=True)
    assert "need channels in turn" not in request_summary(ready)
