"""Seals issued from the registry and verified against it; the offline verifier agrees.

Every verdict code is reached from database states, and for each the offline verifier, given a
trust bundle built from the same database at the same moment, gives the same code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry import key_rings, keystore, seal_lookup, seals, verification
from registry.authorizations import change_status
from registry.bundle_export import build_trust_bundle
from registry.certificates import certificate_snapshot, change_certificate_status
from registry.db import make_engine
from registry.errors import Conflict, InvalidInput
from registry.models import AuditEvent, Body, Certificate, LogNode, Seal
from tests.unit.seal_support import HOST, PASSPHRASE, World, make_world, register
from tests.unit.verify.support import seeded_key
from verify import seal as vseal
from verify.bundle import load_and_verify
from verify.claims import record_digest
from verify.keys import KeyRing, public_key_from_pem
from verify.offline import OfflineVerifier

DAY = dt.timedelta(days=1)
SEVERAL = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def world(session: Session, now: dt.datetime) -> World:
    return make_world(session, now)


def sealed(session: Session, now: dt.datetime, world: World, number: str = "CQC2026000001",
           **overrides: Any) -> tuple[Certificate, str]:
    certificate = register(session, now, world, number, **overrides)
    seal = seals.issue_seal(session, certificate, now=now, passphrase=PASSPHRASE)
    return certificate, seals.seal_url(HOST, seal.token)


def offline_code(session: Session, url: str, at: dt.datetime, **bundle_options: Any) -> str:
    data = build_trust_bundle(session, now=at, passphrase=PASSPHRASE, **bundle_options)
    root = public_key_from_pem(keystore.root_public_pem(session))
    return OfflineVerifier(load_and_verify(data, root, at)).verify_scanned(url, at).verdict.code.value


# --- issuing -----------------------------------------------------------------------------------------


def test_issue_stores_the_seal_and_its_audit_event(session: Session, now: dt.datetime, world: World) -> None:
    certificate = register(session, now, world, "CQC2026000001")
    seal = seals.issue_seal(session, certificate, now=now, passphrase=PASSPHRASE)
    assert seal.token == seal.token.upper()
    assert seal.token_sha256 == hashlib.sha256(seal.token.encode()).hexdigest()
    assert seal.kid == keystore.active_signer(session, "seal", PASSPHRASE)[0]
    assert keystore.utc(seal.issued_at) == now
    claims = vseal.verify_token(seal.token, keystore.load_ring(session), now)
    assert claims.certificate_key == (world.body.code, "CQC2026000001")
    assert claims.holder_credit_code == certificate.holder.credit_code
    assert claims.record_digest == record_digest(certificate_snapshot(certificate))

    event_row = session.scalars(select(AuditEvent).where(AuditEvent.action == "seal:issue")).one()
    assert event_row.subject_key == f"{world.body.code}/CQC2026000001"
    after = event_row.after or {}
    assert after["token_sha256"] == seal.token_sha256 and after["kid"] == seal.kid

    assert seals.issue_seal(session, certificate, now=now, passphrase=PASSPHRASE) is seal  # same second
    later = seals.issue_seal(session, certificate, now=now + DAY, passphrase=PASSPHRASE)
    assert seals.latest_seal(session, certificate) is later
    url = seals.seal_url(HOST, later.token)
    assert url == f"HTTPS://VERIFY.EXAMPLE.CN/V/{later.token}"


def test_no_seal_without_a_key_or_for_a_withdrawn_certificate(session: Session, now: dt.datetime) -> None:
    world = make_world(session, now, keys=False)
    certificate = register(session, now, world, "CQC2026000002")
    with pytest.raises(keystore.KeyStoreError, match="no active seal key"):
        seals.issue_seal(session, certificate, now=now, passphrase=PASSPHRASE)
    keystore.generate_key(session, "seal", PASSPHRASE, actor="test", now=now)
    with pytest.raises(keystore.KeyStoreError):  # dated before the key existed
        seals.issue_seal(session, certificate, now=now - DAY, passphrase=PASSPHRASE)
    change_certificate_status(
        session, world.body.code, "CQC2026000002", "withdrawn", reason="r", actor="op", now=now
    )
    with pytest.raises(Conflict, match="withdrawn"):
        seals.issue_seal(session, certificate, now=now, passphrase=PASSPHRASE)
    assert session.scalar(select(Seal.id)) is None


def test_reissue_after_a_revocation(session: Session, now: dt.datetime, world: World) -> None:
    kept, old_url = sealed(session, now, world, "C-KEPT")
    withdrawn, _ = sealed(session, now, world, "C-GONE")
    change_certificate_status(
        session, world.body.code, "C-GONE", "withdrawn", reason="r", actor="op", now=now
    )
    old_kid = keystore.active_signer(session, "seal", PASSPHRASE)[0]
    keystore.revoke_key(session, old_kid, "leaked", actor="op", now=now)
    keystore.generate_key(session, "seal", PASSPHRASE, actor="op", now=now + DAY)

    issued = seals.reissue_seals(session, old_kid, now=now + DAY, passphrase=PASSPHRASE)
    assert [seal.certificate_id for seal in issued] == [kept.id]
    assert verification.verify_scanned(session, old_url, now=now + DAY).code == "KEY_REVOKED"
    new_url = seals.seal_url(HOST, issued[0].token)
    assert verification.verify_scanned(session, new_url, now=now + DAY).code == "VALID"
    assert seals.reissue_seals(session, old_kid, now=now + DAY, passphrase=PASSPHRASE) == []
    assert seals.latest_seal(session, withdrawn).kid == old_kid  # type: ignore[union-attr]


# --- every verdict, online and offline -----------------------------------------------------------------

Scenario = Callable[[Session, dt.datetime, World], tuple[str, dt.datetime]]


def _status(status: str) -> Scenario:
    def scenario(session: Session, now: dt.datetime, world: World) -> tuple[str, dt.datetime]:
        certificate, url = sealed(session, now, world)
        change_certificate_status(session, world.body.code, certificate.number, status,
                                  reason="surveillance", actor="op", now=now)
        return url, now
    return scenario


def _body_line(status: str, effective: dt.date) -> Scenario:
    def scenario(session: Session, now: dt.datetime, world: World) -> tuple[str, dt.datetime]:
        _, url = sealed(session, now, world)
        change_status(
            session, world.line.id, status, reason="decision", actor="admin", now=now, effective=effective
        )
        return url, now
    return scenario


def _expired(session: Session, now: dt.datetime, world: World) -> tuple[str, dt.datetime]:
    return sealed(session, now, world, expiry_date=dt.date(2026, 6, 1))[1], now


def _retired(days_later: int) -> Scenario:
    def scenario(session: Session, now: dt.datetime, world: World) -> tuple[str, dt.datetime]:
        _, url = sealed(session, now, world)
        keystore.rotate_key(
            session, "seal", PASSPHRASE, actor="op", now=now + DAY, verify_until=now + 10 * DAY
        )
        return url, now + days_later * DAY
    return scenario


def _revoked(session: Session, now: dt.datetime, world: World) -> tuple[str, dt.datetime]:
    _, url = sealed(session, now, world)
    kid = keystore.active_signer(session, "seal", PASSPHRASE)[0]
    keystore.revoke_key(session, kid, "leaked", actor="op", now=now)
    return url, now


def _unknown_key(session: Session, now: dt.datetime, world: World) -> tuple[str, dt.datetime]:
    certificate = register(session, now, world, "CQC2026000001")
    ring = KeyRing()
    ring.add(seeded_key("not-a-registry-key"), now)
    token = vseal.issue_token(seals.certificate_claims(certificate, now), ring)
    return seals.seal_url(HOST, token), now


def _tampered(session: Session, now: dt.datetime, world: World) -> tuple[str, dt.datetime]:
    _, url = sealed(session, now, world)
    head, token = url.rsplit("/", 1)
    data = bytearray(vseal.token_to_bytes(token))
    data[40] ^= 0x01  # inside the claims: the signature no longer matches
    return f"{head}/{vseal.token_from_bytes(bytes(data))}", now


NOT_AUTHORIZED, ENDED = "BODY_NOT_AUTHORIZED", "BODY_AUTHORIZATION_ENDED"
SCENARIOS: dict[str, tuple[Scenario, str, bool]] = {  # name: (set-up, code, is_warning)
    "valid": (lambda s, n, w: (sealed(s, n, w)[1], n), "VALID", False),
    "suspended": (_status("suspended"), "CERTIFICATE_SUSPENDED", False),
    "withdrawn": (_status("withdrawn"), "CERTIFICATE_WITHDRAWN", False),
    "expired": (_expired, "CERTIFICATE_EXPIRED", False),
    # The certificate was issued on 2026-03-01; the clock reads 2026-06-15.
    "body withdrawn before issue": (_body_line("withdrawn", dt.date(2026, 2, 1)), NOT_AUTHORIZED, False),
    "body withdrawn, within grace": (_body_line("withdrawn", dt.date(2026, 6, 5)), ENDED, True),
    "body suspended, within grace": (_body_line("suspended", dt.date(2026, 5, 1)), ENDED, True),
    "body withdrawn, after grace": (_body_line("withdrawn", dt.date(2026, 3, 10)), ENDED, False),
    "retired key, within verify_until": (_retired(5), "VALID", False),
    "retired key, after verify_until": (_retired(11), "FORGED", False),
    "revoked key": (_revoked, "KEY_REVOKED", False),
    "unknown key": (_unknown_key, "FORGED", False),
    "tampered": (_tampered, "FORGED", False),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_verdict_online_and_offline(
    session: Session, now: dt.datetime, world: World, name: str
) -> None:
    set_up, code, warning = SCENARIOS[name]
    url, at = set_up(session, now, world)
    result = verification.verify_scanned(session, url, now=at)
    assert (result.code, result.is_warning) == (code, warning), result.reason_en
    assert result.reason_en and result.reason_zh
    assert offline_code(session, url, at) == code
    genuine = code not in ("FORGED", "KEY_REVOKED")
    assert (result.claims is not None) == genuine
    assert (result.certificate is not None) == genuine
    if genuine:
        assert result.certificate.number == "CQC2026000001"  # type: ignore[union-attr]
    if name != "tampered":
        assert result.kid is not None and len(result.kid) == 16


def test_a_genuine_seal_of_an_unregistered_certificate(
    session: Session, now: dt.datetime, world: World
) -> None:
    certificate = register(session, now, world, "CQC2026000001")
    claims = seals.certificate_claims(certificate, now)
    # Seal claims naming a number the registry does not hold, with the registry's own key.
    entry = keystore.active_entry(session, "seal", PASSPHRASE)
    forged = dataclasses.replace(claims, certificate_number="NEVER-REGISTERED")
    url = seals.seal_url(HOST, vseal.issue_token(forged, KeyRing([entry])))

    result = verification.verify_scanned(session, url, now=now + DAY)
    assert result.code == "NOT_REGISTERED" and result.certificate is None and result.claims == forged
    # Offline, registration is inferred from the signature unless the bundle lists every certificate.
    assert offline_code(session, url, now + DAY) == "VALID"
    assert offline_code(session, url, now + DAY, include_registered=True) == "NOT_REGISTERED"


def test_grace_days_is_configurable(session: Session, now: dt.datetime, world: World) -> None:
    url, at = _body_line("withdrawn", dt.date(2026, 6, 5))(session, now, world)
    assert verification.verify_scanned(session, url, now=at, grace_days=5).is_warning is False
    result = verification.verify_scanned(session, url, now=at, grace_days=30)
    assert result.is_warning and result.grace_until == dt.date(2026, 7, 5)


# --- batches, bad input, the hot path -----------------------------------------------------------------


def test_verify_many_matches_single_verification(session: Session, now: dt.datetime, world: World) -> None:
    _, valid = sealed(session, now, world, "CQC2026000001")
    suspended, url_suspended = sealed(session, now, world, "CQC2026000002")
    change_certificate_status(session, world.body.code, suspended.number, "suspended", reason="r",
                              actor="op", now=now)
    items = [valid, "garbage", url_suspended, valid.lower(), ""]
    batch = verification.verify_many(session, items, now=now)
    assert [r.code for r in batch] == ["VALID", "FORGED", "CERTIFICATE_SUSPENDED", "VALID", "FORGED"]
    singly = [verification.verify_scanned(session, item, now=now) for item in items]
    assert [r.code for r in batch] == [r.code for r in singly]
    assert [r.certificate for r in batch] == [r.certificate for r in singly]
    assert batch[2].certificate is not None and batch[2].certificate.id == suspended.id
    with pytest.raises(InvalidInput, match="1000") as excinfo:
        verification.verify_many(session, ["x"] * (verification.MAX_BATCH + 1), now=now)
    assert excinfo.value.details["limit"] == 1000


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_the_hot_path_is_one_query_and_a_batch_three(
    session: Session, now: dt.datetime, world: World, statements: list[str]
) -> None:
    _, url = sealed(session, now, world)
    session.flush()
    verification.verify_scanned(session, url, now=now)  # reads the keys for this database
    statements.clear()
    assert verification.verify_scanned(session, url, now=now).code == "VALID"
    assert len(statements) == 1, statements
    statements.clear()
    assert verification.verify_many(session, [url] * 50, now=now)[49].code == "VALID"
    assert len(statements) == 3


def test_the_lookup_reads_the_body_line_through_its_own_index(
    session: Session, now: dt.datetime, world: World
) -> None:
    """Every scan reads the timeline segments of one body's line: by its index on (body,
    category, jurisdiction), not by the scope index, which reads every body's segments of the
    category (as many as there are bodies). SQLite's plan is checked; PostgreSQL picks among its
    indexes by statistics (on tables this small the three cost it the same, and with seq scans
    allowed it reads the whole table), so there the index is only checked to exist."""
    sealed(session, now, world)
    session.flush()
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        definition = connection.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_authorization_timeline_line'"
        ).scalar_one()
        assert "(body_id, category, jurisdiction, starts, ends, status, authorization_id)" in definition
        return
    compiled = seal_lookup._ONE_CERTIFICATE.compile(dialect=connection.dialect)
    values = dict(compiled.params) | {"code": "CB-1", "number": "N", "category": "mask", "jurisdiction": "CN"}
    bound = tuple(values[name] for name in compiled.positiontup or ())
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + compiled.string, bound)
    plan = " ".join(str(value) for row in rows for value in row)
    assert "ix_authorization_timeline_line" in plan, plan
    assert "ix_authorization_timeline_scope" not in plan, plan


def test_each_certificate_keeps_its_latest_log_leaf(session: Session, now: dt.datetime, world: World) -> None:
    """A scan reads where the certificate's latest change sits in the transparency log from the
    certificate row: its registration, then each status change, keeps it; a seal (logged, but no
    change of the record) leaves it; migration 0012 fills it from the log, to the same values."""
    first, second, third = (register(session, now, world, f"LOG-{n}") for n in (1, 2, 3))
    session.flush()
    registered = dict(session.execute(select(Certificate.number, Certificate.log_index)).all())  # type: ignore[arg-type]
    change_certificate_status(session, world.body.code, "LOG-2", "suspended", reason="r", actor="t", now=now)
    seals.issue_seals(session, [first, second], now=now, passphrase=PASSPHRASE)
    session.flush()

    def from_the_log(actions: str) -> dict[str, int]:
        rows = session.execute(
            select(AuditEvent.subject_key, func.max(LogNode.idx))
            .join(LogNode, LogNode.audit_event_id == AuditEvent.id)
            .where(AuditEvent.subject_type == "certificate", AuditEvent.action.like(actions))
            .group_by(AuditEvent.subject_key)
        )
        return dict(rows.all())  # type: ignore[arg-type]  # rows of two columns

    def kept() -> dict[str, int | None]:
        rows = session.execute(
            select(Body.code + "/" + Certificate.number, Certificate.log_index)
            .join(Body, Body.id == Certificate.body_id)
            .order_by(Certificate.id)
        )
        return dict(rows.all())  # type: ignore[arg-type]

    expected = from_the_log("certificate:%")
    key = f"{world.body.code}/LOG-%s"
    assert kept() == expected and len(set(expected.values())) == 3
    assert all(registered[f"LOG-{n}"] == expected[key % n] for n in (1, 3))  # a seal left them
    assert expected[key % 2] == from_the_log("certificate:suspend")[key % 2]
    assert from_the_log("seal:%")[key % 1] > expected[key % 1]  # logged later, not the change
    assert [c.version for c in (first, second, third)] == [1, 2, 1]  # no edit: no version bump
    scanned = verification.verify_scanned(session, seals.latest_seal(session, first).token, now=now)  # type: ignore[union-attr]
    assert scanned.certificate is not None and scanned.certificate.log_index == expected[key % 1]
    session.execute(update(Certificate).values(log_index=None).execution_options(synchronize_session=False))
    session.execute(text(_migration("0012_certificate_log_index").BACKFILL))
    assert kept() == expected


def _migration(name: str) -> Any:
    path = Path(__file__).resolve().parents[2] / "migrations" / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_garbage_costs_no_query(
    session: Session, now: dt.datetime, world: World, statements: list[str]
) -> None:
    _, url = sealed(session, now, world)
    session.flush()
    tampered = url[:-4] + ("AAAA" if url[-4:] != "AAAA" else "BBBB")  # the signature's end
    assert verification.verify_scanned(session, url, now=now).code == "VALID"  # the ring is read
    statements.clear()
    for scanned in ("garbage", "HTTPS://X/V/ABC", tampered):
        assert verification.verify_scanned(session, scanned, now=now).code == "FORGED"
    assert statements == []


def test_a_key_revoked_straight_in_sql_counts_at_the_next_verification(
    session: Session, now: dt.datetime, world: World, statements: list[str]
) -> None:
    """The cached ring is trusted only under the stamp a trigger renews on any key change."""
    _, url = sealed(session, now, world)
    assert verification.verify_scanned(session, url, now=now).code == "VALID"
    kid = keystore.list_keys(session, "seal")[0].kid
    session.execute(
        text("UPDATE signing_key SET state = 'revoked', revoked_at = :at WHERE kid = :kid"),
        {"at": now - DAY, "kid": kid},
    )
    statements.clear()
    assert verification.verify_scanned(session, url, now=now).code == "KEY_REVOKED"
    assert len(statements) == 3, statements  # stale stamp seen, keys read again, seal refused
    session.execute(text("UPDATE signing_key SET state = 'active', revoked_at = NULL WHERE kid = :kid"),
                    {"kid": kid})
    assert verification.verify_scanned(session, url, now=now).code == "VALID"


def test_the_registry_keys_remember_the_seals_they_verified(
    session: Session, now: dt.datetime, world: World
) -> None:
    """The same seal scanned again skips its signature (verify.verified_seals.VerifiedSeals); a revocation
    still counts at once, since a changed key is a new entry and a key's state is checked on
    every scan."""
    _, url = sealed(session, now, world)
    assert verification.verify_scanned(session, url, now=now).code == "VALID"
    (entry,) = keystore.cached_ring(session, "seal")[1].entries()
    assert entry.verified is not None and len(entry.verified) == 1
    assert verification.verify_scanned(session, url.lower(), now=now).code == "VALID"  # same bytes
    assert len(entry.verified) == 1
    kid = entry.kid.hex()
    keystore.revoke_key(session, kid, "leaked", actor="op", now=now)
    assert verification.verify_scanned(session, url, now=now).code == "KEY_REVOKED"
    (revoked,) = keystore.cached_ring(session, "seal")[1].entries()
    assert revoked is not entry  # its signature held, so the revoked key remembers it too...
    assert revoked.verified is not None and len(revoked.verified) == 1
    assert verification.verify_scanned(session, url, now=now).code == "KEY_REVOKED"  # ...and refuses it
    assert len(entry.verified) == 0  # the ring no longer current forgot its seals
    roots = keystore.load_ring(session, "root").entries()  # the world has a root key
    assert roots and all(key.verified is None for key in roots)  # bundles are not scanned again


def test_a_ring_no_longer_current_forgets_its_seals_when_the_ring_cache_is_full(
    session: Session, now: dt.datetime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ring cache is emptied when full: the ring it replaces must forget its seals first
    (a full cache once dropped it with its memory, which whoever still held it kept)."""
    monkeypatch.setattr(key_rings, "_RING_CACHE_LIMIT", 1)
    key_rings._ring_cache.clear()
    _, url = sealed(session, now, world)
    assert verification.verify_scanned(session, url, now=now).code == "VALID"
    (entry,) = keystore.cached_ring(session, "seal")[1].entries()
    assert entry.verified is not None and len(entry.verified) == 1
    keystore.revoke_key(session, entry.kid.hex(), "leaked", actor="op", now=now)
    assert verification.verify_scanned(session, url, now=now).code == "KEY_REVOKED"
    assert len(entry.verified) == 0


@SEVERAL
@given(text=st.one_of(
    st.text(max_size=400),
    st.from_regex(r"(?i)https?://[a-z.]{1,20}/v/[a-z2-7]{0,400}", fullmatch=True),
    st.binary(max_size=300).map(vseal.token_from_bytes),
))
def test_any_string_is_forged_never_an_exception(session: Session, now: dt.datetime, world: World,
                                                  text: str) -> None:
    assert verification.verify_scanned(session, text, now=now).code == "FORGED"


def test_odd_inputs(session: Session, now: dt.datetime, world: World) -> None:
    for odd in ["A" * 1_000_000, "HTTPS://X/V/" + "A" * 5000, "\x00\ud800", "印章", None, 12, b"AAAA"]:
        result = verification.verify_scanned(session, odd, now=now)  # type: ignore[arg-type]
        assert (result.code, result.detail) == ("FORGED", "malformed")


@SEVERAL
@given(position=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_no_single_bit_flip_is_valid(session: Session, now: dt.datetime, world: World,
                                     position: int, bit: int) -> None:
    certificate = session.scalar(select(Certificate).where(Certificate.number == "FLIP-1"))
    if certificate is None:
        certificate = register(session, now, world, "FLIP-1")
    token = seals.issue_seal(session, certificate, now=now, passphrase=PASSPHRASE).token
    data = bytearray(vseal.token_to_bytes(token))
    data[position % len(data)] ^= 1 << bit
    result = verification.verify_scanned(session, vseal.token_from_bytes(bytes(data)), now=now)
    assert result.code != "VALID"


# --- freshness across processes ------------------------------------------------------------------------


def test_a_committed_revocation_is_seen_by_the_very_next_verification(
    committed_url: str, now: dt.datetime
) -> None:
    # Two engines: two connection pools, as two server processes would have.
    writer, reader = make_engine(committed_url), make_engine(committed_url)
    try:
        with Session(writer) as session:
            world = make_world(session, now)
            _, url = sealed(session, now, world)
            kid = keystore.active_signer(session, "seal", PASSPHRASE)[0]
            session.commit()
        with Session(reader) as session:
            assert verification.verify_scanned(session, url, now=now).code == "VALID"
        with Session(writer) as session:
            keystore.revoke_key(session, kid, "stolen laptop", actor="op", now=now)
            session.commit()
        with Session(reader) as session:
            assert verification.verify_scanned(session, url, now=now).code == "KEY_REVOKED"
    finally:
        writer.dispose()
        reader.dispose()
