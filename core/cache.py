"""A cache bounded in bytes, not entries: the server's pooled tensors and loaded models stay under a budget.

A count of entries says nothing about memory (one entry can be 2 MB or 2 GB); this cache sums the bytes of
the tensors and arrays each value holds and drops the least recently used entries past the budget.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import torch


def nbytes(value: Any) -> int:
    """Bytes held by tensors / arrays inside ``value`` (tuples, lists, dicts, modules, objects' attributes)."""
    seen: set[int] = set()

    def walk(v: Any, depth: int) -> int:
        if id(v) in seen or depth > 4:
            return 0
        seen.add(id(v))
        if isinstance(v, torch.Tensor):
            return v.element_size() * v.nelement()
        if isinstance(v, np.ndarray):
            return int(v.nbytes)
        if isinstance(v, torch.nn.Module):
            return sum(walk(t, depth + 1) for t in (*v.parameters(), *v.buffers()))
        if isinstance(v, (tuple, list)):
            return sum(walk(x, depth + 1) for x in v)
        if isinstance(v, dict):
            return sum(walk(x, depth + 1) for x in v.values())
        if hasattr(v, "__dict__") and not isinstance(v, type):
            return sum(walk(x, depth + 1) for x in vars(v).values())
        return 0

    return walk(value, 0)


class ByteCache:
    """Least-recently-used values, at most ``budget`` bytes in all (one value larger than it is not kept)."""

    def __init__(self, budget: int, size: Callable[[Any], int] = nbytes) -> None:
        self.budget, self._size = int(budget), size
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def total(self) -> int:
        with self._lock:
            return sum(n for _, n in self._items.values())

    def get_or_make(self, key: Hashable, make: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][0]
        value = make()  # outside the lock: two visitors may build different keys at once
        n = self._size(value)
        with self._lock:
            if value is not None and n <= self.budget:  # None (nothing yet) is asked again next time
                self._items[key] = (value, n)
                self._items.move_to_end(key)
                while sum(s for _, s in self._items.values()) > self.budget:
                    self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


FIGURE_FLOOR_BYTES = 2**20


def figure_nbytes(fig: Any) -> int:
    """What a cached plotly figure is charged: the arrays of its traces and animation frames, and at least
    ``FIGURE_FLOOR_BYTES`` (plotly's objects around the arrays weigh far more than a small figure's numbers, so
    a budget of B MB keeps at most B figures)."""
    traces = list(getattr(fig, "data", ()))
    for frame in getattr(fig, "frames", ()) or ():
        traces += list(getattr(frame, "data", ()) or ())
    arrays = sum(nbytes(t.to_plotly_json()) for t in traces if hasattr(t, "to_plotly_json"))
    return max(FIGURE_FLOOR_BYTES, arrays)


def array_digest(value: Any) -> str:
    """A digest of an array's or tensor's dtype, shape and values: a cache key for what it holds."""
    arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    arr = np.ascontiguousarray(arr)
    digest = hashlib.blake2b(f"{arr.dtype}{arr.shape}".encode(), digest_size=16)
    digest.update(arr.tobytes())
    return digest.hexdigest()
