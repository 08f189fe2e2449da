"""Signing keys in the database: generate, rotate, revoke, and load them for signing or verifying.

Three purposes share the ``signing_key`` table: "seal" keys sign certificate seals, the "root"
key signs trust bundles, the "log" key signs the transparency log's checkpoints. Each purpose
has at most one active key. Private keys are stored only as encrypted PKCS#8 PEM
(``verify.keyfiles``); the passphrase is machine-generated and kept outside
the database (environment or secret file), so a database dump alone signs nothing.

Freshness over caching: :func:`load_ring` reads the key rows on every call (a few rows), so a
revocation committed by another process is seen by the very next verification. Only derived
objects are cached: the ring built from an identical set of rows, and decrypted private keys
(decryption is deliberately slow), keyed by the exact encrypted bytes they came from.

The verification hot path goes one step further (:func:`cached_ring`, :func:`stamped_ring`):
a trigger replaces ``key_ring_stamp.stamp`` on any change to the key rows, the caller reads the
stamp in the same statement as the certificate (:data:`KEY_RING_STAMP`), and the cached ring
counts only if that stamp is the one it was read under.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from registry import audit
from registry.db import Reader, connection_of, engine_of
from registry.errors import Conflict, InvalidInput, NotFound, RegistryError
from registry.models import KeyRingStamp, SigningKeyRecord
from verify import keys as vkeys
from verify.errors import KeyFileError, KeyRingError
from verify.keyfiles import (
    generate_private_key,
    passphrase_from_environment,
    private_key_from_pem,
    private_key_to_pem,
)

PURPOSES = ("seal", "root", "log")
DEFAULT_VERIFY_PERIOD = dt.timedelta(days=5 * 365)
ACTIVE, RETIRED, REVOKED = "active", "retired", "revoked"
_RING_CACHE_LIMIT = 32
_SIGNER_CACHE_LIMIT = 16


class KeyStoreError(RegistryError):
    """The key store cannot do what was asked: no passphrase, wrong passphrase, no active key."""

    code = "key_store"


def passphrase_from_env(environ: Mapping[str, str] | None = None) -> bytes:
    """The key passphrase from ``SEAL_KEY_PASSPHRASE`` or the file named by
    ``SEAL_KEY_PASSPHRASE_FILE``; :class:`KeyStoreError` naming both when neither is usable."""
    try:
        return passphrase_from_environment(environ).encode("utf-8")
    except KeyFileError as exc:
        raise KeyStoreError(f"no key passphrase: {exc}") from exc


def utc(moment: dt.datetime) -> dt.datetime:
    """A stored timestamp as aware UTC: SQLite hands back the naive UTC wall time we wrote."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _utc_or_none(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else utc(moment)


def _check_purpose(purpose: str) -> None:
    if purpose not in PURPOSES:
        raise InvalidInput(f"purpose must be one of {list(PURPOSES)}", field="purpose")


def _public_der(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_snapshot(record: SigningKeyRecord) -> dict[str, Any]:
    """What audit events and ``registry keys list`` show of a key (never any private part)."""
    return {
        "kid": record.kid,
        "purpose": record.purpose,
        "state": record.state,
        # Through utc(): rows read back from SQLite carry naive (UTC) times.
        "created_at": utc(record.created_at),
        "retired_at": _utc_or_none(record.retired_at),
        "verify_until": _utc_or_none(record.verify_until),
        "revoked_at": _utc_or_none(record.revoked_at),
        "revoked_reason": record.revoked_reason,
    }


def _keys_for_update(session: Session, purpose: str) -> list[SigningKeyRecord]:
    # FOR UPDATE (PostgreSQL): two rotations at once must not both leave an active key.
    # SQLite ignores it, and serializes writers anyway.
    return list(
        session.scalars(
            select(SigningKeyRecord)
            .where(SigningKeyRecord.purpose == purpose)
            .order_by(SigningKeyRecord.id)
            .with_for_update()
        )
    )


def _new_record(purpose: str, passphrase: bytes, now: dt.datetime) -> SigningKeyRecord:
    private_key = generate_private_key()
    try:
        pem = private_key_to_pem(private_key, passphrase)
    except KeyFileError as exc:
        raise KeyStoreError(str(exc)) from exc
    public_key = private_key.public_key()
    return SigningKeyRecord(
        kid=vkeys.key_id(public_key).hex(),
        purpose=purpose,
        public_key_der=_public_der(public_key),
        encrypted_private_key=pem.decode("ascii"),
        state=ACTIVE,
        # created_at doubles as the key's not_before: seals dated earlier are refused.
        created_at=utc(now),
        revoked_reason="",
    )


def generate_key(
    session: Session, purpose: str, passphrase: bytes, *, actor: str, now: dt.datetime
) -> SigningKeyRecord:
    """Create the active key of ``purpose`` ("seal" or "root"): the first one, or the next one
    after the active key was revoked. While an active key exists, use :func:`rotate_key`."""
    _check_purpose(purpose)
    existing = _keys_for_update(session, purpose)
    if any(r.state == ACTIVE for r in existing):
        raise Conflict(f"there is already an active {purpose} key: rotate it instead", field="purpose")
    record = _new_record(purpose, passphrase, now)
    session.add(record)
    session.flush()
    audit.record(
        session, now=now, actor=actor, action="key:add", subject_type="signing_key",
        subject_key=record.kid, before=None, after=key_snapshot(record),
    )
    return record


def rotate_key(
    session: Session,
    purpose: str,
    passphrase: bytes,
    *,
    actor: str,
    now: dt.datetime,
    verify_until: dt.datetime | None = None,
) -> SigningKeyRecord:
    """Make a new active key; the old one is retired and keeps verifying the seals it issued
    before now until ``verify_until`` (default five years from now). Returns the new key."""
    _check_purpose(purpose)
    verify_until = verify_until or now + DEFAULT_VERIFY_PERIOD
    if verify_until.tzinfo is None or verify_until <= now:
        raise InvalidInput("verify_until must be a timezone-aware time after now", field="verify_until")
    current = next((r for r in _keys_for_update(session, purpose) if r.state == ACTIVE), None)
    if current is None:
        raise Conflict(f"there is no active {purpose} key to rotate: generate one", field="purpose")
    before = key_snapshot(current)
    current.state = RETIRED
    current.retired_at = utc(now)
    current.verify_until = utc(verify_until)
    session.flush()  # the retired row first: never two active keys, even within the transaction
    record = _new_record(purpose, passphrase, now)
    session.add(record)
    session.flush()
    audit.record(
        session, now=now, actor=actor, action="key:rotate", subject_type="signing_key",
        subject_key=current.kid, before=before,
        after={"retired": key_snapshot(current), "active": key_snapshot(record)},
    )
    return record


def revoke_key(
    session: Session, kid: str, reason: str, *, actor: str, now: dt.datetime
) -> SigningKeyRecord:
    """Revoke a key: every seal it signed is refused from now on, whatever its date. Revoking the
    active key leaves no active key of that purpose until :func:`generate_key` is called."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a reason is required", field="reason")
    record = session.scalar(
        select(SigningKeyRecord).where(SigningKeyRecord.kid == kid.strip().lower()).with_for_update()
    )
    if record is None:
        raise NotFound(f"no signing key {kid!r}")
    if record.state == REVOKED:
        raise Conflict(f"key {record.kid} is already revoked")
    before = key_snapshot(record)
    record.state = REVOKED
    record.revoked_at = utc(now)
    record.revoked_reason = reason
    session.flush()
    audit.record(
        session, now=now, actor=actor, action="key:revoke", subject_type="signing_key",
        subject_key=record.kid, before=before, after=key_snapshot(record), reason=reason,
    )
    return record


def list_keys(session: Session, purpose: str | None = None) -> list[SigningKeyRecord]:
    """Every key (of ``purpose`` if given), oldest first."""
    query = select(SigningKeyRecord).order_by(SigningKeyRecord.purpose, SigningKeyRecord.id)
    if purpose is not None:
        query = query.where(SigningKeyRecord.purpose == purpose)
    return list(session.scalars(query))


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
# Seals each seal key of the current ring remembers verifying (verify.keys.VerifiedSeals), about
# 1 kB each: some 4 MB per key and process, for the seals scanned again (every box of a product).
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
                if len(_ring_cache) >= _RING_CACHE_LIMIT:
                    _ring_cache.clear()
                for (other_purpose, _), older in _ring_cache.items():
                    if other_purpose == purpose:  # a ring no longer current: its memory goes
                        for entry in older:
                            if entry.verified is not None:
                                entry.verified.clear()
                _ring_cache[cache_key] = entries
        # A new ring object per call (rings are mutable); the entries are frozen and shared.
        return vkeys.KeyRing(entries)
    except (KeyRingError, ValueError) as exc:
        raise KeyStoreError(f"the {purpose} keys in the database are inconsistent: {exc}") from exc


# --- signing: the active key, decrypted once per process ------------------------------------------

_signer_cache: dict[bytes, Ed25519PrivateKey] = {}


def active_record(session: Session, purpose: str) -> SigningKeyRecord | None:
    """The active key row of ``purpose``, or None."""
    return session.scalar(
        select(SigningKeyRecord).where(SigningKeyRecord.purpose == purpose, SigningKeyRecord.state == ACTIVE)
    )


def _active_key(
    session: Session, purpose: str, passphrase: bytes
) -> tuple[str, Ed25519PrivateKey, dt.datetime]:
    _check_purpose(purpose)
    record = SigningKeyRecord
    row = session.execute(
        select(record.kid, record.encrypted_private_key, record.created_at).where(
            record.purpose == purpose, record.state == ACTIVE
        )
    ).first()
    if row is None:
        raise KeyStoreError(
            f"there is no active {purpose} key: run `registry keys generate --purpose {purpose}`"
        )
    kid, pem, created_at = row
    if not pem:
        raise KeyStoreError(f"the private part of key {kid} is not in the database")
    cache_key = hashlib.sha256(pem.encode("ascii") + b"\0" + passphrase).digest()
    private_key = _signer_cache.get(cache_key)
    if private_key is None:
        try:
            private_key = private_key_from_pem(pem.encode("ascii"), passphrase)
        except KeyFileError as exc:
            raise KeyStoreError(f"key {kid}: {exc}") from exc
        if vkeys.key_id(private_key.public_key()).hex() != kid:
            raise KeyStoreError(f"the private key stored for {kid} does not match its key id")
        with _cache_lock:
            if len(_signer_cache) >= _SIGNER_CACHE_LIMIT:
                _signer_cache.clear()
            _signer_cache[cache_key] = private_key
    return kid, private_key, utc(created_at)


def active_signer(session: Session, purpose: str, passphrase: bytes) -> tuple[str, Ed25519PrivateKey]:
    """(kid, private key) of the active key of ``purpose``; :class:`KeyStoreError` if there is
    none or the passphrase does not decrypt it.

    The active kid is read from the table on every call; the decrypted key is cached per
    process, keyed by a digest of the encrypted PEM and the passphrase (so a wrong passphrase
    is never answered from the cache, and a rotated key is never used).
    """
    kid, private_key, _ = _active_key(session, purpose, passphrase)
    return kid, private_key


def active_entry(session: Session, purpose: str, passphrase: bytes) -> vkeys.KeyEntry:
    """The active key as a ring entry holding its private key (for ``verify.seal.sign_seal``)."""
    _, private_key, created_at = _active_key(session, purpose, passphrase)
    return vkeys.KeyEntry(
        private_key.public_key(), vkeys.KeyState.ACTIVE, created_at, private_key=private_key
    )


def public_jwks(session: Session, now: dt.datetime, purpose: str = "seal") -> dict[str, Any]:
    """The JWKS to publish for ``purpose``: active keys and retired ones still verifying at
    ``now`` (RFC 8037 OKP keys, ``kid`` base64url of the 8-byte key id). Revoked keys are left out."""
    return load_ring(session, purpose).jwks(now)


def root_public_jwks(session: Session, now: dt.datetime | None = None) -> dict[str, Any]:
    """The registry root key(s) that sign trust bundles, as a JWKS. Without ``now``, every
    root key that is not revoked; with it, as :func:`public_jwks`."""
    ring = load_ring(session, "root")
    if now is not None:
        return ring.jwks(now)
    usable = [e for e in ring.entries() if e.state is not vkeys.KeyState.REVOKED]
    return {"keys": [vkeys.jwk(e.public_key) for e in usable]}


def root_public_pem(session: Session) -> bytes:
    """SubjectPublicKeyInfo PEM of the active root key, handed to offline verifiers."""
    ring = load_ring(session, "root")
    entry = ring.active()
    if entry is None:
        raise KeyStoreError("there is no active root key: run `registry keys generate --purpose root`")
    return vkeys.public_key_to_pem(entry.public_key)


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
