"""The real-vs-real floor: two disjoint halves of the real jets, the same size as the generated set.

Every set distance is biased at finite N and noisy; a model's value only means something beside the
same distance between two independent real samples of the same size. A model is as good as real
data when it reaches that floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import JetInputError


@dataclass(frozen=True)
class FloorSplit:
    """Indices: ``real_a`` (the reference), ``real_b`` (the floor's stand-in), ``generated``; all of size ``n``."""

    n: int
    real_a: np.ndarray
    real_b: np.ndarray
    generated: np.ndarray


def floor_split(n_real: int, n_generated: int, seed: int = 0, max_jets: int | None = None) -> FloorSplit:
    """Seeded disjoint halves of the real set and a subset of the generated set, all of one size.

    n = min(n_generated, n_real // 2, max_jets). Raises JetInputError when n < 2.
    """
    n = min(n_generated, n_real // 2, max_jets if max_jets is not None else n_generated)
    if n < 2:
        raise JetInputError(
            f"floor: {n_real} real and {n_generated} generated jets are too few; need at least 4 real "
            "(two disjoint halves) and 2 generated jets"
        )
    rng = np.random.default_rng(seed)
    real = rng.permutation(n_real)
    gen = np.sort(rng.permutation(n_generated)[:n])
    return FloorSplit(n, np.sort(real[:n]), np.sort(real[n : 2 * n]), gen)
