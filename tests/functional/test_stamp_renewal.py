"""Renewing the stamps by hand (``registry.stamps``, ``registry renew-stamps``): what a restored
backup needs, since it brings back old rows and their old stamp together."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app import create_app
from app.database import dispose as dispose_app
from registry import migrate, stamps, verification
from registry.certificates import change_certificate_status
from registry.db import LookupReader, make_engine
from registry.models import AuditEvent, KeyRingStamp, VerdictStamp
from tests.conftest import NOW
from tests.functional.stamp_support import (  # noqa: F401  # fixtures
    database_fixture,
    empty_memos_fixture,
    reader_fixture,
    sealed,
    stamp_of,
)
from tests.unit.seal_support import make_world


def test_renewed_stamps_make_every_scan_read_again_after_a_restore(
    database: tuple[Engine, Session], reader: LookupReader
) -> None:
    """A restore, played in SQL: a suspension committed, then the stamp of before it put back
    (as a backup of that moment would). The scan answers from what it kept under that stamp,
    until the stamps are renewed."""
    engine, writer = database
    world = make_world(writer, NOW)
    token = sealed(writer, world, "CQC2026000001")
    assert verification.verify_scanned(reader, token, now=NOW).code == "VALID"
    restored = stamp_of(engine)
    change_certificate_status(writer, world.body.code, "CQC2026000001", "suspended", reason="audit",
                              actor="op", now=NOW)  # fmt: skip
    writer.commit()
    writer.execute(text("UPDATE verdict_stamp SET stamp = :stamp"), {"stamp": restored})
    writer.commit()
    assert verification.verify_scanned(reader, token, now=NOW).code == "VALID"  # the hazard

    verdict, key_ring = stamps.renew_stamps(writer, actor="ops", now=NOW, reason="backup restored")
    writer.commit()
    assert verification.verify_scanned(reader, token, now=NOW).code == "CERTIFICATE_SUSPENDED"
    assert stamp_of(engine) == verdict != restored
    assert writer.scalar(select(KeyRingStamp.stamp)) == key_ring
    event = writer.scalars(select(AuditEvent).where(AuditEvent.action == "registry:stamps:renew")).one()
    assert (event.actor, event.reason) == ("ops", "backup restored")


def test_renew_stamps_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'stamps.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    both = select(VerdictStamp.stamp).union_all(select(KeyRingStamp.stamp))
    with engine.connect() as connection:
        before = connection.scalars(both).all()
    flask_app = create_app({
        "TESTING": True, "SECRET_KEY": "test-only-secret", "DATABASE_URL": url,
        "RATELIMIT_ENABLED": False, "NOW": lambda: NOW, "SCAN_LOG_BATCH": 1,
    })  # fmt: skip
    try:
        runner = flask_app.test_cli_runner()
        result = runner.invoke(args=["registry", "renew-stamps", "--reason", "restored the 1 June backup"])
        assert result.exit_code == 0, result.output
        assert "renewed" in result.output
    finally:
        dispose_app(flask_app)
    with engine.connect() as connection:
        after = connection.scalars(both).all()
        renewal = select(AuditEvent.reason).where(AuditEvent.action == "registry:stamps:renew")
        reason = connection.scalar(renewal)
    engine.dispose()
    assert after[0] != before[0] and after[1] != before[1]
    assert reason == "restored the 1 June backup"
