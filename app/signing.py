"""Signing keys in the web layer: the passphrase, and the log checkpoint after each change.

The passphrase comes from ``SEAL_KEY_PASSPHRASE`` or the file named by
``SEAL_KEY_PASSPHRASE_FILE`` (environment first, then the app's configuration), for the pages,
the API and the CLI alike.
"""

from __future__ import annotations

import logging
import os

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from app import clock
from registry import keystore, translog
from verify.keys import PASSPHRASE_FILE_ENV

log = logging.getLogger(__name__)


def key_passphrase(app: Flask) -> bytes:
    """The key passphrase; :class:`keystore.KeyStoreError` naming both sources when neither works."""
    environ = dict(os.environ)
    configured = app.config.get("SEAL_KEY_PASSPHRASE_FILE")
    if configured and not environ.get(PASSPHRASE_FILE_ENV):
        environ[PASSPHRASE_FILE_ENV] = str(configured)
    return keystore.passphrase_from_env(environ)


def _publish(committing: Session) -> None:
    # before_commit also fires when a SAVEPOINT is released: sign only at the real commit.
    if committing.in_nested_transaction() or not has_app_context():
        return
    if not committing.info.pop(translog.GREW, False):
        return
    app = current_app
    try:
        passphrase = key_passphrase(app)  # type: ignore[arg-type]
        origin = app.config["LOG_ORIGIN"]
        translog.publish_checkpoint(committing, now=clock.now(), origin=origin, passphrase=passphrase)
    except keystore.KeyStoreError as exc:  # no log key yet, no passphrase: /log/checkpoint says so
        log.info("no checkpoint published: %s", exc.message)


def publish_checkpoints_on_commit(factory: sessionmaker) -> None:
    """Sign the log's new checkpoint in the same transaction as any change that grew the log,
    so a checkpoint is published after each batch of changes (a request, a CLI command).

    Registered once per session factory (the app's, for requests and commands alike); it acts
    only under an app context, whose configuration names the log.
    """
    if not event.contains(factory, "before_commit", _publish):
        event.listen(factory, "before_commit", _publish)
