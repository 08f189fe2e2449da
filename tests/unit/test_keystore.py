"""Signing keys in the database: lifecycle with audit events, encryption at rest, fresh rings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry import keystore
from registry.errors import Conflict, InvalidInput, NotFound
from registry.models import AuditEvent, SigningKeyRecord
from verify.keys import KeyState, b64url, key_id

PASSPHRASE = b"test-passphrase-0123456789abcdef"
DAY = dt.timedelta(days=1)


def _actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("key:%"))
                                .order_by(AuditEvent.id)))


def test_first_key_is_active_and_stored_encrypted(session: Session, now: dt.datetime) -> None:
    record = keystore.generate_key(session, "seal", PASSPHRASE, actor="op", now=now)
    assert record.state == "active" and record.purpose == "seal"
    kid, private_key = keystore.active_signer(session, "seal", PASSPHRASE)
    assert kid == record.kid == key_id(private_key.public_key()).hex()

    # Read the raw row: only an encrypted PKCS#8 PEM, never the key's raw or unencrypted form.
    pem, der = session.execute(
        text("SELECT encrypted_private_key, public_key_der FROM signing_key WHERE kid = :kid"), {"kid": kid}
    ).one()
    assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    raw = private_key.private_bytes_raw()
    plain_der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    for stored in (pem.encode(), bytes(der)):
        assert raw not in stored and raw.hex().encode() not in stored and plain_der not in stored
    with pytest.raises(TypeError):  # a password is required to read it
        serialization.load_pem_private_key(pem.encode(), password=None)

    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "key:add")).one()
    assert event.subject_key == kid and (event.after or {})["state"] == "active"
    assert "PRIVATE" not in event.canonical


def test_wrong_passphrase_is_refused(session: Session, now: dt.datetime) -> None:
    keystore.generate_key(session, "seal", PASSPHRASE, actor="op", now=now)
    keystore.active_signer(session, "seal", PASSPHRASE)  # cached under the right passphrase only
    with pytest.raises(keystore.KeyStoreError, match="cannot decrypt"):
        keystore.active_signer(session, "seal", b"another-passphrase-of-32-bytes!!")
    with pytest.raises(keystore.KeyStoreError, match="too short"):
        keystore.generate_key(session, "root", b"short", actor="op", now=now)


def test_rotation_retires_the_old_key_and_revocation_leaves_no_signer(
    session: Session, now: dt.datetime
) -> None:
    first = keystore.generate_key(session, "seal", PASSPHRASE, actor="op", now=now)
    with pytest.raises(Conflict, match="rotate"):
        keystore.generate_key(session, "seal", PASSPHRASE, actor="op", now=now)

    second = keystore.rotate_key(session, "seal", PASSPHRASE, actor="op", now=now + DAY)
    assert (first.state, second.state) == ("retired", "active")
    assert keystore.utc(first.verify_until) == now + DAY + keystore.DEFAULT_VERIFY_PERIOD  # type: ignore[arg-type]
    assert keystore.active_signer(session, "seal", PASSPHRASE)[0] == second.kid

    third = keystore.rotate_key(session, "seal", PASSPHRASE, actor="op", now=now + 2 * DAY,
                                verify_until=now + 30 * DAY)
    assert keystore.utc(second.verify_until) == now + 30 * DAY  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        keystore.rotate_key(session, "seal", PASSPHRASE, actor="op", now=now + 3 * DAY, verify_until=now)

    keystore.revoke_key(session, third.kid, "suspected leak", actor="op", now=now + 3 * DAY)
    with pytest.raises(keystore.KeyStoreError, match="no active seal key"):
        keystore.active_signer(session, "seal", PASSPHRASE)
    with pytest.raises(Conflict, match="generate"):
        keystore.rotate_key(session, "seal", PASSPHRASE, actor="op", now=now + 3 * DAY)
    fourth = keystore.generate_key(session, "seal", PASSPHRASE, actor="op", now=now + 4 * DAY)

    ring = keystore.load_ring(session, "seal")
    states = {entry.kid.hex(): entry.state for entry in ring.entries()}
    assert states == {first.kid: KeyState.RETIRED, second.kid: KeyState.RETIRED,
                      third.kid: KeyState.REVOKED, fourth.kid: KeyState.ACTIVE}
    assert ring.get(bytes.fromhex(first.kid)).not_before == now  # type: ignore[union-attr]
    assert _actions(session) == ["key:add", "key:rotate", "key:rotate", "key:revoke", "key:add"]
    revoke = session.scalars(select(AuditEvent).where(AuditEvent.action == "key:revoke")).one()
    assert revoke.reason == "suspected leak" and (revoke.after or {})["state"] == "revoked"


def test_revoke_refusals(session: Session, now: dt.datetime) -> None:
    record = keystore.generate_key(session, "root", PASSPHRASE, actor="op", now=now)
    with pytest.raises(InvalidInput):
        keystore.revoke_key(session, record.kid, "  ", actor="op", now=now)
    with pytest.raises(NotFound):
        keystore.revoke_key(session, "00" * 8, "why", actor="op", now=now)
    keystore.revoke_key(session, record.kid.upper(), "why", actor="op", now=now)
    with pytest.raises(Conflict, match="already revoked"):
        keystore.revoke_key(session, record.kid, "why", actor="op", now=now)
    with pytest.raises(InvalidInput):
        keystore.generate_key(session, "other", PASSPHRASE, actor="op", now=now)


def test_ring_is_rebuilt_from_the_rows_on_every_call(session: Session, now: dt.datetime) -> None:
    record = keystore.generate_key(session, "seal", PASSPHRASE, actor="op", now=now)
    before = keystore.load_ring(session)
    assert before.active() is not None and before.active().private_key is None  # type: ignore[union-attr]
    # Change the row behind the ORM's back, as another process would.
    session.execute(
        text("UPDATE signing_key SET state = 'revoked', revoked_at = :at WHERE kid = :kid"),
        {"at": now, "kid": record.kid},
    )
    after = keystore.load_ring(session)
    assert after.get(bytes.fromhex(record.kid)).state is KeyState.REVOKED  # type: ignore[union-attr]
    assert before.get(bytes.fromhex(record.kid)).state is KeyState.ACTIVE  # type: ignore[union-attr]


def test_signer_is_decrypted_once_per_process(
    session: Session, now: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = keystore.private_key_from_pem

    def counting(pem: bytes, passphrase: str | bytes):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(pem, passphrase)

    monkeypatch.setattr(keystore, "private_key_from_pem", counting)
    keystore.generate_key(session, "seal", PASSPHRASE, actor="op", now=now)
    first = keystore.active_signer(session, "seal", PASSPHRASE)
    assert keystore.active_signer(session, "seal", PASSPHRASE) == first
    assert len(calls) == 1
    rotated = keystore.rotate_key(session, "seal", PASSPHRASE, actor="op", now=now + DAY)
    assert keystore.active_signer(session, "seal", PASSPHRASE)[0] == rotated.kid  # re-checked
    assert len(calls) == 2


def test_public_key_sets(session: Session, now: dt.datetime) -> None:
    seal_key = keystore.generate_key(session, "seal", PASSPHRASE, actor="op", now=now)
    retired_root = keystore.generate_key(session, "root", PASSPHRASE, actor="op", now=now)
    root = keystore.rotate_key(session, "root", PASSPHRASE, actor="op", now=now, verify_until=now + DAY)

    seal_kids = [k["kid"] for k in keystore.public_jwks(session, now)["keys"]]
    assert seal_kids == [b64url(bytes.fromhex(seal_key.kid))]
    members = keystore.public_jwks(session, now)["keys"]
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" for k in members)
    root_kids = {k["kid"] for k in keystore.root_public_jwks(session)["keys"]}
    assert root_kids == {b64url(bytes.fromhex(root.kid)), b64url(bytes.fromhex(retired_root.kid))}
    later = {k["kid"] for k in keystore.root_public_jwks(session, now + 2 * DAY)["keys"]}
    assert later == {b64url(bytes.fromhex(root.kid))}
    pem = keystore.root_public_pem(session)
    loaded = serialization.load_pem_public_key(pem)
    assert key_id(loaded).hex() == root.kid  # type: ignore[arg-type]
    assert session.scalar(select(SigningKeyRecord.purpose).where(SigningKeyRecord.kid == root.kid)) == "root"


def test_passphrase_from_env(tmp_path: Path) -> None:
    secret = tmp_path / "passphrase"
    secret.write_text("from-a-file-0123456789\n", encoding="utf-8")
    assert keystore.passphrase_from_env({"SEAL_KEY_PASSPHRASE": "from-env"}) == b"from-env"
    from_file = keystore.passphrase_from_env({"SEAL_KEY_PASSPHRASE_FILE": str(secret)})
    assert from_file == b"from-a-file-0123456789"
    with pytest.raises(keystore.KeyStoreError, match="SEAL_KEY_PASSPHRASE"):
        keystore.passphrase_from_env({})
    with pytest.raises(keystore.KeyStoreError, match="cannot read"):
        keystore.passphrase_from_env({"SEAL_KEY_PASSPHRASE_FILE": str(tmp_path / "missing")})


def test_the_database_allows_one_active_key_per_purpose(session: Session, now: dt.datetime) -> None:
    """Two `keys generate` racing each pass the service's check; the index stops the second."""
    keystore.generate_key(session, "seal", PASSPHRASE, actor="ops", now=now)
    first = session.scalars(select(SigningKeyRecord)).one()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(SigningKeyRecord(
            kid="0" * 16, purpose="seal", public_key_der=b"x", encrypted_private_key=None,
            state="active", created_at=now,
        ))
        session.flush()
    keystore.generate_key(session, "root", PASSPHRASE, actor="ops", now=now)  # another purpose
    assert first.state == "active"
