"""One SQLAlchemy session per request, committed at exactly one place (``after_request``).

Views and services only flush. A response below 400 commits; anything else, or an
exception, rolls back, so a request never leaves half its changes behind.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, has_request_context
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from app.signing import publish_checkpoints_on_commit
from registry.db import (
    LookupReader,
    PinnedConnections,
    Reader,
    make_engine,
    make_session_factory,
    ping_when_idle,
    reading_options,
)
from registry.errors import Conflict, StaleEdit


def init_app(app: Flask) -> None:
    factory: sessionmaker | None = app.config.get("DB_SESSION_FACTORY")
    if factory is None:
        engine = make_engine(app.config["DATABASE_URL"])
        ping_when_idle(engine)  # not pool_pre_ping: a round trip per request on PostgreSQL
        factory = make_session_factory(engine)
    app.extensions["db_session_factory"] = factory
    bind = factory.kw.get("bind")
    if isinstance(bind, Engine):  # not the tests' factory bound to one connection
        # Sessions of reading views: on an engine whose connections come out reading (below).
        app.extensions["db_reading_engine"] = bind.execution_options(**reading_options(bind))
        # The seal lookups' connections, one kept per thread (LookupReader).
        app.extensions["db_pinned"] = PinnedConnections(bind)
    publish_checkpoints_on_commit(factory)
    app.after_request(_commit_or_rollback)
    app.teardown_request(_close)


def dispose(app: Flask) -> None:
    """Close every connection the app holds: its engine's pool and the pinned lookup connections."""
    pinned: PinnedConnections | None = app.extensions.get("db_pinned")
    if pinned is not None:
        pinned.close()
    bind = app.extensions["db_session_factory"].kw.get("bind")
    if isinstance(bind, Engine):
        bind.dispose()


def new_session(app: Flask) -> Session:
    """A session outside a request (CLI commands); the caller commits."""
    factory: sessionmaker = app.extensions["db_session_factory"]
    session: Session = factory()
    return session


def get_session() -> Session:
    """The current request's session, created on first use."""
    if "db_session" not in g:
        from flask import current_app

        g.db_session = current_app.extensions["db_session_factory"]()
    session: Session = g.db_session
    return session


def get_reading_session() -> Session:
    """The request's session for a view that only reads, outside a transaction.

    Each statement then reads what is committed at that moment, with no BEGIN and COMMIT round
    trips around it (on PostgreSQL, two of the three round trips of a seal verification).
    PostgreSQL's default READ COMMITTED gives each statement its own snapshot anyway, so only
    SQLite loses the snapshot across statements: use it where each statement stands on its own.
    Must be the request's first use of the session; nothing may be written through it (each
    write would commit on its own).
    """
    if "db_session" in g:  # something began already: go on in its session
        return get_session()
    from flask import current_app

    engine: Engine | None = current_app.extensions.get("db_reading_engine")
    if engine is None:  # bound to one connection (the tests' rolled-back transaction)
        return get_session()
    # A plain Session on the reading engine: no session factory's hooks (it writes nothing,
    # so it signs no checkpoint), and closed rather than committed (nothing to commit).
    session = Session(bind=engine)
    g.db_session = session
    g.db_reading = True
    return session


def get_lookup_reader() -> Reader:
    """The reader for a view whose lookups read outside a transaction (a seal scan).

    What :func:`get_reading_session` gives, without a Session or even a pooled Connection: on the
    hot path their bookkeeping (a transaction object, a checkout with its events, a reset on the
    way back) cost more than the lookup. The seal lookup runs on the thread's pinned connection
    (``registry.db.LookupReader``); anything else opens a reading Connection, closed at teardown.
    The request's Session when one was begun already, or when sessions are bound to one
    connection (the tests' rolled-back transaction).
    """
    reader: LookupReader | None = g.get("db_lookup_reader")
    if reader is not None:
        return reader
    from flask import current_app

    pinned: PinnedConnections | None = current_app.extensions.get("db_pinned")
    if "db_session" in g or pinned is None:
        return get_session()
    reader = g.db_lookup_reader = LookupReader(pinned, current_app.extensions["db_reading_engine"])
    return reader


def _commit_or_rollback(response: Response) -> Response:
    session: Session | None = g.get("db_session")
    if session is None:
        return response
    if g.get("db_reading"):
        return response  # closed at teardown: a reader has nothing to commit or roll back
    if response.status_code >= 400:
        session.rollback()
        return response
    try:
        session.commit()
    except StaleDataError:
        session.rollback()
        return _error_response(StaleEdit("the record was changed by someone else meanwhile; reload"))
    except IntegrityError:
        session.rollback()
        return _error_response(Conflict("the change clashes with existing data; nothing was saved"))
    return response


def _error_response(error: Exception) -> Response:
    from app.errors import render_error

    return render_error(error)


def _close(_exc: BaseException | None) -> Any:
    if not has_request_context():
        return
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
    reader: LookupReader | None = g.pop("db_lookup_reader", None)
    if reader is not None:
        reader.close()
