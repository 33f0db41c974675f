"""Issue 13's goal table for classical checkpoints, in one run, on held-out real jets.

For each checkpoint: sample N jets with the fast sampler (the model's default; half quark, half gluon for
class-conditional models), score them with ``core.metrics.report.evaluate_sets`` against N held-out real jets
(never trained on) and the floor (another N held-out jets), check memorisation against the training jets, and
sample again with the best sampler (ddim 100 by default) and with the budget sampler (at most 20 network
evaluations per jet, guided steps counting twice: fast 14, guidance from t / T = 0.5, log-SNR floor -3 by
default) to see whether the budget one is within 10 % of the best. Each row: metric, value, floor, ratio, goal,
pass / fail.

    python -m benchmarks.bench_classical [--checkpoint NAME=DIR ...] [--real FILE] [--n 2000] [--out DIR]
    python -m benchmarks.bench_classical --quick --out /tmp/bench   # tiny, for a test
    python -m benchmarks.bench_classical --replot A.json [B.json#MODEL ...] --out DIR   # goal_table.png of saved runs

``--figure`` (or ``--replot``) also draws the goal table as ``OUT/goal_table.png``: W1 distances in units of
their floor and the two-sample AUCs beside the real-vs-real value, one colour per model.

Goals (issue 13): two-sample AUC <= 0.60 (observables) and <= 0.70 (pixels); every W1 <= 2x its floor;
FPD <= 1; jet-classifier verdict within 0.03 of real jets per class; no memorisation; a sampler at <= 20
network evaluations within 10 % of the best on AUCs, FPD and the median W1 ratio.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch

from core.atomic import atomic_path, write_text_atomic
from core.errors import JetInputError

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINTS = {
    "seed baseline": ROOT / "checkpoints" / "seed_baseline_32",
    "U-Net (previous recipe)": next(
        (
            p
            for p in (ROOT / "assets" / "baselines" / "unet_32_v1", ROOT / "checkpoints" / "unet_32_previous")
            if p.is_dir()
        ),
        ROOT / "assets" / "baselines" / "unet_32_v1",
    ),
    "U-Net": ROOT / "checkpoints" / "unet_32",
}
DEFAULT_REAL = ROOT / "assets" / "jets_heldout.h5"
AUC_GOALS = {"two-sample AUC (observables)": 0.60, "two-sample AUC (pixels)": 0.70}
W1_GOAL, FPD_GOAL, VERDICT_GOAL, FAST_GOAL, FAST_EVALUATIONS = 2.0, 1.0, 0.03, 1.10, 20
# The sampler held to 20 evaluations (fast 14 from t / T = 0.5, floor -3: 14 + 6), chosen on the training jets.
DEFAULT_BUDGET = ("fast:14", 0.5, -3.0)


def goal_row(model: str, metric: str, value, floor, ratio, goal: str, ok) -> dict:
    return {"model": model, "metric": metric, "value": value, "floor": floor, "ratio": ratio, "goal": goal, "pass": ok}


def goal_rows(name: str, report) -> list[dict]:
    """Goal rows of one evaluation report: AUCs, FPD, W1 in floor units, verdict differences."""
    rows = {r.metric: r for r in report.rows}
    out = []
    for metric, goal in AUC_GOALS.items():
        if metric in rows:
            r = rows[metric]
            out.append(goal_row(name, metric, r.model, r.floor, None, f"<= {goal}", r.model <= goal))
    fpd = rows["FPD (observables, N -> inf)"]
    out.append(goal_row(name, "FPD (N -> inf)", fpd.model, fpd.floor, None, f"<= {FPD_GOAL}", fpd.model <= FPD_GOAL))
    for metric, r in rows.items():
        if metric.startswith("W1 "):
            ratio = r.model / r.floor if r.floor > 0 else float("inf")
            out.append(goal_row(name, metric, r.model, r.floor, ratio, f"<= {W1_GOAL}x floor", ratio <= W1_GOAL))
    for cls in ("quark", "gluon"):
        r = rows.get(f"classifier: {cls} jets called {cls}")
        if r is not None:
            diff = abs(r.model - r.floor)
            metric = f"verdict: {cls} called {cls} (generated vs real)"
            out.append(
                goal_row(name, metric, r.model, r.floor, diff, f"abs. diff <= {VERDICT_GOAL}", diff <= VERDICT_GOAL)
            )
    return out


def summary_values(report) -> dict[str, float]:
    """The values the fast and the best sampler are compared on (lower is better for each)."""
    rows = {r.metric: r for r in report.rows}
    out = {m: rows[m].model for m in AUC_GOALS if m in rows}
    out["FPD (N -> inf)"] = rows["FPD (observables, N -> inf)"].model
    ratios = [r.model / r.floor for m, r in rows.items() if m.startswith("W1 ") and r.floor > 0]
    out["median W1 / floor"] = float(np.median(ratios))
    return out


def fast_vs_best_rows(name: str, fast: dict, best: dict, label: str, prefix: str = "fast") -> list[dict]:
    """Fast sampler against the best one: ratio fast / best, pass when <= 1.10 (or fast is lower)."""
    out = []
    for metric, v in fast.items():
        b = best[metric]
        ratio = v / b if b > 0 else float("inf") if v > b else 1.0
        row = goal_row(name, f"{prefix} / {label}: {metric}", v, b, ratio, f"<= {FAST_GOAL}x", ratio <= FAST_GOAL)
        out.append(row)
    return out


def memorisation_rows(name: str, mem: dict) -> list[dict]:
    """Nearest-training-jet distances of generated beside held-out jets, near copies, the authenticity test."""
    ks_ok = mem["ks_pvalue"] >= 0.01
    copies_ok = mem["copy_fraction"] <= mem["copy_fraction_heldout"] + 0.05
    closer_ok = mem["closer_to_training"] <= mem["closer_to_training_heldout"] + 0.1
    return [
        goal_row(
            name,
            "memorisation: median distance to nearest training jet",
            mem["median_generated"],
            mem["median_heldout"],
            mem["median_ratio"],
            f"like held-out: KS p = {mem['ks_pvalue']:.2g} >= 0.01",
            ks_ok,
        ),
        goal_row(
            name,
            "memorisation: near copies (d1 < d2 / 3)",
            mem["copy_fraction"],
            mem["copy_fraction_heldout"],
            None,
            "<= held-out + 0.05",
            copies_ok,
        ),
        goal_row(
            name,
            "memorisation: clearly closer to training (d_train < 0.8 d_heldout)",
            mem["closer_to_training"],
            mem["closer_to_training_heldout"],
            None,
            "<= held-out + 0.1",
            closer_ok,
        ),
    ]


def parse_sampler(spec: str) -> tuple[str, int]:
    name, _, steps = spec.partition(":")
    if name not in ("ddpm", "ddim", "fast") or not steps.isdigit():
        raise JetInputError(f"sampler: expected NAME:STEPS with NAME in ddpm, ddim, fast, got {spec!r}")
    return name, int(steps)


def evaluations(
    ckpt, spec: tuple[str, int], guidance: float, guidance_from: float, logsnr_floor: float | None = None
) -> int | None:
    """Network evaluations per jet of sampler ``spec`` on this checkpoint, guidance included (None for a family
    with its own fixed reverse process)."""
    from core.diffusion.samplers import network_evaluations

    schedule = getattr(ckpt.task, "schedule", None)
    if schedule is None:
        return None
    sampler, steps = effective(ckpt, spec)
    guided = bool(ckpt.task.conditional) and guidance not in (0.0, 1.0)
    floor = logsnr_floor if sampler == "fast" else None
    return network_evaluations(sampler, schedule, steps, guided, guidance_from if guided else 0.0, logsnr_floor=floor)


def evaluation_row(name: str, fast: int | None, best: int | None) -> dict:
    """The fast sampler's cost in network evaluations per jet (guided steps count twice), beside the best one's."""
    ok = None if fast is None else fast <= FAST_EVALUATIONS
    return goal_row(name, "fast sampler: network evaluations per jet", fast, best, None, f"<= {FAST_EVALUATIONS}", ok)


def effective(ckpt, spec: tuple[str, int]) -> tuple[str, int]:
    """The sampler and its steps, at most the model's T (the seed baseline has T = 50)."""
    sampler, steps = spec
    return sampler, min(steps, ckpt.task.schedule.timesteps) if hasattr(ckpt.task, "schedule") else steps


def sample(
    ckpt,
    n: int,
    spec: tuple[str, int],
    seed: int,
    device: str,
    guidance: float | None = None,
    guidance_from: float = 0.0,
    logsnr_floor: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, float]:
    """n jets (half gluon, half quark when conditional, at classifier-free ``guidance`` from t / T =
    ``guidance_from`` on; None: the model's weight), their labels, and the seconds it took. ``logsnr_floor``:
    the fast sampler's (``core.diffusion.samplers.timesteps_for``)."""
    from core.training.sampling import default_guidance, labels_for, sample_images

    label = "mixed" if ckpt.task.conditional else None
    sampler, steps = effective(ckpt, spec)
    start = time.perf_counter()
    guidance = default_guidance(ckpt) if guidance is None else guidance
    guided = label is not None and guidance != 1.0
    x = sample_images(
        ckpt, n, sampler, steps, label, guidance if label else 1.0, seed, device,
        guidance_from=guidance_from if guided else 0.0,
        logsnr_floor=logsnr_floor if sampler == "fast" else None,
    )  # fmt: skip
    return x.cpu(), labels_for(ckpt, label, n), time.perf_counter() - start


def evaluate(real, y_real, x, y, args, classifier):
    from core.metrics.report import evaluate_sets

    return evaluate_sets(
        real,
        x,
        y_real,
        y,
        conditional=y is not None,
        max_jets=args.n,
        classifier=classifier,
        seed=args.seed,
        two_sample_folds=args.folds,
    )


def run_checkpoint(name: str, path: Path, real, y_real, training, args, classifier) -> tuple[list[dict], dict]:
    """Goal rows and raw figures of one checkpoint."""
    from core.metrics.memorisation import memorisation_check
    from core.training.checkpoint import load_checkpoint
    from core.training.sampling import default_guidance

    ckpt = load_checkpoint(str(path), device=args.device)
    guidance = default_guidance(ckpt) if args.guidance is None else args.guidance
    x, y, sec = sample(ckpt, args.n, args.fast, args.seed, args.device, guidance, args.guidance_from)
    nfe = evaluations(ckpt, args.fast, guidance, args.guidance_from)
    print(
        f"{name}: {args.n} jets with {' '.join(map(str, effective(ckpt, args.fast)))}"
        + (f", guidance {guidance:g}" if ckpt.task.conditional else "")
        + ("" if nfe is None else f", {nfe} network evaluations per jet")
        + f" in {sec:.0f} s",
        flush=True,
    )
    report = evaluate(real, y_real, x, y, args, classifier)
    rows = goal_rows(name, report)
    mem = memorisation_check(x, real, training, seed=args.seed)
    rows += memorisation_rows(name, mem)
    raw = {
        "path": str(path),
        "step": ckpt.step,
        "guidance": guidance,
        "fast_seconds": round(sec, 1),
        "fast_evaluations": nfe,
        "report": report.to_dict(),
        "memorisation": {k: v for k, v in mem.items() if not k.startswith("distances")},
    }
    if args.best is not None:
        xb, yb, sec_b = sample(ckpt, args.n, args.best, args.seed, args.device, guidance, args.guidance_from)
        label = " ".join(map(str, effective(ckpt, args.best)))
        nfe_best = evaluations(ckpt, args.best, guidance, args.guidance_from)
        print(f"{name}: {args.n} jets with {label} ({nfe_best} network evaluations per jet) in {sec_b:.0f} s")
        best = evaluate(real, y_real, xb, yb, args, classifier)
        raw.update({"best_seconds": round(sec_b, 1), "best_evaluations": nfe_best, "best_report": best.to_dict()})
        against, cost = report, nfe
        if args.budget is not None:
            against, cost, raw["budget"] = budget_report(name, ckpt, real, y_real, guidance, args, classifier)
        rows.append(evaluation_row(name, cost, nfe_best))
        prefix = "fast" if args.budget is None else "budget " + " ".join(map(str, effective(ckpt, args.budget)))
        rows += fast_vs_best_rows(name, summary_values(against), summary_values(best), label, prefix)
    return rows, raw


def budget_report(name: str, ckpt, real, y_real, guidance: float, args, classifier):
    """The sampler held to the goal's budget of network evaluations (``--budget``, with its own guidance interval
    and log-SNR floor): its report, its cost per jet, and what to keep of it."""
    budget_from = args.guidance_from if args.budget_guidance_from is None else args.budget_guidance_from
    x, y, sec = sample(
        ckpt, args.n, args.budget, args.seed, args.device, guidance, budget_from, args.budget_logsnr_floor
    )
    nfe = evaluations(ckpt, args.budget, guidance, budget_from, args.budget_logsnr_floor)
    spec = " ".join(map(str, effective(ckpt, args.budget)))
    print(f"{name}: {args.n} jets with {spec} ({nfe} network evaluations per jet) in {sec:.0f} s", flush=True)
    report = evaluate(real, y_real, x, y, args, classifier)
    keep = {
        "sampler": spec,
        "guidance_from": budget_from,
        "logsnr_floor": args.budget_logsnr_floor,
        "evaluations": nfe,
        "seconds": round(sec, 1),
        "report": report.to_dict(),
    }
    return report, nfe, keep


def fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "pass" if v else "FAIL"
    return f"{v:.4g}"


def markdown(rows: list[dict]) -> str:
    lines = ["| model | metric | value | floor / reference | ratio | goal | pass |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [r["model"], r["metric"], fmt(r["value"]), fmt(r["floor"]), fmt(r["ratio"]), r["goal"], fmt(r["pass"])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plain(rows: list[dict]) -> str:
    head = ("model", "metric", "value", "floor", "ratio", "goal", "pass")
    body = [head] + [
        (r["model"], r["metric"], fmt(r["value"]), fmt(r["floor"]), fmt(r["ratio"]), r["goal"], fmt(r["pass"]))
        for r in rows
    ]
    widths = [max(len(line[i]) for line in body) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in body)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", action="append", default=None, metavar="NAME=DIR", help="repeat; default: shipped")
    p.add_argument("--real", default=str(DEFAULT_REAL), help="held-out real jets (never trained on)")
    p.add_argument("--training", default=None, help="the checkpoints' training jets (default: the embedded sample)")
    p.add_argument("--n", type=int, default=2000, help="generated jets per model, and real jets per half")
    p.add_argument(
        "--fast", default="fast:20", help="fast sampler NAME:STEPS (goal: <= 20 network evaluations per jet)"
    )
    p.add_argument("--best", default="ddim:100", help="best sampler NAME:STEPS, or 'none' to skip")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds of the two-sample AUCs")
    p.add_argument(
        "--guidance",
        type=float,
        default=None,
        help="classifier-free guidance of conditional models (1: none; default: each model's own)",
    )
    p.add_argument(
        "--guidance-from",
        type=float,
        default=0.0,
        help="the guidance weight applies only while t / T >= this (0: every step)",
    )
    p.add_argument(
        "--budget",
        default=DEFAULT_BUDGET[0],
        help="a sampler NAME:STEPS held to the goal's 20 network evaluations per jet (guided steps cost two), "
        "compared with the best; 'none' compares the fast sampler itself",
    )
    p.add_argument(
        "--budget-guidance-from", type=float, default=DEFAULT_BUDGET[1], help="its guidance interval, t / T >= this"
    )
    p.add_argument(
        "--budget-logsnr-floor", type=float, default=DEFAULT_BUDGET[2], help="its log-SNR floor (fast sampler)"
    )
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny run for a test: n 40, 2-step samplers, 3 folds")
    p.add_argument("--out", default=str(ROOT / "assets" / "evaluation" / "classical"))
    p.add_argument("--figure", action="store_true", help="also write OUT/goal_table.png (needs a local Chromium)")
    p.add_argument(
        "--replot",
        nargs="+",
        default=None,
        metavar="JSON",
        help="draw OUT/goal_table.png from saved bench_classical.json files (PATH or PATH#MODEL, in order) and stop",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.n, args.fast, args.best, args.folds = min(args.n, 40), "fast:2", "ddim:3", 3
    args.fast = parse_sampler(args.fast)
    args.best = None if args.best == "none" else parse_sampler(args.best)
    if args.guidance is not None and (not math.isfinite(args.guidance) or args.guidance < 0):
        raise JetInputError(f"--guidance: expected a finite weight >= 0, got {args.guidance}")
    if args.quick and args.budget == DEFAULT_BUDGET[0]:
        args.budget = "fast:3"
    args.budget = None if args.budget == "none" else parse_sampler(args.budget)
    if args.budget_logsnr_floor is not None and not math.isfinite(args.budget_logsnr_floor):
        raise JetInputError(f"--budget-logsnr-floor: expected a finite lambda, got {args.budget_logsnr_floor}")
    for option, value in (
        ("--guidance-from", args.guidance_from),
        ("--budget-guidance-from", args.budget_guidance_from),
    ):
        if value is not None and (not math.isfinite(value) or not 0 <= value < 1):
            raise JetInputError(f"{option}: expected a fraction of T in [0, 1), got {value}")
    return args


def checkpoints_of(args) -> dict[str, Path]:
    if not args.checkpoint:
        found = {k: v for k, v in DEFAULT_CHECKPOINTS.items() if (v / "config.json").exists()}
        for k, v in DEFAULT_CHECKPOINTS.items():
            if k not in found:
                print(f"missing checkpoint {v} ({k}): skipped")
        return found
    out = {}
    for spec in args.checkpoint:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise JetInputError(f"--checkpoint: expected NAME=DIR, got {spec!r}")
        out[name] = Path(path)
    return out


def saved_rows(specs: list[str]) -> list[dict]:
    """The goal rows of saved ``bench_classical.json`` files, in order: ``PATH`` (every model of the file) or
    ``PATH#MODEL`` (one of them). A model named again in a later file keeps its first rows."""
    rows, seen = [], set()
    for spec in specs:
        path, _, model = spec.partition("#")
        try:
            found = json.loads(Path(path).read_text())["rows"]
            names = {r["model"] for r in found}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise JetInputError(f"{path}: not a bench_classical.json file ({type(err).__name__}: {err})") from None
        if model and model not in names:
            raise JetInputError(f"{path}: no model {model!r}; it holds {', '.join(sorted(names))}")
        keep = ({model} if model else names) - seen
        rows += [r for r in found if r["model"] in keep]
        seen |= keep
    return rows


def write_figure(rows: list[dict], out: Path) -> Path | None:
    """goal_table.png in ``out`` (written whole or not at all); None, with the reason printed,
    when no Chromium can render it."""
    from core.viz.evaluation import goal_table_figure
    from core.viz.export import figure_png

    try:
        png = figure_png(goal_table_figure(rows, w1_goal=W1_GOAL), scale=1.5)
    except RuntimeError as err:
        print(f"figure skipped: {err}")
        return None
    path = out / "goal_table.png"
    with atomic_path(path) as tmp:
        tmp.write_bytes(png)
    print(f"wrote {path}")
    return path


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.replot:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_figure(saved_rows(args.replot), out)
        return 0
    torch.set_num_threads(args.threads)
    from core.data.readers import load_tensors
    from core.metrics.jet_classifier import load_classifier

    print(f"load average at start: {os.getloadavg()}", flush=True)
    started = time.perf_counter()
    if not Path(args.real).exists():
        raise JetInputError(f"{args.real}: no such held-out jet file; give --real FILE")
    checkpoints = checkpoints_of(args)
    real, y_real = load_tensors(args.real, size=32, max_jets=2 * args.n, seed=args.seed)
    training, _ = load_tensors(args.training, size=32, max_jets=500 if args.quick else None, seed=args.seed)
    classifier = load_classifier()
    rows, raw = [], {}
    for name, path in checkpoints.items():
        r, raw[name] = run_checkpoint(name, path, real, y_real, training, args, classifier)
        rows += r
    table = plain(rows)
    print(
        f"\n{args.n} generated jets per model against {args.n} held-out real jets ({args.real}); floor: "
        f"another {args.n} held-out jets\n"
    )
    print(table)
    elapsed = time.perf_counter() - started
    print(f"\n{elapsed:.0f} s; load average at end: {os.getloadavg()}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    info = {
        "n": args.n,
        "real": args.real,
        "seed": args.seed,
        "fast": args.fast,
        "best": args.best,
        "guidance": "each model's own (checkpoints[...].guidance)" if args.guidance is None else args.guidance,
        "guidance_from": args.guidance_from,
        "budget": args.budget,
        "budget_guidance_from": args.budget_guidance_from,
        "budget_logsnr_floor": args.budget_logsnr_floor,
        "folds": args.folds,
        "seconds": round(elapsed),
        "load_average": os.getloadavg(),
    }
    from core.metrics.report import _json_safe

    blob = json.dumps(_json_safe({"info": info, "rows": rows, "checkpoints": raw}), indent=2, allow_nan=False)
    write_text_atomic(out / "bench_classical.json", blob + "\n")
    write_text_atomic(out / "bench_classical.md", markdown(rows) + "\n")
    print(f"wrote {out / 'bench_classical.json'} and {out / 'bench_classical.md'}")
    if args.figure:
        write_figure(rows, out)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except JetInputError as err:
        raise SystemExit(f"error: {err}") from None
