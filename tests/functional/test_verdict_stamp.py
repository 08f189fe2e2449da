"""The verdict stamp (migration 0013) and the lookups it lets a scan skip, on a real committed
database (SQLite and PostgreSQL): every committed change to a table the seal lookup reads
replaces the stamp, a scan outside a transaction reuses what it read under an unchanged stamp,
and any committed change counts from the very next scan."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry import keystore, seal_lookup, seals, verification
from registry.authorizations import change_status
from registry.certificates import change_certificate_status
from registry.db import LookupReader, PinnedConnections, make_engine, make_session_factory, reading_options
from registry.models import Certificate, Organization, VerdictStamp
from tests.conftest import NOW
from tests.unit.seal_support import PASSPHRASE, World, make_world, register
from verify import seal as vseal
from verify.keys import KeyRing

TABLES = ("certificate", "body", "organization", "authorization_timeline")


@pytest.fixture
def database(committed_url: str) -> Iterator[tuple[Engine, Session]]:
    """The committed database's engine and a writer's session on it (another process's view)."""
    engine = make_engine(committed_url)
    writer: Session = make_session_factory(engine)()
    yield engine, writer
    writer.close()
    engine.dispose()


@pytest.fixture
def reader(database: tuple[Engine, Session]) -> Iterator[LookupReader]:
    """A scan's reader, as the seal page has it: the thread's pinned connection, no transaction."""
    engine, _ = database
    pinned = PinnedConnections(engine)
    found = LookupReader(pinned, engine.execution_options(**reading_options(engine)))
    yield found
    found.close()
    pinned.close()


@pytest.fixture(autouse=True)
def empty_memos() -> None:
    seal_lookup._by_stamp.clear()
    seal_lookup._built.clear()


def stamp_of(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.scalar(select(VerdictStamp.stamp)))


def lookups_run(engine: Engine) -> list[str]:
    """The seal lookups (``registry.seal_lookup``'s statement) run on ``engine`` from now on."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "ORDER BY authorization_timeline.starts" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    return seen


def sealed(writer: Session, world: World, number: str) -> str:
    certificate = register(writer, NOW, world, number)
    token = seals.issue_seal(writer, certificate, now=NOW, passphrase=PASSPHRASE).token
    writer.commit()
    return token


@pytest.mark.parametrize("table", TABLES)
def test_a_committed_change_to_a_table_the_lookup_reads_replaces_the_stamp(
    database: tuple[Engine, Session], table: str
) -> None:
    engine, writer = database
    register(writer, NOW, make_world(writer, NOW), "CQC2026000001")
    writer.commit()
    before = stamp_of(engine)
    touch = f"UPDATE {table} SET id = id"  # noqa: S608  # a constant table name; changes nothing, fires the trigger
    writer.execute(text(touch))
    writer.rollback()
    assert stamp_of(engine) == before  # a rolled-back change leaves it
    writer.execute(text(touch))
    writer.execute(text(touch))  # twice in one transaction, every row: one new stamp at commit
    writer.commit()
    after = stamp_of(engine)
    assert after != before and len(after) == 32


def test_a_change_to_another_table_leaves_the_stamp(database: tuple[Engine, Session]) -> None:
    """The scan log, written on every scan, must not make every scan read again."""
    engine, writer = database
    make_world(writer, NOW)
    writer.commit()
    before = stamp_of(engine)
    writer.execute(text("UPDATE signing_key SET revoked_reason = revoked_reason"))
    writer.execute(text("DELETE FROM scan_event"))
    writer.commit()
    assert stamp_of(engine) == before


def test_a_scan_reuses_its_lookup_while_the_stamp_stands_and_reads_each_change_at_once(
    database: tuple[Engine, Session], reader: LookupReader
) -> None:
    engine, writer = database
    world = make_world(writer, NOW)
    token = sealed(writer, world, "CQC2026000001")
    runs = lookups_run(engine)

    first = verification.verify_scanned(reader, token, now=NOW)
    assert first.code == "VALID" and len(runs) == 1
    again = verification.verify_scanned(reader, token, now=NOW)
    assert again.code == "VALID" and len(runs) == 1  # the stamp only
    assert again.certificate is first.certificate

    holder_id = writer.get(Certificate, first.certificate.id).holder_id  # type: ignore[union-attr]
    writer.execute(update(Organization).where(Organization.id == holder_id).values(name_zh="新名字有限公司"))
    writer.commit()
    renamed = verification.verify_scanned(reader, token, now=NOW)
    assert renamed.certificate is not None and renamed.certificate.holder.name_zh == "新名字有限公司"
    assert len(runs) == 2

    code = world.body.code
    change_certificate_status(writer, code, "CQC2026000001", "suspended", reason="audit", actor="op", now=NOW)
    writer.commit()
    assert verification.verify_scanned(reader, token, now=NOW).code == "CERTIFICATE_SUSPENDED"
    change_certificate_status(writer, code, "CQC2026000001", "valid", reason="cleared", actor="op", now=NOW)
    writer.commit()
    assert verification.verify_scanned(reader, token, now=NOW).code == "VALID"

    change_status(writer, world.line.id, "withdrawn", reason="decision", actor="admin", now=NOW,
                  effective=dt.date(2026, 5, 1))
    writer.commit()
    assert verification.verify_scanned(reader, token, now=NOW).code == "BODY_AUTHORIZATION_ENDED"
    assert verification.verify_scanned(reader, token, now=NOW).code == "BODY_AUTHORIZATION_ENDED"
    assert len(runs) == 5  # one per committed change, none for the scan after it


def test_a_seal_of_a_certificate_registered_later_is_valid_from_the_next_scan(
    database: tuple[Engine, Session], reader: LookupReader
) -> None:
    """NOT_REGISTERED is kept under its stamp too, and a registration replaces the stamp."""
    engine, writer = database
    world = make_world(writer, NOW)
    sealed(writer, world, "CQC2026000001")
    certificate = writer.scalars(select(Certificate)).one()
    ring = KeyRing([keystore.active_entry(writer, "seal", PASSPHRASE)])
    claims = seals.certificate_claims(certificate, NOW)
    unregistered = dataclasses.replace(claims, certificate_number="CQC2026000002")
    token = vseal.token_from_bytes(vseal.sign_seal(unregistered, ring))
    runs = lookups_run(engine)

    assert verification.verify_scanned(reader, token, now=NOW).code == "NOT_REGISTERED"
    lookups = len(runs)
    assert verification.verify_scanned(reader, token, now=NOW).code == "NOT_REGISTERED"
    assert len(runs) == lookups  # kept: a flood of one unregistered seal costs no lookups

    register(writer, NOW, world, "CQC2026000002")
    writer.commit()
    assert verification.verify_scanned(reader, token, now=NOW).code != "NOT_REGISTERED"


def test_a_reader_inside_a_transaction_never_uses_the_stamp(database: tuple[Engine, Session]) -> None:
    """Its own uncommitted changes come before the stamp's (PostgreSQL replaces it at COMMIT):
    such a reader runs the lookup every time and keeps nothing under a stamp."""
    engine, writer = database
    world = make_world(writer, NOW)
    token = sealed(writer, world, "CQC2026000001")
    assert verification.verify_scanned(writer, token, now=NOW).code == "VALID"
    change_certificate_status(writer, world.body.code, "CQC2026000001", "suspended", reason="audit",
                              actor="op", now=NOW)
    writer.flush()
    assert verification.verify_scanned(writer, token, now=NOW).code == "CERTIFICATE_SUSPENDED"
    writer.rollback()
    assert len(seal_lookup._by_stamp) == 0
    assert stamp_of(engine)  # still there


def test_writers_do_not_wait_on_the_stamp_before_they_commit(database: tuple[Engine, Session]) -> None:
    """PostgreSQL: the stamp row is taken at COMMIT (deferred triggers), so two transactions
    changing certificates both go on until then, and each commit gives a new stamp. Taken at
    the first change, the second writer would wait here for the first one's whole transaction."""
    engine, writer = database
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time whatever the stamp")
    world = make_world(writer, NOW)
    register(writer, NOW, world, "CQC2026000001")
    register(writer, NOW, world, "CQC2026000002")
    writer.commit()
    other: Session = make_session_factory(engine)()
    try:
        before = stamp_of(engine)
        for session in (writer, other):
            session.execute(text("SET lock_timeout = '2s'"))
        writer.execute(update(Certificate).where(Certificate.number == "CQC2026000001").values(models="A"))
        other.execute(update(Certificate).where(Certificate.number == "CQC2026000002").values(models="B"))
        writer.commit()
        first = stamp_of(engine)
        other.commit()
        assert len({before, first, stamp_of(engine)}) == 3
    finally:
        other.close()


def test_every_table_the_lookup_reads_has_its_triggers(database: tuple[Engine, Session]) -> None:
    """A SQLite table rebuilt by a later migration (Alembic's batch mode) loses its triggers,
    and every scan would then answer from an old stamp: a migration that rebuilds one of these
    tables must create them again (migration 0013's names)."""
    engine, _ = database
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            names = set(connection.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
            verbs = ("insert", "update", "delete")
            expected = {f"{t}_verdict_stamp_{verb}" for t in TABLES for verb in verbs}
        else:
            names = set(connection.scalars(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")))
            expected = {f"{t}_verdict_stamp{end}" for t in TABLES for end in ("", "_truncate")}
    assert expected <= names
