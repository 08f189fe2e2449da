"""Audit events: one per change, written in the same transaction, with a canonical serialization.

The canonical form is JSON with sorted keys, no insignificant whitespace, UTF-8, and
timestamps as RFC 3339 UTC with microseconds. A later transparency log hashes exactly
these bytes, so the form must never change for an existing event.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from registry import translog
from registry.models import AuditEvent

CANONICAL_VERSION = 1


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return to_utc_text(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not serializable in an audit event: {type(value).__name__}")


def to_utc_text(moment: dt.datetime) -> str:
    """RFC 3339 UTC text with microseconds; naive datetimes are refused."""
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(payload: dict[str, Any]) -> str:
    """Deterministic JSON text of ``payload``."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def plain(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """Round-trip a snapshot through canonical JSON so dates become text before storage."""
    return None if value is None else json.loads(canonical_json(value))


@dataclass(frozen=True)
class Change:
    """One change to record: what :func:`record` takes, for :func:`record_many`."""

    action: str
    subject_type: str
    subject_key: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str = ""


def _event(change: Change, *, now: dt.datetime, actor: str) -> AuditEvent:
    before_plain, after_plain = plain(change.before), plain(change.after)
    canonical = canonical_json(
        {
            "v": CANONICAL_VERSION,
            "occurred_at": now,
            "actor": actor,
            "action": change.action,
            "subject": {"type": change.subject_type, "key": change.subject_key},
            "before": before_plain,
            "after": after_plain,
            "reason": change.reason,
        }
    )
    return AuditEvent(
        # In UTC: SQLite stores the wall time without its offset, so a +08:00 ``now`` would
        # otherwise be read back eight hours off (and no longer match ``canonical``).
        occurred_at=now.astimezone(dt.UTC),
        actor=actor,
        action=change.action,
        subject_type=change.subject_type,
        subject_key=change.subject_key,
        before=before_plain,
        after=after_plain,
        reason=change.reason,
        canonical=canonical,
    )


def record(
    session: Session,
    *,
    now: dt.datetime,
    actor: str,
    action: str,
    subject_type: str,
    subject_key: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str = "",
) -> AuditEvent:
    """Add an audit event to the session (flushed with the change it describes) and append it
    to the transparency log.

    ``action`` is a tag such as ``"body:authorization:suspend"``.
    """
    change = Change(action, subject_type, subject_key, before, after, reason)
    return record_many(session, [change], now=now, actor=actor)[0]


def record_many(
    session: Session, changes: Sequence[Change], *, now: dt.datetime, actor: str
) -> list[AuditEvent]:
    """:func:`record` for many changes at once (a bulk registration): one flush of the events,
    one append of their leaves, in order."""
    return [event for event, _ in record_many_logged(session, changes, now=now, actor=actor)]


def record_many_logged(
    session: Session, changes: Sequence[Change], *, now: dt.datetime, actor: str
) -> list[tuple[AuditEvent, int]]:
    """:func:`record_many`, with each event's leaf index in the transparency log."""
    events = [_event(change, now=now, actor=actor) for change in changes]
    session.add_all(events)
    session.flush()
    return list(zip(events, translog.append_many(session, events), strict=True))
