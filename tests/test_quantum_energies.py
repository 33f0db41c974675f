"""Classical channel energies: the copula keeps each marginal and the rank correlation; decoding conserves energy."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from core.data.energies import draw_channel_energies, fit_channel_energies, rescale_channels
from core.data.readout import suppress_below
from core.errors import JetInputError
from core.quantum.task import build_task, channel_energies, default_config


def _correlated_energies(n: int, seed: int, scale: float = 1.0) -> np.ndarray:
    """Log-normal channel energies with a known positive dependence (Tracks, ECAL share a factor)."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=n)
    z = np.stack([common + 0.5 * rng.normal(size=n), common + 0.5 * rng.normal(size=n), rng.normal(size=n)], 1)
    return scale * np.exp(3 + 0.6 * z)


def test_copula_keeps_marginals_and_rank_correlation():
    data = _correlated_energies(20000, 0)
    table = fit_channel_energies(data)
    draws = draw_channel_energies(table, np.zeros(20000, dtype=int), torch.Generator().manual_seed(1)).numpy()
    for c in range(3):
        for q in (0.1, 0.5, 0.9):
            assert np.quantile(draws[:, c], q) == pytest.approx(np.quantile(data[:, c], q), rel=0.03)
    rho_data = spearmanr(data).statistic
    rho_draw = spearmanr(draws).statistic
    assert np.abs(rho_data - rho_draw).max() < 0.03
    assert rho_draw[0, 1] > 0.7 and abs(rho_draw[0, 2]) < 0.05


def test_draws_follow_the_label_and_the_seed():
    data = np.concatenate([_correlated_energies(4000, 0), _correlated_energies(4000, 1, scale=2.0)])
    y = np.repeat([0, 1], 4000)
    table = fit_channel_energies(data, y)
    labels = torch.tensor([0, 1] * 2000)
    a = draw_channel_energies(table, labels, torch.Generator().manual_seed(5))
    b = draw_channel_energies(table, labels, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    ratio = a[labels == 1].median(0).values / a[labels == 0].median(0).values
    assert torch.allclose(ratio, torch.full((3,), 2.0, dtype=ratio.dtype), rtol=0.1)
    # An unknown label falls back to the pooled table.
    assert draw_channel_energies(table, torch.tensor([7, 7]), torch.Generator().manual_seed(0)).shape == (2, 3)


def test_rescale_conserves_each_channel_energy_and_keeps_the_shape():
    g = torch.Generator().manual_seed(0)
    shapes = torch.rand(5, 3, 4, 4, generator=g)
    shapes[2, 1] = 0  # an empty channel stays empty
    energies = torch.rand(5, 3, generator=g, dtype=torch.float64) * 100
    out = rescale_channels(shapes, energies)
    expected = energies.clone()
    expected[2, 1] = 0
    assert torch.allclose(out.double().sum((-1, -2)), expected, rtol=1e-6)
    ratio = out[0, 0] / shapes[0, 0]
    assert torch.allclose(ratio, ratio.flatten()[0].expand_as(ratio), rtol=1e-5)


def test_bad_energy_input():
    with pytest.raises(JetInputError, match=r"\(N >= 2, 3\)"):
        fit_channel_energies(np.ones((10, 2)))
    with pytest.raises(JetInputError, match="finite"):
        fit_channel_energies(np.full((10, 3), -1.0))
    with pytest.raises(JetInputError, match="energy 'channels' needs the amplitude encoder"):
        build_task(default_config(size=4, encoder="frqi", energy="channels"))
    with pytest.raises(JetInputError, match="energy 'sum'"):
        build_task(default_config(size=4, energy="sum"))


def test_task_decodes_clean_states_back_to_the_jets():
    """Round trip: amplitude encoding + the true channel energies reproduce each jet exactly."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(6, 3, 4, 4, generator=g) * 50
    y = torch.tensor([0, 1] * 3)
    task = build_task(default_config(size=4, layout="joint", layers=1, diffusion_steps=2, latent=2, hidden=8), x, y)
    assert task.per_channel_energy and set(task.config()["channel_energies"]) == {"all", "0", "1"}
    probs = task.encoder.encode(x).state[:, 0].abs() ** 2
    exact = build_task({k: v for k, v in task.config().items() if k != "zero_below"})
    assert torch.allclose(exact.decode(probs, channel_energies(x)), x, rtol=1e-5, atol=1e-5)
    # With the readout's zero suppression: the pixels under each level are gone, the energies stay.
    read = task.decode(probs, channel_energies(x))
    expected = rescale_channels(suppress_below(x, task.zero_below), channel_energies(x))
    assert torch.allclose(read, expected, rtol=1e-5, atol=1e-5)
    legacy = build_task(
        {
            **default_config(size=4, layout="joint", layers=1, diffusion_steps=2, latent=2, hidden=8),
            "aux_quantiles": {"all": [1.0] * 101},
        }
    )
    assert not legacy.per_channel_energy  # checkpoints from before keep their one total energy


def test_total_fraction_coordinates_round_trip_and_keep_a_narrow_total():
    """A pT-selected sample has a narrow total: the (total, shares) copula keeps it, the channel copula cannot."""
    from core.data.energies import from_total_fractions, to_total_fractions

    rng = np.random.default_rng(0)
    total = rng.uniform(500, 550, 4000)
    u1, u2 = rng.beta(5, 4, 4000), rng.beta(2, 5, 4000)
    e = np.stack([u1 * total, (1 - u1) * u2 * total, (1 - u1) * (1 - u2) * total], 1)
    assert np.allclose(from_total_fractions(to_total_fractions(e)), e)
    g = torch.Generator().manual_seed(1)
    drawn = draw_channel_energies(fit_channel_energies(e, None, "total_fractions"), np.zeros(4000), g).numpy()
    assert drawn.sum(1).min() >= 500 - 1e-6 and drawn.sum(1).max() <= 550 + 1e-6 and (drawn >= 0).all()
    g = torch.Generator().manual_seed(1)
    plain = {"all": {k: v for k, v in fit_channel_energies(e)["all"].items() if k != "mixture"}}
    channel_sums = draw_channel_energies(plain, np.zeros(4000), g).numpy().sum(1)
    assert channel_sums.std() > 1.5 * drawn.sum(1).std()  # one Gaussian on the channels smears the total


def _region_energies(n: int, seed: int) -> np.ndarray:
    """(n, 2, 3) GeV: a narrow calorimeter energy in the cone (the selected jet pT), a wide rest outside."""
    rng = np.random.default_rng(seed)
    calo_in = rng.uniform(500, 550, n)
    share_in = rng.beta(2, 5, n)
    calo_out = rng.exponential(60, n)
    share_out = rng.beta(2, 2, n)
    tracks = np.stack([0.6 * calo_in * rng.uniform(0.5, 1.5, n), rng.exponential(20, n)], 1)
    calo = np.stack([calo_in, calo_out], 1)
    share = np.stack([share_in, share_out], 1)
    return np.stack([tracks, calo * share, calo * (1 - share)], 2)


def test_cone_coordinates_round_trip():
    from core.data.energies import from_cone, to_cone

    r = _region_energies(100, 0)
    assert np.allclose(from_cone(to_cone(r)), r)


def test_cone_table_keeps_the_narrow_energy_in_the_cone():
    """The jet pT window (calorimeter energy inside the cone, 500-550 GeV) survives the copula exactly,
    although the channel totals, which add the wide rest outside the cone, spread far beyond it."""
    from core.data.energies import draw_region_energies, fit_cone_energies

    r = _region_energies(20000, 1)
    table = fit_cone_energies(r, np.zeros(len(r)))
    assert table["coordinates"] == "cone" and table["radius"] == 0.4
    drawn = draw_region_energies(table, np.zeros(20000), torch.Generator().manual_seed(2)).numpy()
    calo_in = drawn[:, 0, 1] + drawn[:, 0, 2]
    assert calo_in.min() >= 500 - 1e-6 and calo_in.max() <= 550 + 1e-6
    totals = draw_channel_energies(table, np.zeros(20000), torch.Generator().manual_seed(2)).numpy()
    assert np.allclose(totals, drawn.sum(1))
    assert (totals[:, 1] + totals[:, 2]).max() > 700  # the rest outside the cone widens the totals
    for c in range(3):
        for q in (0.1, 0.5, 0.9):
            assert np.quantile(drawn[:, 1, c], q) == pytest.approx(np.quantile(r[:, 1, c], q), rel=0.05)


def test_cone_mask_is_the_observables_cone():
    """The cone the energy model rescales is the one the jet observables sum over (pixel centres within R)."""
    from core.data.energies import cone_mask, region_energies
    from core.data.observables import jet_observables

    x = torch.rand(6, 3, 32, 32, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    inside = cone_mask(32)
    assert 0 < inside.sum() < 32 * 32
    obs = jet_observables(x)
    r = region_energies(x)
    assert np.allclose(obs["frac_tracks"] * r[:, 0].sum(1), r[:, 0, 0], rtol=1e-9)  # shares of the cone's pT
    assert not np.allclose(obs["frac_tracks"] * x.sum((1, 2, 3)).numpy(), r[:, 0, 0], rtol=1e-3)


def test_rescale_regions_conserves_each_region_and_falls_back_when_one_is_empty():
    from core.data.energies import cone_mask, region_energies, rescale_regions

    g = torch.Generator().manual_seed(0)
    shapes = torch.rand(4, 3, 16, 16, generator=g)
    inside = cone_mask(16)
    shapes[1, 2] *= inside  # HCAL of jet 1 has no weight outside the cone
    energies = torch.rand(4, 2, 3, generator=g, dtype=torch.float64) * 100
    out = rescale_regions(shapes, energies)
    got = torch.from_numpy(region_energies(out))
    expected = energies.clone()
    expected[1, 0, 2], expected[1, 1, 2] = energies[1, :, 2].sum(), 0.0  # all of it inside
    assert torch.allclose(got, expected, rtol=1e-5)
    ratio = out[0, 0][inside] / shapes[0, 0][inside]  # within a region the shape is kept
    assert torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-5)


def test_tail_levels_keep_a_narrow_marginal_with_outliers_narrow():
    """A pT-selected total: narrow (sd 25) with a few far outliers. An even grid of 101 levels spreads 1 % of
    the draws between the outlier and the 1st percentile; the tail levels keep the spread of the draws that of
    the data (known answer: the data's own standard deviation and its 0.5 % quantile)."""
    rng = np.random.default_rng(3)
    total = rng.normal(520.0, 25.0, size=5000)
    total[:3] = (220.0, 250.0, 300.0)  # a few mis-measured jets, as in the simulated sample
    data = np.stack([total, total * 0.3, total * 0.7], 1)
    table = fit_channel_energies(data)
    assert len(table["all"]["levels"]) == len(table["all"]["quantiles"][0]) > 101
    labels = np.zeros(40000, dtype=int)
    draws = draw_channel_energies(table, labels, torch.Generator().manual_seed(0)).numpy()[:, 0]
    assert draws.std() == pytest.approx(total.std(), rel=0.05)
    assert np.quantile(draws, 0.005) == pytest.approx(np.quantile(total, 0.005), rel=0.01)
    # The same table on an even grid (how tables were stored before "levels"): far too wide.
    even = {"all": dict(table["all"])}
    even["all"]["quantiles"] = np.quantile(data, np.linspace(0, 1, 101), axis=0).T.tolist()
    del even["all"]["levels"]
    old = draw_channel_energies(even, labels, torch.Generator().manual_seed(0)).numpy()[:, 0]
    assert old.std() > 1.2 * total.std()


def _bent_energies(n: int, seed: int) -> np.ndarray:
    """Two kinds of jets in one class: in one, Tracks and ECAL rise together; in the other, one takes from
    the other. One correlation matrix averages the two to about zero; the known answer is each kind's own."""
    rng = np.random.default_rng(seed)
    kind = rng.random(n) < 0.5
    a = rng.normal(size=n)
    b = np.where(kind, 0.9 * a, -0.9 * a) + np.sqrt(1 - 0.81) * rng.normal(size=n)
    c = np.where(kind, 2.0, -2.0) + 0.5 * rng.normal(size=n)  # HCAL tells the kinds apart
    return np.exp(3 + 0.5 * np.stack([a, b, c], 1))


def test_mixture_copula_keeps_a_dependence_that_bends():
    data = _bent_energies(8000, 0)
    table = fit_channel_energies(data)
    assert "mixture" in table["all"]
    draws = draw_channel_energies(table, np.zeros(8000, dtype=int), torch.Generator().manual_seed(2)).numpy()
    for c in range(3):
        for q in (0.1, 0.5, 0.9):
            assert np.quantile(draws[:, c], q) == pytest.approx(np.quantile(data[:, c], q), rel=0.05)
    for sample in (data, draws):
        hi = sample[:, 2] > np.median(sample[:, 2])
        assert spearmanr(sample[hi, 0], sample[hi, 1]).statistic > 0.75
        assert spearmanr(sample[~hi, 0], sample[~hi, 1]).statistic < -0.75
    # One Gaussian (a table fitted on too few jets per component, or before mixtures) cannot bend.
    plain = {"all": {k: v for k, v in table["all"].items() if k != "mixture"}}
    flat = draw_channel_energies(plain, np.zeros(8000, dtype=int), torch.Generator().manual_seed(2)).numpy()
    hi = flat[:, 2] > np.median(flat[:, 2])
    assert abs(spearmanr(flat[hi, 0], flat[hi, 1]).statistic) < 0.2


def test_mixture_draws_follow_the_seed_and_small_tables_stay_gaussian():
    table = fit_channel_energies(_bent_energies(3000, 1))
    labels = np.zeros(500, dtype=int)
    a = draw_channel_energies(table, labels, torch.Generator().manual_seed(9))
    assert torch.equal(a, draw_channel_energies(table, labels, torch.Generator().manual_seed(9)))
    assert "mixture" not in fit_channel_energies(_bent_energies(300, 1))["all"]  # 300 jets: one component


def test_quantum_readout_suppresses_faint_pixels_and_keeps_each_channel_energy():
    """Born probabilities spread thinly over every pixel: the readout keeps no Tracks pixel under the training
    jets' cut (known level: the tracks start at 0.5 GeV) and gives each channel exactly its drawn energy."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(40, 3, 4, 4, generator=g) * 20 * (torch.rand(40, 3, 4, 4, generator=g) > 0.5)
    x[:, 0] = torch.where(x[:, 0] > 0, 0.5 + x[:, 0], x[:, 0])  # a tracker's cut
    task = build_task(default_config(size=4, layout="joint", layers=1, diffusion_steps=2, latent=2, hidden=8), x)
    assert task.zero_below[0] == pytest.approx(0.5, abs=0.25)
    probs = torch.softmax(2 * torch.randn(5, 64, generator=g), -1).double()  # 3 channels x 16 pixels, joint
    energies = torch.tensor([[6.0, 40.0, 60.0]] * 5, dtype=torch.float64)
    out = task.decode(probs, energies)
    tracks = out[:, 0]
    assert torch.all((tracks == 0) | (tracks >= task.zero_below[0] - 1e-6))
    assert (tracks == 0).any()  # 6 GeV over 16 pixels: some fall under the cut
    assert torch.allclose(out.double().sum((-1, -2)), energies, rtol=1e-5)
    # Shapes decoded with unit energies (fractions, not GeV) skip the suppression.
    unit = task.decode(probs, torch.ones(5, 3), zero_suppress=False)
    assert torch.all(unit > 0) and torch.allclose(unit.double().sum((-1, -2)), torch.ones(5, 3, dtype=torch.float64))
    # A channel whose every pixel lies under its level keeps them all, rather than losing its energy.
    tiny = torch.tensor([[0.1, 40.0, 60.0]] * 5, dtype=torch.float64)
    assert torch.allclose(task.decode(probs, tiny).double().sum((-1, -2)), tiny, rtol=1e-5)
