"""The reconstruction adapter and ``evaluate --checkpoint`` on a tiny (untrained) classical checkpoint."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch
from metrics_synth import synthetic_jets

from core.cli import main
from core.data.writers import write_cms
from core.metrics.checkpoint_adapter import reconstructor_for
from core.metrics.jet_classifier import ClassifierConfig, JetClassifier, save_classifier
from core.metrics.reconstruct import Reconstructor, reconstruct, reconstruction_metrics


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from core.diffusion.task import build_task, default_config
    from core.training.checkpoint import save_checkpoint

    torch.manual_seed(0)
    task = build_task(default_config("seed-baseline", size=16), synthetic_jets(64, seed=1))
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "seed16", task, inference_only=True)


def test_adapter_reconstructs_in_gev_with_trivial_floors(tiny_checkpoint):
    rec = reconstructor_for(tiny_checkpoint, sampler="ddim", sampler_steps=3)
    assert isinstance(rec, Reconstructor)
    x0 = synthetic_jets(4, seed=2)
    for mode in ("one_step", "reverse"):
        r = reconstruct(rec, x0, 10, mode, seed=0)
        assert r.x0_hat.shape == x0.shape and float(r.x0_hat.min()) >= 0.0
        m = reconstruction_metrics(r)
        assert set(m) == {"t", "mode", "model", "noisy_xt", "empty"}
    # At t = 0 the noisy image is almost the jet itself (the log transform maps it back to GeV).
    early = reconstruction_metrics(reconstruct(rec, x0, 0, seed=0))["noisy_xt"]["psnr"]["mean"]
    late = reconstruction_metrics(reconstruct(rec, x0, 45, seed=0))["noisy_xt"]["psnr"]["mean"]
    assert early > late


def test_evaluate_samples_a_checkpoint_first(tmp_path, tiny_checkpoint):
    torch.manual_seed(0)
    clf = JetClassifier(ClassifierConfig(size=16, width=4, features=16))
    save_classifier(clf, {"config": asdict(clf.config)}, tmp_path / "clf")
    real = tmp_path / "real.h5"
    write_cms(real, synthetic_jets(60).permute(0, 2, 3, 1).numpy(), (torch.arange(60) % 2).numpy())
    out = tmp_path / "eval"
    code = main(
        [
            "evaluate",
            "--real",
            str(real),
            "--checkpoint",
            str(tiny_checkpoint),
            "--n",
            "30",
            "--steps",
            "2",
            "--out",
            str(out),
            "--classifier",
            str(tmp_path / "clf"),
            "--inception-jets",
            "0",
            "--no-figures",
        ]
    )
    assert code == 0
    assert (out / "generated.h5").exists()
    report = json.loads((out / "report.json").read_text())
    assert report["info"]["n"] == 30
