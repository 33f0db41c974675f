"""HCAL as towers: real HCAL images are exactly towers; the tower layout round-trips; generated jets get towers."""

from __future__ import annotations

import pytest
import torch

from core.data.hcal_towers import (
    HCAL,
    TOWERS,
    _geometry,
    centre_pixels,
    from_tower_space,
    to_tower_space,
    towers_of,
)
from core.data.readers import load_tensors
from core.diffusion.task import build_task, default_config
from core.errors import JetInputError


@pytest.fixture(scope="module")
def jets() -> torch.Tensor:
    x, _ = load_tensors(None, size=32, max_jets=300, seed=0)
    return x


def test_every_real_hcal_image_is_its_towers_spread_over_their_pixels(jets):
    a, _, _, _ = _geometry()
    assert torch.allclose(a.sum(0), torch.ones(TOWERS, dtype=torch.float64))  # a tower's pT is kept
    t = towers_of(jets[:, HCAL])
    rebuilt = a @ t @ a.T
    assert float((rebuilt - jets[:, HCAL].double()).abs().sum() / jets[:, HCAL].sum()) < 1e-6
    assert 10 < float((t > 0).flatten(1).sum(1).double().mean()) < 60  # a jet lights tens of towers


def test_the_tower_layout_round_trips_and_keeps_every_channel_energy(jets):
    s = to_tower_space(jets)
    assert torch.equal(s[:, :HCAL], jets[:, :HCAL])  # Tracks and ECAL untouched
    _, _, centres, _ = _geometry()
    off_centre = torch.ones(32, 32, dtype=torch.bool)
    off_centre[centres[:, None], centres[None, :]] = False
    assert float(s[:, HCAL][:, off_centre].abs().max()) == 0  # towers sit at their centre pixels only
    back = from_tower_space(s)
    assert float((back - jets).abs().sum() / jets.sum()) < 1e-6
    torch.testing.assert_close(s.sum((2, 3)), jets.sum((2, 3)), rtol=1e-5, atol=1e-3)


def test_any_tower_image_comes_back_as_towers_with_its_energy():
    s = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0)) ** 6  # deposits everywhere
    x = from_tower_space(s)
    torch.testing.assert_close(x.sum((2, 3)), s.sum((2, 3)), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(from_tower_space(to_tower_space(x)), x, rtol=1e-4, atol=1e-5)  # already towers


def test_other_sizes_are_refused_with_the_shape():
    with pytest.raises(JetInputError, match=r"\(N, 3, 32, 32\).*\(2, 3, 8, 8\)"):
        to_tower_space(torch.zeros(2, 3, 8, 8))
    with pytest.raises(JetInputError, match="hcal_towers: defined at 32 x 32, not 16 x 16"):
        build_task(default_config("ddpm", 16, hcal_towers=True), torch.rand(8, 3, 16, 16), torch.zeros(8).long())
    from core.diffusion.task import config_from_request
    from core.requests import TrainRequest

    with pytest.raises(JetInputError, match="--hcal-towers: defined at 32 x 32, not --size 16"):
        config_from_request(TrainRequest(family="ddpm", size=16, hcal_towers=True))
    assert config_from_request(TrainRequest(family="ddpm", size=32, hcal_towers=True))["hcal_towers"] is True


def test_a_tower_model_samples_jets_whose_hcal_is_towers(jets):
    torch.manual_seed(0)
    y = torch.arange(len(jets)) % 2
    task = build_task(default_config("ddpm", 32, hcal_towers=True), jets, y)
    assert task.card()["hcal_towers"] and task.config()["hcal_towers"]
    z = task.prepare(jets[:8])
    torch.testing.assert_close(task.to_pixels(task.to_gev(z)), jets[:8], rtol=1e-3, atol=2e-2)
    out = task.sample(task.model.eval(), 4, labels=torch.tensor([0, 1, 0, 1]), sampler_steps=2,
                      generator=torch.Generator().manual_seed(1))  # fmt: skip
    torch.testing.assert_close(from_tower_space(to_tower_space(out)), out, rtol=1e-4, atol=1e-5)
    assert float(out[:, HCAL].sum()) > 0


def test_the_multiplicity_readout_lights_towers_at_their_centres(jets):
    """A tower model's readout lights HCAL only at tower centres: a pixel lit between two centres would join a
    tower already lit, and the jet would have fewer towers than its drawn count."""
    torch.manual_seed(0)
    y = torch.arange(len(jets)) % 2
    task = build_task(default_config("ddpm", 32, hcal_towers=True, multiplicity=True), jets, y)
    assert int(centre_pixels().sum()) == TOWERS**2
    task.to_pixels = lambda x: x  # keep the tower layout, to look at what the readout lit
    layout = task.sample(task.model.eval(), 6, labels=torch.tensor([0, 1] * 3), sampler_steps=2,
                         generator=torch.Generator().manual_seed(2))  # fmt: skip
    hcal = layout[:, HCAL]
    assert float(hcal[:, ~centre_pixels()].abs().max()) == 0 and float(hcal[:, centre_pixels()].sum()) > 0
