"""The networks and the diffusion task: shapes at every size, the seed baseline's layers, eps and v
prediction through the task, classifier-free guidance (weight 0 is the unconditional model)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from core.data.energies import cone_mask, region_energies
from core.data.readout import hard_thresholds
from core.data.transforms import LogTransform, pixel_geometry
from core.diffusion.seed_baseline import SimpleDiffusionCNN
from core.diffusion.task import DiffusionTask, build_task, default_config
from core.diffusion.unet import NULL_LABEL, UNet, config_with_parameters, count_parameters, unet_config
from core.errors import JetInputError

torch.set_num_threads(1)


def _jets(n=8, size=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=gen) ** 8 * 50
    return x * (torch.rand(n, 3, size, size, generator=gen) > 0.7)


@pytest.mark.parametrize("size", [8, 16, 32, 64, 125])
def test_unet_keeps_the_image_shape_at_every_size(size):
    net = UNet(unet_config("tiny", size))
    x = torch.randn(2, 3, size, size)
    assert net(x, torch.tensor([0, 999]), torch.tensor([1, NULL_LABEL])).shape == x.shape
    with pytest.raises(JetInputError, match="expected"):
        net(torch.randn(1, 3, 20, 20), torch.tensor([0]))


def test_presets_grow_and_unknown_preset_or_size_is_refused():
    counts = [sum(p.numel() for p in UNet(unet_config(p, 32)).parameters()) for p in ("tiny", "small", "base")]
    assert counts == sorted(counts) and counts[0] < 1_000_000
    with pytest.raises(JetInputError, match="preset 'huge'"):
        unet_config("huge", 32)
    with pytest.raises(JetInputError, match="size 48"):
        unet_config("tiny", 48)


@pytest.mark.parametrize("target", [3_000, 8_610, 40_000])
def test_a_parameter_matched_unet_is_within_a_fifth_of_its_target(target):
    cfg = config_with_parameters(target, 8)
    assert abs(count_parameters(cfg) - target) <= 0.2 * target
    x = torch.randn(2, 3, 8, 8)
    assert UNet(cfg)(x, torch.tensor([0, 999]), torch.tensor([0, 1])).shape == x.shape
    with pytest.raises(JetInputError, match="parameter target"):
        config_with_parameters(0, 8)


def test_seed_baseline_has_the_notebooks_layers():
    net = SimpleDiffusionCNN(size=32)
    convs = [
        (type(m).__name__, m.in_channels, m.out_channels, m.kernel_size, m.stride)
        for m in net.modules()
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)
    ]
    assert convs == [
        ("Conv2d", 3, 16, (3, 3), (1, 1)),
        ("Conv2d", 16, 32, (4, 4), (2, 2)),
        ("Conv2d", 32, 32, (3, 3), (1, 1)),
        ("ConvTranspose2d", 32, 16, (4, 4), (2, 2)),
        ("Conv2d", 16, 3, (3, 3), (1, 1)),
    ]
    assert net.time[0].in_features == 1 and net.mid_time.out_features == 32
    assert net(torch.randn(2, 3, 32, 32), torch.tensor([0, 49])).shape == (2, 3, 32, 32)
    task = build_task(default_config("seed-baseline", 32), _jets(4, 32))
    assert task.schedule.timesteps == 50 and task.schedule.kind == "linear" and not task.conditional


class OracleNet(nn.Module):
    """Predicts the exact eps (or v) of known clean images x0; ignores labels."""

    def __init__(self, task: DiffusionTask, x0: torch.Tensor):
        super().__init__()
        self.task, self.x0 = task, x0
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, xt, t, y=None, cond=None):
        s = self.task.schedule
        eps = s.eps_from_x0(xt, t, self.x0)
        return eps if self.task.prediction == "eps" else s.v_target(self.x0, t, eps)


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "fast"])
def test_task_maps_an_oracle_network_back_to_the_gev_images(prediction, sampler):
    x = _jets(4)
    config = default_config("ddpm", 16, schedule="cosine", prediction=prediction, energy_condition=False)
    task = build_task(config, x)
    z0 = task.prepare(x)
    out = task.sample(
        OracleNet(task, z0), 4, sampler=sampler, sampler_steps=12, generator=torch.Generator().manual_seed(0)
    )
    assert out.min() >= 0
    assert torch.allclose(out, x, atol=1e-3 * x.max().item())


def test_energy_conditioned_samples_carry_the_drawn_channel_energies_and_the_oracle_shape():
    """Energy-factorised generation: the copula draws each channel's energy inside and outside the jet cone,
    the network the shape.

    With an oracle network the shape is the clean jet's, so each sample is that jet with each channel's cone
    and rest rescaled to exactly the energies drawn for them (same seed -> same draws)."""
    x = _jets(8)
    y = torch.tensor([0, 1] * 4)
    task = build_task(default_config("ddpm", 16, schedule="cosine"), x, y)
    table = task.config()["energies"]
    assert task.energy_condition and set(table) == {"all", "0", "1", "coordinates", "radius"}
    assert table["coordinates"] == "cone" and table["radius"] == 0.4
    out = task.sample(
        OracleNet(task, task.prepare(x)),
        8,
        labels=y,
        sampler="ddim",
        sampler_steps=12,
        generator=torch.Generator().manual_seed(3),
    )
    drawn = task.draw_energies(8, y, torch.Generator().manual_seed(3)).float()  # (8, 2, 3): cone, rest
    assert drawn.shape == (8, 2, 3)
    clean = task.to_gev(task.prepare(x))
    both = torch.from_numpy((region_energies(clean) > 0).all(1))  # (8, 3): the jet has weight in both regions
    assert both.any()
    got = torch.from_numpy(region_energies(out)).float()
    assert torch.allclose(got.sum(1), drawn.sum(1), rtol=1e-4)  # every channel keeps its drawn total
    assert torch.allclose(got.permute(0, 2, 1)[both], drawn.permute(0, 2, 1)[both], rtol=1e-4)
    inside = cone_mask(16)

    def shape(v: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
        return v * region / (v * region).sum((-1, -2), keepdim=True).clamp_min(1e-12)

    for region in (inside, ~inside):  # within a region the shape is the oracle's
        assert torch.allclose(shape(out, region)[both], shape(clean, region)[both], atol=2e-3)
    # The condition is log(1 + E) standardised on the training jets: zero mean over them.
    cond = task.condition(x.sum((-1, -2)))  # on the channel totals
    assert torch.allclose(cond.mean(0), torch.zeros(3), atol=1e-5)


def test_energy_condition_round_trips_through_the_config():
    x, y = _jets(8), torch.tensor([0, 1] * 4)
    task = build_task(default_config("ddpm", 16), x, y)
    again = build_task(task.config())
    assert again.config()["energies"] == task.config()["energies"]
    with pytest.raises(JetInputError, match="energies"):
        build_task({k: v for k, v in task.config().items() if k != "energies"} | {"energy_condition": True})


def test_training_loss_of_the_oracle_is_zero_and_of_zero_is_one():
    x = _jets(64)
    task = build_task(default_config("ddpm", 16, prediction="eps"), x)
    z0 = task.prepare(x)
    assert (
        task.loss(OracleNet(task, z0), z0, torch.zeros(64, dtype=torch.long), torch.Generator().manual_seed(0)).item()
        < 1e-6
    )
    zero = lambda xt, t, y=None, cond=None: torch.zeros_like(xt)  # noqa: E731
    assert task.loss(
        zero, z0, torch.zeros(64, dtype=torch.long), torch.Generator().manual_seed(0)
    ).item() == pytest.approx(1.0, abs=0.05)


def _random_unet_task(size=16):
    torch.manual_seed(0)
    task = build_task(default_config("ddpm", size, prediction="eps"), _jets(8, size))
    with torch.no_grad():  # the head is zero-initialised; give it weights so labels matter
        for p in task.model.head.parameters():
            p.normal_(0, 0.1)
    return task


def test_guidance_zero_is_the_unconditional_model_and_one_the_conditional():
    task = _random_unet_task()
    quark = torch.ones(3, dtype=torch.long)

    def run(**kw):
        return task.sample(
            task.model, 3, sampler="ddim", sampler_steps=5, generator=torch.Generator().manual_seed(1), **kw
        )

    uncond = run(labels=None)
    assert torch.equal(run(labels=quark, guidance=0.0), uncond)
    cond = run(labels=quark, guidance=1.0)
    assert not torch.allclose(cond, uncond)
    # A general weight mixes the two eps in one batched pass: eps_u + w (eps_c - eps_u).
    xt, t = torch.randn(3, 3, 16, 16), torch.tensor([10, 500, 900])
    net = task.model.eval()
    with torch.no_grad():
        cond = torch.randn(3, 3)
        e_c, e_u = net(xt, t, quark, cond), net(xt, t, None, cond)
        task.x0_clip = None
        guided = task.eps_fn(net, quark, 2.5, cond)(xt, t)
    assert torch.allclose(guided, e_u + 2.5 * (e_c - e_u), atol=1e-5)


def test_guidance_from_applies_the_weight_only_at_the_noisier_steps():
    """``guidance_from``: rows with t / T >= it get eps_u + w (eps_c - eps_u), the others the conditional eps;
    an interval no sampler step reaches gives the conditional model's jets exactly."""
    task = _random_unet_task()
    quark = torch.ones(3, dtype=torch.long)
    xt, t = torch.randn(3, 3, 16, 16), torch.tensor([10, 500, 900])
    net = task.model.eval()
    task.x0_clip = None
    with torch.no_grad():
        cond = torch.randn(3, 3)
        e_c, e_u = net(xt, t, quark, cond), net(xt, t, None, cond)
        mixed = task.eps_fn(net, quark, 2.5, cond, guidance_from=0.4)(xt, t)  # T = 1000: rows 500 and 900
        none = task.eps_fn(net, quark, 2.5, cond, guidance_from=0.95)(xt, t)
    guided = e_u + 2.5 * (e_c - e_u)
    assert torch.allclose(mixed[0], e_c[0], atol=1e-5) and torch.allclose(mixed[1:], guided[1:], atol=1e-5)
    assert torch.allclose(none, e_c, atol=1e-5)
    task.x0_clip = [-1.0, 1.0]

    def run(**kw):
        return task.sample(
            task.model, 3, sampler="ddim", sampler_steps=5, generator=torch.Generator().manual_seed(1), **kw
        )

    assert torch.equal(run(labels=quark, guidance=2.5, guidance_from=0.9995), run(labels=quark, guidance=1.0))
    assert not torch.equal(run(labels=quark, guidance=2.5, guidance_from=0.5), run(labels=quark, guidance=2.5))
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(JetInputError, match="guidance from: expected a fraction of T in"):
            run(labels=quark, guidance=2.5, guidance_from=bad)


def test_a_checkpoint_samples_at_its_own_guidance_unless_asked(tmp_path):
    from core.training.checkpoint import load_checkpoint, save_checkpoint
    from core.training.sampling import default_guidance, sample_images

    torch.manual_seed(0)
    task = build_task({**default_config("ddpm", 16, prediction="eps"), "guidance": 2.5}, _jets(8))
    with torch.no_grad():  # the head is zero-initialised; give it weights so labels matter
        for p in task.model.head.parameters():
            p.normal_(0, 0.1)
    save_checkpoint(tmp_path / "ck", task, task.model)
    assert default_guidance(load_checkpoint(tmp_path / "ck")) == 2.5

    def run(guidance):
        return sample_images(tmp_path / "ck", 3, "ddim", 3, "quark", guidance, seed=1)

    own = run(None)
    assert torch.equal(own, run(2.5)) and not torch.allclose(own, run(1.0))
    with pytest.raises(JetInputError, match="'guidance' must be a finite weight"):
        build_task({**default_config("ddpm", 16), "guidance": -1.0}, _jets(4))
    baseline = build_task(default_config("seed-baseline", 16), _jets(4))
    assert baseline.default_guidance == 1.0  # no classifier-free guidance: nothing to default


def test_guidance_from_is_refused_for_models_without_guidance(tmp_path):
    from core.training.checkpoint import save_checkpoint
    from core.training.sampling import sample_images

    task = build_task(default_config("seed-baseline", 16), _jets(4))
    save_checkpoint(tmp_path / "ck", task, task.model)
    with pytest.raises(JetInputError, match="guidance from: .* without classifier-free guidance"):
        sample_images(tmp_path / "ck", 2, guidance_from=0.3)


def test_a_logsnr_floor_is_refused_for_a_model_with_its_own_reverse_steps():
    from pathlib import Path

    from core.training.sampling import sample_images

    quantum = Path(__file__).resolve().parents[1] / "checkpoints" / "quantum_hybrid"
    if not (quantum / "config.json").exists():
        pytest.skip("no shipped quantum checkpoint")
    with pytest.raises(JetInputError, match="log-SNR floor: .*'quantum' checkpoint, which runs its own reverse steps"):
        sample_images(quantum, 2, logsnr_floor=-3.0)


def test_unconditional_model_refuses_labels_and_bad_input_is_named():
    task = build_task(default_config("seed-baseline", 16), _jets(4))
    with pytest.raises(JetInputError, match="unconditional"):
        task.sample(task.model, 2, labels=torch.ones(2, dtype=torch.long))
    with pytest.raises(JetInputError, match="sampler 'plms'"):
        task.sample(task.model, 2, sampler="plms")
    with pytest.raises(JetInputError, match=r"expected \(N, 3, 16, 16\)"):
        task.prepare(torch.zeros(2, 3, 32, 32))
    with pytest.raises(JetInputError, match="prediction 'x'"):
        build_task(default_config("ddpm", 16, prediction="x"), _jets(4))


def test_task_config_rebuilds_the_same_transform_and_network():
    task = build_task(default_config("ddpm", 16), _jets(16))
    assert isinstance(task.transform, LogTransform)
    again = build_task(task.config())
    assert again.transform == task.transform
    assert [p.shape for p in again.model.parameters()] == [p.shape for p in task.model.parameters()]
    x = _jets(16)[:3]  # within the fitted range (pixels above the training maximum are clamped to it)
    assert torch.allclose(task.to_gev(task.prepare(x)), x, rtol=1e-4, atol=1e-5)


def test_zero_suppression_level_is_fitted_on_the_data_and_applied_in_gev():
    x = _jets(32)
    task = build_task(default_config("ddpm", 16), x)
    for c, level in enumerate(task.zero_below):
        positive = x[:, c][x[:, c] > 0]
        assert (positive < level).float().mean().item() == pytest.approx(0.01, abs=0.002)
    z = task.prepare(torch.full((1, 3, 16, 16), 0.5) * torch.tensor(task.zero_below).view(1, 3, 1, 1))
    assert torch.all(task.to_gev(z) == 0)
    assert torch.all(task.to_gev(task.prepare(x)) <= x + 1e-4 * x.max())


def test_zero_gap_separates_empty_pixels_from_deposits_and_inverts():
    x = _jets(16)
    task = build_task(default_config("ddpm", 16), x)
    assert task.zero_gap == pytest.approx(0.1)
    z = task.prepare(x)
    assert torch.all(z[x == 0] == -1) and torch.all(z[x > 0] >= -1 + 2 * 0.1 - 1e-6)
    assert torch.allclose(
        task.to_gev(z), torch.where(x < torch.tensor(task.zero_below).view(1, 3, 1, 1), 0, x), rtol=1e-4, atol=1e-5
    )
    # A network error of a few hundredths around -1 stays an empty pixel.
    assert torch.all(task.to_gev(torch.full((1, 3, 16, 16), -1 + 0.09)) == 0)


def test_model_values_beyond_the_data_range_map_to_the_largest_training_pixel():
    """A sampler ending outside [-1, 1] must not become TeV pixels through the inverse log transform."""
    task = build_task(default_config("ddpm", 16), _jets(16))
    top = task.to_gev(torch.ones(1, 3, 16, 16))
    assert torch.equal(task.to_gev(torch.full((1, 3, 16, 16), 5.0)), top)
    assert torch.allclose(top[0, :, 0, 0], torch.tensor(task.transform.max_value, dtype=top.dtype), rtol=1e-4)


def _tracker_like(n=32, size=16, seed=0):
    """Channel 0 starts at a hard cut of 0.5 (a tracker's pT threshold); channels 1 and 2 run down to ~0."""
    x = _jets(n, size, seed)
    tracks = x[:, 0]
    x[:, 0] = torch.where(tracks > 0, 0.5 + tracks, tracks)
    return x


def test_hard_readout_threshold_is_found_only_where_the_pixels_start_at_a_cut():
    assert hard_thresholds(_tracker_like()) == [True, False, False]
    assert hard_thresholds(_jets(32)) == [False, False, False]  # the same jets without the cut
    assert build_task(default_config("ddpm", 16), _tracker_like()).hard_threshold == [True, False, False]


def test_a_deposit_the_network_puts_under_a_hard_threshold_reads_out_at_the_threshold():
    task = build_task(default_config("ddpm", 16), _tracker_like())
    thr = torch.tensor(task.zero_below)
    # A config without the key (checkpoints saved before it) drops sub-threshold pixels, as every channel does.
    old = build_task({k: v for k, v in task.config().items() if k != "hard_threshold"})
    assert old.hard_threshold == [False, False, False]
    # Model-space levels u = (z + 1) / 2: below half the gap (empty), between half the gap and the gap
    # (empty), at or just above the gap (the smallest deposit the network was shown).
    for u, tracks_out in ((0.04, 0.0), (0.099, 0.0), (0.1 + 1e-4, float(thr[0])), (0.11, float(thr[0]))):
        z = torch.full((1, 3, 16, 16), 2 * u - 1)
        out, before = task.to_gev(z), old.to_gev(z)
        assert torch.allclose(out[:, 0], torch.tensor(tracks_out)), u
        assert torch.all(before[:, 0] == 0), u
        assert torch.equal(out[:, 1:], before[:, 1:]), u  # the soft channels read out as before
    # Clean training jets round-trip: each track keeps its pT, or reads out at the suppression level (the 1st
    # percentile) when it lies below it; a soft channel's pixels below it are dropped.
    x = _tracker_like()[:3]
    expected = torch.where(x < thr.view(1, 3, 1, 1), 0, x)
    expected[:, 0] = torch.where(x[:, 0] > 0, x[:, 0].clamp_min(thr[0]), 0)
    assert torch.allclose(task.to_gev(task.prepare(x)), expected, rtol=1e-4, atol=1e-6)


def test_light_by_count_lights_the_highest_pixels_of_each_region_at_least_at_the_level():
    from core.data.readout import light_by_count

    inside = torch.zeros(4, 4, dtype=torch.bool)
    inside[1:3, 1:3] = True  # 4 pixels in, 12 out
    score = torch.arange(16.0).view(1, 1, 4, 4).repeat(1, 3, 1, 1)
    values = torch.full((1, 3, 4, 4), 0.0)
    values[0, :, 2, 2] = 7.0  # the highest inside pixel holds a deposit, the others are empty
    counts = torch.tensor([[[2, 0, 9], [3, 0, 20]]])  # (1, region, channel)
    out = light_by_count(score, values, counts, inside, [0.5, 0.5, 0.5])
    lit_in = (out > 0) & inside
    lit_out = (out > 0) & ~inside
    assert lit_in.sum((-1, -2)).tolist() == [[2, 0, 4]] and lit_out.sum((-1, -2)).tolist() == [[3, 0, 12]]
    assert lit_in[0, 0, 2, 2] and lit_in[0, 0, 2, 1] and not lit_in[0, 0, 1, 1]  # scores 10 and 9, not 5
    assert lit_out[0, 0, 3, 1:].all() and not lit_out[0, 0, 3, 0]  # the three highest outside: 15, 14, 13
    assert out[0, 0, 2, 2] == 7.0 and out[0, 0, 2, 1] == 0.5  # a deposit keeps its value, a new one gets the level


def test_multiplicity_table_matches_on_channel_widths_when_fitted_with_them():
    from core.data.multiplicity import channel_widths, draw_counts, fit_counts

    # Same energies everywhere; the number of deposits follows the width alone (a broad jet has more).
    n = 200
    regions = np.full((n, 2, 3), 50.0)
    widths = np.repeat(np.linspace(0.02, 0.3, n)[:, None], 3, axis=1)
    counts = np.repeat((widths[:, :1] * 100).round().astype(int)[:, None, :], 2, axis=1).repeat(3, axis=2)
    table = fit_counts(regions, counts, None, 0.4, widths=widths)
    for w in (0.05, 0.25):
        drawn = draw_counts(table, torch.from_numpy(regions[:10]), None, torch.Generator().manual_seed(0),
                            widths=np.full((10, 3), w))  # fmt: skip
        assert (drawn - round(w * 100)).abs().max() <= 2  # the 20 nearest widths are within 0.02 of w
    by_energy = draw_counts(table, torch.from_numpy(regions[:10]), None, torch.Generator().manual_seed(0))
    assert by_energy.shape == (10, 2, 3)  # without widths: the energies alone (every jet is as near)
    with pytest.raises(JetInputError, match="widths"):
        draw_counts(table, torch.from_numpy(regions[:2]), None, widths=np.zeros((3, 3)))
    with pytest.raises(JetInputError, match="without widths"):
        draw_counts(fit_counts(regions, counts, None, 0.4), torch.from_numpy(regions[:2]), None, widths=widths[:2])
    # The width of a channel with one pixel at Delta R = r is r; an empty channel's is 0.
    x = torch.zeros(1, 3, 32, 32)
    x[0, 1, 16, 16] = 5.0
    deta, dphi = pixel_geometry(32)
    assert channel_widths(x, 0.4)[0].tolist() == pytest.approx([0.0, float(np.hypot(deta[16, 16], dphi[16, 16])), 0.0])


def test_multiplicity_table_draws_counts_that_follow_the_energies_and_the_sample_lights_that_many():
    from core.data.energies import region_energies
    from core.data.multiplicity import draw_counts, fit_counts, region_counts

    gen = torch.Generator().manual_seed(3)
    n, size = 400, 16
    energy = 20 + 200 * torch.rand(n, generator=gen)
    x = torch.zeros(n, 3, size, size)
    for i in range(n):  # more deposits in more energetic jets, spread over the whole image
        k = int(energy[i] // 10)
        idx = torch.randperm(size * size, generator=gen)[:k]
        x[i].view(3, -1)[:, idx] = energy[i] / k
    y = (torch.arange(n) % 2).long()
    regions, counts = region_energies(x), region_counts(x, 0.4)
    table = fit_counts(regions, counts, y.numpy(), 0.4)
    drawn = draw_counts(table, torch.from_numpy(regions), y, torch.Generator().manual_seed(0))
    assert drawn.dtype == torch.int64 and drawn.shape == (n, 2, 3) and (drawn >= 0).all()
    # Jets of the training set's energies get counts of jets with nearly their energies: close to their own.
    total = torch.from_numpy(counts).sum((1, 2)).float()
    assert torch.corrcoef(torch.stack([drawn.sum((1, 2)).float(), total]))[0, 1] > 0.9
    same = draw_counts(table, torch.from_numpy(regions), y, torch.Generator().manual_seed(0))
    assert torch.equal(same, drawn)  # seeded
    pooled = draw_counts(table, torch.from_numpy(regions), None, torch.Generator().manual_seed(0))
    assert torch.corrcoef(torch.stack([pooled.sum((1, 2)).float(), total]))[0, 1] > 0.9  # unlabelled: every class

    task = build_task({**default_config("ddpm", size), "multiplicity": True}, x, y)
    table = task.config()["multiplicity_table"]
    assert len(table["scale"]) == 9 and len(table["1"]["widths"][0]) == 3  # energies and channel widths
    labels = y[:6]
    out = task.sample(task.model, 6, labels=labels, sampler="ddim", sampler_steps=2,
                      generator=torch.Generator().manual_seed(5))  # fmt: skip
    region = torch.from_numpy(region_counts(torch.ones(1, 3, size, size), 0.4)).view(-1)  # pixels per region
    lit = torch.from_numpy(region_counts(out, 0.4)).view(6, -1)
    for jet, label in zip(lit, labels.tolist(), strict=True):  # each jet is lit as one training jet of its class was
        assert any(torch.equal(jet, torch.minimum(torch.tensor(c), region)) for c in table[str(label)]["counts"])
    plain = build_task(default_config("ddpm", size), x, y)
    assert "multiplicity_table" not in plain.config() and plain.draw_numbers(2, labels[:2], None)[1] is None


class _RowCounter(nn.Module):
    """Wraps a network and counts the image rows it is run on (a guided pass runs each jet twice)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net, self.rows = net, 0

    def forward(self, x, *args):
        self.rows += x.shape[0]
        return self.net(x, *args)


# Closed forms on the cosine schedule of T = 1000: the fast sampler merges 20 log-SNR steps into 17 integer ones,
# of which 8 of 12 (fast 14) lie at t / T >= 0.3; ddim 10 spaces evenly, 5 of them at t >= 500; from a log-SNR
# floor of -3, fast 14 keeps its 14 steps, 6 of them at t >= 500.
@pytest.mark.parametrize(
    "sampler, steps, guidance, guidance_from, floor, known",
    [
        ("fast", 20, 1.0, 0.0, None, 17),
        ("fast", 14, 1.5, 0.3, None, 20),
        ("fast", 20, 1.5, 0.0, None, 34),
        ("ddim", 10, 1.5, 0.5, None, 15),
        ("fast", 14, 1.5, 0.5, -3.0, 20),
    ],
)
def test_network_evaluations_count_what_sampling_runs(sampler, steps, guidance, guidance_from, floor, known):
    """The count per jet that the fast-sampler goal is stated in: each visited step once, twice where guided."""
    from core.diffusion.samplers import network_evaluations

    x, y = _jets(4), torch.tensor([0, 1] * 2)
    task = build_task(default_config("ddpm", 16, schedule="cosine"), x, y)
    net = _RowCounter(task.model)
    task.sample(
        net, 4, labels=y, sampler=sampler, sampler_steps=steps, guidance=guidance,
        guidance_from=guidance_from, generator=torch.Generator().manual_seed(0), logsnr_floor=floor,
    )  # fmt: skip
    guided = guidance not in (0.0, 1.0)
    assert network_evaluations(sampler, task.schedule, steps, guided, guidance_from, logsnr_floor=floor) == known
    assert net.rows == 4 * known


def test_a_logsnr_floor_is_for_the_fast_sampler_only():
    x, y = _jets(4), torch.tensor([0, 1] * 2)
    task = build_task(default_config("ddpm", 16, schedule="cosine"), x, y)
    with pytest.raises(JetInputError, match="log-SNR floor: for the fast sampler only, not 'ddim'"):
        task.sample(task.model, 2, labels=y[:2], sampler="ddim", sampler_steps=3, logsnr_floor=-3.0)
