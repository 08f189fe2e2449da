"""Verification through the app on a real pooled engine (not the tests' rolled-back transaction):
the verification views read in autocommit mode, what another session commits counts from the
very next request, on SQLite and PostgreSQL, and a database connection lost under a request is
a 503 to try again, not a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app import create_app
from app.database import dispose as dispose_app
from registry import keystore, seals, translog
from registry.certificates import change_certificate_status
from registry.db import make_engine, make_session_factory
from tests.conftest import NOW
from tests.unit.seal_support import PASSPHRASE, make_world, register
from verify.log_proof import LogProof, check_log_proof


@pytest.fixture
def real_app(committed_url: str, tmp_path: Path) -> Iterator[Flask]:
    flask_app = create_app({
        "TESTING": True, "SECRET_KEY": "test-only-secret", "DATABASE_URL": committed_url,
        "RATELIMIT_ENABLED": False, "NOW": lambda: NOW, "PUBLIC_HOST": "verify.example.cn",
        "SCAN_LOG_BATCH": 1,  # rows written at once: none left for exit, when the database is gone
    })
    flask_app.instance_path = str(tmp_path / "instance")
    yield flask_app
    dispose_app(flask_app)


def _other_session(committed_url: str) -> Session:
    """A second process's view of the database: its own engine, its own commits."""
    session: Session = make_session_factory(make_engine(committed_url))()
    return session


def _verdict(client: FlaskClient, token: str) -> tuple[str, str]:
    page = client.get(f"/V/{token}", headers={"Accept-Language": "en"})
    api = client.post("/api/v1/verify", json={"token": token})
    assert page.status_code == 200 and api.status_code == 200
    code = api.get_json()["verdict"]
    assert f'data-verdict="{code}"' in page.get_data(as_text=True)
    return code, page.get_data(as_text=True)


def test_what_another_session_commits_counts_at_the_next_request(
    real_app: Flask, committed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEAL_KEY_PASSPHRASE", PASSPHRASE.decode())
    other = _other_session(committed_url)
    try:
        world = make_world(other, NOW)
        certificate = register(other, NOW, world, "CQC2026000001")
        token = seals.issue_seal(other, certificate, now=NOW, passphrase=PASSPHRASE).token
        body_code = world.body.code
        other.commit()
        client = real_app.test_client()

        code, html = _verdict(client, token)
        assert code == "VALID"
        assert "CQC2026000001" in html and "Masks" in html  # details and reference names render

        change_certificate_status(other, body_code, "CQC2026000001", "suspended", reason="audit",
                                  actor="op", now=NOW)
        other.commit()
        assert _verdict(client, token)[0] == "CERTIFICATE_SUSPENDED"

        change_certificate_status(other, body_code, "CQC2026000001", "valid", reason="cleared",
                                  actor="op", now=NOW)
        other.commit()
        assert _verdict(client, token)[0] == "VALID"  # the key ring is cached by now

        # A log proof on the pooled engine: the reading session stays a reader, the checkpoint
        # is signed in a transaction of its own and is there for the next caller.
        keystore.generate_key(other, "log", PASSPHRASE, actor="ops", now=NOW)
        other.commit()
        answer = client.post("/api/v1/verify", json={"token": token, "log_proof": True}).get_json()
        origin = real_app.config["LOG_ORIGIN"]
        proof = LogProof.from_json(answer["log"])
        check_log_proof(proof, translog.log_verifier(other, origin, NOW), body_code=body_code,
                        number="CQC2026000001")
        assert translog.latest_checkpoint(other).size == proof.size  # type: ignore[union-attr]

        kid = keystore.active_record(other, "seal").kid  # type: ignore[union-attr]
        keystore.revoke_key(other, kid, reason="key leaked", actor="ops", now=NOW)
        other.commit()
        assert _verdict(client, token)[0] == "KEY_REVOKED"

        # The reading connections go back to the pool as they came: on SQLite, with pysqlite's
        # own transaction handling still off (the app's writes rely on it).
        engine = real_app.extensions["db_session_factory"].kw["bind"]
        if engine.dialect.name == "sqlite":
            with engine.connect() as connection:
                assert connection.connection.driver_connection.isolation_level is None
        assert client.post("/api/v1/verify", json={"token": token}).get_json()["verdict"] == "KEY_REVOKED"
    finally:
        other.close()
        other.get_bind().engine.dispose()


def test_a_connection_lost_under_a_request_is_a_503_and_the_next_request_works(
    real_app: Flask, committed_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restart of the database, as the app's connections see it: killed server-side a moment
    after use (too recent to be pinged at checkout). A request on a pooled connection is a 503
    and the next one works; a seal lookup, on its pinned connection, is simply run again on a
    new one (a read is safe to repeat)."""
    if not committed_url.startswith("postgresql"):
        pytest.skip("a SQLite connection cannot be killed from outside")
    monkeypatch.setenv("SEAL_KEY_PASSPHRASE", PASSPHRASE.decode())
    other = _other_session(committed_url)

    def restart_database() -> None:
        other.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        )  # fmt: skip

    try:
        world = make_world(other, NOW)
        token = seals.issue_seal(other, register(other, NOW, world, "CQC2026000002"), now=NOW,
                                 passphrase=PASSPHRASE).token
        other.commit()
        client = real_app.test_client()
        assert client.post("/api/v1/verify", json={"token": token}).get_json()["verdict"] == "VALID"
        assert client.get("/api/v1/bodies").status_code == 200
        restart_database()
        lost = client.get("/api/v1/bodies")
        assert lost.status_code == 503, lost.get_data(as_text=True)
        assert lost.mimetype == "application/problem+json"
        assert lost.get_json()["code"] == "database_unavailable" and lost.headers["Retry-After"] == "1"
        assert client.get("/api/v1/bodies").status_code == 200
        pinned = real_app.extensions["db_pinned"].cursor().connection
        restart_database()
        assert client.post("/api/v1/verify", json={"token": token}).get_json()["verdict"] == "VALID"
        assert real_app.extensions["db_pinned"].cursor().connection is not pinned  # replaced
        assert pinned.closed
        assert client.get(f"/V/{token}").status_code == 200
    finally:
        other.close()
        other.get_bind().engine.dispose()
