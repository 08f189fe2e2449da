"""Every verification is logged (page, API, batch), without personal data beyond a keyed hash
of the address; the log is written in batches off the hot path, and a failed write is survived."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.scanlog import ScanLog
from registry.db import make_engine, make_session_factory
from registry.oversight_models import ScanEvent
from registry.scanlog import ScanRecord, client_hash
from registry.seals import token_digest
from tests.functional import test_certificates_support as support
from tests.functional.test_certificates_support import World

app_config, cheap_password_hashing, keys, passphrase, world = (
    support.app_config,
    support.cheap_password_hashing,
    support.keys,
    support.passphrase,
    support.world,
)


def _scans(session: Session) -> list[ScanEvent]:
    return list(session.scalars(select(ScanEvent).order_by(ScanEvent.id)))


def test_pages_and_api_calls_are_logged(world: World, session: Session) -> None:
    token = world.seal.token
    world.call("anonymous", "GET", f"/V/{token}", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    world.call("anonymous", "POST", "/api/v1/verify", json={"token": token.lower()})
    world.call("anonymous", "POST", "/api/v1/verify", json={"items": [token, "garbage"]})
    scans = _scans(session)
    assert [(s.channel, s.verdict) for s in scans] == [
        ("page", "VALID"), ("api", "VALID"), ("api", "VALID"), ("api", "FORGED"),
    ]
    first = scans[0]
    assert first.certificate_id == world.certificate.id and first.token_sha256 == token_digest(token)
    assert (first.claimed_body, first.claimed_number) == ("CB-A", "A-0001") and first.kid
    # The address only as a keyed hash: not the address, not its plain SHA-256.
    assert first.client_hash == client_hash(b"test-only-secret", "203.0.113.7")
    stored = [getattr(first, column.key) for column in ScanEvent.__table__.columns]
    assert not any("203.0.113" in json.dumps(value, default=str) for value in stored)
    assert first.client_hash != client_hash(b"another-secret", "203.0.113.7")
    assert scans[3].certificate_id is None and scans[3].token_sha256 is None
    # No declaration: SQL NULL, not JSON's null.
    assert session.scalar(select(func.count()).where(ScanEvent.declaration.is_(None))) == 4


def test_a_forged_seal_is_attributed_to_the_body_it_names(world: World, session: Session) -> None:
    token = world.seal.token
    tampered = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")  # the signature, not the claims
    world.call("anonymous", "GET", f"/V/{tampered}")
    scan = _scans(session)[-1]
    assert scan.verdict == "FORGED" and scan.certificate_id is None
    assert (scan.claimed_body, scan.claimed_number) == ("CB-A", "A-0001")


class _Database:
    """A real database for a ScanLog's own sessions, which can be taken "down": its sessions then
    point at a SQLite file that cannot be opened, so writes fail as they would in production."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.engine = make_engine(url)
        self.up = make_session_factory(self.engine)
        self.down_engine = make_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'gone.sqlite3'}")
        self.is_down = False

    def __call__(self) -> Session:
        session: Session = (make_session_factory(self.down_engine) if self.is_down else self.up)()
        return session

    def written(self) -> list[str]:
        """The details of the rows written so far, in insertion order."""
        with self.up() as session:
            return list(session.scalars(select(ScanEvent.detail).order_by(ScanEvent.id)))

    def close(self) -> None:
        self.engine.dispose()
        self.down_engine.dispose()


@pytest.fixture
def database(committed_url: str, tmp_path: Path) -> Iterator[_Database]:
    found = _Database(committed_url, tmp_path)
    yield found
    found.close()


def _record(n: int) -> ScanRecord:
    return ScanRecord(dt.datetime(2026, 6, 15, tzinfo=dt.UTC), "page", "VALID", detail=str(n))


def test_rows_wait_for_a_full_batch_or_the_flusher(database: _Database) -> None:
    log = ScanLog(database, batch=3, interval=0.05)
    log.add(_record(1))
    log.add(_record(2))
    assert database.written() == []  # not on the hot path
    log.add(_record(3))
    assert database.written() == ["1", "2", "3"]
    log.add(_record(4))
    deadline = time.monotonic() + 5
    while len(database.written()) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)  # the daemon flusher writes what waits
    assert database.written() == ["1", "2", "3", "4"]


def test_a_failed_write_is_counted_not_raised_and_its_rows_wait(database: _Database) -> None:
    log = ScanLog(database, batch=2, interval=60)
    database.is_down = True
    log.add(_record(1))
    log.add(_record(2))  # a full batch: the write fails, and must not raise into the verification
    assert log.failed_writes == 1 and database.written() == []
    database.is_down = False
    log.add(_record(3))  # the next write takes the waiting rows first, in order
    assert database.written() == ["1", "2", "3"]


def test_a_factory_that_cannot_open_a_session_is_survived(database: _Database) -> None:
    down = True

    def opening() -> Session:
        if down:
            raise RuntimeError("no database")
        return database()

    log = ScanLog(opening, batch=1, interval=60)
    log.add(_record(1))
    assert log.failed_writes == 1 and database.written() == []
    down = False
    log.flush()  # the database is back: the waiting row is written
    assert database.written() == ["1"]


@pytest.mark.parametrize("address", [None, ""])
def test_no_address_no_hash(address: str | None) -> None:
    assert client_hash(b"k", address) is None
