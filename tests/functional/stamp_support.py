"""What the verdict stamp's tests share: a committed database, a scan's reader on it, and the
memos emptied before each test. A module imports the fixtures (``*_fixture``) to use them:
pytest finds them by the names given."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry import seal_lookup, seals
from registry.db import LookupReader, PinnedConnections, make_engine, make_session_factory, reading_options
from registry.models import VerdictStamp
from tests.conftest import NOW
from tests.unit.seal_support import PASSPHRASE, World, register


@pytest.fixture(name="database")
def database_fixture(committed_url: str) -> Iterator[tuple[Engine, Session]]:
    """The committed database's engine and a writer's session on it (another process's view)."""
    engine = make_engine(committed_url)
    writer: Session = make_session_factory(engine)()
    yield engine, writer
    writer.close()
    engine.dispose()


@pytest.fixture(name="reader")
def reader_fixture(database: tuple[Engine, Session]) -> Iterator[LookupReader]:
    """A scan's reader, as the seal page has it: the thread's pinned connection, no transaction."""
    engine, _ = database
    pinned = PinnedConnections(engine)
    found = LookupReader(pinned, engine.execution_options(**reading_options(engine)))
    yield found
    found.close()
    pinned.close()


@pytest.fixture(name="empty_memos", autouse=True)
def empty_memos_fixture() -> None:
    seal_lookup._by_stamp.clear()
    seal_lookup._built.clear()


def stamp_of(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.scalar(select(VerdictStamp.stamp)))


def sealed(writer: Session, world: World, number: str) -> str:
    certificate = register(writer, NOW, world, number)
    token = seals.issue_seal(writer, certificate, now=NOW, passphrase=PASSPHRASE).token
    writer.commit()
    return token
