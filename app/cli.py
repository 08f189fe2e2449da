"""Flask CLI commands: ``flask --app wsgi registry <command>``."""

from __future__ import annotations

import datetime as dt
import getpass

import click
from flask import Flask
from flask.cli import AppGroup

from app.database import new_session
from registry import migrate
from registry.errors import RegistryError
from registry.users import create_user

registry_cli = AppGroup("registry", help="Registry maintenance.")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@registry_cli.command("migrate")
def migrate_command() -> None:
    """Apply database migrations and load the shipped reference data."""
    from flask import current_app

    session = new_session(current_app)
    engine = session.get_bind()
    session.close()
    migrate.upgrade(engine)  # type: ignore[arg-type]
    click.echo(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@registry_cli.command("create-admin")
@click.argument("username")
@click.option("--password-file", type=click.File("r"), help="Read the password from this file (else prompt).")
def create_admin_command(username: str, password_file: click.File | None) -> None:
    """Create the first admin account (argon2id-hashed password)."""
    from flask import current_app

    if password_file is not None:
        password = password_file.read().strip()  # type: ignore[attr-defined]
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            raise click.ClickException("the passwords differ")
    session = new_session(current_app)
    try:
        create_user(session, username, password, "admin", actor="cli", now=_now())
        session.commit()
    except RegistryError as exc:
        session.rollback()
        raise click.ClickException(exc.message) from exc
    finally:
        session.close()
    click.echo(f"admin {username} created")


def register(app: Flask) -> None:
    app.cli.add_command(registry_cli)
