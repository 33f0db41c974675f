"""``info``: what a jet file holds (the embedded sample when no file is given)."""

from __future__ import annotations

import argparse
import json

HELP = "Describe a jet file: counts per class, shapes, channel sums, pT and mass ranges."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "file",
        nargs="?",
        default=None,
        help="CMS-layout HDF5, compact HDF5 or EnergyFlow .npz (default: embedded sample)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def format_summary(info: dict) -> str:
    """Human-readable lines of :func:`core.data.readers.summary`."""
    classes = f"{info['quark']} quark, {info['gluon']} gluon"
    if info.get("unlabelled"):
        classes += f", {info['unlabelled']} unlabelled (y = -1)"
    lines = [
        f"file         {info['file']} ({info['layout']})",
        f"jets         {info['jets']} ({classes})",
        f"image shape  {tuple(info['image_shape'])} (eta, phi, channel)",
    ]
    for ch, total in info["channel_sum_gev"].items():
        lines.append(f"{ch:<12} sum {total:,.1f} GeV, {info['channel_mean_gev_per_jet'][ch]:.1f} GeV per jet")
    for key, label in (("pt_range_gev", "jet pT"), ("m0_range_gev", "jet mass")):
        if key in info:
            lo, hi = info[key]
            lines.append(f"{label:<12} {lo:.1f} .. {hi:.1f} GeV")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from core.data.readers import open_jets, summary

    source = open_jets(args.file)
    try:
        info = summary(source)
    finally:
        source.close()
    print(json.dumps(info) if args.json else format_summary(info))
    return 0
