"""Pinned lookup connections (registry.db.PinnedConnections, LookupReader): one per thread, kept
open, reading each statement outside a transaction, replaced when found dead."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import literal, select, text
from sqlalchemy.engine import Engine

from registry import db
from registry.db import LookupReader, PinnedConnections, make_engine, reading_options
from registry.driver_sql import DriverRead


@pytest.fixture
def pinned_engine(committed_url: str) -> Iterator[tuple[Engine, PinnedConnections]]:
    engine = make_engine(committed_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE probe (n INTEGER)"))
    pinned = PinnedConnections(engine)
    yield engine, pinned
    pinned.close()
    engine.dispose()


def _count(pinned: PinnedConnections) -> int:
    (row,) = pinned.fetch("SELECT count(*) FROM probe", ())
    return int(row[0])


def test_a_pinned_connection_reads_what_another_commits_at_once(
    pinned_engine: tuple[Engine, PinnedConnections],
) -> None:
    engine, pinned = pinned_engine
    assert _count(pinned) == 0
    for expected in (1, 2):
        with engine.begin() as other:  # another process's commit
            other.execute(text("INSERT INTO probe VALUES (1)"))
        assert _count(pinned) == expected  # no snapshot held over from the last read
    # Outside any transaction: nothing is left open that would hold back a writer.
    connection = pinned.cursor().connection
    if engine.dialect.name == "postgresql":
        assert connection.autocommit and connection.info.transaction_status == 0  # idle
    else:
        assert not connection.in_transaction


def test_each_thread_keeps_its_own_connection(pinned_engine: tuple[Engine, PinnedConnections]) -> None:
    _, pinned = pinned_engine
    mine = pinned.cursor().connection
    assert pinned.cursor().connection is mine  # kept across uses
    theirs: list[Any] = []
    thread = threading.Thread(target=lambda: theirs.append(pinned.cursor().connection))
    thread.start()
    thread.join()
    assert theirs and theirs[0] is not mine
    pinned.close()  # every thread's, this one's and the other's
    for connection in (mine, theirs[0]):
        with pytest.raises(Exception):  # noqa: B017  # sqlite3 and psycopg say it differently
            connection.cursor().execute("SELECT 1")
    assert _count(pinned) == 0  # and a new one is opened on the next use


def test_the_connection_of_a_thread_that_ended_is_closed(
    pinned_engine: tuple[Engine, PinnedConnections],
) -> None:
    """A server may run a thread per request: a finished thread's connection must not stay open."""
    _, pinned = pinned_engine
    theirs: list[Any] = []
    for _ in range(3):
        thread = threading.Thread(target=lambda: theirs.append(pinned.cursor().connection))
        thread.start()
        thread.join()
    assert len({id(connection) for connection in theirs}) == 3
    pinned.cursor()  # this thread's first use closes what the ended threads left
    for connection in theirs:
        with pytest.raises(Exception):  # noqa: B017  # sqlite3 and psycopg say it differently
            connection.cursor().execute("SELECT 1")
    assert len(pinned._opened) == 1


def test_a_forked_child_never_uses_nor_closes_the_parents_connection(
    pinned_engine: tuple[Engine, PinnedConnections], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, pinned = pinned_engine
    parents = pinned.cursor().connection
    monkeypatch.setattr(db.os, "getpid", lambda: -1)  # as in a child after fork
    childs = pinned.cursor().connection
    assert childs is not parents
    assert parents in db._INHERITED  # kept referenced: garbage collection would close it
    pinned.close()  # the child's own only
    monkeypatch.undo()
    parents.cursor().execute("SELECT 1")  # the parent's session is untouched
    with pytest.raises(Exception):  # noqa: B017
        childs.cursor().execute("SELECT 1")
    db._INHERITED.remove(parents)
    parents.close()


def test_a_lookup_reader_runs_driver_reads_pinned_and_the_rest_on_a_connection(
    pinned_engine: tuple[Engine, PinnedConnections],
) -> None:
    engine, pinned = pinned_engine
    reader = LookupReader(pinned, engine.execution_options(**reading_options(engine)))
    assert DriverRead(select(literal(7).label("n"))).rows(reader, {}) == [(7,)]
    assert reader._connection is None  # the lookup needed no pooled connection
    assert reader.connection().scalar(text("SELECT count(*) FROM probe")) == 0
    assert engine.pool.checkedout() == 1
    reader.close()
    assert engine.pool.checkedout() == 0  # back in the pool at the end of the request


def test_a_driver_error_on_a_pinned_connection_is_raised_as_sqlalchemy_raises_it(
    pinned_engine: tuple[Engine, PinnedConnections],
) -> None:
    from sqlalchemy.exc import DBAPIError

    _, pinned = pinned_engine
    kept = pinned.cursor().connection
    with pytest.raises(DBAPIError) as excinfo:
        pinned.fetch("SELECT * FROM no_such_table", ())
    assert "no_such_table" in str(excinfo.value) and not excinfo.value.connection_invalidated
    # Closed all the same: a failed statement may leave state behind (a prepared plan, say).
    assert pinned.cursor().connection is not kept
    assert _count(pinned) == 0


def test_a_database_that_cannot_be_reached_is_a_lost_connection(committed_url: str) -> None:
    """What the app answers 503 to: SQLAlchemy's error, marked as a lost connection, not the
    driver's own exception from opening the connection."""
    from sqlalchemy.exc import DBAPIError

    if committed_url.startswith("sqlite"):
        unreachable = "sqlite:////nonexistent-folder/registry.sqlite3"
    else:
        unreachable = "postgresql+psycopg://root@127.0.0.1:1/test"
    engine = make_engine(unreachable)
    try:
        with pytest.raises(DBAPIError) as excinfo:
            PinnedConnections(engine).fetch("SELECT 1", ())
        assert excinfo.value.connection_invalidated
    finally:
        engine.dispose()


def test_a_pinned_connection_found_dead_is_replaced_and_the_read_runs_again(
    pinned_engine: tuple[Engine, PinnedConnections], committed_url: str
) -> None:
    engine, pinned = pinned_engine
    if engine.dialect.name != "postgresql":
        pytest.skip("a SQLite connection cannot be killed from outside")
    (row,) = pinned.fetch("SELECT pg_backend_pid()", ())
    killer = make_engine(committed_url, isolation_level="AUTOCOMMIT")
    try:
        with killer.connect() as connection:
            assert connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": row[0]})
    finally:
        killer.dispose()
    (again,) = pinned.fetch("SELECT pg_backend_pid()", ())  # no error: read again on a new one
    assert again[0] != row[0]
