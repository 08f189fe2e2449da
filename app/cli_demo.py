"""``registry demo``: load the demo registry and, on a fresh install, a demo admin account."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click
from flask import current_app
from sqlalchemy import select, text

from app.cli import registry_cli, utc_now
from app.cli_keys import passphrase as key_passphrase
from app.database import new_session
from registry.demo import load_demo
from registry.demo_certificates import DemoCertificatesSummary, load_demo_certificates
from registry.errors import RegistryError
from registry.models import Role, User
from registry.seals import seal_url
from registry.users import create_user

DEMO_ADMIN = "admin"
CREDENTIALS_FILE = "demo-admin.txt"


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (created 0600, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT


@registry_cli.command("demo")
def demo_command() -> None:
    """Load demo bodies and labs (only into an empty registry) and a demo admin (only if no user exists)."""
    now = utc_now()
    password_path = Path(current_app.instance_path) / CREDENTIALS_FILE
    password: str | None = None
    certificates: DemoCertificatesSummary | None = None
    skipped = ""
    session = new_session(current_app)
    try:
        summary = load_demo(session, now)
        try:
            secret: bytes | None = key_passphrase()
        except RegistryError as exc:  # no passphrase configured: bodies only
            secret, skipped = None, exc.message
        if secret is not None:
            certificates = load_demo_certificates(session, now, secret)
        if session.scalar(select(User.id).limit(1)) is None:
            password = secrets.token_urlsafe(18)
            create_user(session, DEMO_ADMIN, password, Role.ADMIN.value, actor="demo", now=now)
            # Written before the commit: a password nobody can read would lock the admin out.
            write_private_file(password_path, f"username: {DEMO_ADMIN}\npassword: {password}\n")
        if summary.created:
            # Planner statistics: without them SQLite prefers the 3-valued body.kind index over
            # the province one and list queries scan every body (see bench/README.md).
            session.execute(text("ANALYZE"))
        session.commit()
    except BaseException as exc:
        session.rollback()
        if password is not None:  # nothing was saved, so the password file would only mislead
            password_path.unlink(missing_ok=True)
        if isinstance(exc, RegistryError):
            raise click.ClickException(exc.message) from exc
        raise
    finally:
        session.close()
    click.echo(summary.message)
    if summary.created:
        kinds = ", ".join(f"{count} {kind}" for kind, count in summary.bodies_by_kind.items())
        click.echo(
            f"{summary.bodies} bodies ({kinds}; {summary.foreign_bodies} foreign), "
            f"{summary.authorizations} scope lines, {summary.status_changes} status changes, "
            f"{summary.audit_events} audit events"
        )
    if certificates is None:
        click.echo(f"demo certificates and seal keys skipped ({skipped})")
    elif certificates.created:
        counts = ", ".join(f"{n} {scenario}" for scenario, n in certificates.by_scenario.items())
        click.echo(f"{len(certificates.certificates)} demo certificates with seals ({counts})")
        sample = certificates.sample()
        if sample is not None:
            host = current_app.config["PUBLIC_HOST"]
            url = seal_url(host, sample.token)
            click.echo(f"demo seal of {sample.body_code} {sample.number} (VALID): {url}")
            # The quick-start server speaks plain HTTP; the seal URL says HTTPS for production.
            click.echo(f"open it on this machine: http://{host}/V/{sample.token}")
    else:
        click.echo(certificates.message)
    if password is not None:
        click.echo(f"demo admin account: {DEMO_ADMIN} / {password} (also in {password_path}, mode 600)")
