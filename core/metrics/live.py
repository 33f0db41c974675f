"""Metrics measured during training, at intervals, on held-out jets: what the Train page plots live.

- SSIM and PSNR (mean over channels) of one-step reconstructions from step t = 0.3 T (every family: the
  quantum model's reverse circuit at step max(1, 0.3 T); they say how well the denoiser recovers a jet,
  not how good its samples are);
- a set distance of a few generated jets to the held-out ones: FID on the jet classifier's features when
  ``checkpoints/jet_classifier`` is there, else the Frechet distance on standardised physics observables;
- beside each, once per run, its real-vs-real value: the same metric with real jets in place of the model's
  output (a different real jet for each reconstruction, real jets for the generated ones).

Cheap by design (a few dozen jets, a few sampler steps), so a CPU run is slowed by seconds, not minutes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from core.metrics.physics import as_matrix, frechet_distance, observables, standardise

MetricsFn = Callable[[object, nn.Module, int], dict]


def _classifier_features():
    """The jet-classifier feature network, or None when the shipped classifier is missing or unreadable."""
    try:
        from core.metrics.features import JetFeatures

        return JetFeatures()
    except Exception:  # a missing checkpoint just means the physics distance is used instead
        return None


def _fid(real_feats: torch.Tensor, gen_feats: torch.Tensor) -> float:
    from core.metrics.sets import fid_kid_from_features

    return fid_kid_from_features(real_feats, gen_feats, kid_subsets=2)["fid"]


class _SetDistance:
    """Generated jets against the held-out ones: FID on the jet classifier's features (the real features computed
    once), or the Frechet distance on standardised physics observables when the classifier is missing or
    cannot read the size."""

    def __init__(self, x_held: torch.Tensor) -> None:
        self.x_held = x_held.float()
        self.physics_real = observables(self.x_held)
        self.features = None  # None: not loaded yet; False: unavailable
        self.real_feats = None

    def measure(self, samples: torch.Tensor) -> Callable[[], dict]:
        """Prepare the real side for ``samples`` now; the returned call computes the distance."""
        real = self.x_held
        if samples.shape[-1] != real.shape[-1]:
            from core.data.transforms import downsample

            real = downsample(real, samples.shape[-1])
        if self.features is None:
            self._load_features(real)
        if self.features is not False:
            features = self.features
            return lambda: {"fid_jet": _fid(self.real_feats, features(features.prepare(samples)).double())}
        real_obs = self.physics_real if real.shape[-1] == self.x_held.shape[-1] else observables(real)

        def fpd() -> dict:
            za, zg = standardise(as_matrix(real_obs), as_matrix(observables(samples)))
            return {"fpd": frechet_distance(za, zg)}

        return fpd

    def _load_features(self, real: torch.Tensor) -> None:
        self.features = _classifier_features() or False
        if self.features is not False:
            try:
                self.real_feats = self.features(self.features.prepare(real)).double()
            except Exception:  # classifier cannot read this size: fall back to physics
                self.features = False


def real_vs_real(
    x_rec: torch.Tensor, other: torch.Tensor | None, stand_in: torch.Tensor, distance: _SetDistance, size: int
) -> dict:
    """The live metrics with real jets in place of the model's output (keys ``<metric>_real``): SSIM and PSNR of
    a different real jet in place of each reconstruction, the set distance of real jets in place of the
    generated ones (same N, same reference). A model is as good as real data when it reaches these."""
    from core.data.transforms import downsample
    from core.metrics.paired import paired_metrics

    def at_size(x: torch.Tensor) -> torch.Tensor:
        return x.float() if x.shape[-1] == size else downsample(x.float(), size)

    out: dict = {}

    def paired() -> dict:
        m = paired_metrics(at_size(x_rec), at_size(other))
        return {"ssim": m["ssim"]["mean"], "psnr": m["psnr"]["mean"]}

    if other is not None:  # None: a single held-out jet, no different real jet to pair it with
        _safely(out, paired)
    _safely(out, distance.measure(at_size(stand_in)))
    return {f"{k}_real": v for k, v in out.items()}


def make_metrics_fn(
    x_held: torch.Tensor,
    y_held: torch.Tensor,
    n_recon: int = 16,
    n_generate: int = 32,
    t_fraction: float = 0.3,
    sampler_steps: int = 10,
    seed: int = 0,
    on_phase: Callable[[str], None] | None = None,
    x_real: torch.Tensor | None = None,
) -> MetricsFn:
    """A ``metrics_fn(task, ema, step) -> dict`` for ``core.training.loop.Trainer`` over held-out GeV jets.

    Beside each metric its real-vs-real value (``ssim_real``, ``psnr_real``, ``fid_jet_real`` or ``fpd_real``,
    computed once): ``x_real`` are real jets outside the held-out ones (training jets) that stand in for the
    model's output; without them, held-out jets past the first ``n_recon`` do (for the set distance they are
    then part of the reference too, so its value reads a little low). ``on_phase`` hears what is being
    computed (a run log shows it while the bar waits).
    """
    phase = on_phase or (lambda name: None)
    x_rec, y_rec = x_held[:n_recon].float(), y_held[:n_recon].long()
    pool = (x_real if x_real is not None and len(x_real) else x_held[n_recon:]).float()
    other = pool[: len(x_rec)] if len(pool) >= len(x_rec) else x_rec.roll(1, dims=0) if len(x_rec) > 1 else None
    stand_in = pool[:n_generate] if len(pool) >= 2 else x_held.float()[:n_generate]
    distance = _SetDistance(x_held)
    floors: dict | None = None

    def fn(task, ema: nn.Module, step: int) -> dict:
        nonlocal floors
        out: dict = {}
        was_training = ema.training
        ema.eval()
        try:
            with torch.no_grad():
                phase(f"computing SSIM/PSNR on {len(x_rec)} jets")
                _safely(out, lambda: _reconstruction(task, ema, x_rec, y_rec, t_fraction, seed))
                phase(f"computing FID on {n_generate} jets")
                gen = torch.Generator().manual_seed(seed)
                labels = (torch.arange(n_generate) % 2).long() if task.conditional else None
                samples = task.sample(ema, n_generate, labels=labels, sampler_steps=sampler_steps, generator=gen)
                _safely(out, distance.measure(samples))
                if floors is None:  # the same for every interval: computed once
                    phase("computing the real-vs-real values")
                    floors = real_vs_real(x_rec, other, stand_in, distance, int(samples.shape[-1]))
                out.update(floors)
        finally:
            ema.train(was_training)
        return {k: float(v) for k, v in out.items() if v is not None and np.isfinite(v)}

    return fn


def _safely(out: dict, compute: Callable[[], dict]) -> None:
    """Add a metric group to ``out``; too few jets or a degenerate sample skips it instead of ending the run."""
    try:
        out.update(compute())
    except (ValueError, RuntimeError, np.linalg.LinAlgError):
        pass


def _reconstruction(task, ema: nn.Module, x0: torch.Tensor, y: torch.Tensor, t_fraction: float, seed: int) -> dict:
    from core.data.transforms import downsample
    from core.metrics.reconstruct import reconstruct, reconstruction_metrics

    device = next(ema.parameters()).device
    model = task.reconstructor(ema, labels=y.to(device) if task.conditional else None)
    size = int(task.size)
    if x0.shape[-1] != size:  # score at the model's own resolution (energy-conserving pooling)
        x0 = downsample(x0, size)
    t = max(int(getattr(model, "first_step", 0)), int(t_fraction * (model.timesteps - 1)))
    rec = reconstruct(model, x0.to(device), t, mode="one_step", seed=seed)
    m = reconstruction_metrics(rec)
    model, empty = m["model"], m["empty"]  # an empty image scores high SSIM on sparse jets: the floor to beat
    return {
        "ssim": model["ssim"]["mean"],
        "psnr": model["psnr"]["mean"],
        "recon_t": t,
        "ssim_empty": empty["ssim"]["mean"],
        "psnr_empty": empty["psnr"]["mean"],
    }
