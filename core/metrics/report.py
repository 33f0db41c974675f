"""Every set metric for a real and a generated sample, as one table: metric, model, floor.

:func:`evaluate_sets` draws two disjoint halves of the real jets and a generated subset, all of one
size N (``core.metrics.floor``), and computes generated-vs-real (the model) and real-vs-real (the
floor) for: FID and KID on jet-classifier features, FID and KID on Inception-v3 features (on a
smaller subset, the network is slow on a CPU), the extrapolated Frechet physics distance, W1 of each
observable, the two-sample classifier AUCs (``core.metrics.two_sample``: observables, and pixels with
observables; 0.5 = indistinguishable), and the classifier's verdict on the generated quark and gluon jets.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from core.data.layout import GLUON, LABEL_NAMES, QUARK, UNLABELLED
from core.data.observables import LABELS as OBS_LABELS
from core.data.observables import OBSERVABLES, UNITS, jet_observables
from core.errors import JetInputError
from core.metrics.checks import as_images, check_count, check_same_kind
from core.metrics.floor import floor_split
from core.metrics.physics import FPD_KEYS, observables, physics_distances, wasserstein_distances

# Shape observables also compared over the whole image: the rows before them read R < 0.4 only, which at
# 8 x 8 is the four central pixels, blind to a jet's rim (where most of its mass and most lit pixels are).
WHOLE_IMAGE_KEYS = ("mass", "width", "ptd", "mult_tracks", "mult_ecal", "mult_hcal")
WHOLE_IMAGE = "whole image"


@dataclass
class MetricRow:
    """One line of the table; ``floor`` is the same metric between two halves of the real data."""

    metric: str
    model: float | None
    floor: float | None
    unit: str = ""
    error: float | None = None
    note: str = ""


@dataclass
class EvaluationReport:
    """The table, the raw numbers behind it, and the observables the figures need."""

    rows: list[MetricRow]
    details: dict
    info: dict
    observables_real: dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    observables_generated: dict[str, np.ndarray] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-safe dict (infinities as the strings 'inf' / '-inf')."""
        return _json_safe({"info": self.info, "rows": [asdict(r) for r in self.rows], "details": self.details})

    def table_rows(self) -> list[dict]:
        """The table as a list of dicts (metric, model, floor, unit, error, note), for a data frame or CSV."""
        return [asdict(r) for r in self.rows]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False)


def _json_safe(value):
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    return value


def classifier_verdict(
    classifier, x_gen: torch.Tensor, y_gen: torch.Tensor, x_real: torch.Tensor, y_real: torch.Tensor
) -> dict:
    """Accuracy of the jet classifier on generated jets w.r.t. their intended labels, and on real jets.

    Per class: the fraction of jets generated as quark (gluon) that the classifier calls quark (gluon),
    beside the same fraction for real quark (gluon) jets.
    """
    from core.metrics.features import JetFeatures
    from core.metrics.jet_classifier import predict_proba

    features = JetFeatures(classifier)
    p_gen = predict_proba(classifier, features.prepare(x_gen))
    p_real = predict_proba(classifier, features.prepare(x_real))
    out = {}
    for label, name in LABEL_NAMES.items():
        g, r = y_gen == label, y_real == label
        if g.any() and r.any():
            out[name] = {
                "generated": float(((p_gen[g] > 0.5).long() == label).float().mean()),
                "real": float(((p_real[r] > 0.5).long() == label).float().mean()),
                "n_generated": int(g.sum()),
                "n_real": int(r.sum()),
            }
    g, r = y_gen != UNLABELLED, y_real != UNLABELLED  # jets with no class (y = -1) have no right answer
    out["all"] = {
        "generated": float(((p_gen[g] > 0.5).long() == y_gen[g]).float().mean()),
        "real": float(((p_real[r] > 0.5).long() == y_real[r]).float().mean()),
    }
    return out


def evaluate_sets(
    real: torch.Tensor,
    generated: torch.Tensor,
    y_real: torch.Tensor | None = None,
    y_generated: torch.Tensor | None = None,
    *,
    conditional: bool | None = None,
    max_jets: int | None = None,
    inception_jets: int = 0,
    classifier=None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    two_sample: bool | tuple[str, ...] = True,
    two_sample_folds: int = 5,
    separating: bool = False,
) -> EvaluationReport:
    """All set metrics of ``generated`` against ``real`` (both (N, 3, H, W) GeV, same size), with floors.

    ``classifier``: a JetClassifier (default: the shipped one; ``False`` skips jet-feature metrics).
    ``inception_jets``: jets per set for Inception FID/KID (0 skips them; about 0.5 s per jet on a CPU core).
    ``conditional``: whether ``y_generated`` are intended labels (default: when both classes appear and no
    jet is unlabelled, y = -1; unlabelled samples are compared with all real jets, never per class).
    ``two_sample``: which two-sample classifiers to run (True: observables and pixels; False or () skips them).
    ``separating``: also what tells the sets apart and where (``details``: "separating_features",
    "mass_terms", "channel_overlaps", "energy_shape"); see :func:`_separating_details`.
    """
    say = progress or (lambda _msg: None)
    real = as_images(real, "real jets")
    generated = as_images(generated, "generated jets")
    check_same_kind(real, generated, "real jets", "generated jets")
    for labels, images, name in ((y_real, real, "real"), (y_generated, generated, "generated")):
        if labels is not None and len(labels) != len(images):
            raise JetInputError(f"{name} labels: {len(labels)} labels for {len(images)} jets")
    split = floor_split(len(real), len(generated), seed, max_jets)
    # Fail before any network runs: the FPD needs more jets than twice its 10 observables.
    check_count(split.n, 2 * len(FPD_KEYS) + 2, "evaluation", "the Frechet physics distance (per set)")
    ra, rb, gen = real[split.real_a], real[split.real_b], generated[split.generated]
    details: dict = {}
    info = {
        "n": split.n,
        "image_size": int(real.shape[-1]),
        "n_real_total": len(real),
        "n_generated_total": len(generated),
        "seed": seed,
        "floor": "same metric between two disjoint halves of the real jets, same N",
    }
    classifier = _usable_classifier(classifier, real, info)
    rows = _feature_rows(ra, gen, rb, classifier, inception_jets, split.n, seed, say, details)
    physics, obs_a, obs_g = _physics_rows(ra, gen, rb, seed, say, details)
    rows += physics
    rows += two_sample_rows(ra, gen, rb, two_sample, two_sample_folds, seed, say, details, info)
    if separating:
        labels = _split_labels(y_generated, y_real, split)  # each channel's energy and shape are read per class
        details.update(_separating_details(ra, gen, rb, two_sample_folds, seed, say, labels))
    if y_generated is not None and y_real is not None and classifier is not False:
        y_gen = torch.as_tensor(y_generated).long()[split.generated]
        y_ra = torch.as_tensor(y_real).long()[split.real_a]
        rows += _verdict_rows(classifier, gen, y_gen, ra, y_ra, conditional, say, details)
    return EvaluationReport(rows, details, info, obs_a, obs_g)


def _split_labels(y_generated, y_real, split) -> tuple | None:
    """The labels of the generated jets and the two real halves, when every jet of both sets has a class."""
    if y_generated is None or y_real is None:
        return None
    y_gen, y_all = torch.as_tensor(y_generated).long(), torch.as_tensor(y_real).long()
    if (y_gen == UNLABELLED).any() or (y_all == UNLABELLED).any():
        return None
    return y_gen[split.generated], y_all[split.real_a], y_all[split.real_b]


def _separating_details(ra, gen, rb, folds: int, seed: int, say, labels: tuple | None = None) -> dict:
    """What tells the sets apart (each feature group's AUC), where their mass differs (pairs of groups),
    whether their channels' deposits sit on the same pixels (overlaps within the cone) and whether each channel's
    concentration follows its energy (``labels``: the three sets' classes, read within each)."""
    from core.metrics.channel_correlation import overlap_rows
    from core.metrics.energy_shape import energy_shape_rows
    from core.metrics.mass_terms import mass_term_rows
    from core.metrics.separating_features import separating_features

    return {
        "separating_features": separating_features(ra, gen, rb, folds, seed, say),
        "mass_terms": mass_term_rows(gen, ra, rb),
        "channel_overlaps": overlap_rows(gen, ra, rb),
        "energy_shape": energy_shape_rows(gen, ra, rb, labels),
    }


def _usable_classifier(classifier, real: torch.Tensor, info: dict):
    """The jet classifier to use (default: the shipped one), or False when it is off or cannot read these jets."""
    from core.metrics.features import JetFeatures
    from core.metrics.jet_classifier import load_classifier

    if classifier is None:
        classifier = load_classifier()
    if classifier is not False:
        try:
            JetFeatures(classifier).prepare(real[:1])
        except JetInputError as err:
            info["jet_features_skipped"] = str(err)
            classifier = False
    return classifier


def _feature_rows(
    ra, gen, rb, classifier, inception_jets: int, n: int, seed: int, say, details: dict
) -> list[MetricRow]:
    """FID / KID on the jet classifier's features and, with ``inception_jets``, on Inception-v3's."""
    from core.metrics.features import InceptionFeatures, JetFeatures
    from core.metrics.sets import feature_distances

    rows: list[MetricRow] = []
    if classifier is not False:
        say("jet-feature FID / KID")
        jet = feature_distances(ra, gen, rb, JetFeatures(classifier), seed)
        details["jet_features"] = jet
        rows.append(MetricRow("FID (jet features)", jet["model"]["fid"], jet["floor"]["fid"], note=f"N = {n}, 64-d"))
        rows.append(
            MetricRow("KID (jet features)", jet["model"]["kid"], jet["floor"]["kid"], error=jet["model"]["kid_std"])
        )
    if inception_jets:
        m = min(inception_jets, n)
        say(f"Inception FID / KID on {m} jets per set")
        inc = feature_distances(ra[:m], gen[:m], rb[:m], InceptionFeatures(), seed)
        details["inception"] = inc
        rows.append(MetricRow("FID (Inception-v3)", inc["model"]["fid"], inc["floor"]["fid"], note=f"N = {m}, 2048-d"))
        rows.append(
            MetricRow("KID (Inception-v3)", inc["model"]["kid"], inc["floor"]["kid"], error=inc["model"]["kid_std"])
        )
    return rows


def _physics_rows(ra, gen, rb, seed: int, say, details: dict):
    """The FPD and the W1 of every observable, and the observables of the real half and the generated jets."""
    say("physics distances")
    obs_a, obs_g, obs_b = observables(ra), observables(gen), observables(rb)
    phys = physics_distances(obs_a, obs_g, obs_b, seed=seed)
    details["physics"] = phys
    fpd = phys["fpd"]
    rows = [
        MetricRow(
            "FPD (observables, N -> inf)",
            fpd["model"]["value"],
            fpd["floor"]["value"],
            error=fpd["model"]["error"],
            note="standardised by the real spread",
        )
    ]
    for k in OBSERVABLES:
        w1 = phys["w1"]
        rows.append(MetricRow(f"W1 {OBS_LABELS.get(k, k)}", w1["model"][k], w1["floor"][k], unit=UNITS.get(k, "")))
    rows += _whole_image_rows(ra, gen, rb, details)
    return rows, obs_a, obs_g


def _whole_image_rows(ra, gen, rb, details: dict) -> list[MetricRow]:
    """W1 of the shape observables over the whole image (``WHOLE_IMAGE_KEYS``), model and floor."""
    whole = [{k: v for k, v in jet_observables(x, radius=None).items() if k in WHOLE_IMAGE_KEYS} for x in (ra, gen, rb)]
    model = wasserstein_distances(whole[0], whole[1], WHOLE_IMAGE_KEYS)
    floor = wasserstein_distances(whole[0], whole[2], WHOLE_IMAGE_KEYS)
    details["physics_whole_image"] = {"w1": {"model": model, "floor": floor}}
    return [
        MetricRow(
            f"W1 {OBS_LABELS.get(k, k)}, {WHOLE_IMAGE}",
            model[k],
            floor[k],
            unit=UNITS.get(k, ""),
            note="whole image; the rows without it read R < 0.4",
        )
        for k in WHOLE_IMAGE_KEYS
    ]


def _verdict_rows(classifier, gen, y_gen, ra, y_ra, conditional: bool | None, say, details: dict) -> list[MetricRow]:
    """The classifier's verdict per class on generated jets beside real ones, when the labels are intended classes."""
    if conditional is None:
        conditional = bool((y_gen == QUARK).any() and (y_gen == GLUON).any() and not (y_gen == UNLABELLED).any())
    if not conditional:
        return []
    say("classifier verdict")
    verdict = classifier_verdict(classifier, gen, y_gen, ra, y_ra)
    details["classifier_verdict"] = verdict
    return [
        MetricRow(
            f"classifier: {name} jets called {name}",
            verdict[name]["generated"],
            verdict[name]["real"],
            note="floor column = real jets",
        )
        for name in ("quark", "gluon")
        if name in verdict
    ]


def two_sample_rows(ra, gen, rb, kinds, folds: int, seed: int, say, details: dict, info: dict) -> list[MetricRow]:
    """Rows of the two-sample classifier AUCs (model: generated vs real, floor: real vs real), in ``details``."""
    from core.metrics.two_sample import KINDS, two_sample_test

    kinds = KINDS if kinds is True else tuple(kinds or ())
    if not kinds:
        return []
    if len(gen) < 2 * folds:
        info["two_sample_skipped"] = f"{len(gen)} jets per set are too few for {folds}-fold cross-validation"
        return []
    rows, details["two_sample"] = [], {}
    for kind in kinds:
        res = two_sample_test(ra, gen, rb, kind, folds, seed, progress=say)
        details["two_sample"][kind] = res
        what = "MLP on observables" if kind == "observables" else "CNN on 8 x 8 log pixels + observables"
        rows.append(
            MetricRow(
                f"two-sample AUC ({kind})",
                res["model"]["auc"],
                res["floor"]["auc"],
                error=res["model"]["std"],
                note=f"{what}, {folds}-fold; 0.5 = indistinguishable",
            )
        )
    return rows


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}"


def format_table(rows: list[MetricRow]) -> str:
    """Plain-text table: metric | model | floor | unit (model +- error where there is one)."""
    body = [("metric", "model", "floor (real vs real)", "unit")]
    for r in rows:
        model = _fmt(r.model) + (f" +- {_fmt(r.error)}" if r.error is not None else "")
        body.append((r.metric, model, _fmt(r.floor), r.unit))
    return text_table(body)


def text_table(body: list[tuple[str, ...]]) -> str:
    """Rows of cells (the first one the header) as left-aligned columns, a rule under the header."""
    widths = [max(len(line[i]) for line in body) for i in range(len(body[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
