"""The jet feature network: the shipped checkpoint, save / load round trip, training on separable jets."""

from __future__ import annotations

import json

import pytest
import torch
from metrics_synth import synthetic_jets

from core.errors import JetInputError
from core.metrics.jet_classifier import (
    CARD,
    DEFAULT_DIR,
    WEIGHTS,
    ClassifierConfig,
    JetClassifier,
    auc,
    load_card,
    load_classifier,
    save_classifier,
    train_classifier,
)


def test_shipped_classifier_loads_with_its_card():
    if not (DEFAULT_DIR / WEIGHTS).exists():
        pytest.skip("checkpoints/jet_classifier not shipped yet")
    card = load_card()
    model = load_classifier()
    assert card["test_auc"] > 0.6 and "command" in card
    assert card["feature_dim"] == model.config.features == 64
    x = synthetic_jets(4, size=model.config.size)
    assert model.features(x).shape == (4, 64)


def _separable(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    # Narrow "quark" jets (label 1) against wide "gluon" jets (label 0).
    quark, gluon = synthetic_jets(n, width=1.0, seed=seed), synthetic_jets(n, width=3.5, seed=seed + 100)
    return torch.cat([quark, gluon]), torch.cat([torch.ones(n), torch.zeros(n)]).long()


def test_training_separates_narrow_from_wide_jets_and_round_trips(tmp_path):
    x, y = _separable(150, seed=0)
    config = ClassifierConfig(size=16, width=8, features=16)
    model, card = train_classifier(x, y, config, epochs=3, batch_size=64, seed=0, log=lambda _m: None)
    assert card["test_auc"] > 0.9
    save_classifier(model, card, tmp_path)
    again = load_classifier(tmp_path)
    probe = synthetic_jets(5, seed=9)
    assert torch.equal(model.features(probe), again.features(probe))
    assert json.loads((tmp_path / CARD).read_text())["config"]["features"] == 16
    x_test, y_test = _separable(40, seed=50)
    assert auc(again, x_test, y_test) > 0.9


def test_training_is_seeded():
    x, y = _separable(40, seed=1)
    config = ClassifierConfig(size=16, width=4, features=8)
    a, _ = train_classifier(x, y, config, epochs=1, seed=3, log=lambda _m: None)
    b, _ = train_classifier(x, y, config, epochs=1, seed=3, log=lambda _m: None)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_bad_checkpoints_and_inputs(tmp_path):
    with pytest.raises(JetInputError, match="no model card"):
        load_classifier(tmp_path)
    model = JetClassifier(ClassifierConfig(size=16, width=4, features=8))
    save_classifier(model, {"config": {"size": 16, "width": 4, "features": 8}}, tmp_path)
    (tmp_path / WEIGHTS).write_bytes(b"not safetensors")
    with pytest.raises(JetInputError, match="safetensors"):
        load_classifier(tmp_path)
    save_classifier(model, {"config": {"size": 16, "width": 8, "features": 8}}, tmp_path)
    with pytest.raises(JetInputError, match="do not match"):
        load_classifier(tmp_path)
    with pytest.raises(JetInputError, match="both quark and gluon"):
        train_classifier(synthetic_jets(10), torch.ones(10).long(), ClassifierConfig(size=16), epochs=1)
    with pytest.raises(JetInputError, match="multiple of 8"):
        JetClassifier(ClassifierConfig(size=12))
