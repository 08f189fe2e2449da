"""The verdict stamp (migration 0013) and the lookups it lets a scan skip, on a real committed
database (SQLite and PostgreSQL): every committed change to a table the seal lookup reads
replaces the stamp, a scan outside a transaction reuses what it read under an unchanged stamp,
and any committed change counts from the very next scan."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry import keystore, seal_lookup, seals, verification
from registry.authorizations import change_status
from registry.certificates import change_certificate_status
from registry.db import LookupReader, make_session_factory
from registry.models import Certificate, Organization
from tests.conftest import NOW
from tests.functional.stamp_support import (  # noqa: F401  # fixtures
    database_fixture,
    empty_memos_fixture,
    reader_fixture,
    sealed,
    stamp_of,
)
from tests.unit.seal_support import PASSPHRASE, make_world, register
from verify import seal as vseal
from verify.keys import KeyRing

TABLES = ("certificate", "body", "organization", "authorization_timeline")


class Statements:
    """The statements a scan ran on its pinned connection (``PinnedConnections.fetch``).

    Counted there rather than by an engine listener: a listener on cursor execution makes the
    driver reads go through a pooled SQLAlchemy connection (``registry.driver_sql``), and the
    pinned path, which the seal page and the API take, would not be the one tested.
    """

    def __init__(self, reader: LookupReader, monkeypatch: pytest.MonkeyPatch) -> None:
        self.run: list[str] = []
        fetch = reader.pinned.fetch

        def counted(sql: str, parameters: Any) -> list[Any]:
            self.run.append(sql)
            return fetch(sql, parameters)

        monkeypatch.setattr(reader.pinned, "fetch", counted)

    @property
    def lookups(self) -> int:
        """How many seven-table lookups (``registry.seal_lookup``'s statement) ran."""
        return sum("ORDER BY authorization_timeline.starts" in sql for sql in self.run)

    @property
    def stamp_reads(self) -> int:
        return sum("verdict_stamp" in sql for sql in self.run)


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
    database: tuple[Engine, Session], reader: LookupReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, writer = database
    world = make_world(writer, NOW)
    token = sealed(writer, world, "CQC2026000001")
    runs = Statements(reader, monkeypatch)

    first = verification.verify_scanned(reader, token, now=NOW)
    assert first.code == "VALID" and runs.lookups == 1
    again = verification.verify_scanned(reader, token, now=NOW)
    assert again.code == "VALID" and runs.lookups == 1  # the stamp only
    assert runs.stamp_reads == 2 and len(runs.run) == 3  # both on the pinned connection
    assert again.certificate is first.certificate

    holder_id = writer.get(Certificate, first.certificate.id).holder_id  # type: ignore[union-attr]
    writer.execute(update(Organization).where(Organization.id == holder_id).values(name_zh="新名字有限公司"))
    writer.commit()
    renamed = verification.verify_scanned(reader, token, now=NOW)
    assert renamed.certificate is not None and renamed.certificate.holder.name_zh == "新名字有限公司"
    assert runs.lookups == 2

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
    assert runs.lookups == 5  # one per committed change, none for the scan after it
    assert runs.stamp_reads == 7  # every scan read the stamp first


def test_a_seal_of_a_certificate_registered_later_is_valid_from_the_next_scan(
    database: tuple[Engine, Session], reader: LookupReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NOT_REGISTERED is kept under its stamp too, and a registration replaces the stamp."""
    _, writer = database
    world = make_world(writer, NOW)
    sealed(writer, world, "CQC2026000001")
    certificate = writer.scalars(select(Certificate)).one()
    ring = KeyRing([keystore.active_entry(writer, "seal", PASSPHRASE)])
    claims = seals.certificate_claims(certificate, NOW)
    unregistered = dataclasses.replace(claims, certificate_number="CQC2026000002")
    token = vseal.token_from_bytes(vseal.sign_seal(unregistered, ring))
    runs = Statements(reader, monkeypatch)

    assert verification.verify_scanned(reader, token, now=NOW).code == "NOT_REGISTERED"
    assert runs.lookups == 1
    assert verification.verify_scanned(reader, token, now=NOW).code == "NOT_REGISTERED"
    assert runs.lookups == 1  # kept: a flood of one unregistered seal costs no lookups

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


# What pg_trigger.tgtype says of a trigger (PostgreSQL's include/catalog/pg_trigger.h).
ROW, BEFORE, INSERT, DELETE, UPDATE, TRUNCATE = 1, 2, 4, 8, 16, 32


def test_every_table_the_lookup_reads_has_its_triggers_for_every_kind_of_change(
    database: tuple[Engine, Session],
) -> None:
    """A SQLite table rebuilt by a later migration (Alembic's batch mode) loses its triggers,
    and every scan would then answer from an old stamp: a migration that rebuilds one of these
    tables must create them again (migration 0013's). Each kind of change is checked: a table
    whose DELETE trigger alone went missing would answer from before a deletion."""
    engine, _ = database
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            listed = text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            found: dict[str, str] = {row[0]: row[1] for row in connection.execute(listed)}
            for table in TABLES:
                for verb in ("INSERT", "UPDATE", "DELETE"):
                    name = f"{table}_verdict_stamp_{verb.lower()}"
                    sql = " ".join(found.get(name, "").split())
                    assert sql.startswith(f"CREATE TRIGGER {name} AFTER {verb} ON {table} ")
                    assert sql.endswith("UPDATE verdict_stamp SET stamp = lower(hex(randomblob(16))); END")
            return
        rows = connection.execute(
            text(
                "SELECT c.relname, t.tgname, t.tgtype, t.tgdeferrable, t.tginitdeferred, p.proname "
                "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
                "WHERE NOT t.tgisinternal"
            )
        )
        triggers = {(table, name): (kind, deferrable, deferred, function)
                    for table, name, kind, deferrable, deferred, function in rows}  # fmt: skip
    for table in TABLES:
        # Each row changed, after it is changed, at COMMIT: INSERT, UPDATE and DELETE.
        assert triggers[(table, f"{table}_verdict_stamp")] == (ROW | INSERT | DELETE | UPDATE, True, True,
                                                                "verdict_restamp")  # fmt: skip
        truncate = triggers[(table, f"{table}_verdict_stamp_truncate")]
        assert truncate == (TRUNCATE, False, False, "verdict_restamp")


def test_a_row_inserted_updated_or_deleted_in_sql_replaces_the_stamp(
    database: tuple[Engine, Session],
) -> None:
    """Each kind of change on its own, each in its own transaction, straight in SQL."""
    engine, writer = database
    world = make_world(writer, NOW)
    writer.commit()
    stamps = [stamp_of(engine)]

    def committed(statement: str, *rows: dict[str, Any]) -> None:
        for values in rows or ({},):
            writer.execute(text(statement), values)
        writer.commit()
        stamps.append(stamp_of(engine))

    committed(
        "INSERT INTO organization (name_zh, name_en, country, address, website) "
        "VALUES ('新增企业', 'New Co', 'CN', '', '')"
    )
    committed("UPDATE organization SET name_en = 'Renamed Co' WHERE name_zh = '新增企业'")
    committed("DELETE FROM organization WHERE name_zh = '新增企业'")
    line = {"line": world.line.id}
    read = text("SELECT * FROM authorization_timeline WHERE authorization_id = :line")
    segments = [dict(segment) for segment in writer.execute(read, line).mappings()]
    assert segments
    committed("DELETE FROM authorization_timeline WHERE authorization_id = :line", line)
    committed("SELECT 1")  # a transaction that changes nothing leaves it
    columns = list(segments[0])
    names, values = ", ".join(columns), ", ".join(f":{name}" for name in columns)
    committed(f"INSERT INTO authorization_timeline ({names}) VALUES ({values})", *segments)  # noqa: S608
    assert stamps[5] == stamps[4]
    del stamps[5]
    assert len(set(stamps)) == len(stamps) == 6, stamps


def test_a_truncated_table_replaces_the_stamp(database: tuple[Engine, Session]) -> None:
    """PostgreSQL's TRUNCATE fires no row trigger: a statement trigger of its own does it."""
    engine, writer = database
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (DELETE without WHERE fires the row triggers)")
    make_world(writer, NOW)
    writer.commit()
    before = stamp_of(engine)
    writer.execute(text("TRUNCATE authorization_timeline"))
    writer.commit()
    assert stamp_of(engine) != before


@pytest.mark.parametrize("after", [1, 2])
def test_a_change_committed_while_a_scan_reads_counts_from_the_next_scan(
    database: tuple[Engine, Session], reader: LookupReader, monkeypatch: pytest.MonkeyPatch, after: int
) -> None:
    """A suspension committed right after the scan's first statement, or its second: what that
    scan keeps must never be answered after the commit. Kept under a stamp read after the
    lookup, say, the VALID read before the commit would be answered under the new stamp."""
    _, writer = database
    world = make_world(writer, NOW)
    token = sealed(writer, world, "CQC2026000001")
    fetch = reader.pinned.fetch
    statements: list[str] = []

    def then_commit(sql: str, parameters: Any) -> list[Any]:
        rows = fetch(sql, parameters)
        statements.append(sql)
        if len(statements) == after:
            change_certificate_status(writer, world.body.code, "CQC2026000001", "suspended",
                                      reason="audit", actor="op", now=NOW)  # fmt: skip
            writer.commit()
        return rows

    monkeypatch.setattr(reader.pinned, "fetch", then_commit)
    verification.verify_scanned(reader, token, now=NOW)  # VALID or SUSPENDED: it raced the commit
    for _ in range(2):
        assert verification.verify_scanned(reader, token, now=NOW).code == "CERTIFICATE_SUSPENDED"
    assert len(statements) >= 3  # the first scan's stamps and lookup (a miss), then the others'


def test_the_stamp_functions_ignore_the_writers_search_path_and_need_no_rights(
    database: tuple[Engine, Session],
) -> None:
    """Migration 0014: a writer whose search_path finds another schema's ``verdict_stamp`` and
    ``key_ring_stamp`` first still replaces the registry's (unpinned, the functions replaced
    the decoys and every scan answered from before the change), with no right of its own on
    the stamp tables (the functions run as their owner)."""
    engine, writer = database
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no schemas, no roles and no trigger functions")
    make_world(writer, NOW)
    writer.commit()
    if not writer.scalar(text("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")):
        pytest.skip("the test database's user cannot create a role")
    quote = engine.dialect.identifier_preparer.quote_identifier
    schema = quote(str(writer.scalar(text("SELECT current_schema()"))))
    suffix = secrets.token_hex(4)
    role, decoy = f"stamp_writer_{suffix}", f"decoy_{suffix}"
    before = {name: stamp_of_table(engine, name) for name in ("verdict_stamp", "key_ring_stamp")}
    with engine.begin() as admin:
        admin.execute(text(f"CREATE ROLE {role}"))
        admin.execute(text(f"CREATE SCHEMA {decoy} AUTHORIZATION {role}"))
        admin.execute(text(f"GRANT USAGE ON SCHEMA {schema} TO {role}"))
        admin.execute(text(f"GRANT UPDATE, SELECT ON organization, signing_key TO {role}"))
    try:
        # One transaction on one connection: SET LOCAL holds until its COMMIT, where the
        # deferred trigger fires, and leaves no pooled connection with the role or the path.
        with engine.begin() as connection:
            connection.execute(text(f"SET LOCAL ROLE {role}"))
            connection.execute(text(f"SET LOCAL search_path = {decoy}, {schema}"))
            for name in ("verdict_stamp", "key_ring_stamp"):
                connection.execute(text(f"CREATE TABLE {decoy}.{name} (id int, stamp text, xact bigint)"))
                connection.execute(text(f"INSERT INTO {decoy}.{name} VALUES (1, 'decoy', NULL)"))  # noqa: S608
            connection.execute(text("UPDATE organization SET name_en = name_en"))
            connection.execute(text("UPDATE signing_key SET revoked_reason = revoked_reason"))
        with engine.connect() as connection:
            for name in ("verdict_stamp", "key_ring_stamp"):
                assert connection.scalar(text(f"SELECT stamp FROM {decoy}.{name}")) == "decoy"  # noqa: S608
    finally:
        with engine.begin() as admin:
            admin.execute(text(f"DROP OWNED BY {role}"))
            admin.execute(text(f"DROP ROLE {role}"))
    for name, stamp in before.items():
        assert stamp_of_table(engine, name) != stamp, name


def stamp_of_table(engine: Engine, table: str) -> str:
    with engine.connect() as connection:
        return str(connection.scalar(text(f"SELECT stamp FROM {table}")))  # noqa: S608  # a constant
