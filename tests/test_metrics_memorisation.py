"""Memorisation check: a model that copies its training jets is flagged, one that draws new jets is not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from metrics_synth import synthetic_jets

from core.errors import JetInputError
from core.metrics.memorisation import memorisation_check, nearest_distances


def test_nearest_distances_match_brute_force():
    q, r = synthetic_jets(7, size=8, seed=1), synthetic_jets(11, size=8, seed=2)
    lq, lr = torch.log1p(q).flatten(1).double(), torch.log1p(r).flatten(1).double()
    expected = torch.cdist(lq, lr).min(dim=1).values.numpy()
    assert np.allclose(nearest_distances(q, r, chunk=3), expected, atol=1e-6)
    assert np.allclose(nearest_distances(r[:4], r), 0.0, atol=1e-6)
    two = nearest_distances(q, r, chunk=3, k=2)
    assert two.shape == (7, 2) and np.allclose(two[:, 0], expected, atol=1e-6) and (two[:, 1] >= two[:, 0]).all()


@pytest.fixture(scope="module")
def sets():
    return synthetic_jets(400, size=8, seed=1), synthetic_jets(300, size=8, seed=2)


def test_copies_of_training_jets_are_flagged(sets):
    training, heldout = sets
    noise = 1 + 0.01 * torch.rand(150, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    copies = training[torch.randperm(400, generator=torch.Generator().manual_seed(1))[:150]] * noise
    r = memorisation_check(copies, heldout, training)
    assert r["flagged"]
    assert r["copy_fraction"] > 0.9 and r["median_generated"] < 0.1 * r["median_heldout"]
    assert r["ks_pvalue"] < 1e-6 and r["closer_to_training"] > 0.9


def test_new_jets_from_the_same_distribution_pass(sets):
    training, heldout = sets
    r = memorisation_check(synthetic_jets(150, size=8, seed=3), heldout, training)
    assert not r["flagged"]
    assert r["copy_fraction"] < 0.05 and r["copy_fraction_heldout"] < 0.05 and r["ks_pvalue"] > 1e-3
    assert r["median_ratio"] == pytest.approx(1.0, abs=0.1)
    assert r["closer_to_training"] == pytest.approx(r["closer_to_training_heldout"], abs=0.1)


def test_a_wrong_but_new_model_is_not_called_memorising(sets):
    """Fainter jets sit closer to every real jet, training or held-out: not memorisation."""
    training, heldout = sets
    r = memorisation_check(0.2 * synthetic_jets(150, size=8, seed=4), heldout, training)
    assert r["ks_pvalue"] < 1e-3  # the distances differ ...
    assert not r["flagged"]  # ... but the jets are no closer to training than to held-out jets


def test_noisy_copies_are_flagged_by_the_closer_to_training_test(sets):
    training, heldout = sets
    g = torch.Generator().manual_seed(2)
    noisy = training[:150] * (1 + 0.5 * torch.rand(150, 3, 8, 8, generator=g))  # pixel energies off by up to 50 %
    r = memorisation_check(noisy, heldout, training)
    assert r["flagged"] and r["closer_to_training"] > r["closer_to_training_heldout"] + 0.5


def test_bad_input(sets):
    training, heldout = sets
    with pytest.raises(JetInputError, match="cannot be compared"):
        memorisation_check(synthetic_jets(5, size=16), heldout, training)
