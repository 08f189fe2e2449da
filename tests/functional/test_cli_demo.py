"""``registry demo`` on its own throw-away SQLite file: the command commits, so it must not touch
the shared test database."""

from __future__ import annotations

import datetime as dt
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app import create_app
from app.database import dispose as dispose_app
from registry import migrate
from registry.db import make_engine
from registry.models import Body, User
from registry.users import authenticate, create_user


@pytest.fixture
def demo_app(tmp_path: Path) -> Iterator[Flask]:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    flask_app = create_app(
        {"TESTING": True, "SECRET_KEY": "test-only-secret", "DATABASE_URL": url, "RATELIMIT_ENABLED": False,
         "SCAN_LOG_BATCH": 1}
    )
    flask_app.instance_path = str(tmp_path / "instance")
    yield flask_app
    dispose_app(flask_app)


def _open_session(flask_app: Flask) -> Session:
    session: Session = flask_app.extensions["db_session_factory"]()
    return session


def test_demo_command_loads_once_and_creates_a_private_admin(demo_app: Flask) -> None:
    runner = demo_app.test_cli_runner()
    result = runner.invoke(args=["registry", "demo"])
    assert result.exit_code == 0, result.output
    assert "60 bodies" in result.output

    credentials = Path(demo_app.instance_path) / "demo-admin.txt"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    password = re.search(r"password: (\S+)", credentials.read_text(encoding="utf-8"))
    assert password is not None
    assert password.group(1) in result.output
    with _open_session(demo_app) as session:
        assert session.scalar(select(func.count(Body.id))) == 60
        admin = authenticate(session, "admin", password.group(1))
        assert admin is not None and admin.role == "admin"
        # The command leaves planner statistics behind (SQLite picks bad plans without them).
        assert session.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'body'"))

    again = runner.invoke(args=["registry", "demo"])
    assert again.exit_code == 0, again.output
    assert "already" in again.output
    assert "demo admin" not in again.output
    assert credentials.read_text(encoding="utf-8").endswith(f"{password.group(1)}\n")
    with _open_session(demo_app) as session:
        assert session.scalar(select(func.count(Body.id))) == 60
        assert session.scalar(select(func.count(User.id))) == 1


def test_demo_command_adds_no_admin_when_accounts_exist(demo_app: Flask) -> None:
    with _open_session(demo_app) as session:
        create_user(session, "existing", "a long enough password", "admin", actor="test",
                    now=dt.datetime.now(dt.UTC))
        session.commit()
    result = demo_app.test_cli_runner().invoke(args=["registry", "demo"])
    assert result.exit_code == 0, result.output
    assert "demo admin" not in result.output
    assert not (Path(demo_app.instance_path) / "demo-admin.txt").exists()
    with _open_session(demo_app) as session:
        assert session.scalar(select(func.count(Body.id))) == 60
        assert list(session.scalars(select(User.username))) == ["existing"]
