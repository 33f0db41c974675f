"""Write a jet file's observable table beside it (``<name>.observables.npz``), so the Jets page reads every
jet's observables instead of computing them: ``python scripts/observable_table.py [FILE]`` (default: the
embedded sample, whose table ships in assets/). The table carries the file's SHA-256: a changed file is never
paired with an old table (the page then averages a few jets itself, or more in a job)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    from core.viz.stats import write_observable_table

    t0 = time.perf_counter()
    out = write_observable_table(sys.argv[1] if len(sys.argv) > 1 else None)
    print(f"{out}: {out.stat().st_size / 1e3:.0f} kB in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
