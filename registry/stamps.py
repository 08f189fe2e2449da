"""Renewing the two stamps by hand: after a backup is restored into a running deployment.

Triggers replace the key ring's stamp (migration 0006) and the verdict stamp (0013) in every
transaction that changes what they watch, and a running web worker trusts what it read under a
stamp while that stamp is current (``registry.key_rings``, ``registry.seal_lookup``). A restored
backup brings back the rows and the stamps of its day together, and a worker may hold entries
filed under such a stamp that it read after that day (what a scan reads after the stamp is as
new as the stamp's state or newer): it would answer from them. :func:`renew_stamps` replaces
both stamps with new random values, so every worker reads again at its next scan, without a
restart (``flask --app wsgi registry renew-stamps``).
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import update
from sqlalchemy.orm import Session

from registry import audit
from registry.trust_models import KeyRingStamp, VerdictStamp


def renew_stamps(session: Session, *, actor: str, now: dt.datetime, reason: str = "") -> tuple[str, str]:
    """Replace the verdict stamp and the key ring's stamp with new random values (audited as
    ``registry:stamps:renew``); returns (verdict stamp, key ring stamp). Flushes, never commits."""
    verdict, key_ring = secrets.token_hex(16), secrets.token_hex(16)
    session.execute(update(VerdictStamp).where(VerdictStamp.id == 1).values(stamp=verdict, xact=None))
    session.execute(update(KeyRingStamp).where(KeyRingStamp.id == 1).values(stamp=key_ring))
    audit.record(
        session, now=now, actor=actor, action="registry:stamps:renew", subject_type="registry",
        subject_key="stamps", before=None, after={"renewed": ["verdict_stamp", "key_ring_stamp"]},
        reason=reason,
    )  # fmt: skip
    session.flush()
    return verdict, key_ring
