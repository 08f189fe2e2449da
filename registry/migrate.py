"""Run Alembic migrations programmatically and load reference data."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from registry.reference import sync_reference_data

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def upgrade(engine: Engine) -> None:
    """Migrate to the latest revision, then upsert the shipped reference data."""
    cfg = alembic_config(engine)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    with Session(engine) as session, session.begin():
        sync_reference_data(session)
    refresh_statistics(engine)


def refresh_statistics(engine: Engine) -> None:
    """Refresh the query planner's statistics on SQLite (PostgreSQL's autovacuum does its own).

    Without them SQLite drives list queries from the least selective index; run after
    migrations and bulk changes (demo data, imports). ``analysis_limit`` keeps it to milliseconds.
    """
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("PRAGMA analysis_limit=1000")
        connection.exec_driver_sql("ANALYZE")
