"""Signing keys in the web layer: the passphrase, and the log checkpoint after each change.

The passphrase comes from ``SEAL_KEY_PASSPHRASE`` or the file named by
``SEAL_KEY_PASSPHRASE_FILE`` (environment first, then the app's configuration), for the pages,
the API and the CLI alike.
"""

from __future__ import annotations

import logging
import os

from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

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


def publish_checkpoints_on_commit(app: Flask, session: Session) -> None:
    """Sign the log's new checkpoint in the same transaction as any change that grew the log,
    so a checkpoint is published after each batch of changes (a request, a CLI command)."""

    def publish(committing: Session) -> None:
        if not committing.info.pop(translog.GREW, False):
            return
        with app.app_context():
            try:
                translog.publish_checkpoint(
                    committing,
                    now=clock.now(),
                    origin=app.config["LOG_ORIGIN"],
                    passphrase=key_passphrase(app),
                )
            except (
                keystore.KeyStoreError
            ) as exc:  # no log key yet, or no passphrase: GET /log/checkpoint says so
                log.info("no checkpoint published: %s", exc.message)

    event.listen(session, "before_commit", publish)
