"""Signing keys in the database: generate, rotate, revoke, and load them for signing or verifying.

Three purposes share the ``signing_key`` table: "seal" keys sign certificate seals, the "root"
key signs trust bundles, the "log" key signs the transparency log's checkpoints. Each purpose
has at most one active key. Private keys are stored only as encrypted PKCS#8 PEM
(``verify.keyfiles``); the passphrase is machine-generated and kept outside
the database (environment or secret file), so a database dump alone signs nothing.

The rings that verify are read by ``registry.key_rings`` (re-exported here): fresh on every
call, or trusted under the key ring's stamp on the hot path. Decrypted private keys are cached
(decryption is deliberately slow), keyed by the exact encrypted bytes they came from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit
from registry.errors import Conflict, InvalidInput, KeyStoreError, NotFound
from registry.key_rings import (  # noqa: F401  (the verifying rings: re-exported, callers look here)
    KEY_RING_STAMP,
    REMEMBERED_SEALS,
    _utc_or_none,
    cached_ring,
    load_ring,
    stamped_ring,
    utc,
)
from registry.models import SigningKeyRecord
from verify import keys as vkeys
from verify.errors import KeyFileError
from verify.keyfiles import (
    generate_private_key,
    passphrase_from_environment,
    private_key_from_pem,
    private_key_to_pem,
)

PURPOSES = ("seal", "root", "log")
DEFAULT_VERIFY_PERIOD = dt.timedelta(days=5 * 365)
ACTIVE, RETIRED, REVOKED = "active", "retired", "revoked"
_SIGNER_CACHE_LIMIT = 16


def kid_hex(text: str) -> str:
    """A key id as the registry keeps it (16 hex digits), from either form a person meets: the hex
    that ``keys list`` prints, or the base64url of the same 8 bytes that the API (``seal.kid``)
    and the JWKS (``kid``) show. Anything else comes back stripped and lower-cased, to be not
    found."""
    value = text.strip()
    if len(value) == 11:  # 8 bytes in unpadded base64url (the hex form has 16 characters)
        try:
            return vkeys.b64url_decode(value).hex()
        except ValueError:
            pass
    return value.lower()


def passphrase_from_env(environ: Mapping[str, str] | None = None) -> bytes:
    """The key passphrase from ``SEAL_KEY_PASSPHRASE`` or the file named by
    ``SEAL_KEY_PASSPHRASE_FILE``; :class:`KeyStoreError` naming both when neither is usable."""
    try:
        return passphrase_from_environment(environ).encode("utf-8")
    except KeyFileError as exc:
        raise KeyStoreError(f"no key passphrase: {exc}") from exc


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
    """Revoke a key (``kid`` in either form: :func:`kid_hex`): every seal it signed is refused from
    now on, whatever its date. Revoking the active key leaves no active key of that purpose until
    :func:`generate_key` is called."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a reason is required", field="reason")
    record = session.scalar(
        select(SigningKeyRecord).where(SigningKeyRecord.kid == kid_hex(kid)).with_for_update()
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


# --- signing: the active key, decrypted once per process ------------------------------------------

_signer_cache: dict[bytes, Ed25519PrivateKey] = {}
_cache_lock = threading.Lock()


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
