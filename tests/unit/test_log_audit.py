"""The log audit: a clean registry replays clean; every kind of edit made straight in SQL, to a
table or to the log itself, is named; a saved checkpoint is proved consistent or refused."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from registry import keystore, log_audit, translog
from registry.authorizations import change_status
from registry.bodies import BodyInput, update_body
from registry.certificates import PartyInput, change_certificate_status
from registry.demo import load_demo
from registry.demo_certificates import load_demo_certificates
from registry.models import AuditEvent, LogNode
from registry.seals import issue_seal
from tests.factories import grant, make_body
from tests.unit.seal_support import PASSPHRASE, make_world, register
from verify import merkle
from verify.checkpoint import Checkpoint, NoteSigner, parse_checkpoint, sign_checkpoint
from verify.keyfiles import generate_private_key

ORIGIN = "test.example/registry-log"


def _disable_append_only(session: Session, table: str) -> None:
    """Let this test's transaction edit ``table`` (rolled back with everything else at its end)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text(f"DROP TRIGGER {table}_no_update"))
        session.execute(text(f"DROP TRIGGER {table}_no_delete"))
    else:
        session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))


def _rename_in_logged_event(session: Session, event_id: int) -> None:
    """Edit an audit event's canonical text in SQL (its columns untouched)."""
    _disable_append_only(session, "audit_event")
    session.execute(text("UPDATE audit_event SET canonical = replace(canonical, '真名', '假名') "
                         "WHERE id = :id"), {"id": event_id})


def _only(report: log_audit.AuditReport, kind: str) -> list[log_audit.Difference]:
    return [d for d in report.differences if d.kind == kind]


def _checkpoint_note(session: Session, now: dt.datetime) -> str:
    if keystore.active_record(session, "log") is None:
        keystore.generate_key(session, "log", PASSPHRASE, actor="test", now=now)
    return translog.publish_checkpoint(session, now=now, origin=ORIGIN, passphrase=PASSPHRASE).note


# --- a clean registry ------------------------------------------------------------------------------


def test_a_clean_registry_audits_clean(session: Session, now: dt.datetime) -> None:
    load_demo(session, now)
    load_demo_certificates(session, now, PASSPHRASE)  # key rotation and revocation, seals, statuses
    _checkpoint_note(session, now)
    make_body(session, now)  # the log grows past the checkpoint

    report = log_audit.replay(session, page_size=7)  # small pages: many page boundaries

    assert report.ok, [str(d) for d in report.differences]
    size = translog.head(session).size
    assert report.leaves_checked == report.audit_events == size
    assert report.subtrees_checked == size - size.bit_count()
    assert report.checkpoints_checked == 1
    assert report.rows_compared["certificate"] == 20 and report.rows_compared["seal"] == 20
    assert report.rows_compared["signing_key"] == 5  # root, log, and seal keys retired, revoked, active
    assert report.events_by_type["seal"] == 20


def test_shared_organizations_audit_clean(session: Session, now: dt.datetime) -> None:
    # Two bodies and a certificate holder of one organization: editing one body rewrites what the
    # other body and the certificate show, with no audit event of theirs.
    world = make_world(session, now)
    shared = world.body.organization.credit_code
    other = make_body(session, now, kind="testing_lab")
    update_body(session, other.code, BodyInput(code=other.code, kind=other.kind, name_zh="旧名",
                                               credit_code=shared, province="11"),
                expected_version=None, actor="test", now=now)
    certificate = register(session, now, world, "C-SHARED",
                           holder=PartyInput(name_zh="x", credit_code=shared))
    update_body(session, world.body.code, BodyInput(code=world.body.code, kind=world.body.kind,
                                                    name_zh="新名字", credit_code=shared, province="31"),
                expected_version=None, actor="test", now=now)
    assert certificate.holder.name_zh == "新名字"

    report = log_audit.replay(session)

    assert report.ok, [str(d) for d in report.differences]


# --- edits of the tables ---------------------------------------------------------------------------


def test_a_certificate_status_edited_in_sql_is_named(session: Session, now: dt.datetime) -> None:
    world = make_world(session, now)
    certificate = register(session, now, world, "C-100")
    change_certificate_status(session, world.body.code, "C-100", "suspended", reason="audit", actor="t",
                              now=now)
    assert log_audit.replay(session).ok

    session.execute(text("UPDATE certificate SET status = 'valid' WHERE id = :id"), {"id": certificate.id})
    report = log_audit.replay(session)

    assert not report.ok
    [difference] = report.differences
    assert difference.kind == log_audit.CHANGED
    assert difference.subject == f"certificate {world.body.code}/C-100"
    assert 'status: log "suspended", table "valid"' in difference.detail


def test_a_certificate_log_index_off_its_latest_change_is_named(session: Session, now: dt.datetime) -> None:
    """Every scan reads where a certificate's latest change sits in the log from its row
    (Certificate.log_index): the audit checks it against the leaf the log implies."""
    world = make_world(session, now)
    certificate = register(session, now, world, "C-101")
    change_certificate_status(session, world.body.code, "C-101", "suspended", reason="audit", actor="t",
                              now=now)
    issue_seal(session, certificate, now=now, passphrase=PASSPHRASE)  # logged, but no change
    assert log_audit.replay(session).ok

    moved = text("UPDATE certificate SET log_index = log_index - 1 WHERE id = :id")
    session.execute(moved, {"id": certificate.id})
    report = log_audit.replay(session)

    assert not report.ok
    [difference] = report.differences
    assert difference.kind == log_audit.CHANGED
    assert difference.subject == f"certificate {world.body.code}/C-101"
    assert "log_index: log " in difference.detail


def test_a_body_name_edited_in_sql_is_named(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now, name_zh="原来的名字")
    session.execute(text("UPDATE organization SET name_zh = '改过的名字' WHERE id = :id"),
                    {"id": body.organization_id})

    report = log_audit.replay(session)

    [difference] = report.differences
    assert (difference.kind, difference.subject) == (log_audit.CHANGED, f"body {body.code}")
    assert 'name_zh: log "原来的名字", table "改过的名字"' in difference.detail


def test_an_authorization_validity_edited_in_sql_is_named(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    line = grant(session, now, body, valid_until=dt.date(2030, 3, 1))
    change_status(session, line.id, "suspended", reason="audit", actor="t", now=now)  # logs "effective"
    assert log_audit.replay(session).ok

    session.execute(text('UPDATE "authorization" SET valid_until = :day WHERE id = :id'),
                    {"day": dt.date(2099, 12, 31), "id": line.id})
    report = log_audit.replay(session)

    [difference] = report.differences
    assert difference.kind == log_audit.CHANGED
    assert difference.subject == f"authorization {body.code}/{line.id}"
    assert 'valid_until: log "2030-03-01", table "2099-12-31"' in difference.detail


def test_rows_inserted_or_deleted_in_sql_are_named(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    kept = grant(session, now, body, category="mask")
    removed = grant(session, now, body, category="ventilator")
    inserted = session.execute(
        text('INSERT INTO "authorization" (body_id, jurisdiction, scheme, category, standards, tests, '
             "valid_from, valid_until, status, version) VALUES (:body, 'CN', 'CCC', 'meltblown', '', '', "
             ":start, NULL, 'active', 1) RETURNING id"),
        {"body": body.id, "start": dt.date(2020, 1, 1)},
    ).scalar_one()
    session.execute(text('DELETE FROM "authorization" WHERE id = :id'), {"id": removed.id})

    report = log_audit.replay(session)

    found = {(d.kind, d.subject) for d in report.differences}
    assert found == {
        (log_audit.UNLOGGED, f"authorization {body.code}/{inserted}"),
        (log_audit.MISSING, f"authorization {body.code}/{removed.id}"),
    }
    assert kept.id not in (inserted, removed.id)


def test_a_seal_inserted_in_sql_is_named(session: Session, now: dt.datetime) -> None:
    world = make_world(session, now)
    certificate = register(session, now, world, "C-200")
    sealed = issue_seal(session, certificate, now=now, passphrase=PASSPHRASE)
    session.execute(
        text("INSERT INTO seal (certificate_id, kid, token, token_sha256, issued_at) "
             "VALUES (:cert, :kid, 'FORGED', :digest, :at)"),
        {"cert": certificate.id, "kid": sealed.kid, "digest": "ab" * 32, "at": now},
    )

    report = log_audit.replay(session)

    subjects = {(d.kind, d.subject) for d in report.differences}
    assert (log_audit.UNLOGGED, f"seal {'ab' * 32}") in subjects
    assert (log_audit.CHANGED, f"seal {'ab' * 32}") in subjects  # the token does not hash to it
    assert all(sealed.token_sha256 not in d.subject for d in report.differences)


# --- edits of the log ------------------------------------------------------------------------------


def test_an_audit_event_edited_in_sql_is_a_leaf_hash_mismatch(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now, name_zh="真名")
    event = session.scalars(select(AuditEvent).where(AuditEvent.subject_key == body.code)).one()
    index = translog.leaf_index_of(session, event.id)
    _rename_in_logged_event(session, event.id)

    report = log_audit.replay(session)

    [leaf] = _only(report, log_audit.LEAF_HASH)
    assert leaf.subject == f"leaf {index}" and f"audit event #{event.id}" in leaf.detail
    # The columns still say what was logged; the replayed (edited) state no longer matches the table.
    assert [d.subject for d in _only(report, log_audit.EVENT_COLUMNS)] == [f"audit event #{event.id}"]
    assert not _only(report, log_audit.SUBTREE) and not _only(report, log_audit.HEAD)


def test_an_audit_event_never_logged_is_named(session: Session, now: dt.datetime) -> None:
    make_body(session, now)
    event_id = session.execute(
        text("INSERT INTO audit_event (occurred_at, actor, action, subject_type, subject_key, reason, "
             "canonical) VALUES (:at, 'sql', 'user:create', 'user', 'ghost', '', '{}') RETURNING id"),
        {"at": now},
    ).scalar_one()

    report = log_audit.replay(session)

    assert [(d.kind, d.subject) for d in report.differences] == [
        (log_audit.EVENT_NOT_LOGGED, f"audit event #{event_id}")
    ]


def test_a_forged_log_node_is_named(session: Session, now: dt.datetime) -> None:
    for _ in range(4):
        make_body(session, now)
    assert translog.head(session).size >= 4  # leaves 2 and 3 make the subtree forged below
    _disable_append_only(session, "log_node")
    session.execute(text("UPDATE log_node SET hash = :forged WHERE level = 1 AND idx = 1"),
                    {"forged": bytes(32)})

    report = log_audit.replay(session)

    [difference] = report.differences
    assert (difference.kind, difference.subject) == (log_audit.SUBTREE, "subtree level 1 index 1")
    assert "forged" in difference.detail


def test_a_forged_leaf_hash_and_checkpoint_are_named(session: Session, now: dt.datetime) -> None:
    make_body(session, now)
    _checkpoint_note(session, now)
    size = translog.head(session).size
    _disable_append_only(session, "log_node")
    _disable_append_only(session, "log_checkpoint")
    session.execute(text("UPDATE log_node SET hash = :forged WHERE level = 0 AND idx = :last"),
                    {"forged": bytes(32), "last": size - 1})
    session.execute(text("UPDATE log_checkpoint SET root_hash = :forged"), {"forged": bytes(32)})

    report = log_audit.replay(session)

    kinds = {d.kind for d in report.differences}
    assert {log_audit.LEAF_HASH, log_audit.CHECKPOINT, log_audit.HEAD} <= kinds
    assert any(d.subject == f"leaf {size - 1}" for d in _only(report, log_audit.LEAF_HASH))


# --- consistency with a saved checkpoint ----------------------------------------------------------


def test_a_saved_checkpoint_is_consistent_with_the_grown_log(session: Session, now: dt.datetime) -> None:
    make_body(session, now)
    saved = _checkpoint_note(session, now)
    saved_size = parse_checkpoint(saved.split("\n\n")[0] + "\n").size
    for _ in range(5):
        make_body(session, now)

    result = log_audit.check_consistency(session, saved, log_audit.log_verifiers(session, ORIGIN))

    assert result.ok, result.problem
    assert (result.saved_size, result.current_size) == (saved_size, translog.head(session).size)
    assert result.current_size > saved_size
    # The active key alone, as translog offers it, does as well.
    assert log_audit.check_consistency(session, saved, translog.log_verifier(session, ORIGIN, now)).ok


def test_a_saved_checkpoint_survives_a_log_key_rotation(session: Session, now: dt.datetime) -> None:
    saved = _checkpoint_note(session, now)
    keystore.rotate_key(session, "log", PASSPHRASE, actor="test", now=now)

    assert log_audit.check_consistency(session, saved, log_audit.log_verifiers(session, ORIGIN)).ok
    # The active key alone no longer knows the signature.
    active_only = log_audit.check_consistency(session, saved, translog.log_verifier(session, ORIGIN, now))
    assert not active_only.ok and "no signature from a known key" in (active_only.problem or "")


def _signed_by_log_key(session: Session, checkpoint: Checkpoint) -> str:
    return sign_checkpoint(checkpoint, translog.log_signer(session, ORIGIN, PASSPHRASE))


def test_a_checkpoint_over_a_forged_root_is_inconsistent(session: Session, now: dt.datetime) -> None:
    make_body(session, now)
    _checkpoint_note(session, now)
    size = translog.head(session).size
    forged = _signed_by_log_key(session, Checkpoint(ORIGIN, size, bytes(32)))  # same size, other root
    verifiers = log_audit.log_verifiers(session, ORIGIN)

    same_size = log_audit.check_consistency(session, forged, verifiers)
    make_body(session, now)
    grown = log_audit.check_consistency(session, forged, verifiers)

    for result in (same_size, grown):
        assert not result.ok and result.problem is not None
        assert "rewritten" in result.problem and result.saved_size == size


@pytest.mark.parametrize("case", ["larger", "stranger", "tampered", "origin", "garbage"])
def test_unusable_checkpoints_are_refused(session: Session, now: dt.datetime, case: str) -> None:
    make_body(session, now)
    _checkpoint_note(session, now)
    current = translog.head(session)
    verifiers = log_audit.log_verifiers(session, ORIGIN)
    if case == "larger":
        note = _signed_by_log_key(session, Checkpoint(ORIGIN, current.size + 10, current.root_hash))
    elif case == "stranger":  # a key of the same name that is not the log's
        stranger = NoteSigner(ORIGIN, generate_private_key())
        note = sign_checkpoint(Checkpoint(ORIGIN, current.size, current.root_hash), stranger)
    elif case == "tampered":  # the log's signature over other text
        signed = _signed_by_log_key(session, Checkpoint(ORIGIN, current.size, current.root_hash))
        note = signed.replace(f"\n{current.size}\n", f"\n{current.size - 1}\n", 1)
    elif case == "origin":  # the log's key, but a checkpoint of another log
        note = _signed_by_log_key(session, Checkpoint("other.example/log", current.size, current.root_hash))
    else:
        note = "not a checkpoint\n\n— " + ORIGIN + " " + base64.b64encode(b"x" * 70).decode() + "\n"

    result = log_audit.check_consistency(session, note, verifiers)

    assert not result.ok and result.problem is not None
    expected = {"larger": "holds only", "stranger": "no signature from a known key",
                "tampered": "invalid signature", "origin": "other.example/log",
                "garbage": "no signature from a known key"}[case]
    assert expected in result.problem, result.problem


def _rebuild_log_from_events(session: Session) -> None:
    """What a thorough forger does after editing an event: recompute every node and the head."""
    for table in ("log_node", "log_checkpoint"):
        _disable_append_only(session, table)
    leaves = session.execute(
        select(LogNode.idx, AuditEvent.id, AuditEvent.canonical)
        .join(AuditEvent, AuditEvent.id == LogNode.audit_event_id)
        .where(LogNode.level == 0).order_by(LogNode.idx)
    ).all()
    session.execute(text("DELETE FROM log_node"))
    session.execute(text("DELETE FROM log_checkpoint"))
    frontier: list[bytes] = []
    for index, event_id, canonical in leaves:
        frontier, completed = merkle.append_to_frontier(index, frontier, merkle.leaf_hash(canonical.encode()))
        for level, idx, hashed in completed:
            session.execute(
                text("INSERT INTO log_node (level, idx, hash, audit_event_id) VALUES (:l, :i, :h, :e)"),
                {"l": level, "i": idx, "h": hashed, "e": event_id if level == 0 else None},
            )
    session.execute(text("UPDATE log_head SET frontier = :f"), {"f": b"".join(frontier)})


def test_a_log_rebuilt_after_an_edit_fails_the_consistency_check(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now, name_zh="真名")
    saved = _checkpoint_note(session, now)
    make_body(session, now)
    assert log_audit.check_consistency(session, saved, log_audit.log_verifiers(session, ORIGIN)).ok
    event = session.scalars(select(AuditEvent).where(AuditEvent.subject_key == body.code)).one()
    _rename_in_logged_event(session, event.id)
    _rebuild_log_from_events(session)

    report = log_audit.replay(session)
    result = log_audit.check_consistency(session, saved, log_audit.log_verifiers(session, ORIGIN))

    # The log is consistent with itself again: only a checkpoint kept outside tells.
    kinds = {d.kind for d in report.differences}
    assert not kinds & {log_audit.LEAF_HASH, log_audit.SUBTREE, log_audit.HEAD, log_audit.CHECKPOINT}
    assert not result.ok and result.problem is not None and "rewritten" in result.problem
