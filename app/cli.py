"""Flask CLI commands: ``flask --app wsgi registry <command>``.

Commands live in the modules of their area (``app.cli_*``), each adding to ``registry_cli``.
"""

from __future__ import annotations

import datetime as dt
import getpass
import importlib
import pkgutil
from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

import app as app_package
from app.database import new_session
from registry import migrate, stamps
from registry.errors import RegistryError
from registry.users import create_user

registry_cli = AppGroup("registry", help="Registry maintenance.")


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@contextmanager
def transaction() -> Iterator[Session]:
    """A session committed once at the end; any error rolls everything back (a registry error
    as the command's error message)."""
    session = new_session(current_app)
    try:
        yield session
        session.commit()
    except RegistryError as exc:
        session.rollback()
        raise click.ClickException(exc.message) from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@registry_cli.command("migrate")
def migrate_command() -> None:
    """Apply database migrations and load the shipped reference data."""
    session = new_session(current_app)
    engine = session.get_bind()
    session.close()
    assert isinstance(engine, Engine), "the app's sessions must be bound to an Engine"
    migrate.upgrade(engine)
    click.echo(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@registry_cli.command("create-admin")
@click.argument("username")
@click.option("--password-file", type=click.File("r"), help="Read the password from this file (else prompt).")
def create_admin_command(username: str, password_file: click.File | None) -> None:
    """Create the first admin account (argon2id-hashed password)."""
    if password_file is not None:
        password = password_file.read().strip()  # type: ignore[attr-defined]
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            raise click.ClickException("the passwords differ")
    with transaction() as session:
        create_user(session, username, password, "admin", actor="cli", now=utc_now())
    click.echo(f"admin {username} created")


@registry_cli.command("renew-stamps")
@click.option("--reason", default="", help="Why (audited), e.g. which backup was restored.")
def renew_stamps_command(reason: str) -> None:
    """Make every web worker read certificates and keys again at its next scan.

    Required after restoring a backup into a running deployment: the restored rows come with
    the stamps of their day, under which a worker may still keep what it read later.
    """
    with transaction() as session:
        stamps.renew_stamps(session, actor="cli", now=utc_now(), reason=reason)
    click.echo("stamps renewed: every worker reads certificates and keys again at its next scan")


def register(app: Flask) -> None:
    # Import every app.cli_* module so its commands join the group.
    for info in pkgutil.iter_modules(app_package.__path__):
        if info.name.startswith("cli_"):
            importlib.import_module(f"app.{info.name}")
    app.cli.add_command(registry_cli)
