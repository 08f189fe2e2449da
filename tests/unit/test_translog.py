"""The transparency log in the database: every audit event a leaf, proofs from stored subtrees,
append-only tables, signed checkpoints, and contiguous indexes under concurrent writers."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from registry import audit, keystore, translog
from registry.db import make_engine, make_session_factory
from registry.errors import InvalidInput
from registry.models import AuditEvent, LogCheckpoint, LogNode
from tests.factories import grant, make_body
from verify import merkle
from verify.checkpoint import open_checkpoint

PASSPHRASE = b"test-passphrase-0123456789abcdef"
ORIGIN = "registry.example.cn/registry-log"


def _changes(session: Session, now: dt.datetime, count: int) -> None:
    for _ in range(count):
        grant(session, now, make_body(session, now), category="mask", jurisdiction="CN")


def _logged(session: Session) -> list[tuple[int, bytes]]:
    """(leaf index, leaf data) in index order."""
    rows = session.execute(
        select(LogNode.idx, AuditEvent.canonical)
        .join(AuditEvent, AuditEvent.id == LogNode.audit_event_id)
        .where(LogNode.level == 0)
        .order_by(LogNode.idx)
    )
    return [(idx, canonical.encode("utf-8")) for idx, canonical in rows]


def test_every_audit_event_is_the_next_leaf(session: Session, now: dt.datetime) -> None:
    before = translog.head(session).size
    _changes(session, now, 5)
    logged = _logged(session)
    assert [idx for idx, _ in logged] == list(range(len(logged)))  # contiguous from 0
    assert len(logged) == session.scalar(select(func.count()).select_from(AuditEvent))
    current = translog.head(session)
    assert current.size == len(logged) > before
    leaf_hashes = [merkle.leaf_hash(data) for _, data in logged]
    assert current.root_hash == merkle.root_from_leaf_hashes(leaf_hashes)
    for size in (1, before + 1, current.size):
        assert translog.root_at(session, size) == merkle.root_from_leaf_hashes(leaf_hashes[:size])


def test_proofs_from_the_stored_subtrees_verify(session: Session, now: dt.datetime) -> None:
    _changes(session, now, 12)
    logged = _logged(session)
    hashes = [merkle.leaf_hash(data) for _, data in logged]
    size = len(hashes)
    for tree_size in sorted({1, 2, size // 2, size - 1, size}):
        root = merkle.root_from_leaf_hashes(hashes[:tree_size])
        for index in range(tree_size):
            proof = translog.inclusion_proof(session, index, tree_size)
            merkle.verify_inclusion(hashes[index], index, tree_size, proof, root)
        for older in sorted({1, tree_size // 2 or 1, tree_size}):
            proof = translog.consistency_proof(session, older, tree_size)
            older_root = merkle.root_from_leaf_hashes(hashes[:older])
            merkle.verify_consistency(older, tree_size, proof, older_root, root)
    # A proof of the wrong leaf fails: the verifier is not a formality.
    with pytest.raises(merkle.MerkleError):
        merkle.verify_inclusion(hashes[1], 0, size, translog.inclusion_proof(session, 0, size),
                                merkle.root_from_leaf_hashes(hashes))


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s, n: translog.inclusion_proof(s, 0, 0), "size"),
        (lambda s, n: translog.inclusion_proof(s, 0, n + 1), "size"),
        (lambda s, n: translog.inclusion_proof(s, n, n), "index"),
        (lambda s, n: translog.inclusion_proof(s, -1, n), "index"),
        (lambda s, n: translog.consistency_proof(s, 0, n), "from"),
        (lambda s, n: translog.consistency_proof(s, n, n - 1), "from"),
        (lambda s, n: translog.consistency_proof(s, 1, n + 1), "to"),
        (lambda s, n: translog.entries(s, 3, 2), "start"),
        (lambda s, n: translog.entries(s, 0, n + 1), "end"),
        (lambda s, n: translog.root_at(s, n + 1), "size"),
    ],
)
def test_out_of_range_requests_are_refused(session: Session, now: dt.datetime, call, field: str) -> None:  # type: ignore[no-untyped-def]
    _changes(session, now, 3)
    size = translog.head(session).size
    with pytest.raises(InvalidInput) as refused:
        call(session, size)
    assert refused.value.details.get("field") == field


def test_a_page_of_entries_is_bounded(session: Session, now: dt.datetime) -> None:
    _changes(session, now, 2)
    size = translog.head(session).size
    found = translog.entries(session, 0, size)
    assert [idx for idx, _ in found] == list(range(size))
    assert all(merkle.leaf_hash(translog.leaf_data(event)) == node for (_, event), node in zip(
        found, session.scalars(select(LogNode.hash).where(LogNode.level == 0).order_by(LogNode.idx)),
        strict=True))
    with pytest.raises(InvalidInput, match="at most 1000"):
        translog.entries(session, 0, translog.MAX_ENTRIES + 1)


@pytest.mark.parametrize("statement", [
    "UPDATE log_node SET hash = hash WHERE level = 0",
    "DELETE FROM log_node WHERE level = 0",
    "UPDATE log_checkpoint SET note = 'x'",
    "DELETE FROM log_checkpoint",
])
def test_the_log_tables_are_append_only(session: Session, now: dt.datetime, statement: str) -> None:
    _changes(session, now, 1)
    keystore.generate_key(session, "log", PASSPHRASE, actor="ops", now=now)
    translog.publish_checkpoint(session, now=now, origin=ORIGIN, passphrase=PASSPHRASE)
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text(statement))


def test_checkpoints_are_signed_notes_of_the_head(session: Session, now: dt.datetime) -> None:
    keystore.generate_key(session, "log", PASSPHRASE, actor="ops", now=now)
    _changes(session, now, 2)
    first = translog.publish_checkpoint(session, now=now, origin=ORIGIN, passphrase=PASSPHRASE)
    assert translog.publish_checkpoint(session, now=now, origin=ORIGIN, passphrase=PASSPHRASE) is first
    verifier = translog.log_verifier(session, ORIGIN, now)
    opened = open_checkpoint(first.note, verifier, ORIGIN)
    current = translog.head(session)
    assert (opened.size, opened.root_hash) == (current.size, current.root_hash)
    assert (first.size, first.root_hash) == (current.size, current.root_hash)
    assert verifier.key_string().startswith(f"{ORIGIN}+")

    _changes(session, now, 1)  # the log grew: a new checkpoint, consistent with the first
    second = translog.publish_checkpoint(session, now=now, origin=ORIGIN, passphrase=PASSPHRASE)
    assert second.size > first.size
    proof = translog.consistency_proof(session, first.size, second.size)
    merkle.verify_consistency(first.size, second.size, proof, first.root_hash, second.root_hash)
    assert session.scalars(select(LogCheckpoint.size).order_by(LogCheckpoint.size)).all() == [
        first.size, second.size,
    ]


def test_concurrent_writers_get_contiguous_indexes(committed_url: str, now: dt.datetime) -> None:
    engine = make_engine(committed_url, pool_size=8)
    factory = make_session_factory(engine)
    writers, per_writer = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(worker: int) -> None:
        try:
            start.wait()
            for n in range(per_writer):
                with factory() as session:
                    audit.record(session, now=now, actor=f"w{worker}", action="test:append",
                                 subject_type="test", subject_key=f"{worker}/{n}", before=None,
                                 after={"n": n})
                    if n % 5 == 4:
                        session.rollback()  # an abandoned change gives its index back
                    else:
                        session.commit()
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    try:
        with factory() as session:
            keystore.generate_key(session, "log", PASSPHRASE, actor="ops", now=now)
            checkpoint = translog.publish_checkpoint(session, now=now, origin=ORIGIN, passphrase=PASSPHRASE)
            session.commit()
            logged = _logged(session)
            committed = writers * (per_writer - per_writer // 5) + 1  # and the key's own event
            assert [idx for idx, _ in logged] == list(range(committed))  # no gap, no duplicate
            assert session.scalar(select(func.count()).select_from(AuditEvent)) == committed
            hashes = [merkle.leaf_hash(data) for _, data in logged]
            assert checkpoint.size == committed
            assert checkpoint.root_hash == merkle.root_from_leaf_hashes(hashes)
            assert checkpoint.root_hash == translog.head(session).root_hash
    finally:
        engine.dispose()


def test_many_changes_at_once_are_the_same_leaves_as_one_by_one(session: Session, now: dt.datetime) -> None:
    """record_many appends with one head move: the leaves and the root are those of single appends."""
    before = translog.head(session).size
    changes = [audit.Change("test:bulk", "test", f"k{n}", None, {"n": n}) for n in range(9)]
    events = audit.record_many(session, changes, now=now, actor="bulk")
    logged = _logged(session)
    assert [idx for idx, _ in logged[before:]] == list(range(before, before + 9))
    assert [data for _, data in logged[before:]] == [translog.leaf_data(event) for event in events]
    hashes = [merkle.leaf_hash(data) for _, data in logged]
    assert translog.head(session).root_hash == merkle.root_from_leaf_hashes(hashes)
    assert translog.append_many(session, []) == []


def test_a_checkpoint_is_always_signed_by_the_current_key_and_origin(
    session: Session, now: dt.datetime
) -> None:
    keystore.generate_key(session, "log", PASSPHRASE, actor="ops", now=now)
    kept = translog.publish_checkpoint(session, now=now, origin=ORIGIN, passphrase=PASSPHRASE)
    other = translog.publish_checkpoint(session, now=now, origin="other.example/log", passphrase=PASSPHRASE)
    assert other.size == kept.size and other.note != kept.note
    other_key = translog.log_verifier(session, "other.example/log", now)
    assert open_checkpoint(other.note, other_key, "other.example/log")
    keystore.rotate_key(session, "log", PASSPHRASE, actor="ops", now=now)  # itself a logged change
    rotated = translog.publish_checkpoint(session, now=now, origin=ORIGIN, passphrase=PASSPHRASE)
    assert rotated.size == kept.size + 1 and rotated.kid != kept.kid
    rotated_key = translog.log_verifier(session, ORIGIN, now)
    assert open_checkpoint(rotated.note, rotated_key, ORIGIN).size == rotated.size
