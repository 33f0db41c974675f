"""No function in ``core/`` or ``pages/`` is longer than about a screen (the charter's 60 lines).

A long function does several jobs; split it into named helpers. Counted from the ``def`` line to the last
line of the body (docstring, comments and blank lines inside included; decorators not).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 60


def long_functions(root: Path, limit: int = LIMIT) -> list[str]:
    """``"path:line name (N lines)"`` for every function or method over ``limit`` lines below ``root``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > limit:
                    found.append(f"{path.relative_to(root)}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_the_counter_sees_a_long_function(tmp_path):
    body = "\n".join(f"        x{i} = {i}" for i in range(LIMIT))
    (tmp_path / "m.py").write_text(f"def short():\n    return 1\n\n\nclass A:\n    def long(self):\n{body}\n")
    found = long_functions(tmp_path)
    assert len(found) == 1 and "long (61 lines)" in found[0]


def test_no_function_over_60_lines_in_core_and_pages():
    found = [f"{d}/{line}" for d in ("core", "pages") for line in long_functions(ROOT / d)]
    assert not found, "split these into helpers with one job each:\n" + "\n".join(found)
