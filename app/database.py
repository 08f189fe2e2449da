"""One SQLAlchemy session per request, committed at exactly one place (``after_request``).

Views and services only flush. A response below 400 commits; anything else, or an
exception, rolls back, so a request never leaves half its changes behind.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, has_request_context
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.wrappers import Response

from registry.db import make_engine, make_session_factory
from registry.errors import Conflict, StaleEdit


def init_app(app: Flask) -> None:
    factory: sessionmaker | None = app.config.get("DB_SESSION_FACTORY")
    if factory is None:
        engine = make_engine(app.config["DATABASE_URL"], pool_pre_ping=True)
        factory = make_session_factory(engine)
    app.extensions["db_session_factory"] = factory
    app.after_request(_commit_or_rollback)
    app.teardown_request(_close)


def new_session(app: Flask) -> Session:
    """A session outside a request (CLI commands); the caller commits."""
    factory: sessionmaker = app.extensions["db_session_factory"]
    return factory()


def get_session() -> Session:
    """The current request's session, created on first use."""
    if "db_session" not in g:
        from flask import current_app

        g.db_session = current_app.extensions["db_session_factory"]()
    session: Session = g.db_session
    return session


def _commit_or_rollback(response: Response) -> Response:
    session: Session | None = g.get("db_session")
    if session is None:
        return response
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
