"""A bounded memo shared by a process's threads: what the hot path built once and meets again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Generic, TypeVar, overload

K = TypeVar("K")
V = TypeVar("V")
D = TypeVar("D")


class BoundedMemo(Generic[K, V]):
    """At most ``size`` entries, the oldest going first. Reads take no lock (a dict lookup is
    atomic); writers take one, so the bound holds exactly.

    First in, first out rather than least recently used: a hit then costs one lookup, and a
    working set that fits stays whole either way.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._found: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._found)

    @overload
    def get(self, key: K) -> V | None: ...

    @overload
    def get(self, key: K, default: D) -> V | D: ...

    def get(self, key: K, default: object = None) -> object:
        """What was kept under ``key``, or ``default`` (None)."""
        return self._found.get(key, default)

    def put(self, key: K, value: V) -> None:
        """Keep ``value`` under ``key`` (the oldest entry goes when full)."""
        if self.size <= 0:
            return
        with self._lock:
            if len(self._found) >= self.size and key not in self._found:
                self._found.popitem(last=False)  # the oldest; O(1), where a dict's first key is not
            self._found[key] = value

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._found.clear()
