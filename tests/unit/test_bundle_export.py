"""The trust bundle built from the database: contents, signature by the root key, sequence."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import keystore
from registry.authorizations import change_status
from registry.bundle_export import build_trust_bundle, bundle_sequence, root_public_jwks
from registry.certificates import change_certificate_status
from registry.models import AuditEvent
from tests.unit.seal_support import PASSPHRASE, make_world, register
from verify.bundle import load_and_verify
from verify.errors import BundleExpired, BundleSignatureInvalid
from verify.keys import KeyState, b64url, public_key_from_pem

DAY = dt.timedelta(days=1)


def test_bundle_holds_what_offline_verification_needs(session: Session, now: dt.datetime) -> None:
    world = make_world(session, now)
    change_status(session, world.line.id, "suspended", reason="audit", actor="admin", now=now,
                  effective=dt.date(2026, 6, 1))
    for number in ("C-VALID", "C-SUSP", "C-WD"):
        register(session, now, world, number)
    for number, status in (("C-SUSP", "suspended"), ("C-WD", "withdrawn")):
        change_certificate_status(session, world.body.code, number, status, reason="r", actor="op", now=now)
    first = keystore.active_signer(session, "seal", PASSPHRASE)[0]
    keystore.rotate_key(session, "seal", PASSPHRASE, actor="op", now=now, verify_until=now + 30 * DAY)
    second = keystore.active_signer(session, "seal", PASSPHRASE)[0]

    data = build_trust_bundle(session, now=now, passphrase=PASSPHRASE, valid_for=2 * DAY)
    root = public_key_from_pem(keystore.root_public_pem(session))
    bundle = load_and_verify(data, root, now)

    assert bundle.sequence == session.scalar(select(func.max(AuditEvent.id))) == bundle_sequence(session)
    assert (bundle.issued_at, bundle.expires_at) == (now, now + 2 * DAY)
    assert set(bundle.bodies) == {world.body.code}  # certification bodies only, not labs
    (line,) = bundle.bodies[world.body.code]
    assert (line.category, line.jurisdiction, line.scheme) == ("mask", "CN", "CCC")
    assert [p.status for p in line.periods] == ["active", "suspended"]
    assert line.status_on(dt.date(2026, 6, 2)) == "suspended"
    keys = {e.kid.hex(): e for e in bundle.keys}
    assert keys[first].state is KeyState.RETIRED and keys[first].verify_until == now + 30 * DAY
    assert keys[second].state is KeyState.ACTIVE and keys[second].not_before == now
    assert all(e.private_key is None for e in bundle.keys)
    assert bundle.withdrawn == {(world.body.code, "C-WD")}
    assert bundle.suspended == {(world.body.code, "C-SUSP")}
    assert bundle.registered is None

    full = load_and_verify(
        build_trust_bundle(session, now=now, passphrase=PASSPHRASE, sequence=5, include_registered=True),
        root, now,
    )
    assert full.sequence == 5
    assert full.registered == {(world.body.code, n) for n in ("C-VALID", "C-SUSP", "C-WD")}
    with pytest.raises(BundleExpired):
        load_and_verify(data, root, now + 3 * DAY)


def test_bundle_is_signed_by_the_root_key_only(session: Session, now: dt.datetime) -> None:
    world = make_world(session, now, keys=False)
    assert world.body is not None
    keystore.generate_key(session, "seal", PASSPHRASE, actor="test", now=now)
    with pytest.raises(keystore.KeyStoreError, match="no active root key"):
        build_trust_bundle(session, now=now, passphrase=PASSPHRASE)
    root = keystore.generate_key(session, "root", PASSPHRASE, actor="test", now=now)
    with pytest.raises(keystore.KeyStoreError, match="decrypt"):
        build_trust_bundle(session, now=now, passphrase=b"not-the-passphrase-0123456789abc")
    data = build_trust_bundle(session, now=now, passphrase=PASSPHRASE)

    seal_public = keystore.load_ring(session, "seal").active().public_key  # type: ignore[union-attr]
    with pytest.raises(BundleSignatureInvalid):
        load_and_verify(data, seal_public, now)
    assert [k["kid"] for k in root_public_jwks(session)["keys"]] == [b64url(bytes.fromhex(root.kid))]
