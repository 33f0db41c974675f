"""One exception type for bad input, so the CLI and the UI can show one clear line."""

from __future__ import annotations


class JetInputError(ValueError):
    """Bad input (file, key, shape, value): the message names the file and the problem."""


def fail(source: object, problem: str) -> JetInputError:
    """Build a one-line error naming the source (a path or a description) and the problem."""
    return JetInputError(f"{source}: {problem}")
