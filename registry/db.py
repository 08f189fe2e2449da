"""Engine and session construction shared by the app, the CLI, migrations and benchmarks."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Connection, Dialect, Engine, create_engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, StatementError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

# Stable constraint names so Alembic batch migrations on SQLite can find them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc(moment: dt.datetime) -> dt.datetime:
    """A stored timestamp as aware UTC: SQLite hands back the naive UTC wall time we wrote."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's documented fix is to
    # turn it off here and emit BEGIN ourselves (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    # Foreign keys are off by default in SQLite; WAL lets readers run beside one writer.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # An AUTOCOMMIT connection (ANALYZE, VACUUM, reading_options) must not be wrapped in a
    # transaction that the pool would then roll back. Read from the execution options (which is
    # how this project asks for it): get_isolation_level() would run a PRAGMA at every BEGIN,
    # and this runs on every request. BEGIN goes straight to the driver for the same reason.
    options = connection.get_execution_options()
    if options.get("isolation_level") != "AUTOCOMMIT" and not options.get(_NO_BEGIN):
        connection.connection.driver_connection.execute("BEGIN")


_NO_BEGIN = "registry_no_begin"


# What a read-only lookup runs on: a request's Session, a bare Connection, or a LookupReader
# (below) where even a Connection's bookkeeping would cost more than the statement.
Reader: TypeAlias = "Session | Connection | LookupReader"


def connection_of(reader: Reader) -> Connection:
    """The Connection ``reader`` runs its statements on."""
    return reader if isinstance(reader, Connection) else reader.connection()


def engine_of(reader: Reader) -> Engine:
    """The Engine behind ``reader`` (what per-database caches are keyed by)."""
    if isinstance(reader, Session):
        return reader.get_bind().engine
    return reader.engine


def reading_options(engine: Engine) -> dict[str, Any]:
    """Execution options for a connection that only reads, statement by statement, outside a
    transaction (no BEGIN / COMMIT round trips).

    PostgreSQL: psycopg's autocommit. SQLite: no BEGIN from ``_sqlite_begin``; not SQLAlchemy's
    AUTOCOMMIT level, whose reset on the way back to the pool would hand the connection to
    pysqlite's own transaction handling (and run a PRAGMA per request).
    """
    if engine.dialect.name == "sqlite":
        return {_NO_BEGIN: True}
    return {"isolation_level": "AUTOCOMMIT"}


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL and foreign keys on every connection."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


# A pooled connection idle longer than this is pinged before use (ping_when_idle).
IDLE_PING_SECONDS = 5.0
_CHECKED_IN_AT = "registry_checked_in_at"


def ping_when_idle(engine: Engine, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Test a pooled connection before use only when it sat idle more than ``idle_seconds``.

    ``pool_pre_ping`` pings at every checkout: on PostgreSQL a round trip on every request,
    about a quarter of a seal verification. A connection dies while idle (a database restart,
    a server's or firewall's idle timeout), so one that was in use a moment ago is trusted;
    one that sat longer is pinged, and a dead one is replaced (the pool retries the checkout
    on DisconnectionError). One that dies between two busy requests fails its request, as it
    would with pre-ping between the ping and the query (the app answers 503: try again).
    """

    def remember(_dbapi_connection: Any, record: ConnectionPoolEntry, *_: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    def ping_if_idle(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN_AT)
        if since is not None and time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"a pooled connection is dead: {exc}") from exc

    event.listen(engine, "connect", remember)  # a new connection needs no ping
    event.listen(engine, "checkin", remember)
    event.listen(engine, "checkout", ping_if_idle)


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


# Pinned connections a forked child inherited: never used there, and never closed either (closing
# a PostgreSQL connection would end the parent's session on the shared socket).
_INHERITED: list[Any] = []


class PinnedConnections:
    """One DBAPI connection per thread, kept open, reading statement by statement outside any
    transaction: what every seal scan's lookup runs on.

    A pooled Connection costs a checkout, its events and a reset on the way back per request,
    more than the lookup itself on SQLite; a connection kept by the thread costs none of that,
    and keeps its cursor (and on PostgreSQL its prepared statements). It comes from the engine
    (so the engine's connect hooks ran on it: SQLite's pragmas) and is detached from the pool.
    PostgreSQL: autocommit. SQLite: pysqlite's own transactions are off (``_sqlite_pragmas``), so
    each SELECT reads what is committed when it runs.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._lock = threading.Lock()
        # Every thread's connection, by thread ident: (pid that opened it, connection).
        self._opened: dict[int, tuple[int, Any]] = {}

    def cursor(self) -> Any:
        """This thread's cursor on its pinned connection, opened on first use."""
        local = self._local
        if getattr(local, "pid", None) != os.getpid():  # a new thread, or a forked child
            local.connection = local.cursor = None
            local.pid = os.getpid()
        if local.cursor is None:
            self._forget_gone_threads()
            local.connection, local.cursor = self._open()
            with self._lock:
                self._opened[threading.get_ident()] = (local.pid, local.connection)
        return local.cursor

    def _open(self) -> tuple[Any, Any]:
        fairy = self.engine.raw_connection()
        fairy.detach()  # ours for good: neither returned to the pool nor counted by it
        connection = fairy.dbapi_connection
        try:
            if self.engine.dialect.name == "postgresql":
                connection.autocommit = True  # type: ignore[union-attr]
            return connection, connection.cursor()  # type: ignore[union-attr]
        except BaseException:
            _close_quietly(connection)
            raise

    def _forget_gone_threads(self) -> None:
        """Close the connections of threads that ended (a server may run a thread per request),
        and set aside, unclosed, those a forked child inherited: closing a PostgreSQL connection
        there would end the parent's session on the shared socket."""
        pid, alive = os.getpid(), {thread.ident for thread in threading.enumerate()}
        alive.discard(threading.get_ident())  # an entry under this thread's ident is stale
        with self._lock:
            gone = {
                ident: entry for ident, entry in self._opened.items() if ident not in alive or entry[0] != pid
            }
            for ident in gone:
                del self._opened[ident]
        _let_go(gone.values())

    def discard(self) -> None:
        """Close this thread's connection; the next use opens another."""
        local = self._local
        connection, local.connection, local.cursor = getattr(local, "connection", None), None, None
        if connection is not None:
            with self._lock:
                self._opened.pop(threading.get_ident(), None)
            _close_quietly(connection)

    def close(self) -> None:
        """Close every thread's connection opened by this process (when the app's engine is
        disposed of); the next use opens another."""
        with self._lock:
            opened, self._opened = self._opened, {}
        _let_go(opened.values())
        self._local = threading.local()

    def fetch(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
        """The rows of ``sql`` on this thread's connection.

        After any driver error the connection is closed (a failed statement may leave state
        behind, such as a prepared plan that no longer fits). A connection found dead, or that
        cannot be opened (a database restart), is replaced and the statement run once more,
        since a read is safe to repeat; the engine's pool is renewed too, its connections being
        as old. The error is raised as SQLAlchemy raises it (a lost database: 503 in the app).
        """
        dialect = self.engine.dialect
        for attempt in (1, 2):
            try:
                cursor = self.cursor()
                cursor.execute(sql, parameters)
                return list(cursor.fetchall())
            except dialect.loaded_dbapi.Error as exc:
                connection = getattr(self._local, "connection", None)
                cursor = getattr(self._local, "cursor", None)
                dead = connection is None or dialect.is_disconnect(exc, connection, cursor)
                self.discard()
                if dead:
                    self.engine.dispose()
                if dead and attempt == 1:
                    continue
                raise as_sqlalchemy_error(dialect, exc, sql, parameters, lost=dead) from exc
        raise AssertionError("unreachable")  # pragma: no cover


def as_sqlalchemy_error(
    dialect: Dialect, exc: Exception, sql: str, parameters: Any, *, lost: bool
) -> StatementError:
    """The driver's error ``exc`` as SQLAlchemy raises it (the matching ``DBAPIError``
    subclass, ``connection_invalidated`` when ``lost``: the app answers 503)."""
    return DBAPIError.instance(
        sql, parameters, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )


def _let_go(entries: Iterable[tuple[int, Any]]) -> None:
    """Close the (pid, connection) entries this process opened; set aside, unclosed, those a
    forked child inherited (see ``_INHERITED``)."""
    pid = os.getpid()
    for opened_by, connection in entries:
        if opened_by == pid:
            _close_quietly(connection)
        else:
            _INHERITED.append(connection)


def _close_quietly(connection: Any) -> None:
    with contextlib.suppress(Exception):  # a dead connection may fail to close: gone anyway
        connection.close()


class LookupReader:
    """A request's reader for lookups: statements compiled for the driver (``DriverRead``) run on
    the thread's pinned connection; anything else on a reading Connection opened on first use
    (``reading_engine``: an engine with :func:`reading_options`). :meth:`close` it at the end."""

    def __init__(self, pinned: PinnedConnections, reading_engine: Engine) -> None:
        self.pinned = pinned
        self.engine = pinned.engine
        self._reading_engine = reading_engine
        self._connection: Connection | None = None

    def connection(self) -> Connection:
        """A pooled Connection reading outside a transaction, for what is not run pinned."""
        if self._connection is None:
            self._connection = self._reading_engine.connect()
        return self._connection

    def close(self) -> None:
        """Return the Connection, if one was opened, to the pool."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
