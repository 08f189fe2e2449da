"""A checkpoint is published after each batch of changes: a request that grew the log signs the
new checkpoint in its own transaction; one that failed, or grew nothing, signs none."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import keystore, translog
from registry.models import LogCheckpoint
from tests.functional import test_certificates_support as support
from tests.functional.test_certificates_support import HOST, World
from verify.checkpoint import open_checkpoint

app_config, cheap_password_hashing, keys, passphrase, world = (
    support.app_config,
    support.cheap_password_hashing,
    support.keys,
    support.passphrase,
    support.world,
)
URL = "/api/v1/certificates/CB-A/A-0001"
ORIGIN = f"{HOST}/registry-log"


def _checkpoints(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(LogCheckpoint)) or 0


def test_each_change_publishes_its_checkpoint(
    world: World, session: Session, now: dt.datetime, passphrase: bytes
) -> None:
    keystore.generate_key(session, "log", passphrase, actor="test", now=now)
    session.flush()
    assert world.call("anonymous", "GET", URL).status_code == 200
    assert _checkpoints(session) == 0  # a read grows nothing and signs nothing

    refused = world.call("token_a", "POST", URL + "/restore", json={"reason": "r"})
    assert refused.status_code == 409 and _checkpoints(session) == 0  # rolled back: nothing

    done = world.call("token_a", "POST", URL + "/suspend", json={"reason": "audit"})
    assert done.status_code == 200
    latest = translog.latest_checkpoint(session)
    assert latest is not None and latest.size == translog.head(session).size
    opened = open_checkpoint(latest.note, translog.log_verifier(session, ORIGIN, now), ORIGIN)
    assert opened.root_hash == translog.head(session).root_hash


def test_an_alert_raised_by_the_scan_log_publishes_its_checkpoint(
    world: World, session: Session, now: dt.datetime, passphrase: bytes
) -> None:
    """Alerts are written by the scan log's own transaction (a thread, in production): that
    transaction signs the checkpoint of what it added to the log, as a request would."""
    keystore.generate_key(session, "log", passphrase, actor="test", now=now)
    assert world.call("token_a", "POST", URL + "/withdraw", json={"reason": "fraud"}).status_code == 200
    before = translog.head(session).size
    assert world.call("anonymous", "GET", f"/V/{world.seal.token}").status_code == 200  # opens an alert
    session.expire_all()
    assert translog.head(session).size == before + 1  # the alert:open event
    latest = translog.latest_checkpoint(session)
    assert latest is not None and latest.size == before + 1
