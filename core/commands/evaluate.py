"""``evaluate``: generated jets against real jets, every metric beside its real-vs-real floor.

Prints the table (metric, model, floor) and, with ``--out``, writes ``report.json`` and PNG figures
(observables overlaid, samples per channel, distances in units of the floor).
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "Compare generated jets with real jets (FID/KID, physics distances, classifier verdict), each beside its floor."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--real", default=None, help="real jets, any supported layout (default: the embedded sample)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--generated", help="generated jets, CMS-layout HDF5 (from `python -m core sample`)")
    src.add_argument("--checkpoint", help="sample from this checkpoint first (written to OUT/generated.h5)")
    p.add_argument("--out", default=None, help="folder for report.json and the PNG figures")
    p.add_argument(
        "--jets", type=int, default=2000, help="at most this many jets per set (generated, and each real half)"
    )
    p.add_argument(
        "--inception-jets",
        type=int,
        default=100,
        help="jets per set for Inception FID/KID (0 skips; ~0.5 s per jet on a CPU)",
    )
    p.add_argument("--classifier", default=None, help="jet classifier checkpoint (default: checkpoints/jet_classifier)")
    p.add_argument("--no-classifier", action="store_true", help="skip jet-feature FID/KID and the classifier verdict")
    p.add_argument(
        "--no-two-sample", action="store_true", help="skip the two-sample classifier AUCs (observables, pixels)"
    )
    p.add_argument("--two-sample-folds", type=int, default=5, help="cross-validation folds of the two-sample AUCs")
    p.add_argument(
        "--separating",
        action="store_true",
        help="also the two-sample AUC of each group of features alone (observables, channel energies, lit pixels "
        "above a few energies, each channel's brightest pixels' shares): what tells generated jets from real ones; "
        "and the mean jet mass squared split over pairs of calorimeter groups within and outside the cone",
    )
    p.add_argument(
        "--splits",
        type=int,
        default=1,
        help="also the FPD and W1 rows over this many splits of the real jets into halves (seeds SEED, SEED+1, ...): "
        "mean model, mean floor, their ratio and the per-split range (one split's ratio can be off by 2-5x)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the subsets and the real halves")
    p.add_argument("--no-figures", action="store_true", help="write report.json only")
    _add_sampling_arguments(p.add_argument_group("with --checkpoint"))


def _add_sampling_arguments(g) -> None:
    """How ``--checkpoint`` samples: the options of ``core sample`` that set the jets drawn."""
    g.add_argument("--n", type=int, default=1000, help="jets to sample")
    g.add_argument("--sampler", default=None, help="a sampler from the model's table (default: the model's own)")
    g.add_argument(
        "--sampler-steps",
        "--steps",
        dest="sampler_steps",
        type=int,
        default=None,
        help="sampler steps (default: the model's)",
    )
    g.add_argument(
        "--guidance", type=float, default=None, help="classifier-free guidance weight (default: the model's)"
    )
    g.add_argument(
        "--guidance-from",
        type=float,
        default=0.0,
        help="the guidance weight applies only while t / T >= this (default 0: every step)",
    )
    g.add_argument(
        "--logsnr-floor",
        type=float,
        default=None,
        help="fast sampler: its log-SNR grid starts no noisier than this lambda (e.g. -3; default: at T - 1)",
    )
    g.add_argument("--device", default="cpu", help="cpu, cuda, mps or auto")


def _file_attrs(path: str) -> dict:
    from core.data.safe_open import open_hdf5
    from core.errors import JetInputError

    try:
        with open_hdf5(path) as f:
            return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
    except (OSError, JetInputError):
        return {}


def load_generated(path: str, max_jets: int, seed: int):
    """Generated jets (N, 3, H, W) GeV, labels, and whether the labels are intended classes.

    Unlabelled jets (y = -1, or an older file whose ``label`` attribute is "none" and whose y is a
    placeholder 0) come back as y = -1 with ``conditional`` False: they are compared with all real jets,
    never per class.
    """
    import numpy as np
    import torch

    from core.data.layout import UNLABELLED
    from core.data.readers import channels_first, open_jets

    src = open_jets(path)
    try:
        n = len(src)
        index = np.arange(n)
        if n > max_jets:
            index = np.sort(np.random.default_rng(seed).choice(n, size=max_jets, replace=False))
        x = torch.cat([channels_first(imgs) for _, imgs in src.batches(512, index)])
        y = torch.from_numpy(src.y[index]).long()
    finally:
        src.close()
    label = str(_file_attrs(path).get("label", "")).lower()
    if label == "none":
        y = torch.full_like(y, UNLABELLED)  # older files wrote a placeholder 0 for "no class"
    if (y == UNLABELLED).any():
        return x, y, False
    return x, y, (True if label else None)  # no attribute: let evaluate_sets judge from the labels


def load_real(path: str | None, size: int, max_jets: int, seed: int):
    """Real jets sum-pooled to the generated size (clear error when that size cannot be reached)."""
    from core.data.readers import load_tensors
    from core.errors import JetInputError

    name = path or "the embedded sample"
    try:
        return load_tensors(path, size=size, max_jets=max_jets, seed=seed)
    except JetInputError:
        raise
    except ValueError as err:
        raise JetInputError(f"{name}: real jets cannot be compared at {size} x {size}: {err}") from None


def sample_checkpoint(args: argparse.Namespace, out: Path) -> str:
    """Sample ``--n`` jets (half quark, half gluon for conditional models) into OUT/generated.h5."""
    import torch
    from tqdm import tqdm

    from core.data.layout import UNLABELLED, UNLABELLED_MEANING
    from core.data.writers import write_cms
    from core.training.checkpoint import load_checkpoint
    from core.training.device import resolve_device
    from core.training.sampling import default_guidance, labels_for, sample_images

    device = resolve_device(args.device)
    ckpt = load_checkpoint(args.checkpoint, device=device)
    args.sampler = args.sampler or ckpt.task.default_sampler
    label = "mixed" if ckpt.task.conditional else None
    labels = labels_for(ckpt, label, args.n)
    with tqdm(total=args.n, desc=f"sample {args.sampler}", unit="jet") as bar:
        x = sample_images(
            ckpt,
            args.n,
            args.sampler,
            args.sampler_steps,
            label,
            args.guidance,
            args.seed,
            device,
            progress=bar.update,
            guidance_from=args.guidance_from,
            logsnr_floor=args.logsnr_floor,
        )
    y = labels if labels is not None else torch.full((args.n,), UNLABELLED, dtype=torch.long)
    path = out / "generated.h5"
    write_cms(
        path,
        x.permute(0, 2, 3, 1).numpy(),
        y.numpy(),
        attrs={
            "checkpoint": str(args.checkpoint),
            "sampler": args.sampler,
            "sampler_steps": -1 if args.sampler_steps is None else args.sampler_steps,
            "guidance": default_guidance(ckpt) if args.guidance is None else args.guidance,
            "guidance_from": args.guidance_from,
            "logsnr_floor": "none" if args.logsnr_floor is None else args.logsnr_floor,
            "seed": args.seed,
            "label": "none" if label is None else label,
            "y_meaning": "requested label (1 = quark, 0 = gluon)" if labels is not None else UNLABELLED_MEANING,
        },
    )
    return str(path)


def write_figures(report, real, generated, out: Path) -> list[Path]:
    """observables.png, samples_<channel>.png, metrics_vs_floor.png (needs a local Chromium for kaleido)."""
    from dataclasses import asdict

    from core.atomic import atomic_path
    from core.data.layout import CHANNELS
    from core.viz.evaluation import metrics_vs_floor, observables_overlay, samples_grid
    from core.viz.export import figure_png

    figures = {"observables.png": observables_overlay(report.observables_real, report.observables_generated)}
    for c, name in enumerate(CHANNELS):
        figures[f"samples_{name}.png"] = samples_grid(real, generated, c)
    figures["metrics_vs_floor.png"] = metrics_vs_floor([asdict(r) for r in report.rows])
    written = []
    for name, fig in figures.items():
        with atomic_path(out / name, suffix=".png") as tmp:
            tmp.write_bytes(figure_png(fig))
        written.append(out / name)
    return written


def _output_dir(args: argparse.Namespace) -> Path | None:
    """Check the numeric options and ``--out`` before any work (never over an input or into a checkpoint)."""
    from core.errors import JetInputError

    if args.jets < 2:
        raise JetInputError(f"--jets: must be at least 2, got {args.jets}")
    if args.splits < 1:
        raise JetInputError(f"--splits: must be 1 or more, got {args.splits}")
    if args.inception_jets < 0:
        raise JetInputError(f"--inception-jets: must be 0 or more, got {args.inception_jets}")
    if args.checkpoint and not args.out:
        raise JetInputError("--checkpoint: give --out DIR for the sampled jets")
    if not args.out:
        return None
    from core.outputs import check_output_dir

    out = Path(args.out)
    check_output_dir(
        "--out", out, {"--generated": args.generated, "--real": args.real, "--checkpoint": args.checkpoint}
    )
    return out


def _report(args: argparse.Namespace, x_real, x_gen, y_real, y_gen, conditional):
    """``evaluate_sets`` on the two sets, one progress-bar tick per metric stage."""
    import torch
    from tqdm import tqdm

    from core.metrics.jet_classifier import DEFAULT_DIR, load_classifier
    from core.metrics.report import evaluate_sets

    classifier = False if args.no_classifier else load_classifier(args.classifier or DEFAULT_DIR)
    stages = ["jet-feature FID / KID", "Inception", "physics distances", "classifier verdict"]
    stages += [] if args.no_two_sample else ["two-sample"] * 4
    if args.separating:
        from core.metrics.separating_features import feature_groups

        stages += ["separating features"] * len(feature_groups())
    with tqdm(total=len(stages), desc="evaluate", unit="stage") as bar:

        def progress(msg: str) -> None:
            bar.set_postfix_str(msg)
            bar.update(1)

        with torch.inference_mode():
            return evaluate_sets(
                x_real,
                x_gen,
                y_real,
                y_gen,
                conditional=conditional,
                max_jets=args.jets,
                inception_jets=args.inception_jets,
                classifier=classifier,
                seed=args.seed,
                progress=progress,
                two_sample=not args.no_two_sample,
                two_sample_folds=args.two_sample_folds,
                separating=args.separating,
            )


def _write_outputs(report, x_real, x_gen, out: Path, figures: bool) -> None:
    """report.json and (unless ``figures`` is False, or no Chromium is found) the PNG figures in ``out``."""
    from core.atomic import write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "report.json", report.to_json() + "\n")
    print(f"wrote {out / 'report.json'}")
    if not figures:
        return
    try:
        for path in write_figures(report, x_real, x_gen, out):
            print(f"wrote {path}")
    except RuntimeError as err:
        print(f"figures skipped: {err}")


def _print_splits(args: argparse.Namespace, report, x_real, x_gen) -> None:
    """The FPD and W1 rows over ``--splits`` splits of the real jets, printed and kept in the report."""
    from core.metrics.splits import format_splits, rows_over_splits

    seeds = list(range(args.seed, args.seed + args.splits))
    rows = rows_over_splits(x_real, x_gen, seeds, args.jets)
    report.details["splits"] = {"seeds": seeds, "rows": rows}
    print(f"\nover {len(seeds)} splits of the real jets into halves (seeds {seeds[0]}-{seeds[-1]}; same jets):")
    print(format_splits(rows))


# What ``evaluate --separating`` adds after the table: report.details key, heading, formatter (module, name).
SEPARATING_DETAILS = (
    ("separating_features", "which features tell them apart (the same classifier on each group alone, same jets):",
     "core.metrics.separating_features", "format_separating"),
    ("mass_terms", "where the whole-image jet mass comes from: mean m^2 [GeV^2] by pair of calorimeter groups",
     "core.metrics.mass_terms", "format_mass_terms"),
    ("channel_overlaps", "do the channels' deposits sit on the same pixels: mean cosine of two channels' images "
     "within R = 0.4", "core.metrics.channel_correlation", "format_overlaps"),
    ("energy_shape", "does each channel's shape follow its energy: correlation of its pTD with its energy, within "
     "R = 0.4", "core.metrics.energy_shape", "format_energy_shape"),
)  # fmt: skip


def _print_details(details: dict) -> None:
    """The tables of ``evaluate --separating`` that the report holds, each under its heading."""
    import importlib

    for key, heading, module, name in SEPARATING_DETAILS:
        if key in details:
            print(f"\n{heading}")
            print(getattr(importlib.import_module(module), name)(details[key]))


def run(args: argparse.Namespace) -> int:
    from core.metrics.report import format_table

    out = _output_dir(args)
    if args.checkpoint:
        out.mkdir(parents=True, exist_ok=True)
        args.generated = sample_checkpoint(args, out)
    x_gen, y_gen, conditional = load_generated(args.generated, args.jets, args.seed)
    x_real, y_real = load_real(args.real, int(x_gen.shape[-1]), 2 * args.jets, args.seed)
    report = _report(args, x_real, x_gen, y_real, y_gen, conditional)
    report.info.update({"real": args.real or "embedded sample", "generated": args.generated})
    print(
        f"{report.info['n']} generated jets against {report.info['n']} real jets "
        f"({report.info['image_size']} x {report.info['image_size']}); floor = real vs real, same N"
    )
    print(format_table(report.rows))
    _print_details(report.details)
    if args.splits > 1:
        _print_splits(args, report, x_real, x_gen)
    if out is not None:
        _write_outputs(report, x_real, x_gen, out, figures=not args.no_figures)
    return 0
