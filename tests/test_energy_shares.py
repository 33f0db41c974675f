"""The U-Net drawing each pixel's share of its channel's energy (``--energy-shares``): the network's images
carry no energy, the drawn energies scale them back, the condition is the jets' own energies, and everything
round-trips through the config."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from core.data.energies import region_energies
from core.data.transforms import channel_shares
from core.diffusion.task import build_task, config_from_request, default_config, pack_energies, unpack_energies
from core.errors import JetInputError
from core.requests import TrainRequest

torch.set_num_threads(1)


def _jets(n=8, size=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size, size, generator=gen) ** 8 * 50
    return x * (torch.rand(n, 3, size, size, generator=gen) > 0.7)


def _task(x, y=None, **overrides):
    return build_task(default_config("ddpm", 16, schedule="cosine", energy_shares=True, **overrides), x, y)


def test_shares_of_a_channel_sum_to_one_and_an_empty_channel_stays_empty():
    x = _jets(4)
    x[1, 2] = 0.0
    shares, totals = channel_shares(x)
    torch.testing.assert_close(totals, x.sum((-1, -2)))
    sums = shares.sum((-1, -2))
    torch.testing.assert_close(sums[totals > 0], torch.ones(int((totals > 0).sum())))
    assert torch.all(shares[1, 2] == 0) and torch.isfinite(shares).all()
    torch.testing.assert_close(shares * totals[..., None, None], x)


def test_packed_energies_round_trip_and_a_wrong_batch_is_refused():
    z, totals = torch.randn(5, 3, 8, 8), torch.rand(5, 3) * 300
    back, e = unpack_energies(pack_energies(z, totals))
    assert torch.equal(back, z) and torch.equal(e, totals)
    with pytest.raises(JetInputError, match=r"\(N, 4, H, W\)"):
        unpack_energies(z)


def test_the_network_sees_no_energy_in_the_pixels():
    """Twice the jet's energy changes only the packed energies, not the image the network is trained on."""
    x = _jets(8)
    task = _task(x)
    z1, e1 = task.split_prepared(task.prepare(x))
    z2, e2 = task.split_prepared(task.prepare(2.0 * x))
    assert z1.shape == (8, 3, 16, 16)
    torch.testing.assert_close(z2, z1)
    torch.testing.assert_close(e2, 2.0 * e1)
    torch.testing.assert_close(e1, x.sum((-1, -2)))


def test_model_space_maps_back_to_the_jets_given_their_energies():
    x = _jets(16)
    task = _task(x)
    z, totals = task.split_prepared(task.prepare(x[:3]))
    levels = torch.tensor(task.zero_below).view(1, 3, 1, 1)
    kept = torch.where(x[:3] < levels, 0.0, x[:3])  # the zero suppression, in GeV as for any model
    torch.testing.assert_close(task.to_gev(z, totals), kept, rtol=1e-3, atol=1e-4)
    with pytest.raises(JetInputError, match="channel energies"):
        task.to_gev(z)
    again = build_task(task.config())
    assert again.energy_shares and again.transform == task.transform
    assert task.card()["energy_shares"] is True


class OracleNet(nn.Module):
    """Predicts the exact v of known clean model-space images; records the condition it is given."""

    def __init__(self, task, z0):
        super().__init__()
        self.task, self.z0, self.seen = task, z0, []
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, xt, t, y=None, cond=None):
        self.seen.append(cond)
        s = self.task.schedule
        return s.v_target(self.z0, t, s.eps_from_x0(xt, t, self.z0))


def test_training_conditions_on_the_jets_own_energies_and_the_oracle_has_zero_loss():
    x = _jets(16)
    y = torch.tensor([0, 1] * 8)
    task = _task(x, y)
    batch = task.prepare(x)
    z0, totals = task.split_prepared(batch)
    net = OracleNet(task, z0)
    loss = task.loss(net, batch, y, torch.Generator().manual_seed(0))
    assert loss.item() < 1e-6
    torch.testing.assert_close(net.seen[0], task.condition(totals))


def test_samples_are_the_oracle_shares_times_the_drawn_energies():
    x = _jets(8)
    y = torch.tensor([0, 1] * 4)
    task = _task(x, y, multiplicity=False)
    z0, _ = task.split_prepared(task.prepare(x))
    gen = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    out = task.sample(OracleNet(task, z0), 8, labels=y, sampler="ddim", sampler_steps=12, generator=gen())
    drawn = task.draw_energies(8, y, gen()).float()  # (8, 2, 3): cone, rest
    got = torch.from_numpy(region_energies(out)).float()
    assert torch.allclose(got.sum(1), drawn.sum(1), rtol=1e-4)  # every channel keeps its drawn total


def test_reconstructions_use_each_jets_own_energies():
    x = _jets(8)
    task = _task(x)
    rec = task.reconstructor(task.model)
    noisy = rec.noise(x, torch.zeros(8, dtype=torch.long), torch.Generator().manual_seed(0))
    assert noisy.shape == x.shape
    # Back in GeV through the jets' own energies, the clean image is the jet (zero suppression aside; the top
    # share is clamped to the fitted range).
    kept = torch.where(x < torch.tensor(task.zero_below).view(1, 3, 1, 1), 0.0, x)
    torch.testing.assert_close(rec.noisy_gev(task.split_prepared(task.prepare(x))[0]), kept, rtol=5e-3, atol=1e-4)


@pytest.mark.parametrize(
    "options, message",
    [({"no_energy_condition": True}, "energy condition"), ({"region_condition": True}, "region-condition")],
)
def test_shares_without_the_energy_condition_or_with_the_region_condition_are_refused(options, message):
    req = TrainRequest(family="ddpm", size=16, energy_shares=True, **options)
    with pytest.raises(JetInputError, match=message):
        config_from_request(req)
    with pytest.raises(JetInputError, match="energy_shares"):
        build_task(default_config("ddpm", 16, energy_shares=True, energy_condition=False), _jets(4))
