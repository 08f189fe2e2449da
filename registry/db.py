"""Engine and session construction shared by the app, the CLI, migrations and benchmarks."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine, create_engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

# Stable constraint names so Alembic batch migrations on SQLite can find them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


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
