"""Transparency log commands: ``registry log checkpoint`` and ``registry log key``.

The log is named by the app's ``LOG_ORIGIN`` (``<PUBLIC_HOST>/registry-log`` by default); its
checkpoints are signed by the active "log" key (``registry keys generate --purpose log``), whose
passphrase is read as for every key command (``app.cli_keys.passphrase``).
"""

from __future__ import annotations

import click
from flask import current_app

from app import clock
from app.cli import registry_cli, transaction
from app.cli_keys import passphrase as key_passphrase
from app.database import new_session
from registry import translog
from registry.errors import RegistryError


def _origin() -> str:
    return str(current_app.config["LOG_ORIGIN"])


@registry_cli.group("log")
def log_group() -> None:
    """The transparency log: every audit event is a leaf; checkpoints are signed by the log key."""


@log_group.command("checkpoint")
def checkpoint_command() -> None:
    """Print the current signed checkpoint, signing (and saving) a new one if the log has grown."""
    # A registry error (no passphrase, no log key, one that does not open it) is the message.
    with transaction() as session:
        signed = translog.publish_checkpoint(
            session, now=clock.now(), origin=_origin(), passphrase=key_passphrase()
        )
        note = signed.note
    click.echo(note, nl=False)  # the note ends in its own newline


@log_group.command("key")
def key_command() -> None:
    """Print the log's verifier key: <origin>+<key id>+<base64 key>, for checkpoint verifiers."""
    session = new_session(current_app)
    try:
        verifier = translog.log_verifier(session, _origin(), clock.now())
    except RegistryError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        session.close()
    click.echo(verifier.key_string())
