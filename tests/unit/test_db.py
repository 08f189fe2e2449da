"""Engine plumbing: pooled connections are pinged only after sitting idle, and a dead one is
replaced; the hot path's driver reads and inserts give and write what SQLAlchemy would."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Date, bindparam, column, event, func, insert, literal, select, table, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from registry.db import make_engine, ping_when_idle
from registry.driver_sql import DriverInsert, DriverRead
from registry.oversight_models import ScanEvent


@pytest.fixture
def pinged_engine(committed_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Engine, list[int]]]:
    """An engine with ping_when_idle at 0.3 s, and the list of pings it made."""
    engine = make_engine(committed_url, pool_size=1, max_overflow=0)
    pings: list[int] = []
    real_ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        pings.append(1)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    ping_when_idle(engine, idle_seconds=0.3)
    yield engine, pings
    engine.dispose()


def test_a_busy_connection_is_not_pinged_an_idle_one_is(pinged_engine: tuple[Engine, list[int]]) -> None:
    engine, pings = pinged_engine
    for _ in range(5):
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT 1")) == 1
    assert pings == []  # new, then back in use at once: trusted
    time.sleep(0.4)
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT 1")) == 1
    assert pings == [1]


def test_a_connection_that_died_while_idle_is_replaced(
    pinged_engine: tuple[Engine, list[int]], committed_url: str
) -> None:
    engine, pings = pinged_engine
    if engine.dialect.name != "postgresql":
        pytest.skip("a SQLite connection cannot be killed from outside")
    with engine.connect() as connection:
        first = connection.scalar(text("SELECT pg_backend_pid()"))
    killer = make_engine(committed_url, isolation_level="AUTOCOMMIT")
    try:
        with killer.connect() as connection:
            assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    finally:
        killer.dispose()
    time.sleep(0.4)
    with engine.connect() as connection:  # the ping finds it dead; the pool connects anew
        assert connection.scalar(text("SELECT pg_backend_pid()")) != first
    assert pings  # it was the ping that caught it


PLACES = table("places", column("code"), column("opened", Date), column("note"))
STATEMENT = select(
    PLACES.c.code, PLACES.c.opened, PLACES.c.note, literal("fixed").label("constant")
).where(PLACES.c.code == bindparam("code"), PLACES.c.note != bindparam("not_note"))


@pytest.fixture
def places(session: Session) -> Session:
    session.execute(text("CREATE TABLE places (code VARCHAR(8), opened DATE, note VARCHAR(20))"))
    session.execute(
        text("INSERT INTO places VALUES ('A', '2024-02-29', 'x'), ('A', NULL, 'y'), ('B', '2025-01-01', 'z')")
    )
    return session


def test_a_driver_read_gives_the_rows_sqlalchemy_gives(places: Session) -> None:
    read = DriverRead(STATEMENT)
    values = {"code": "A", "not_note": "q"}
    rows = read.rows(places, values)
    assert sorted(rows, key=str) == sorted(
        [("A", dt.date(2024, 2, 29), "x", "fixed"), ("A", None, "y", "fixed")], key=str
    )  # typed as SQLAlchemy types them: a date, not SQLite's text
    assert rows == [tuple(row) for row in places.connection().execute(STATEMENT, values)]
    assert read.rows(places, {"code": "Z", "not_note": "q"}) == []


def test_a_driver_read_runs_through_sqlalchemy_for_statement_listeners(places: Session) -> None:
    engine = places.get_bind()
    seen: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        assert len(DriverRead(STATEMENT).rows(places, {"code": "A", "not_note": "q"})) == 2
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert len(seen) == 1 and "places" in seen[0]  # a statement counter sees the one statement


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(places: Session) -> None:
    missing = DriverRead(select(column("x")).select_from(table("no_such_table")))
    # PostgreSQL: the failed statement spoils only the savepoint.
    with pytest.raises(DBAPIError) as excinfo, places.begin_nested():
        missing.rows(places, {})
    assert "no_such_table" in str(excinfo.value) and not excinfo.value.connection_invalidated
    assert isinstance(excinfo.value.orig, places.get_bind().dialect.loaded_dbapi.Error)


def test_a_driver_read_on_a_dead_connection_invalidates_it(committed_url: str) -> None:
    engine = make_engine(committed_url, pool_size=1, max_overflow=0)
    if engine.dialect.name != "postgresql":
        pytest.skip("a SQLite connection cannot be killed from outside")
    try:
        with Session(engine) as session:
            pid = session.scalar(text("SELECT pg_backend_pid()"))
            with Session(make_engine(committed_url)) as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                other.get_bind().dispose()  # type: ignore[union-attr]
            with pytest.raises(DBAPIError) as excinfo:
                DriverRead(select(literal(1))).rows(session, {})
            assert excinfo.value.connection_invalidated
        with Session(engine) as session:  # the pool connects anew
            assert session.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        engine.dispose()


def test_a_driver_read_is_one_statement_at_the_driver(places: Session) -> None:
    if places.get_bind().dialect.name != "sqlite":
        pytest.skip("sqlite3's trace callback sees what the driver runs")
    driver = places.connection().connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    traced: list[str] = []
    driver.set_trace_callback(traced.append)
    try:
        DriverRead(STATEMENT).rows(places, {"code": "A", "not_note": "q"})
    finally:
        driver.set_trace_callback(None)
    assert len(traced) == 1 and traced[0].startswith("SELECT")


def test_a_driver_insert_writes_what_sqlalchemy_writes(session: Session, now: dt.datetime) -> None:
    """The scan log's rows: a timestamp with its zone, JSON (null and an object), NULLs."""
    table = ScanEvent.__table__
    columns = ("scanned_at", "channel", "verdict", "detail", "declaration", "port", "client_hash")
    rows = [
        (now, "api", "VALID", "driver", None, "", None),
        (now + dt.timedelta(seconds=1), "customs", "FORGED", "driver", {"hs_code": "6307", "n": 2},
         "Shanghai", "ab"),
    ]
    DriverInsert(table, columns).insert(session, rows)  # type: ignore[arg-type]
    core_rows = [dict(zip(columns, row, strict=True)) | {"detail": "core"} for row in rows]
    session.execute(insert(table), core_rows)

    def stored(detail: str) -> list[tuple[Any, ...]]:
        # As text: exactly what each wrote, not what reading it back makes of it.
        query = text(
            "SELECT CAST(scanned_at AS VARCHAR(40)), channel, verdict, CAST(declaration AS VARCHAR(200)), "
            "port, client_hash FROM scan_event WHERE detail = :detail ORDER BY scanned_at"
        )
        return [tuple(row) for row in session.execute(query, {"detail": detail})]

    assert stored("driver") == stored("core") and len(stored("driver")) == 2
    written = select(ScanEvent).where(ScanEvent.detail == "driver").order_by(ScanEvent.id)
    events = session.scalars(written).all()
    assert [e.declaration for e in events] == [None, {"hs_code": "6307", "n": 2}]
    assert events[0].scanned_at.replace(tzinfo=dt.UTC) == now.astimezone(dt.UTC).replace(tzinfo=dt.UTC)
    DriverInsert(table, columns).insert(session, [])  # type: ignore[arg-type]  # nothing to do


def test_a_driver_insert_runs_through_sqlalchemy_for_statement_listeners(
    session: Session, now: dt.datetime
) -> None:
    engine = session.get_bind()
    seen: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    try:
        DriverInsert(ScanEvent.__table__, ("scanned_at", "channel", "verdict")).insert(  # type: ignore[arg-type]
            session, [(now, "api", "VALID"), (now, "api", "FORGED")]
        )
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert [statement for statement in seen if "scan_event" in statement]  # seen as it runs
    assert session.scalar(select(func.count()).select_from(ScanEvent)) == 2
