"""The audit trail: every change, newest first, filtered by action tag or subject."""

from __future__ import annotations

import json
from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, or_, select

from app.access import roles
from app.admin import READERS, bp
from app.admin.forms import AuditListArgs
from app.database import get_session
from registry.models import AuditEvent

PER_PAGE = 50


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def action_choices(actions: list[str]) -> list[str]:
    """Every stored tag and each of its prefixes ("body", "body:authorization", ...), sorted."""
    choices: set[str] = set()
    for action in actions:
        parts = action.split(":")
        choices.update(":".join(parts[: i + 1]) for i in range(len(parts)))
    return sorted(choices)


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[tuple[str, Any, Any]]:
    """The fields that differ between two snapshots, as (field, before, after).

    "Nothing" before and "empty" after (a new record's blank fields) is no change worth showing.
    """
    before, after = before or {}, after or {}
    return [
        (key, before.get(key), after.get(key))
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key) and not (_blank(before.get(key)) and _blank(after.get(key)))
    ]


def _blank(value: Any) -> bool:
    return value is None or value in ("", {}, [])


def shown(value: Any) -> str:
    """A snapshot value as text: nested values as compact JSON, nothing as a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@bp.get("/audit")
@roles(*READERS)
def audit() -> ResponseReturnValue:
    """One page of audit events. ``action`` matches a tag or any tag under it (``body`` matches
    ``body:create`` and ``body:authorization:suspend``); ``subject`` matches a key and its lines."""
    args = AuditListArgs().load(request.args)
    session = get_session()
    query = select(AuditEvent)
    action = args.get("action")
    if action:
        query = query.where(
            or_(AuditEvent.action == action, AuditEvent.action.like(_escape_like(action) + ":%", escape="\\"))
        )
    subject = args.get("subject")
    if subject:
        # A body's lines are keyed "<code>/<line id>", so a body code also finds its lines' events.
        query = query.where(
            or_(
                AuditEvent.subject_key == subject,
                AuditEvent.subject_key.like(_escape_like(subject) + "/%", escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = args["page"]
    events = list(
        session.scalars(
            query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        )
    )
    return render_template(
        "admin/audit.html",
        events=events,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        action=action or "",
        subject=subject or "",
        actions=action_choices(list(session.scalars(select(AuditEvent.action).distinct()))),
        changes=changes,
        shown=shown,
    )
