"""Engine and session construction shared by the app, the CLI, migrations and benchmarks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine, create_engine
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


def make_session_factory(engine: Engine) -> sessionmaker:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
