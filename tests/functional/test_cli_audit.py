"""``registry audit-log`` on a throw-away SQLite file: clean, then an edit made straight in SQL,
then a saved checkpoint checked for consistency (the command reads committed data only)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app import create_app
from app.database import dispose as dispose_app
from registry import keystore, migrate, translog
from registry.certificates import change_certificate_status
from registry.db import make_engine
from tests.conftest import NOW
from tests.unit.seal_support import PASSPHRASE, make_world, register
from verify.checkpoint import Checkpoint, sign_checkpoint

HOST = "verify.example.cn"
DEFAULT_ORIGIN = f"{HOST}/registry-log"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "audit.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def cli_app(database: Path, tmp_path: Path) -> Iterator[Flask]:
    flask_app = create_app({
        "TESTING": True, "SECRET_KEY": "test-only-secret", "DATABASE_URL": f"sqlite:///{database}",
        "RATELIMIT_ENABLED": False, "NOW": lambda: NOW, "PUBLIC_HOST": HOST, "LOG_ORIGIN": "",
        "SCAN_LOG_BATCH": 1,  # rows written at once: none left for exit, when the database is gone
    })
    flask_app.instance_path = str(tmp_path / "instance")
    yield flask_app
    dispose_app(flask_app)


def _session(flask_app: Flask) -> Session:
    session: Session = flask_app.extensions["db_session_factory"]()
    return session


def _run(flask_app: Flask, *args: str) -> tuple[int, str]:
    result = flask_app.test_cli_runner().invoke(args=["registry", "audit-log", *args])
    return result.exit_code, result.output


def _suspended_certificate(flask_app: Flask) -> int:
    """A committed registry with one certificate, suspended (logged); returns its id."""
    with _session(flask_app) as session:
        world = make_world(session, NOW)
        certificate = register(session, NOW, world, "C-CLI-1")
        change_certificate_status(session, world.body.code, "C-CLI-1", "suspended", reason="audit",
                                  actor="op", now=NOW)
        keystore.generate_key(session, "log", PASSPHRASE, actor="test", now=NOW)
        session.commit()
        return certificate.id


def _save_checkpoint(flask_app: Flask, path: Path, origin: str = DEFAULT_ORIGIN) -> Path:
    with _session(flask_app) as session:
        note = translog.publish_checkpoint(session, now=NOW, origin=origin, passphrase=PASSPHRASE).note
        session.commit()
    path.write_text(note, encoding="utf-8")
    return path


def test_a_clean_registry_exits_0_and_an_sql_edit_exits_1(cli_app: Flask, database: Path) -> None:
    certificate_id = _suspended_certificate(cli_app)

    code, output = _run(cli_app)
    assert code == 0, output
    assert "clean: the log is intact" in output
    assert "1 certificate" in output

    with sqlite3.connect(database) as raw:  # behind the application's back
        raw.execute("UPDATE certificate SET status = 'valid' WHERE id = ?", (certificate_id,))
    code, output = _run(cli_app)

    assert code == 1, output
    assert "1 difference(s):" in output
    assert "changed: certificate " in output and "/C-CLI-1" in output
    assert 'status: log "suspended", table "valid"' in output


def test_a_saved_checkpoint_is_checked_for_consistency(cli_app: Flask, tmp_path: Path) -> None:
    _suspended_certificate(cli_app)
    saved = _save_checkpoint(cli_app, tmp_path / "saved.checkpoint")
    with _session(cli_app) as session:  # the log grows after the checkpoint was saved
        register(session, NOW, make_world(session, NOW, keys=False), "C-CLI-2")
        session.commit()

    code, output = _run(cli_app, "--checkpoint", str(saved))  # origin from PUBLIC_HOST
    assert code == 0, output
    assert "is consistent with the log" in output

    with _session(cli_app) as session:
        size = translog.head(session).size
        forged = sign_checkpoint(Checkpoint(DEFAULT_ORIGIN, size, bytes(32)),
                                 translog.log_signer(session, DEFAULT_ORIGIN, PASSPHRASE))
    (tmp_path / "forged.checkpoint").write_text(forged, encoding="utf-8")
    code, output = _run(cli_app, "--checkpoint", str(tmp_path / "forged.checkpoint"))
    assert code == 1, output
    assert "INCONSISTENT" in output and "rewritten" in output
    assert "clean: the log is intact" in output  # the log itself is fine: only the checkpoint fails


def test_the_origin_option_names_the_log(cli_app: Flask, tmp_path: Path) -> None:
    _suspended_certificate(cli_app)
    saved = _save_checkpoint(cli_app, tmp_path / "saved.checkpoint", origin="elsewhere.example/log")

    code, output = _run(cli_app, "--checkpoint", str(saved))
    assert code == 1 and "does not verify" in output, output

    code, output = _run(cli_app, "--checkpoint", str(saved), "--origin", "elsewhere.example/log")
    assert code == 0, output
