"""Refit a shipped checkpoint's channel-energy table with today's `core.data.energies` fit, in place (and add
the other fits of the training jets that older configs lack, such as the readout thresholds):
``python scripts/refit_energy_table.py checkpoints/unet_32 [--multiplicity] [--guidance W]``.

``--energy cone`` (quantum models) changes the classical energy model the checkpoint samples with: each channel's
energy inside and outside the jet cone (the U-Net's copula) instead of the channel totals; the circuit learned
shapes only, so its weights stay. With it the tables are fitted anew (the same jets, checked by their count).

``--guidance W`` (U-Nets) records the classifier-free guidance weight the checkpoint samples at when none is
asked (``config.json``'s ``"guidance"``; chosen on held-out jets, see the model card).

``--multiplicity`` (U-Net tables in cone coordinates, or quantum models with classical channel energies) adds,
or refits, the table that draws each channel's lit pixels inside and outside the cone for a jet's energies (and,
for the U-Net, its channel widths: ``core.data.multiplicity``, ``core.quantum.lit_pixels``) and so turns on the
multiplicity readout (``core.data.readout.light_by_count``), with each region's concentration from the same
neighbour (``core.data.readout.match_concentration``): readout rules fitted on the training jets; the weights
do not change.

``--spectrum`` (U-Nets and quantum models with the multiplicity readout) instead fits the spectrum calibration
(``core.data.spectrum``): it samples 2,000 of the model's own jets without it (seed 0, the default sampler and
guidance; about 4 minutes on 2 CPU cores) and maps every lit pixel's energy from their spectrum onto the training
jets'. Any other refit drops a calibration (it was fitted on jets drawn with the old tables): run it again last.

The table (a per-class copula of channel energies) is fitted on the training jets when training starts and
never touches the network's weights, so a better fit of the same jets can replace it without retraining.
The script re-reads the jets the model card names (the embedded sample only), fits the table the way
`train` fits it now, checks that it describes the same jets (same jet count and the same copula
correlations, which do not depend on the quantile levels), and writes ``config.json`` atomically. It records
the refit in the model card.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TABLE_KEYS = {"ddpm": "energies", "quantum": "channel_energies"}
DERIVED = {
    "ddpm": ("hard_threshold", "multiplicity_table"),
    "quantum": ("zero_below", "hard_threshold", "multiplicity_table"),
}  # other fits of the training jets that never touch the weights
EMBEDDED = "embedded sample (assets/jets_sample.h5)"
ENERGY_WORDS = {
    "channels": "each channel's total (copula per class)",
    "cone": "each channel's energy inside and outside the R = 0.4 cone (copula per class, as the U-Net's)",
}


def same_jet_counts(old: dict, new: dict) -> bool:
    """Whether two tables of different kinds (channel totals, cone regions) were fitted on as many jets per group."""
    groups = {k for k in old if isinstance(old[k], dict) and "jets" in old[k]}
    return groups == {k for k in new if isinstance(new[k], dict) and "jets" in new[k]} and all(
        old[g]["jets"] == new[g]["jets"] for g in groups
    )


def same_jets(old: dict, new: dict) -> bool:
    """Whether two tables were fitted on the same jets: equal counts and copula correlations per group. The
    correlations agree to 1e-6: another numpy / scipy / torch build moves them by up to 2.4e-7 (7 December), while
    other jets move them by far more than that."""
    groups = [k for k in old if isinstance(old[k], dict) and "corr" in old[k]]
    return set(groups) == {k for k in new if isinstance(new[k], dict) and "corr" in new[k]} and all(
        old[g]["jets"] == new[g]["jets"] and np.allclose(old[g]["corr"], new[g]["corr"], rtol=0, atol=1e-6)
        for g in groups
    )


def indent_of(path: Path) -> int:
    """The indent a JSON file was written with (the cards differ), so that a refit changes only what it refits."""
    lines = path.read_text().splitlines()
    return len(lines[1]) - len(lines[1].lstrip()) if len(lines) > 1 else 2


def refit_note(
    checkpoint: Path,
    family: str,
    derived: list[str],
    multiplicity: bool,
    guidance: float | None,
    energy: str | None,
    concentrations: bool = False,
    profiles: bool = False,
    halo: float | None = None,
    ordered: bool = False,
    anchored: bool = False,
) -> str:
    """What the model card records about a refit, ending with the command that repeats it."""
    return (
        f"{time.strftime('%Y-%m-%d', time.gmtime())}: table refitted on the same jets with quantile levels "
        f"denser in the tails (core.data.energies.TAIL_LEVELS) and the Gaussian-mixture copula "
        f"(core.data.mixture_copula)"
        + (f"; {', '.join(derived)} fitted on them" if derived else "")
        + (
            "; with each channel's lit pixels inside and outside the cone, matched on the jet's energies"
            + (" and channel widths" if family == "ddpm" else "")
            + " (the multiplicity readout)"
            + (
                f", outside the cone drawn from the Born probabilities to the power 1 / {halo:g}, "
                "Tracks and HCAL sharing the draw (core.quantum.lit_pixels.halo_scores)"
                if halo
                else ""
            )
            + (
                ", and each region's energy shared among them in the same training jet's shares, pixel by pixel "
                "(the profile readout, core.data.readout.match_profile)"
                + (
                    ", in the channels' joint order (ECAL and HCAL leaning on Tracks' ranks in the cone, HCAL's halo "
                    "on Tracks' deposits: core.quantum.lit_pixels.cone_order; the cone pixel diagonal to the brightest "
                    "where the training jet had it: place_diagonals; ECAL's and HCAL's cone shared as in a donor, a "
                    "training jet with a Tracks cone and cone energies near the jet's: core.data.cone_donors)"
                    if ordered
                    else ""
                )
                + (
                    ", Tracks' shares taken of its GeV above the tracker's cut (core.data.readout.anchor_profiles)"
                    if anchored
                    else ""
                )
                if profiles
                else ", and each region's energy shared among them as in the same training jet (the concentration "
                "readout)"
                if concentrations
                else ""
            )
            if multiplicity
            else ""
        )
        + (f"; samples at guidance {guidance:g} unless asked otherwise" if guidance is not None else "")
        + (f"; classical energies: {ENERGY_WORDS[energy]}" if energy is not None else "")
        + "; weights unchanged. "
        f"Command: python scripts/refit_energy_table.py {checkpoint.as_posix()}"
        + (" --multiplicity" if multiplicity else "")
        + (f" --guidance {guidance:g}" if guidance is not None else "")
        + (f" --energy {energy}" if energy is not None else "")
    )


def refit(
    checkpoint: Path, multiplicity: bool = False, guidance: float | None = None, energy: str | None = None
) -> str:
    from core.atomic import write_text_atomic
    from core.data.multiplicity import has_concentrations, has_profiles
    from core.data.readers import load_tensors
    from core.training.registry import build_task

    config = json.loads((checkpoint / "config.json").read_text())
    card_path = checkpoint / "model_card.json"
    card = json.loads(card_path.read_text())
    task_config = config["task"]
    family = task_config["family"]
    key = TABLE_KEYS.get(family)
    if key is None or key not in task_config:
        raise SystemExit(f"{checkpoint}: a {family!r} model without a channel-energy table")
    if multiplicity:
        cone_unet = family == "ddpm" and task_config[key].get("coordinates") == "cone"
        if not (cone_unet or family == "quantum"):
            raise SystemExit(
                f"{checkpoint}: --multiplicity needs a U-Net whose energy table is in cone coordinates, or a "
                "quantum model with classical channel energies"
            )
        task_config["multiplicity"] = True
    if guidance is not None:
        if family != "ddpm" or not math.isfinite(guidance) or guidance < 0:
            raise SystemExit(f"{checkpoint}: --guidance needs a U-Net and a finite weight >= 0, got {guidance}")
        task_config["guidance"] = float(guidance)
    changed = energy is not None and energy != task_config.get("energy")
    if energy is not None and (family != "quantum" or energy not in ("channels", "cone")):
        raise SystemExit(f"{checkpoint}: --energy takes 'channels' or 'cone', for quantum models; got {energy!r}")
    if energy not in (None, "cone") and task_config.get("hybrid", {}).get("energy_context"):
        raise SystemExit(f"{checkpoint}: its circuit draws shapes given cone energies (energy context); keep 'cone'")
    if changed:
        task_config["energy"] = energy
    data = card.get("data", {})
    if data.get("file") != EMBEDDED:
        raise SystemExit(f"{checkpoint}: trained on {data.get('file')!r}; only the embedded sample is refitted here")
    x, y = load_tensors(ROOT / "assets" / "jets_sample.h5", size=int(data["size"]))
    if len(x) != int(data["jets"]):
        raise SystemExit(f"{checkpoint}: the card names {data['jets']} jets, the file holds {len(x)}")
    # With --multiplicity the multiplicity table is refitted too (today's builder matches on channel widths).
    dropped = {key, "multiplicity_table"} if multiplicity or changed else {key}
    rebuilt = build_task({k: v for k, v in task_config.items() if k not in dropped}, x, y).config()
    old, new = task_config[key], rebuilt[key]
    if not (same_jet_counts(old, new) if changed else same_jets(old, new)):
        raise SystemExit(f"{checkpoint}: the refitted table does not describe the same jets; nothing written")
    task_config[key] = new
    if multiplicity or changed:
        task_config.pop("multiplicity_table", None)
    added = [k for k in DERIVED.get(family, ()) if k not in task_config and k in rebuilt]
    for k in added:  # fitted on the training jets by today's builder, absent from older configs
        task_config[k] = rebuilt[k]
    # A calibration fitted on jets drawn with other tables or guidance no longer fits (a plain refit of the same
    # jets changes no draw and keeps it).
    stale = bool(multiplicity or changed or guidance is not None or added) and "spectrum_map" in task_config
    if stale:
        task_config.pop("spectrum_map")
    write_text_atomic(
        checkpoint / "config.json", json.dumps(config, indent=indent_of(checkpoint / "config.json")) + "\n"
    )
    derived = [k for k in DERIVED.get(family, ()) if k in task_config]
    table = task_config.get("multiplicity_table") or {}
    card["energy_table_refit"] = refit_note(
        checkpoint,
        family,
        derived,
        multiplicity,
        guidance,
        energy,
        has_concentrations(table),
        has_profiles(table),
        table.get("halo_temperature"),
        "cone_rank_mix" in table,
        any(table.get("anchored_at_cut", ())),
    )
    write_text_atomic(card_path, json.dumps(card, indent=indent_of(card_path)) + "\n")
    shown = {k: task_config[k] if not isinstance(task_config[k], dict) else "(table)" for k in added}
    extra = f"; added {', '.join(f'{k}={v}' for k, v in shown.items())}" if added else ""
    extra += "; spectrum calibration dropped (refit it: --spectrum)" if stale else ""
    return f"{checkpoint}: {key} refitted ({len(new['all']['levels'])} levels, {len(x)} jets){extra}"


SPECTRUM_JETS = 2000  # the model's own jets the spectrum calibration is fitted on
SPECTRUM_SEED = 0


def calibrate_spectrum(checkpoint: Path, n: int = SPECTRUM_JETS, seed: int = SPECTRUM_SEED) -> str:
    """Fit the spectrum calibration (``core.data.spectrum``) of a model with the multiplicity readout (a U-Net,
    in its own layout, or a quantum model): ``n`` jets sampled without it (default sampler and guidance, half
    quark, half gluon, seed ``seed``) against the training jets, written into ``config.json`` atomically and
    recorded in the model card."""
    import torch

    from core.atomic import write_text_atomic
    from core.data.energies import JET_RADIUS
    from core.data.readers import load_tensors
    from core.data.spectrum import fit_spectrum_map
    from core.training.checkpoint import load_checkpoint
    from core.training.sampling import default_guidance, labels_for, sample_images

    config = json.loads((checkpoint / "config.json").read_text())
    card_path = checkpoint / "model_card.json"
    card = json.loads(card_path.read_text())
    task_config = config["task"]
    if task_config.get("family") not in TABLE_KEYS or not task_config.get("multiplicity_table"):
        raise SystemExit(f"{checkpoint}: --spectrum needs a U-Net or quantum model with the multiplicity readout")
    data = card.get("data", {})
    if data.get("file") != EMBEDDED:
        raise SystemExit(f"{checkpoint}: trained on {data.get('file')!r}; only the embedded sample is calibrated here")
    ckpt = load_checkpoint(checkpoint, device="cpu")
    ckpt.task._config.pop("spectrum_map", None)  # the model's own spectrum, uncalibrated
    mixed = "mixed" if ckpt.task.conditional else None
    labels = labels_for(ckpt, mixed, n)
    started = time.time()
    generated = sample_images(ckpt, n, None, None, mixed, default_guidance(ckpt), seed, "cpu", 256)
    x, y = load_tensors(ROOT / "assets" / "jets_sample.h5", size=int(data["size"]))
    if task_config.get("hcal_towers"):  # mapped in the model's layout: HCAL as towers (exact for detector images)
        from core.data.hcal_towers import to_tower_space

        generated, x = to_tower_space(generated.float()), to_tower_space(x.float())
    task_config["spectrum_map"] = fit_spectrum_map(
        generated, None if labels is None else labels.numpy(), x, None if labels is None else y.numpy(), JET_RADIUS
    )
    write_text_atomic(
        checkpoint / "config.json", json.dumps(config, indent=indent_of(checkpoint / "config.json")) + "\n"
    )
    card["spectrum_calibration"] = (
        f"{time.strftime('%Y-%m-%d', time.gmtime())}: each lit pixel's energy mapped from the quantiles of this "
        f"model's own lit pixels ({n} jets, default sampler, seed {seed}, {time.time() - started:.0f} s on "
        f"{torch.get_num_threads()} CPU threads) onto those of the training jets, per class, channel and region "
        "(core.data.spectrum); weights unchanged. "
        f"Command: python scripts/refit_energy_table.py {checkpoint.as_posix()} --spectrum"
    )
    write_text_atomic(card_path, json.dumps(card, indent=indent_of(card_path)) + "\n")
    return f"{checkpoint}: spectrum calibration fitted on {n} of its own jets and {len(x)} training jets"


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoints", nargs="*", default=["checkpoints/unet_32"], help="checkpoint folders")
    p.add_argument("--multiplicity", action="store_true", help="add or refit the multiplicity table")
    p.add_argument("--energy", choices=("channels", "cone"), default=None, help="the classical energy model (quantum)")
    p.add_argument("--guidance", type=float, default=None, help="the guidance weight samples get by default (U-Nets)")
    p.add_argument(
        "--spectrum",
        action="store_true",
        help="fit the spectrum calibration instead (U-Nets and quantum models with the multiplicity readout; samples "
        "the model)",
    )
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    for arg in args.checkpoints:
        if args.spectrum:
            print(calibrate_spectrum(Path(arg)))
        else:
            print(refit(Path(arg), args.multiplicity, args.guidance, args.energy))


if __name__ == "__main__":
    main()
