"""How much memory a request may take: checked before allocating, so `--n 1e12` fails in a line, not in swap.

The available memory is the smaller of the machine's ``MemAvailable`` and the room left under the cgroup's
limit (a container sees the host's RAM in /proc/meminfo but is killed at its own limit).
"""

from __future__ import annotations

from pathlib import Path

from core.errors import JetInputError

# A request may take at most this share of the memory available when it starts.
SHARE = 0.8


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_room() -> int | None:
    base = Path("/sys/fs/cgroup")
    try:
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((base / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None


def available_memory() -> int:
    """Bytes this process can still allocate without swapping or being killed (a generous 8 GiB if unknown)."""
    known = [v for v in (_meminfo_available(), _cgroup_room()) if v is not None]
    return max(0, min(known)) if known else 8 * 1024**3


def check_allocation(nbytes: float, what: str) -> None:
    """Refuse a request whose tensors would not fit in memory, naming it and the sizes (one line)."""
    room = available_memory() * SHARE
    if nbytes > room:
        raise JetInputError(
            f"{what} needs about {_human(nbytes)} of memory but only {_human(room)} is available; ask for less"
        )


def _human(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.3g} {unit}" if unit != "B" else f"{int(nbytes)} B"
        nbytes /= 1024
    return f"{nbytes:.3g} PiB"  # pragma: no cover
