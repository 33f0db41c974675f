"""Channel context: a jet's channel states drawn in turn, each given the earlier channels' radial profiles."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from quantum_synth import chain_term_off_and_on, shared_width_jets

from core.errors import JetInputError
from core.metrics.channel_correlation import width_correlations
from core.quantum.context import context_rows, context_size, radial_profile
from core.quantum.device_chain import chain_probabilities_torch
from core.quantum.device_sampling import device_probabilities, prepare
from core.quantum.hybrid import HybridConfig, draw_latents
from core.quantum.task import build_task, config_from_request, default_config
from core.requests import TrainRequest
from core.training.loop import TrainConfig, train


def test_radial_profile_known_answers():
    one = torch.zeros(1, 8, 8)
    one[0, 3, 4] = 5.0  # next to the axis: distance sqrt(0.5) pixels
    prof = radial_profile(one)[0]
    assert prof[:4].tolist() == [1.0, 0.0, 0.0, 0.0]
    assert prof[4].item() == pytest.approx(math.sqrt(0.5) / 4, rel=1e-6)
    assert prof[5:].tolist() == [0.0, 1.0, 0.0, 0.0]  # the core leans to row < centre, column > centre
    two = torch.zeros(1, 8, 8)
    two[0, 4, 4], two[0, 4, 3], two[0, 0, 0] = 3.0, 1.0, 100.0  # the far corner is not core
    assert radial_profile(two)[0, 5:].tolist() == pytest.approx([0.0, 0.0, 0.25, 0.75])
    flat = radial_profile(torch.ones(2, 8, 8))
    r = np.hypot(*np.meshgrid(np.arange(8) - 3.5, np.arange(8) - 3.5))
    counts = [np.sum(r < 1), np.sum((r >= 1) & (r < 2)), np.sum((r >= 2) & (r < 3)), np.sum(r >= 3)]
    assert flat[0, :4].numpy() == pytest.approx(np.array(counts) / 64, abs=1e-6)
    assert flat[0, 4].item() == pytest.approx(r.mean() / 4, rel=1e-5)
    assert flat[0, 5:].tolist() == pytest.approx([0.25] * 4)
    assert radial_profile(torch.zeros(1, 8, 8))[0, 5:].tolist() == [0.25] * 4
    # scale-free: the profile of a shape does not depend on its energy
    x = torch.rand(3, 16, 16)
    assert torch.allclose(radial_profile(x), radial_profile(40 * x))


def test_context_rows_show_only_earlier_channels():
    prof = torch.arange(2 * 2 * 9, dtype=torch.float32).reshape(2, 2, 9) + 1
    assert torch.equal(context_rows(prof, 0), torch.zeros(2, 18))
    assert torch.equal(context_rows(prof, 1)[:, :9], prof[:, 0]) and torch.equal(
        context_rows(prof, 1)[:, 9:], torch.zeros(2, 9)
    )
    assert torch.equal(context_rows(prof, 2), prof.reshape(2, 18))


def _task(x, y, size=4, **kw):
    torch.manual_seed(0)
    cfg = default_config(
        size=size, layout="per_channel", layers=2, diffusion_steps=2, latent=2, hidden=16, channel_context=True, **kw
    )
    return build_task(cfg, x, y)


def test_training_context_is_the_clean_channels_profiles():
    x, y = shared_width_jets(5)
    task = _task(x, y)
    assert task.channel_context and task.model.cfg.context == context_size() == 18
    ctx = task.training_context(task.prepare(x)).reshape(5, 3, 18)
    small = x / x.sum((-1, -2), keepdim=True)
    assert torch.equal(ctx[:, 0], torch.zeros(5, 18))
    assert torch.allclose(ctx[:, 1, :9], radial_profile(small[:, 0]), atol=1e-5)
    assert torch.allclose(ctx[:, 2, 9:], radial_profile(small[:, 1]), atol=1e-5)


def test_sampling_feeds_each_channel_the_generated_earlier_ones(monkeypatch):
    x, y = shared_width_jets(8)
    task = _task(x, y)
    seen = []
    angles = task.model.angles

    def spy(t, cond, z, ctx=None):
        seen.append((cond.clone(), None if ctx is None else ctx.clone()))
        return angles(t, cond, z, ctx)

    monkeypatch.setattr(task.model, "angles", spy)
    labels = torch.tensor([0, 1, 1])
    probs, history = task.sample_probs(task.model, labels, generator=torch.Generator().manual_seed(0), record=True)
    assert probs.shape == (9, 16) and len(history) == 2 and history[-1].shape == (9, 16)
    rows = probs.reshape(3, 3, 16)
    last = {int(c[0]) // 2: ctx for c, ctx in seen}  # the last reverse step of each channel
    assert torch.equal(last[0], torch.zeros(3, 18))
    tracks = radial_profile(task.encoder.decode(rows[:, 0].double(), torch.ones(3, 1)).reshape(3, 4, 4))
    ecal = radial_profile(task.encoder.decode(rows[:, 1].double(), torch.ones(3, 1)).reshape(3, 4, 4))
    assert torch.allclose(last[1][:, :9], tracks) and torch.equal(last[1][:, 9:], torch.zeros(3, 9))
    assert torch.allclose(last[2], torch.cat([tracks, ecal], -1))
    images = task.sample(task.model, 3, labels=labels, generator=torch.Generator().manual_seed(0))
    assert images.shape == (3, 3, 4, 4) and torch.isfinite(images).all()


@pytest.mark.slow
def test_context_training_learns_the_channel_width_correlation():
    """Toy jets whose channels share one width: with context the generated ECAL width follows Tracks."""
    x, y = shared_width_jets(256, size=8, seed=1)
    real = width_correlations(x, radius=None)["Tracks-ECAL"]
    assert real > 0.9
    got = {}
    for context in (False, True):
        torch.manual_seed(0)
        cfg = default_config(size=8, layout="per_channel", layers=3, diffusion_steps=2, latent=4, hidden=32,
                             channel_context=context)  # fmt: skip
        task = build_task(cfg, x, y)
        tc = TrainConfig(steps=250, batch_size=32, lr=2e-2, warmup=5, ema_decay=0.9, seed=0, log_every=50)
        list(train(task, x, y, tc))
        jets = task.sample(task.model, 256, labels=y, generator=torch.Generator().manual_seed(2))
        got[context] = width_correlations(jets, radius=None)["Tracks-ECAL"]
    assert got[True] > got[False] + 0.2, got


def test_refusals_and_the_command_line():
    x, y = shared_width_jets(4)
    with pytest.raises(JetInputError, match="one state per channel"):
        build_task(default_config(size=4, layout="joint", channel_context=True), x, y)
    with pytest.raises(JetInputError, match="not both"):
        _task(x, y, shared_latent=True)
    assert config_from_request(TrainRequest(family="quantum", channel_context=True))["channel_context"] is True
    assert "channel_context" not in config_from_request(TrainRequest(family="quantum"))
    assert "--channel-context" in TrainRequest(family="quantum", channel_context=True).to_argv()
    assert HybridConfig.from_dict({k: v for k, v in HybridConfig().to_dict().items() if k != "context"}).context == 0


def test_on_a_device_each_channel_gets_the_measured_earlier_ones():
    """Transpiled to a fake device at zero noise, the channel-by-channel chains equal a torch density-matrix
    reference that feeds each channel the profiles of the jet's earlier channels' exact distributions."""
    pytest.importorskip("qiskit_ibm_runtime")
    x, y = shared_width_jets(4)
    task = _task(x, y)
    net = task.model.eval()
    labels = torch.tensor([0, 1, 1])
    prepared = prepare(net, "nairobi", seed=0)
    device = device_probabilities(task, net, prepared, labels, "device", 0.0, None, seed=4)
    z = draw_latents(net.cfg, 9, 3, torch.Generator().manual_seed(4)).reshape(3, 3, -1)
    cond = task.row_labels(labels).reshape(3, 3)
    profiles = torch.zeros(3, 2, 9)
    reference = []
    for c in range(3):
        p = chain_probabilities_torch(net, cond[:, c], z[:, c], context_rows(profiles, c)).double()
        if c < 2:
            profiles[:, c] = task.channel_profiles(p)
        reference.append(p)
    reference = torch.stack(reference, 1).reshape(9, -1).numpy()
    np.testing.assert_allclose(device, reference, atol=1e-6)
    assert not torch.allclose(context_rows(profiles, 2), torch.zeros(3, 18))


def test_context_kernel_and_the_conditional_mmd():
    from core.quantum.hybrid import context_kernel, mmd_fidelity

    ctx = torch.tensor([[0.0], [0.0], [1.0], [3.0]])
    labels = torch.tensor([0, 0, 1, 1])
    k = context_kernel(ctx, labels)
    # bandwidth: the one nonzero same-label squared distance, (3 - 1)^2 = 4 (the 0-vs-1 pairs do not count)
    assert k[2, 3].item() == pytest.approx(math.exp(-1.0)) and k[0, 1].item() == 1.0
    assert k[0, 2].item() == pytest.approx(math.exp(-1 / 4))
    assert torch.allclose(k, k.T) and torch.linalg.eigvalsh(k).min() > -1e-9
    # equal contexts: the conditional MMD is the plain one
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 8, generator=g, dtype=torch.complex64)
    b = torch.randn(6, 8, generator=g, dtype=torch.complex64)
    a, b = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    y = torch.tensor([0, 0, 0, 1, 1, 1])
    plain = mmd_fidelity(a, b, y, y, 3, (1, 4))
    same = mmd_fidelity(a, b, y, y, 3, (1, 4), ctx=torch.ones(6, 2))
    assert same.item() == pytest.approx(plain.item(), rel=1e-6)
    # a generated state that swaps its context with another's is penalised only with the contexts
    ctx2 = torch.tensor([[0.0], [1.0], [2.0], [0.0], [1.0], [2.0]])
    swapped = b[[1, 0, 2, 4, 3, 5]]
    plain_right, plain_swapped = mmd_fidelity(b, b, y, y, 3, (1,)), mmd_fidelity(swapped, b, y, y, 3, (1,))
    assert plain_swapped.item() == pytest.approx(plain_right.item(), abs=1e-6)
    right, wrong = mmd_fidelity(b, b, y, y, 3, (1,), ctx=ctx2), mmd_fidelity(swapped, b, y, y, 3, (1,), ctx=ctx2)
    assert wrong.item() > right.item() + 1e-3
    with pytest.raises(JetInputError, match="same rows"):
        mmd_fidelity(a, b, y, y.flip(0), 3, (1,), ctx=ctx2)


def test_reconstruction_runs_the_channels_in_turn(monkeypatch):
    """Compare and the Train page's SSIM / PSNR reconstruct a context model's channels in turn as well: ECAL's
    one-step prediction gets the profile of Tracks' prediction, never the 'no earlier channel' zeros."""
    from core.quantum.hybrid import data_probabilities
    from core.quantum.reconstructor import QuantumReconstructor

    x, y = shared_width_jets(4)
    task = _task(x, y)
    net = task.model.eval()
    seen = []
    angles = net.angles

    def spy(t, cond, z, ctx=None):
        seen.append((cond.clone(), ctx))
        return angles(t, cond, z, ctx)

    monkeypatch.setattr(net, "angles", spy)
    rec = QuantumReconstructor(task, net, y)
    xt = rec.noise(x, torch.full((4,), 2), torch.Generator().manual_seed(0))
    x0 = rec.predict_x0(xt, torch.full((4,), 2))
    assert x0.shape == (4, 3, 4, 4) and len(seen) == 3
    assert [int(c[0]) // 2 for c, _ in seen] == [0, 1, 2] and torch.equal(seen[0][1], torch.zeros(4, 18))
    tracks_out = net(xt.states[0::3], torch.full((4,), 2), task.row_labels(y)[0::3], torch.zeros(4, 2))
    tracks = task.channel_profiles(data_probabilities(tracks_out, net.cfg.data_qubits))
    assert torch.allclose(seen[1][1][:, :9], tracks, atol=1e-6)
    seen.clear()
    out = rec.reverse_from(xt, 2, torch.Generator().manual_seed(1))
    assert out.shape == (4, 3, 4, 4) and all(ctx is not None for _, ctx in seen)
    assert not torch.equal(seen[-1][1], torch.zeros_like(seen[-1][1]))


def test_whole_jet_chain_term_draws_channels_in_turn_from_its_own_chains():
    """``chain_jets``: the chain term runs Tracks, ECAL and HCAL in turn as the sampler does, each given the
    profiles of the channels the chain itself drew (not the clean ones), and is the per-channel MMD plus the MMD
    of whole jets (product fidelity); replaying its draws gives the same number, and its gradient reaches the
    network. Without the flag (every older config) the term is the per-row one with clean contexts."""
    from core.quantum.hybrid import chain_term, data_probabilities, fixed_point_states, mmd_fidelity, run_chain

    x, y = shared_width_jets(6)
    task = _task(x, y, mmd_weight=0.0, fid_weight=0.0, chain_weight=1.0, chain_jets=True)
    cfg = task.model.cfg
    assert cfg.chain_jets
    psi0 = task.prepare(x).reshape(-1, 2**cfg.data_qubits)
    rows = task.row_labels(y)
    clean_ctx = task.training_context(task.prepare(x))
    term = chain_term(task.model, psi0, rows, torch.Generator().manual_seed(4), cfg, 3, clean_ctx, task.in_turn)
    calls = []
    task.in_turn = lambda n, run, probabilities: calls.append(n) or type(task).in_turn(task, n, run, probabilities)
    task.loss(task.model, task.prepare(x), y, torch.Generator().manual_seed(4))
    assert calls == [6]  # training runs the chain term through the sampler's channels-in-turn

    g = torch.Generator().manual_seed(4)
    start = fixed_point_states(cfg, 18, g, psi0.dtype)
    z = draw_latents(cfg, 18, 3, g)
    profiles = torch.zeros(6, 2, 9)
    ends = []
    for c in range(3):
        ctx = context_rows(profiles, c)
        if c:  # the context is the chain's own earlier channel, which differs from the clean one
            assert not torch.allclose(ctx, clean_ctx[c::3], atol=1e-3)
        out, _ = run_chain(task.model, start[c::3], cfg.diffusion_steps, rows[c::3], z[c::3], g, ctx=ctx)
        if c < 2:
            profiles[:, c] = task.channel_profiles(data_probabilities(out.detach(), cfg.data_qubits))
        ends.append(out)
    ends = torch.stack(ends, 1).reshape(18, -1)
    powers = tuple(cfg.kernel_powers)
    expected = mmd_fidelity(ends, psi0, rows, rows, cfg.data_qubits, powers) + mmd_fidelity(
        ends, psi0, y, y, cfg.data_qubits, (1,), group=3
    )
    assert term.item() == pytest.approx(expected.item(), rel=1e-5)
    term.backward()
    assert sum(float(p.grad.abs().sum()) for p in task.model.parameters() if p.grad is not None) > 0

    # The profile term adds its weight x the MMD of whole jets' profiles (three channels side by side).
    from core.quantum.hybrid import feature_mmd

    with_profiles = HybridConfig.from_dict({**cfg.to_dict(), "profile_weight": 0.5})
    both = chain_term(task.model, psi0, rows, torch.Generator().manual_seed(4), with_profiles, 3, clean_ctx,
                      task.in_turn, task.channel_profiles)  # fmt: skip
    gen_f = task.channel_profiles(data_probabilities(ends, cfg.data_qubits)).reshape(6, -1)
    real_f = task.channel_profiles(psi0.abs() ** 2).reshape(6, -1)
    assert gen_f.shape == (6, 27)
    assert both.item() == pytest.approx(expected.item() + 0.5 * feature_mmd(gen_f, real_f, y, y).item(), rel=1e-5)

    older = HybridConfig.from_dict({k: v for k, v in cfg.to_dict().items() if k != "chain_jets"})
    assert older.chain_jets is False
    per_row = chain_term(task.model, psi0, rows, torch.Generator().manual_seed(4), older, 3, clean_ctx, task.in_turn)
    g = torch.Generator().manual_seed(4)
    start, z = fixed_point_states(older, 18, g, psi0.dtype), draw_latents(older, 18, 3, g)
    ends, _ = run_chain(task.model, start, cfg.diffusion_steps, rows, z, g, ctx=clean_ctx)
    state_mmd = mmd_fidelity(ends, psi0, rows, rows, cfg.data_qubits, powers, ctx=clean_ctx)
    assert per_row.item() == pytest.approx(state_mmd.item(), rel=1e-5)
    # Per row, the profile term compares (context, profile) pairs: each channel's profile given its clean context.
    older = HybridConfig.from_dict({**older.to_dict(), "profile_weight": 2.0})
    both = chain_term(task.model, psi0, rows, torch.Generator().manual_seed(4), older, 3, clean_ctx, task.in_turn,
                      task.channel_profiles)  # fmt: skip
    gen_f = task.channel_profiles(data_probabilities(ends, cfg.data_qubits))
    real_f = task.channel_profiles(psi0.abs() ** 2)
    profile_mmd = feature_mmd(gen_f, real_f, rows, rows, clean_ctx)
    assert both.item() == pytest.approx(state_mmd.item() + 2.0 * profile_mmd.item(), rel=1e-5)
    request = TrainRequest(family="quantum", channel_context=True, chain_weight=1.0, chain_jets=True)
    assert request.task_config()["hybrid"]["chain_jets"] is True and "--chain-jets" in request.to_argv()


def test_feature_mmd_is_the_unbiased_mmd_of_standardised_gaussian_kernels():
    """Against a direct evaluation of the formula; zero in expectation for two samples of one distribution and
    clearly positive for a shifted one; blind to each feature's units (standardised by the real spread)."""
    from core.quantum.hybrid import PROFILE_SCALES, feature_mmd

    g = torch.Generator().manual_seed(0)
    real = torch.randn(40, 3, generator=g, dtype=torch.float64)
    same = torch.randn(40, 3, generator=g, dtype=torch.float64)
    shifted = same + torch.tensor([1.5, 0.0, 0.0], dtype=torch.float64)
    y = torch.zeros(40, dtype=torch.long)
    a, b = (same / real.std(0)).numpy(), (real / real.std(0)).numpy()
    d = lambda u, v: ((u[:, None, :] - v[None, :, :]) ** 2).sum(-1)  # noqa: E731
    drr = d(b, b)
    h = np.median(drr[drr > 1e-12])
    k = lambda m: sum(np.exp(-m / (s * h)) for s in PROFILE_SCALES) / len(PROFILE_SCALES)  # noqa: E731
    off = ~np.eye(40, dtype=bool)
    direct = k(d(a, a))[off].mean() + k(drr)[off].mean() - 2 * k(d(a, b)).mean()
    assert feature_mmd(same, real, y, y).item() == pytest.approx(direct, rel=1e-4)
    assert abs(direct) < 0.05 < feature_mmd(shifted, real, y, y).item()
    units = torch.tensor([1.0, 1000.0, 0.001], dtype=torch.float64)
    assert feature_mmd(same * units, real * units, y, y).item() == pytest.approx(direct, rel=1e-4)


def test_the_train_page_summary_says_when_the_whole_jet_options_do_nothing():
    from core.quantum.task import TRAIN_OPTIONS, request_summary

    assert {"chain_jets", "profile_weight"} <= set(TRAIN_OPTIONS)
    on = TrainRequest(family="quantum", channel_context=True, chain_weight=1.0, chain_jets=True, profile_weight=2.0)
    assert "about 6 times" in request_summary(on) and "act only" not in request_summary(on)
    idle = TrainRequest(family="quantum", channel_context=True, chain_jets=True, profile_weight=2.0)
    assert "act only with a whole-chain weight above 0" in request_summary(idle)
    alone = TrainRequest(family="quantum", chain_weight=1.0, chain_jets=True)
    assert "Whole jets need channels in turn" in request_summary(alone)


def _chain_term_with(field: str, weight: float):
    """The chain term of six whole jets without and with ``field`` = ``weight`` (same draws), the generated
    and real profiles the first saw, and the jets, labels and config."""
    x, y = shared_width_jets(6)
    task = _task(x, y, mmd_weight=0.0, fid_weight=0.0, chain_weight=1.0, chain_jets=True, profile_weight=1.0)
    base, both, seen = chain_term_off_and_on(task, x, y, field, weight, task.channel_profiles)
    return base, both, seen, x, y, task.model.cfg


def test_the_width_term_compares_whole_jets_three_channel_widths():
    """``width_weight``: the chain term adds W x the MMD of each jet's three mean distances (the profile's width
    column of Tracks, ECAL and HCAL side by side), read from the same profiles the profile term compares."""
    from core.quantum.context import MEAN_DISTANCE
    from core.quantum.hybrid import feature_mmd

    base, both, (gen_rows, real_rows), x, y, cfg = _chain_term_with("width_weight", 3.0)
    widths = [f[:, MEAN_DISTANCE].reshape(6, 3) for f in (gen_rows, real_rows)]
    assert torch.allclose(widths[1][:, 0], radial_profile(x[:, 0])[:, MEAN_DISTANCE].double().float(), atol=1e-5)
    expected = base.item() + 3.0 * feature_mmd(widths[0], widths[1], y, y).item()
    assert both.item() == pytest.approx(expected, rel=1e-5)
    from core.quantum.task import TRAIN_OPTIONS, request_summary

    assert "width_weight" in TRAIN_OPTIONS
    alone = TrainRequest(family="quantum", channel_context=True, chain_weight=1.0, width_weight=2.0)
    assert "needs whole jets and a profile weight" in request_summary(alone)
    full = TrainRequest(family="quantum", channel_context=True, chain_weight=1.0, chain_jets=True, profile_weight=2.0,
                        width_weight=2.0)  # fmt: skip
    assert "width term" not in request_summary(full) and "--width-weight" in full.to_argv()
    assert HybridConfig.from_dict({k: v for k, v in cfg.to_dict().items() if k != "width_weight"}).width_weight == 0


def test_the_core_split_term_compares_whole_jets_sorted_core_quadrants():
    """``lean_weight``: the chain term adds W x the MMD of each jet's three core splits (the profile's four
    quadrant fractions of each channel, sorted so that orientation does not count, side by side)."""
    from core.quantum.context import LEAN
    from core.quantum.hybrid import feature_mmd

    base, both, seen, x, y, cfg = _chain_term_with("lean_weight", 2.0)
    splits = [f[:, LEAN].sort(-1, descending=True).values.reshape(6, 12) for f in seen]
    real = radial_profile(x[:, 2])[:, LEAN]  # HCAL's quadrant fractions, straight from the images
    assert torch.allclose(splits[1][:, 8:], real.sort(-1, descending=True).values, atol=1e-5)
    assert torch.allclose(splits[1].reshape(6, 3, 4).sum(-1), torch.ones(6, 3), atol=1e-5)  # fractions of a core
    expected = base.item() + 2.0 * feature_mmd(splits[0], splits[1], y, y).item()
    assert both.item() == pytest.approx(expected, rel=1e-5)
    from core.quantum.task import TRAIN_OPTIONS, request_summary

    assert "lean_weight" in TRAIN_OPTIONS
    alone = TrainRequest(family="quantum", channel_context=True, chain_weight=1.0, lean_weight=2.0)
    assert "core-split term" in request_summary(alone) and "--lean-weight" in alone.to_argv()
    assert HybridConfig.from_dict({k: v for k, v in cfg.to_dict().items() if k != "lean_weight"}).lean_weight == 0
