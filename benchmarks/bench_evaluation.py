"""Quality of the shipped models through one evaluation, and U-Net quality against the number of steps.

Runs, on the embedded sample at 32 x 32: the seed baseline (its own 50-step DDPM sampler) and the
class-conditional U-Net with every sampler at several step counts, each sampled with the same seed
and scored by ``core.metrics.report.evaluate_sets`` against the same real halves (the floor).
Prints the table with each distance as a ratio to the seed baseline's, and writes the JSON, the
markdown table and the quality-vs-steps PNGs under ``--out`` (default assets/evaluation).

    python -m benchmarks.bench_evaluation [--n 500] [--grid smoke|quick|full] [--inception-jets 0]

Reconstructions (SSIM / PSNR, one step from t) of each model beside the trivial ones are printed too.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from core.atomic import atomic_path, write_text_atomic
from core.metrics.report import evaluate_sets

ROOT = Path(__file__).resolve().parents[1]
GRIDS = {
    "smoke": {"fast": [5, 20], "ddim": [5]},
    "quick": {"fast": [5, 10, 20], "ddim": [10, 25, 50], "ddpm": [50]},
    "full": {"ddim": [10, 25, 50, 100], "fast": [5, 10, 20, 40], "ddpm": [50, 100, 250, 1000]},
}
# Configurations whose samples are drawn for the README (observables overlaid, a sample grid).
SHOWCASE = {("seed baseline", "ddpm", 50), ("U-Net", "fast", 20)}
KEYS = {
    "fpd": "FPD (observables, N -> inf)",
    "fid_jet": "FID (jet features)",
    "kid_jet": "KID (jet features)",
    "fid_inception": "FID (Inception-v3)",
    "w1_mass": "W1 jet mass [GeV]",
    "w1_pt": "W1 jet pT [GeV]",
    "w1_width": "W1 jet width (girth)",
    "acc_quark": "classifier: quark jets called quark",
    "acc_gluon": "classifier: gluon jets called gluon",
}


def summarise(report) -> tuple[dict, dict]:
    """(model values, floor values) of the KEYS metrics of one report."""
    rows = {r.metric: r for r in report.rows}
    model = {k: rows[m].model for k, m in KEYS.items() if m in rows}
    floor = {k: rows[m].floor for k, m in KEYS.items() if m in rows}
    return model, floor


def run_one(ckpt, real, y_real, n, sampler, steps, seed, inception_jets, classifier) -> dict:
    from core.training.sampling import labels_for, sample_images

    label = "mixed" if ckpt.task.conditional else None
    labels = labels_for(ckpt, label, n)
    start = time.perf_counter()
    x = sample_images(ckpt, n, sampler, steps, label, 1.0, seed)
    sample_s = time.perf_counter() - start
    y = labels if labels is not None else torch.zeros(n, dtype=torch.long)
    report = evaluate_sets(
        real,
        x,
        y_real,
        y,
        conditional=labels is not None,
        inception_jets=inception_jets,
        classifier=classifier,
        seed=seed,
    )
    model, floor = summarise(report)
    return {
        "sampler": sampler,
        "sampler_steps": steps,
        "sample_seconds": round(sample_s, 2),
        **model,
        "_floor": floor,
        "_report": report,
        "_samples": x,
    }


def reconstruction_table(configs, x, y, fractions=(0.1, 0.3, 0.6), seed=0) -> str:
    """SSIM / PSNR (channel mean) of one-step reconstructions from t = fraction * T, beside noisy xt and empty."""
    from core.metrics.checkpoint_adapter import reconstructor_for
    from core.metrics.reconstruct import reconstruct, reconstruction_metrics

    lines = [
        "| model | t / T | SSIM model | SSIM noisy xt | SSIM empty | PSNR model [dB] | PSNR noisy xt | PSNR empty |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, path, _grid in configs:
        rec = reconstructor_for(path, labels=y)
        for f in fractions:
            t = int(f * rec.timesteps)
            m = reconstruction_metrics(reconstruct(rec, x, t, "one_step", seed))
            cells = [fmt(m[k]["ssim"]["mean"]) for k in ("model", "noisy_xt", "empty")]
            cells += [fmt(m[k]["psnr"]["mean"]) for k in ("model", "noisy_xt", "empty")]
            lines.append(f"| {name} | {t} / {rec.timesteps} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt(v) -> str:
    return "-" if v is None else f"{v:.4g}"


def plot_steps(results: list[dict], floor: dict, n: int, out: Path) -> None:
    """quality_vs_steps_<metric>.png for the U-Net rows, the seed baseline as a dotted line, the floor dashed."""
    from core.viz.evaluation import quality_vs_steps
    from core.viz.export import figure_png

    base = next((r for r in results if r["model"] == "seed baseline"), None)
    unet = [r for r in results if r["model"] == "U-Net"]
    for key in ("fpd", "fid_jet"):
        if unet and key in unet[0]:
            baseline = {"label": "seed baseline (ddpm 50)", "value": base[key]} if base and key in base else None
            fig = quality_vs_steps(
                unet,
                key,
                floor=floor.get(key),
                baseline=baseline,
                log_y=True,
                y_title=KEYS[key],
                title=f"U-Net: {KEYS[key]} vs sampler steps ({n} jets)",
            )
            with atomic_path(out / f"quality_vs_steps_{key}.png", suffix=".png") as tmp:
                tmp.write_bytes(figure_png(fig))
            print(f"wrote {out / f'quality_vs_steps_{key}.png'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=500, help="generated jets per configuration")
    p.add_argument("--grid", choices=tuple(GRIDS), default="quick")
    p.add_argument("--baseline", default=str(ROOT / "checkpoints" / "seed_baseline_32"))
    p.add_argument("--unet", default=str(ROOT / "checkpoints" / "unet_32"))
    p.add_argument("--inception-jets", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "assets" / "evaluation"))
    p.add_argument("--replot", action="store_true", help="redraw the quality-vs-steps PNGs from OUT/benchmark.json")
    args = p.parse_args()
    if args.replot:
        saved = json.loads(Path(args.out, "benchmark.json").read_text())
        plot_steps(saved["results"], saved["floor"], saved["n"], Path(args.out))
        return
    torch.set_num_threads(args.threads)

    from core.data.readers import load_tensors
    from core.metrics.jet_classifier import load_classifier
    from core.training.checkpoint import load_checkpoint

    out = Path(args.out)
    real, y_real = load_tensors(None, size=32, max_jets=2 * args.n, seed=args.seed)
    classifier = load_classifier()
    results, floor, missing, showcase = [], {}, [], {}

    configs = []
    if Path(args.baseline, "config.json").exists():
        configs.append(("seed baseline", args.baseline, {"ddpm": [50]}))
    else:
        missing.append(args.baseline)
    if Path(args.unet, "config.json").exists():
        configs.append(("U-Net", args.unet, GRIDS[args.grid]))
    else:
        missing.append(args.unet)
    for name, path, grid in configs:
        ckpt = load_checkpoint(path)
        for sampler, step_list in grid.items():
            for steps in step_list:
                steps = min(steps, ckpt.task.schedule.timesteps)
                r = run_one(ckpt, real, y_real, args.n, sampler, steps, args.seed, args.inception_jets, classifier)
                floor = r.pop("_floor")
                report, samples = r.pop("_report"), r.pop("_samples")
                if (name, sampler, steps) in SHOWCASE:
                    showcase[name] = (report, samples, f"{name}, {sampler} {steps} steps")
                r["model"] = name
                results.append(r)
                print(
                    f"{name:14s} {sampler:5s} {steps:5d} steps  FPD {fmt(r.get('fpd'))}  FID(jet) {fmt(r.get('fid_jet'))}"
                    f"  W1 mass {fmt(r.get('w1_mass'))}  ({r['sample_seconds']} s sampling)",
                    flush=True,
                )
    for m in missing:
        print(f"missing checkpoint: {m} (skipped)")
    if not results:
        print("nothing to evaluate: no shipped diffusion checkpoint found")
        return

    recon = reconstruction_table(configs, real[: min(100, args.n)], y_real[: min(100, args.n)], seed=args.seed)
    print("\nOne-step reconstructions of real jets (per-channel data range = the largest real pixel):\n")
    print(recon)

    base = next((r for r in results if r["model"] == "seed baseline"), None)
    cols = [
        k
        for k in (
            "fpd",
            "fid_jet",
            "kid_jet",
            "fid_inception",
            "w1_mass",
            "w1_pt",
            "w1_width",
            "acc_quark",
            "acc_gluon",
        )
        if any(k in r for r in results)
    ]
    header = "| model | sampler | steps | " + " | ".join(KEYS[c] for c in cols) + " | sampling s |"
    lines = [header, "|" + "---|" * (len(cols) + 4)]
    for r in results:
        cells = []
        for c in cols:
            v = r.get(c)
            ratio = ""
            if (
                base is not None
                and r is not base
                and c in base
                and v is not None
                and base[c]
                and not c.startswith("acc")
            ):
                ratio = f" ({v / base[c]:.2g}x)"
            cells.append(fmt(v) + ratio)
        lines.append(
            f"| {r['model']} | {r['sampler']} | {r['sampler_steps']} | "
            + " | ".join(cells)
            + f" | {r['sample_seconds']} |"
        )
    lines.append("| real vs real (floor) | - | - | " + " | ".join(fmt(floor.get(c)) for c in cols) + " | - |")
    table = "\n".join(lines)
    print(f"\n{args.n} generated jets per row against {args.n} real jets; (Nx) = ratio to the seed baseline\n")
    print(table)

    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(
        out / "benchmark.json",
        json.dumps({"n": args.n, "seed": args.seed, "results": results, "floor": floor, "missing": missing}, indent=2)
        + "\n",
    )
    write_text_atomic(out / "benchmark.md", table + "\n\n" + recon + "\n")
    try:
        from core.viz.export import figure_png

        plot_steps(results, floor, args.n, out)
        from core.viz.evaluation import observables_overlay, samples_grid

        for name, (report, samples, label) in showcase.items():
            slug = name.lower().replace(" ", "_").replace("-", "")
            figs = {
                f"observables_{slug}.png": observables_overlay(
                    report.observables_real, report.observables_generated, names=("real", label)
                ),
                f"samples_ECAL_{slug}.png": samples_grid(real, samples, channel=1),
            }
            figs[f"observables_{slug}.png"].update_layout(title=f"Jet observables: real vs {label} ({args.n} jets)")
            for fname, fig in figs.items():
                with atomic_path(out / fname, suffix=".png") as tmp:
                    tmp.write_bytes(figure_png(fig))
                print(f"wrote {out / fname}")
    except RuntimeError as err:
        print(f"figures skipped: {err}")


if __name__ == "__main__":
    main()
