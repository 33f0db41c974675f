"""Process accounting shared by the dashboard benchmarks."""

from __future__ import annotations


def cpu_seconds(procs) -> float:
    """CPU seconds (user + system) of psutil processes; one that has just ended counts nothing."""
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except Exception:  # a process that has just ended
            pass
    return total
