"""Wasserstein-1, the Frechet physics distance and its extrapolation, and the real-vs-real floor."""

from __future__ import annotations

import numpy as np
import pytest
from metrics_synth import blur, synthetic_jets

from core.data.observables import OBSERVABLES
from core.errors import JetInputError
from core.metrics.floor import floor_split
from core.metrics.physics import (
    frechet_distance,
    frechet_extrapolated,
    observables,
    physics_distances,
    wasserstein_distances,
)


def _gaussian_fd(mu1, s1, mu2, s2) -> float:
    # Closed form for diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(s1) - sqrt(s2))^2.
    return float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2))


def test_w1_is_zero_for_identical_sets_and_the_shift_for_a_translation():
    rng = np.random.default_rng(0)
    a = {"pt": rng.normal(500, 20, 500), "mass": rng.gamma(4, 20, 500)}
    assert wasserstein_distances(a, a, keys=("pt", "mass")) == {"pt": 0.0, "mass": 0.0}
    b = {"pt": a["pt"] + 7.5, "mass": a["mass"] * 1.0}
    assert wasserstein_distances(a, b, keys=("pt",))["pt"] == pytest.approx(7.5)


def test_frechet_distance_is_zero_on_identical_sets():
    a = np.random.default_rng(1).normal(size=(200, 5))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)


def test_extrapolation_recovers_the_gaussian_closed_form():
    rng = np.random.default_rng(2)
    k = 4
    mu1, s1 = np.zeros(k), np.ones(k)
    mu2, s2 = np.full(k, 0.2), np.full(k, 2.25)
    truth = _gaussian_fd(mu1, s1, mu2, s2)  # 0.16 + 1.0 = 1.16
    a = rng.normal(mu1, np.sqrt(s1), size=(6000, k))
    b = rng.normal(mu2, np.sqrt(s2), size=(6000, k))
    fit = frechet_extrapolated(a, b, sizes=[500, 1000, 2000, 3000, 4000], batches=6, seed=0)
    assert fit["value"] == pytest.approx(truth, abs=max(4 * fit["error"], 0.08))
    # The finite-N values are biased upwards; the intercept removes most of that bias.
    assert fit["fd"][0] > fit["value"]


def test_extrapolation_of_same_distribution_goes_to_zero():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(3000, 3)), rng.normal(size=(3000, 3))
    fit = frechet_extrapolated(a, b, batches=5)
    assert abs(fit["value"]) < 0.02
    assert fit["fd"][0] > 0.0


def test_floor_split_is_disjoint_and_same_size():
    s = floor_split(100, 30, seed=4)
    assert s.n == 30 and len(s.real_a) == len(s.real_b) == len(s.generated) == 30
    assert not set(s.real_a) & set(s.real_b)
    assert floor_split(100, 80).n == 50  # limited by half of the real jets
    assert floor_split(100, 80, max_jets=10).n == 10
    with pytest.raises(JetInputError, match="too few"):
        floor_split(3, 100)


def test_physics_distances_order_identical_below_blurred():
    real_a, real_b = synthetic_jets(300, seed=1), synthetic_jets(300, seed=2)
    same = physics_distances(observables(real_a), observables(synthetic_jets(300, seed=3)), observables(real_b))
    blurred = physics_distances(
        observables(real_a), observables(blur(synthetic_jets(300, seed=3), 2)), observables(real_b)
    )
    assert set(same["w1"]["model"]) == set(OBSERVABLES)
    assert blurred["fpd"]["model"]["value"] > 10 * max(
        same["fpd"]["model"]["value"], same["fpd"]["floor"]["value"], 0.01
    )
    assert blurred["w1"]["model"]["ptd"] > same["w1"]["model"]["ptd"]
    # A sample from the real distribution sits at the floor.
    assert abs(same["fpd"]["model"]["value"]) < 0.3 and abs(same["fpd"]["floor"]["value"]) < 0.3


def test_too_few_jets_for_a_covariance():
    a = np.random.default_rng(5).normal(size=(8, 10))
    with pytest.raises(JetInputError, match="too few"):
        frechet_distance(a, a)
    with pytest.raises(JetInputError, match="too few"):
        frechet_extrapolated(np.ones((15, 10)), np.ones((15, 10)))
    with pytest.raises(JetInputError, match="features"):
        frechet_distance(np.ones((20, 3)), np.ones((20, 4)))
