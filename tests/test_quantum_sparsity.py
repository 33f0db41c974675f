"""The pixel-spread features of the profile term: known answers, scale freedom, the hard limit, and the wiring."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from quantum_synth import shared_width_jets

from core.quantum.hybrid import HybridConfig, chain_term, data_probabilities, feature_mmd
from core.quantum.sparsity import FEATURES, LEVELS, SOFTNESS, sparsity_features
from core.quantum.task import TRAIN_OPTIONS, build_task, default_config, request_summary
from core.requests import TrainRequest


def _logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def test_known_answers_for_one_lit_pixel_and_a_flat_channel():
    one = torch.zeros(1, 64)
    one[0, 10] = 7.0
    f = sparsity_features(one)[0]
    assert f.shape == (FEATURES,)
    expected = [_logistic(-math.log(level) / SOFTNESS) / 64 for level in LEVELS]  # the one pixel, fraction 1
    assert f[:3].tolist() == pytest.approx(expected, rel=1e-5)
    assert f[3].item() == pytest.approx(1.0)  # all energy in one pixel: sum of squared fractions 1
    flat = sparsity_features(torch.ones(2, 64))[0]
    share = [_logistic(math.log((1 / 64) / level) / SOFTNESS) for level in LEVELS]
    assert flat[:3].tolist() == pytest.approx(share, rel=1e-5)
    assert flat[3].item() == pytest.approx(1 / 64, rel=1e-5)


def test_scale_free_and_the_hard_limit_counts_pixels():
    """The features describe a shape: any energy scale gives the same numbers; with a sharp logistic the shares
    are the exact fraction of pixels above each level."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(50, 64, generator=g, dtype=torch.float64) ** 8  # a steep spectrum: levels fall inside it
    assert torch.allclose(sparsity_features(x), sparsity_features(1234.5 * x))
    sharp = sparsity_features(x, softness=1e-4).double()
    frac = (x / x.sum(-1, keepdim=True)).numpy()
    for i, level in enumerate(LEVELS):
        assert np.round(sharp[:, i].numpy() * 64).tolist() == (frac > level).sum(-1).tolist()  # pixel counts
    assert sharp[:, 3].numpy() == pytest.approx((frac**2).sum(-1), rel=1e-5)
    # More faint pixels raise the low-level share and lower the sum of squares.
    core = torch.zeros(1, 64, dtype=torch.float64)
    core[0, :4] = 1.0
    faint = core.clone()
    faint[0, 4:30] = 0.002
    a, b = sparsity_features(core)[0], sparsity_features(faint)[0]
    assert b[0] > a[0] + 0.3 and b[3] < a[3]


def test_the_profile_term_compares_the_spread_only_when_asked():
    """``profile_sparsity`` appends the four features to each row's radial profile in the chain term; off (and
    in every older config) the term is unchanged. The gradient reaches the network through the new features."""
    x, y = shared_width_jets(6)
    torch.manual_seed(0)
    kw = dict(size=4, layout="per_channel", layers=2, diffusion_steps=2, latent=2, hidden=16, channel_context=True)
    cfg = default_config(**kw, mmd_weight=0.0, fid_weight=0.0, chain_weight=1.0, chain_jets=True, profile_weight=1.0)
    task = build_task(cfg, x, y)
    assert task.model.cfg.profile_sparsity is False
    probs = task.prepare(x).reshape(18, -1).abs() ** 2
    assert torch.equal(task.loss_profiles(probs), task.channel_profiles(probs))
    sparse = HybridConfig.from_dict({**task.model.cfg.to_dict(), "profile_sparsity": True})
    task.hybrid_cfg = sparse
    feats = task.loss_profiles(probs)
    assert feats.shape == (18, 9 + FEATURES)
    assert torch.equal(feats[:, 9:], sparsity_features(probs))

    psi0 = task.prepare(x).reshape(18, -1)
    rows, ctx = task.row_labels(y), task.training_context(task.prepare(x))
    base_cfg = HybridConfig.from_dict({**sparse.to_dict(), "profile_weight": 0.0})
    args = (task.model, psi0, rows)
    base = chain_term(*args, torch.Generator().manual_seed(3), base_cfg, 3, ctx, task.in_turn, task.loss_profiles)
    with_term = chain_term(*args, torch.Generator().manual_seed(3), sparse, 3, ctx, task.in_turn, task.loss_profiles)
    # Replay the draws to get the chain's ends, then check the added term is the MMD of the extended profiles.
    ends = []
    from core.quantum.context import context_rows
    from core.quantum.hybrid import draw_latents, fixed_point_states, run_chain

    g = torch.Generator().manual_seed(3)
    start, z = fixed_point_states(sparse, 18, g, psi0.dtype), draw_latents(sparse, 18, 3, g)
    profiles = torch.zeros(6, 2, 9)
    for c in range(3):
        out, _ = run_chain(task.model, start[c::3], sparse.diffusion_steps, rows[c::3], z[c::3], g,
                           ctx=context_rows(profiles, c))  # fmt: skip
        if c < 2:
            profiles[:, c] = task.channel_profiles(data_probabilities(out.detach(), sparse.data_qubits))
        ends.append(out)
    ends = torch.stack(ends, 1).reshape(18, -1)
    gen_f = task.loss_profiles(data_probabilities(ends, sparse.data_qubits)).reshape(6, -1)
    real_f = task.loss_profiles(psi0.abs() ** 2).reshape(6, -1)
    assert gen_f.shape == (6, 3 * (9 + FEATURES))
    expected = base.item() + feature_mmd(gen_f, real_f, y, y).item()
    assert with_term.item() == pytest.approx(expected, rel=1e-5)
    task.model.zero_grad()
    (with_term - base).backward()
    grads = [p.grad for p in task.model.parameters() if p.grad is not None]
    assert grads and sum(float(gr.abs().sum()) for gr in grads) > 0


def test_request_command_line_and_summary():
    assert "profile_sparsity" in TRAIN_OPTIONS
    req = TrainRequest(family="quantum", channel_context=True, chain_weight=1.0, chain_jets=True,
                       profile_weight=2.0, profile_sparsity=True)  # fmt: skip
    assert req.task_config()["hybrid"]["profile_sparsity"] is True and "--profile-sparsity" in req.to_argv()
    assert "needs a profile weight" not in request_summary(req)
    idle = TrainRequest(family="quantum", channel_context=True, chain_weight=1.0, profile_sparsity=True)
    assert "needs a profile weight above 0" in request_summary(idle)
    older = HybridConfig.from_dict({k: v for k, v in HybridConfig().to_dict().items() if k != "profile_sparsity"})
    assert older.profile_sparsity is False
    assert np.isfinite(sparsity_features(torch.zeros(1, 64)).numpy()).all()  # an empty row gives numbers
