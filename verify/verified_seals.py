"""What a key remembers of the seals it verified (``verify.keys.KeyEntry.remember``)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any


class VerifiedSeals:
    """The seals one key has verified, each with what its payload decoded to; at most ``size``
    (the oldest go first). Shared by a process's threads: reads take no lock.

    Remembering is sound because a seal's bytes decide its signature and its claims: the same
    bytes under the same key (a key id is a digest of the public key) verify and decode the same
    every time. What can change, the key's state and the time, is checked on every scan by
    :meth:`KeyEntry.check_usable`; a revoked or retired key is a new entry, with nothing
    remembered.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._found: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()  # one writer at a time: the bound holds exactly

    def __len__(self) -> int:
        return len(self._found)

    def get(self, data: bytes) -> Any:
        """What ``data`` decoded to when this key verified it, or None."""
        return self._found.get(data)

    def put(self, data: bytes, decoded: Any) -> None:
        """Remember that this key verified ``data`` (only ever after the signature held)."""
        with self._lock:
            if len(self._found) >= self.size:
                self._found.popitem(last=False)  # the oldest; O(1), where a dict's first key is not
            self._found[bytes(data)] = decoded

    def clear(self) -> None:
        """Forget every seal (the memory of a ring no longer current)."""
        with self._lock:
            self._found.clear()
