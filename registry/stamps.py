"""Renewing the two stamps by hand: required after a backup is restored into a running deployment.

Triggers replace the key ring's stamp (migration 0006) and the verdict stamp (0013) in every
transaction that changes what they watch, and a running web worker trusts what it read under a
stamp while that stamp is current (``registry.key_rings``, ``registry.seal_lookup``). A restored
backup brings back the rows and the stamps of its day together, and a worker may hold entries
filed under such a stamp that it read after that day (what a scan reads after the stamp is as
new as the stamp's state or newer): it would answer from them. A restore into another
PostgreSQL cluster also brings back ``verdict_stamp.xact``, a transaction id that a new
transaction there may carry, and that transaction would then leave the stamp as it was.
:func:`renew_stamps` replaces both stamps with new random values and clears ``xact``, so every
worker reads again at its next scan, without a restart (``flask --app wsgi registry
renew-stamps``).
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import CursorResult, Update, update
from sqlalchemy.orm import Session

from registry import audit
from registry.errors import NotFound
from registry.trust_models import KeyRingStamp, VerdictStamp


def renew_stamps(session: Session, *, actor: str, now: dt.datetime, reason: str = "") -> tuple[str, str]:
    """Replace the verdict stamp and the key ring's stamp with new random values (audited as
    ``registry:stamps:renew``); returns (verdict stamp, key ring stamp). Flushes, never commits.

    Rows are locked in the order other writers lock them, so that none waits on another in a
    circle (PostgreSQL): a key change takes the key ring's stamp (its trigger) before the
    transparency log's head (its audit event); any audited change takes the head during its
    transaction and the verdict stamp at COMMIT (a deferred trigger). So: key ring stamp, audit
    event, verdict stamp.
    """
    verdict, key_ring = secrets.token_hex(16), secrets.token_hex(16)
    _replace(session, update(KeyRingStamp).where(KeyRingStamp.id == 1).values(stamp=key_ring), "key ring")
    audit.record(
        session, now=now, actor=actor, action="registry:stamps:renew", subject_type="registry",
        subject_key="stamps", before=None, after={"renewed": ["verdict_stamp", "key_ring_stamp"]},
        reason=reason,
    )  # fmt: skip
    renewed = update(VerdictStamp).where(VerdictStamp.id == 1).values(stamp=verdict, xact=None)
    _replace(session, renewed, "verdict")
    session.flush()
    return verdict, key_ring


def _replace(session: Session, statement: Update, name: str) -> None:
    result = session.execute(statement)
    if not isinstance(result, CursorResult) or result.rowcount != 1:
        raise NotFound(f"the {name} stamp row is missing: run `registry migrate` on this database")
