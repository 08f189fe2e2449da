"""Fixtures: every test runs on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set.

Each test runs inside a transaction that is rolled back at its end (services and the app
commit to a SAVEPOINT), so tests never see each other's data.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import make_url, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from app import create_app
from registry import migrate
from registry.db import make_engine

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])
# A fixed clock: 2026-06-15 10:00 UTC. Tests pass it as ``now``; the app reads it from config.
NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
SHARED = Path(__file__).resolve().parents[2] / "shared"


@contextmanager
def private_postgres_database(url: str) -> Iterator[str]:
    """Create a throw-away database next to ``url`` and yield its URL; drop it afterwards.

    Each test run gets its own, so parallel runs (and benchmarks) never clobber each other.
    """
    admin = make_engine(url, isolation_level="AUTOCOMMIT")
    name = f"regtest_{os.getpid()}_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        else:
            url = stack.enter_context(private_postgres_database(os.environ["TEST_DATABASE_URL"]))
        db_engine = make_engine(url)
        migrate.upgrade(db_engine)
        yield db_engine
        db_engine.dispose()


@pytest.fixture
def committed_url(engine: Engine, tmp_path: Path) -> Iterator[str]:
    """A private, migrated database of the current backend that a test may really commit to
    (concurrent writers, several processes), which the shared rolled-back session cannot."""
    with ExitStack() as stack:
        if engine.dialect.name == "sqlite":
            url = f"sqlite:///{tmp_path / 'committed.sqlite3'}"
        else:
            url = stack.enter_context(private_postgres_database(os.environ["TEST_DATABASE_URL"]))
        fresh = make_engine(url)
        migrate.upgrade(fresh)
        fresh.dispose()
        yield url


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker:
    return sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)


@pytest.fixture
def session(session_factory: sessionmaker) -> Iterator[Session]:
    db_session = session_factory()
    yield db_session
    db_session.close()


@pytest.fixture
def now() -> dt.datetime:
    return NOW


@pytest.fixture
def app_config(session_factory: sessionmaker, tmp_path: Path) -> dict[str, object]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-only-secret",
        "DB_SESSION_FACTORY": session_factory,
        "NOW": lambda: NOW,
        "RATELIMIT_ENABLED": False,
        "SCAN_LOG_BATCH": 1,  # each verification written at once: tests read the log right after
        "IMPORT_DIR": str(tmp_path / "imports"),
    }


@pytest.fixture
def app(app_config: dict[str, object]) -> Flask:
    return create_app(app_config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, page: str = "/login") -> str:
    """Fetch a page with a form and return its CSRF token (CSRF stays on in tests)."""
    html = client.get(page).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {page}"
    return match.group(1)


def login(client: FlaskClient, username: str, password: str) -> None:
    token = csrf_token(client)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
