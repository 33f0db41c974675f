"""The command line: one verb per module in ``core.commands``; bad input exits 2 with one clear line.

Each verb module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from core.errors import JetInputError

VERBS = ("info", "simulate", "train", "sample", "evaluate")


def _verb_modules() -> dict[str, object]:
    modules = {}
    for verb in VERBS:
        name = f"core.commands.{verb}"
        if importlib.util.find_spec(name) is not None:
            modules[verb] = importlib.import_module(name)
    return modules


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = argparse.ArgumentParser(prog="python -m core", description="Jet Diffusion Lab, headless.")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    modules = _verb_modules()
    for verb, module in modules.items():
        p = sub.add_parser(verb, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
    return parser, modules


def main(argv: list[str] | None = None) -> int:
    parser, modules = build_parser()
    args = parser.parse_args(argv)
    if not args.verb:
        parser.print_help()
        return 2
    try:
        return int(modules[args.verb].run(args) or 0)
    except (JetInputError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
