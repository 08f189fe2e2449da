"""Renewing the stamps by hand (``registry.stamps``, ``registry renew-stamps``): what a restored
backup needs, since it brings back old rows and their old stamp together."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app import create_app
from app.database import dispose as dispose_app
from registry import audit, migrate, stamps, verification
from registry.certificates import change_certificate_status
from registry.db import LookupReader, make_engine, make_session_factory
from registry.errors import NotFound
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
    database: tuple[Engine, Session], reader: LookupReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore, played in SQL. A suspension commits while a scan reads (after its stamp), so
    the scan keeps SUSPENDED under the stamp of before. Then the backup of before comes back:
    the certificate valid again, with that stamp. The worker answers from what it kept, until
    the stamps are renewed."""
    engine, writer = database
    world = make_world(writer, NOW)
    token = sealed(writer, world, "CQC2026000001")
    backup = stamp_of(engine)
    fetch = reader.pinned.fetch
    statements: list[str] = []

    def suspended_meanwhile(sql: str, parameters: Any) -> list[Any]:
        rows = fetch(sql, parameters)
        statements.append(sql)
        if len(statements) == 1:  # after the stamp, before the lookup
            change_certificate_status(writer, world.body.code, "CQC2026000001", "suspended",
                                      reason="audit", actor="op", now=NOW)  # fmt: skip
            writer.commit()
        return rows

    monkeypatch.setattr(reader.pinned, "fetch", suspended_meanwhile)
    assert verification.verify_scanned(reader, token, now=NOW).code == "CERTIFICATE_SUSPENDED"
    monkeypatch.setattr(reader.pinned, "fetch", fetch)
    # The restore: the rows first (their triggers replace the stamp), then the stamp of the
    # backup (PostgreSQL's deferred triggers would replace it again in the same transaction).
    writer.execute(text("UPDATE certificate SET status = 'valid'"))
    writer.commit()
    writer.execute(text("UPDATE verdict_stamp SET stamp = :stamp"), {"stamp": backup})
    writer.commit()
    assert verification.verify_scanned(reader, token, now=NOW).code == "CERTIFICATE_SUSPENDED"  # stale

    verdict, key_ring = stamps.renew_stamps(writer, actor="ops", now=NOW, reason="backup restored")
    writer.commit()
    assert verification.verify_scanned(reader, token, now=NOW).code == "VALID"
    assert stamp_of(engine) == verdict != backup
    assert writer.scalar(select(KeyRingStamp.stamp)) == key_ring
    assert writer.scalar(select(VerdictStamp.xact)) is None
    event = writer.scalars(select(AuditEvent).where(AuditEvent.action == "registry:stamps:renew")).one()
    assert (event.actor, event.reason) == ("ops", "backup restored")


def test_renewal_without_a_stamp_row_is_refused_and_writes_nothing(database: tuple[Engine, Session]) -> None:
    engine, writer = database
    writer.execute(text("DELETE FROM verdict_stamp"))
    with pytest.raises(NotFound, match="verdict stamp row is missing"):
        stamps.renew_stamps(writer, actor="ops", now=NOW)
    writer.rollback()
    assert writer.scalar(select(func.count()).select_from(AuditEvent)) == 0
    assert stamp_of(engine)


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


def test_a_renewal_and_an_audited_change_both_commit(database: tuple[Engine, Session]) -> None:
    """PostgreSQL: a change holds the transparency log's head from its audit event until COMMIT,
    where its deferred trigger takes the verdict stamp. A renewal that took the verdict stamp
    before the head would wait on the change while the change's COMMIT waited on it: a deadlock
    that PostgreSQL ends by aborting one of them."""
    engine, writer = database
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    make_world(writer, NOW)
    writer.commit()
    writer.execute(text("UPDATE organization SET name_en = name_en"))
    audit.record(writer, now=NOW, actor="op", action="organization:update", subject_type="organization",
                 subject_key="all", before=None, after=None)  # fmt: skip
    writer.flush()  # holds the head row now
    renewer: Session = make_session_factory(engine)()
    failures: list[BaseException] = []

    def renew() -> None:
        try:
            stamps.renew_stamps(renewer, actor="ops", now=NOW)
            renewer.commit()
        except BaseException as exc:  # reported below, from the test's thread
            failures.append(exc)
            renewer.rollback()

    thread = threading.Thread(target=renew)
    thread.start()
    time.sleep(0.5)  # the renewal is waiting on the head row
    try:
        writer.commit()
    finally:
        thread.join(timeout=30)
        renewer.close()
    assert not failures, failures
    assert not thread.is_alive()
    assert writer.scalar(select(func.count()).where(AuditEvent.action == "registry:stamps:renew")) == 1
