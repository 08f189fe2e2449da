"""The migrations build exactly the models' schema, and can be undone and redone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import registry.models  # noqa: F401  (registers every table on the metadata)
from registry import migrate
from registry.db import Base, make_engine
from registry.models import Category, Jurisdiction
from tests.conftest import private_postgres_database


def test_models_match_the_migrations(connection: Connection) -> None:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    assert compare_metadata(context, Base.metadata) == []


def test_the_database_is_at_the_single_head(connection: Connection) -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    heads = script.get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}"
    assert MigrationContext.configure(connection).get_current_heads() == tuple(heads)


def _roundtrip(engine: Engine) -> None:
    migrate.upgrade(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    config = migrate.alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Category)) == 6
        assert session.scalar(select(func.count()).select_from(Jurisdiction)) >= 8
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        # The immutability triggers came back with the second upgrade.
        connection.execute(
            text(
                "INSERT INTO audit_event (occurred_at, actor, action, subject_type, subject_key,"
                " reason, canonical) VALUES (CURRENT_TIMESTAMP, 'a', 'x', 't', 'k', '', '{}')"
            )
        )
        with pytest.raises(DBAPIError, match="immutable"):
            connection.execute(text("DELETE FROM audit_event"))


def test_downgrade_to_base_and_upgrade_again_on_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'migrations.sqlite3'}")
    try:
        _roundtrip(engine)
    finally:
        engine.dispose()


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL is not set")
def test_downgrade_to_base_and_upgrade_again_on_postgresql() -> None:
    with private_postgres_database(os.environ["TEST_DATABASE_URL"]) as url:
        engine = make_engine(url)
        try:
            _roundtrip(engine)
        finally:
            engine.dispose()


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="TEST_DATABASE_URL is not set")
def test_migration_0014_pins_the_stamp_functions_and_is_undone_exactly() -> None:
    """Up: SECURITY DEFINER, search_path pinned, no EXECUTE for PUBLIC; down to 0013: as 0013
    made them (a down that did nothing would otherwise pass, 0013's own down drops them)."""
    query = text(
        "SELECT proname, prosecdef, proconfig, has_function_privilege('public', oid, 'EXECUTE') "
        "FROM pg_proc WHERE proname IN ('key_ring_restamp', 'verdict_restamp') ORDER BY proname"
    )
    with private_postgres_database(os.environ["TEST_DATABASE_URL"]) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            with engine.connect() as connection:
                pinned = [tuple(row) for row in connection.execute(query)]
            config = migrate.alembic_config(engine)
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.downgrade(config, "0013")
            with engine.connect() as connection:
                undone = [tuple(row) for row in connection.execute(query)]
        finally:
            engine.dispose()
    path = ["search_path=public, pg_temp"]
    assert pinned == [("key_ring_restamp", True, path, False), ("verdict_restamp", True, path, False)]
    assert undone == [("key_ring_restamp", False, None, True), ("verdict_restamp", False, None, True)]
