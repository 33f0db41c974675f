"""The command line: one verb per module in ``core.commands``; every error exits 2 with one clear line.

Each verb module defines ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
Bad options (argparse), bad files (``JetInputError``), unreadable or unwritable paths (``OSError``), values
that break the maths (``ValueError``, ``ArithmeticError``), memory (``MemoryError``) and anything unforeseen
all end as ``error: <one line>`` on stderr and exit status 2; ``JETLAB_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
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


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are one line (no usage block) and exit 2."""

    def error(self, message: str):  # type: ignore[override]
        print(f"error: {self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def one_line(err: BaseException) -> str:
    """An exception as one line naming what went wrong (OSError with its file; others with their type if vague)."""
    if isinstance(err, OSError) and not isinstance(err, JetInputError) and err.filename:
        text = f"{err.filename}: {err.strerror or err.__class__.__name__}"
    else:
        text = " ".join(str(err).split()) or err.__class__.__name__
        if isinstance(err, KeyError):
            text = f"missing key {text}"
        elif isinstance(err, MemoryError):
            text = f"out of memory ({text}); ask for fewer jets or a smaller batch"
        elif not isinstance(err, JetInputError):
            text = f"{err.__class__.__name__}: {text}"
    return text[:500]


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, object]]:
    parser = OneLineParser(prog="python -m core", description="Jet Diffusion Lab, headless.")
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
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - every error is one line and exit 2 (JETLAB_DEBUG=1: traceback)
        if os.environ.get("JETLAB_DEBUG"):
            raise
        print(f"error: {one_line(err)}", file=sys.stderr)
        return 2
