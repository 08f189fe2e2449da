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
from registry.db import make_engine, make_session_factory, ping_when_idle, reading_options
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
    publish_checkpoints_on_commit(factory)
    app.after_request(_commit_or_rollback)
    app.teardown_request(_close)


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
    session: Session | None = g.pop("db_session", None) if has_request_context() else None
    if session is not None:
        session.rollback()
        session.close()
