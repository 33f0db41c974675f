"""The mass decomposition: its terms sum to the mean m^2 of the observables, and a two-deposit jet has the closed
form m^2 = 2 pT1 pT2 (cosh d_eta - cos d_phi)."""

import numpy as np
import torch

from core.data.observables import jet_observables
from core.data.transforms import pixel_geometry
from core.metrics.mass_terms import format_mass_terms, group_names, mass_term_rows, mass_terms


def test_the_terms_sum_to_the_mean_mass_squared_of_the_observables():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(16, 3, 16, 16, generator=g) ** 8 * 50  # deposits everywhere, inside and outside the cone
    terms = mass_terms(x)
    assert len(terms) == 10 and set(group_names()) == {"ECAL R < 0.4", "ECAL R > 0.4", "HCAL R < 0.4", "HCAL R > 0.4"}
    mass = jet_observables(x, radius=None)["mass"]
    assert np.isclose(sum(terms.values()), float((mass**2).mean()), rtol=1e-9)


def test_two_deposits_give_the_closed_form_and_land_in_their_own_pair():
    size = 32
    deta, dphi = pixel_geometry(size)
    x = torch.zeros(1, 3, size, size, dtype=torch.float64)
    core, far = (15, 16), (15, 28)  # the second outside the cone (R > 0.4), in HCAL
    assert np.hypot(deta[core], dphi[core]) < 0.4 < np.hypot(deta[far], dphi[far])
    x[0, 1, core[0], core[1]] = 80.0  # ECAL
    x[0, 2, far[0], far[1]] = 20.0  # HCAL
    expected = 2 * 80.0 * 20.0 * (np.cosh(deta[far] - deta[core]) - np.cos(dphi[far] - dphi[core]))
    terms = mass_terms(x)
    assert np.isclose(terms["ECAL R < 0.4 x HCAL R > 0.4"], expected, rtol=1e-9)
    assert all(abs(v) < 1e-9 for k, v in terms.items() if k != "ECAL R < 0.4 x HCAL R > 0.4")  # massless pixels


def test_rows_put_the_largest_difference_first_with_shares_summing_to_one():
    g = torch.Generator().manual_seed(1)
    real = torch.rand(32, 3, 16, 16, generator=g) ** 8 * 50
    spread = real.clone()
    spread[:, 2, :, :3] += 5.0  # extra HCAL at the image's edge, outside the cone
    rows = mass_term_rows(spread, real, real.flip(0))
    assert "HCAL R > 0.4" in rows[0]["pair"] and rows[0]["difference"] > 0
    assert np.isclose(sum(r["share"] for r in rows), 1.0)
    assert all(abs(r["floor"]) < 1e-6 for r in rows)  # the same jets in another order
    assert "all pairs: mean m^2" in format_mass_terms(rows).splitlines()[-1]
