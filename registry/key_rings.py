"""The key rings that verify, read from the ``signing_key`` rows (``registry.keystore`` writes
them): cached by their exact rows, and on the verification hot path by the key ring's stamp.

Freshness over caching: :func:`load_ring` reads the key rows on every call (a few rows), so a
revocation committed by another process is seen by the very next verification; only the ring
built from an identical set of rows is reused. :func:`cached_ring` and :func:`stamped_ring` go
one step further: a trigger replaces ``key_ring_stamp.stamp`` on any change to the key rows,
the caller reads the stamp in the same statement as the certificate (:data:`KEY_RING_STAMP`),
and the cached ring counts only if that stamp is the one it was read under.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import bindparam, select

from registry.db import Reader, connection_of, engine_of, utc
from registry.errors import KeyStoreError
from registry.models import KeyRingStamp, SigningKeyRecord
from verify import keys as vkeys
from verify.errors import KeyRingError

_RING_CACHE_LIMIT = 32


def _utc_or_none(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else utc(moment)


# --- verification: the ring, rebuilt from the rows on every call ----------------------------------

_RING_COLUMNS = (
    SigningKeyRecord.kid,
    SigningKeyRecord.public_key_der,
    SigningKeyRecord.state,
    SigningKeyRecord.created_at,
    SigningKeyRecord.retired_at,
    SigningKeyRecord.verify_until,
    SigningKeyRecord.revoked_at,
)
# Built once: constructing a SELECT costs more than running this one.
_RING_QUERY = (
    select(*_RING_COLUMNS)
    .where(SigningKeyRecord.purpose == bindparam("purpose"))
    .order_by(SigningKeyRecord.id)
)
_ring_cache: dict[tuple[Any, ...], tuple[vkeys.KeyEntry, ...]] = {}
_cache_lock = threading.Lock()
# Seals each seal key of the current ring remembers verifying (verify.verified_seals.VerifiedSeals),
# about 1 kB each: some 4 MB per key and process, for the seals scanned again (every box of a product).
# Rings no longer current forget theirs (load_ring), so older versions kept here cost nothing.
REMEMBERED_SEALS = 4096


def _entry(row: tuple[Any, ...], remember: int = 0) -> vkeys.KeyEntry:
    kid, public_der, state, created_at, retired_at, verify_until, revoked_at = row
    public_key = serialization.load_der_public_key(public_der)
    if not isinstance(public_key, Ed25519PublicKey):
        raise KeyStoreError(f"key {kid} is not an Ed25519 key")
    entry = vkeys.KeyEntry(
        public_key,
        vkeys.KeyState(state),
        utc(created_at),
        retired_at=_utc_or_none(retired_at),
        verify_until=_utc_or_none(verify_until),
        revoked_at=_utc_or_none(revoked_at),
        remember=remember,
    )
    if entry.kid.hex() != kid:
        raise KeyStoreError(f"stored key id {kid} does not match its public key")
    return entry


def load_ring(session: Reader, purpose: str = "seal") -> vkeys.KeyRing:
    """The verify-only key ring of ``purpose``, from the table as it is now (one small query).

    Parsed entries are reused only while the rows are exactly the same, so any change (a
    revocation committed elsewhere included) is in the ring returned by the next call.
    """
    rows = tuple(
        (kid, bytes(der), state, created, retired, until, revoked)
        # Core on the connection: this runs on every verification.
        for kid, der, state, created, retired, until, revoked in connection_of(session).execute(
            _RING_QUERY, {"purpose": purpose}
        )
    )
    cache_key = (purpose, rows)
    entries = _ring_cache.get(cache_key)
    try:
        if entries is None:
            remember = REMEMBERED_SEALS if purpose == "seal" else 0  # only seals come back
            entries = tuple(_entry(row, remember) for row in rows)
            with _cache_lock:
                # Before any is dropped for room: a dropped ring may still be held (a cached
                # stamped ring, a caller), and would keep its memory.
                for (other_purpose, _), older in _ring_cache.items():
                    if other_purpose == purpose:  # a ring no longer current: its memory goes
                        for entry in older:
                            if entry.verified is not None:
                                entry.verified.clear()
                if len(_ring_cache) >= _RING_CACHE_LIMIT:
                    _ring_cache.clear()
                _ring_cache[cache_key] = entries
        # A new ring object per call (rings are mutable); the entries are frozen and shared.
        return vkeys.KeyRing(entries)
    except (KeyRingError, ValueError) as exc:
        raise KeyStoreError(f"the {purpose} keys in the database are inconsistent: {exc}") from exc


# --- the stamped ring: the verification hot path ---------------------------------------------------

# A column for the caller's own statement: the stamp as of that statement (migration 0006).
KEY_RING_STAMP = select(KeyRingStamp.stamp).where(KeyRingStamp.id == 1).scalar_subquery()
_STAMP_QUERY = select(KeyRingStamp.stamp).where(KeyRingStamp.id == 1)
# (engine, purpose) -> (stamp, entries): per database, since stamps are only unique within one.
_stamped: dict[tuple[Any, str], tuple[str, tuple[vkeys.KeyEntry, ...]]] = {}


def cached_ring(session: Reader, purpose: str = "seal") -> tuple[str | None, vkeys.KeyRing]:
    """The ring last read for this database by :func:`stamped_ring`, with the stamp it was read
    under, without a query; (None, an empty ring) before the first read. The caller must compare
    the stamp with :data:`KEY_RING_STAMP` read in its own statement before trusting the ring."""
    found = _stamped.get((engine_of(session), purpose))
    if found is None:
        return None, vkeys.KeyRing([])
    return found[0], vkeys.KeyRing(found[1])


def stamped_ring(session: Reader, purpose: str = "seal") -> tuple[str, vkeys.KeyRing]:
    """The current stamp and the ring read after it (two small queries), remembered for
    :func:`cached_ring`. The stamp is read first: a change committed in between makes the ring
    newer than its stamp, never older, so the next caller sees a new stamp and reads again."""
    stamp = connection_of(session).execute(_STAMP_QUERY).scalar_one()
    ring = load_ring(session, purpose)
    _stamped[(engine_of(session), purpose)] = (stamp, tuple(ring.entries()))
    return stamp, ring
