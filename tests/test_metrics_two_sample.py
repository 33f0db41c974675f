"""Two-sample classifier test: the ROC AUC against Mann-Whitney U, and the classifiers on known cases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from metrics_synth import blur, synthetic_jets
from scipy import stats

from core.errors import JetInputError
from core.metrics.two_sample import (
    classifier_auc,
    observable_features,
    pixel_inputs,
    roc_auc,
    stratified_folds,
    two_sample_test,
)


def test_roc_auc_is_the_mann_whitney_u_over_the_pairs_with_ties():
    rng = np.random.default_rng(0)
    pos, neg = rng.integers(0, 8, 300).astype(float), rng.integers(1, 9, 200).astype(float)  # many ties
    u = stats.mannwhitneyu(pos, neg).statistic
    scores = np.concatenate([pos, neg])
    labels = np.r_[np.ones(300), np.zeros(200)]
    assert roc_auc(scores, labels) == pytest.approx(u / (300 * 200), abs=1e-12)


def test_roc_auc_known_cases():
    assert roc_auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0  # disjoint
    assert roc_auc([0.8, 0.9, 0.1, 0.2], [0, 0, 1, 1]) == 0.0  # disjoint, reversed
    assert roc_auc(np.ones(10), np.r_[np.ones(5), np.zeros(5)]) == 0.5  # all tied
    with pytest.raises(JetInputError, match="both positive and negative"):
        roc_auc([0.1, 0.2], [1, 1])


def test_folds_partition_the_jets_and_balance_the_classes():
    y = np.r_[np.zeros(50), np.ones(30)].astype(int)
    folds = stratified_folds(y, 5, seed=3)
    assert np.array_equal(np.sort(np.concatenate(folds)), np.arange(80))
    assert all((y[f] == 1).sum() == 6 and (y[f] == 0).sum() == 10 for f in folds)


def test_features_and_pixel_inputs_shapes():
    x = synthetic_jets(4, size=32)
    assert observable_features(x).shape == (4, 26)
    assert torch.isfinite(observable_features(x)).all()
    assert pixel_inputs(x).shape == (4, 3, 8, 8)
    assert pixel_inputs(synthetic_jets(4, size=8)).shape == (4, 3, 8, 8)
    assert pixel_inputs(x)[:, :, :, :].sum() > 0


@pytest.mark.parametrize("kind", ["observables", "pixels"])
def test_same_distribution_is_near_half_and_a_different_one_near_one(kind):
    a, b = synthetic_jets(200, size=16, seed=1), synthetic_jets(200, size=16, seed=2)
    same = classifier_auc(a, b, kind, folds=4, seed=0)
    assert abs(same["auc"] - 0.5) < 0.1
    wider = blur(synthetic_jets(200, size=16, seed=3))  # each jet spread over 3 x 3: many more lit pixels
    diff = classifier_auc(a, wider, kind, folds=4, seed=0)
    assert diff["auc"] > 0.95
    assert len(diff["folds"]) == 4 and diff["n"] == (200, 200)


def test_seeded_and_model_beside_floor():
    a, g, b = (synthetic_jets(60, size=8, seed=s) for s in (1, 2, 3))
    r1 = two_sample_test(a, g, b, "observables", folds=3, seed=4)
    r2 = two_sample_test(a, g, b, "observables", folds=3, seed=4)
    assert r1["model"]["folds"] == r2["model"]["folds"]
    assert set(r1) == {"model", "floor", "kind", "folds"}


def test_bad_input_is_one_clear_error():
    a = synthetic_jets(20, size=8)
    with pytest.raises(JetInputError, match="kind must be one of"):
        classifier_auc(a, a, "trees")
    with pytest.raises(JetInputError, match="too few"):
        classifier_auc(a[:4], a[4:8], folds=5)
    with pytest.raises(JetInputError, match="cannot be compared"):
        classifier_auc(a, synthetic_jets(20, size=16))


def test_trains_under_inference_mode():
    a, b = synthetic_jets(30, size=8, seed=1), synthetic_jets(30, size=8, seed=2)
    with torch.inference_mode():
        r = classifier_auc(a, b, "pixels", folds=3)
    assert 0.0 <= r["auc"] <= 1.0
