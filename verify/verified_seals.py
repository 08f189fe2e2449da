"""What a key remembers of the seals it verified (``verify.keys.KeyEntry.remember``)."""

from __future__ import annotations

from typing import Any

from verify.bounded_memo import BoundedMemo


class VerifiedSeals(BoundedMemo[bytes, Any]):
    """The seals one key has verified, each with what its payload decoded to; at most ``size``
    (the oldest go first). Shared by a process's threads: reads take no lock.

    Remembering is sound because a seal's bytes decide its signature and its claims: the same
    bytes under the same key (a key id is a digest of the public key) verify and decode the same
    every time. What can change, the key's state and the time, is checked on every scan by
    :meth:`KeyEntry.check_usable`; a revoked or retired key is a new entry, with nothing
    remembered.
    """

    def put(self, data: bytes, decoded: Any) -> None:
        """Remember that this key verified ``data`` (only ever after the signature held)."""
        super().put(bytes(data), decoded)
