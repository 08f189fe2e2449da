"""Services that change authorizations (scope lines): grant, edit, suspend, withdraw, restore.

A line's status history is append-only (``StatusPeriod`` rows); every change refreshes its
timeline (``registry.timeline``) and is audited as ``body:authorization:<verb>``. They flush,
never commit. The bodies themselves are ``registry.bodies``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit, timeline
from registry.bodies import get_body, registry_today
from registry.errors import Conflict, InvalidInput, NotFound, StaleEdit
from registry.models import Authorization, AuthorizationStatus, Category, Jurisdiction, StatusPeriod

STORED_STATUSES = (
    AuthorizationStatus.ACTIVE.value,
    AuthorizationStatus.SUSPENDED.value,
    AuthorizationStatus.WITHDRAWN.value,
)


# (from, to) -> audit verb. Anything else is refused.
TRANSITIONS = {
    ("active", "suspended"): "suspend",
    ("active", "withdrawn"): "withdraw",
    ("suspended", "withdrawn"): "withdraw",
    ("suspended", "active"): "restore",
    ("withdrawn", "active"): "restore",
}


def latest_effective_date(today: dt.date) -> dt.date:
    """The furthest a status change may be scheduled: one calendar year after ``today``."""
    try:
        return today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year + 1, day=28)


@dataclass
class AuthorizationInput:
    jurisdiction: str
    scheme: str
    category: str
    valid_from: dt.date
    valid_until: dt.date | None = None
    standards: str = ""
    tests: str = ""


def authorization_snapshot(authorization: Authorization) -> dict[str, Any]:
    return {
        "id": authorization.id,
        "body": authorization.body.code,
        "jurisdiction": authorization.jurisdiction,
        "scheme": authorization.scheme,
        "category": authorization.category,
        "standards": authorization.standards,
        "tests": authorization.tests,
        "valid_from": authorization.valid_from,
        "valid_until": authorization.valid_until,
        "status": authorization.status,
    }


def get_authorization(session: Session, authorization_id: int) -> Authorization:
    authorization = session.get(Authorization, authorization_id)
    if authorization is None:
        raise NotFound(f"no authorization {authorization_id}")
    return authorization


def _check_authorization_input(session: Session, data: AuthorizationInput) -> AuthorizationInput:
    if session.get(Jurisdiction, data.jurisdiction) is None:
        raise InvalidInput(f"unknown jurisdiction {data.jurisdiction!r}", field="jurisdiction")
    if session.get(Category, data.category) is None:
        raise InvalidInput(f"unknown product category {data.category!r}", field="category")
    scheme = data.scheme.strip()
    if not scheme:
        raise InvalidInput("the scheme or legislation is required", field="scheme")
    if data.valid_until is not None and data.valid_until < data.valid_from:
        raise InvalidInput("valid_until is before valid_from", field="valid_until")
    return AuthorizationInput(
        jurisdiction=data.jurisdiction,
        scheme=scheme,
        category=data.category,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        standards=data.standards.strip(),
        tests=data.tests.strip(),
    )


def grant_authorization(
    session: Session,
    body_code: str,
    data: AuthorizationInput,
    *,
    actor: str,
    now: dt.datetime,
    reason: str,
) -> Authorization:
    """Add a scope line, active from ``valid_from``."""
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    body = get_body(session, body_code)
    data = _check_authorization_input(session, data)
    duplicate = session.scalar(
        select(Authorization.id).where(
            Authorization.body_id == body.id,
            Authorization.jurisdiction == data.jurisdiction,
            Authorization.scheme == data.scheme,
            Authorization.category == data.category,
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"body {body.code} already has a {data.category} line under {data.scheme} "
            f"in {data.jurisdiction}; edit or restore it instead",
            authorization_id=duplicate,
        )
    authorization = Authorization(
        body=body,
        jurisdiction=data.jurisdiction,
        scheme=data.scheme,
        category=data.category,
        standards=data.standards,
        tests=data.tests,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        status=AuthorizationStatus.ACTIVE.value,
    )
    authorization.periods.append(
        StatusPeriod(
            status=AuthorizationStatus.ACTIVE.value,
            effective_from=data.valid_from,
            effective_until=None,
            reason=reason.strip(),
            recorded_at=now,
            actor=actor,
        )
    )
    session.add(authorization)
    session.flush()
    timeline.refresh(session, authorization)
    audit.record(
        session, now=now, actor=actor, action="body:authorization:grant",
        subject_type="authorization", subject_key=f"{body.code}/{authorization.id}",
        before=None, after=authorization_snapshot(authorization), reason=reason.strip(),
    )
    return authorization


def update_authorization(
    session: Session,
    authorization_id: int,
    data: AuthorizationInput,
    *,
    expected_version: int | None,
    actor: str,
    now: dt.datetime,
    reason: str,
) -> Authorization:
    """Edit a scope line's standards, tests and validity window (not its identity)."""
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    authorization = get_authorization(session, authorization_id)
    if expected_version is not None and authorization.version != expected_version:
        raise StaleEdit(
            "this authorization was changed by someone else after you opened it; reload and edit again",
            current_version=authorization.version,
        )
    data = _check_authorization_input(session, data)
    identity = (data.jurisdiction, data.scheme, data.category)
    if identity != (authorization.jurisdiction, authorization.scheme, authorization.category):
        raise InvalidInput("jurisdiction, scheme and category identify a line and cannot change")
    first = authorization.periods[0]
    before = authorization_snapshot(authorization)
    authorization.standards = data.standards
    authorization.tests = data.tests
    authorization.valid_until = data.valid_until
    if data.valid_from != authorization.valid_from:
        if len(authorization.periods) > 1 and data.valid_from >= authorization.periods[1].effective_from:
            raise InvalidInput("valid_from must precede the first status change", field="valid_from")
        authorization.valid_from = data.valid_from
        first.effective_from = data.valid_from
    after = authorization_snapshot(authorization)
    if after == before:
        return authorization
    session.flush()
    timeline.refresh(session, authorization)
    audit.record(
        session, now=now, actor=actor, action="body:authorization:update",
        subject_type="authorization", subject_key=f"{authorization.body.code}/{authorization.id}",
        before=before, after=after, reason=reason.strip(),
    )
    return authorization


def change_status(
    session: Session,
    authorization_id: int,
    new_status: str,
    *,
    reason: str,
    actor: str,
    now: dt.datetime,
    effective: dt.date | None = None,
    expected_version: int | None = None,
) -> Authorization:
    """Suspend, withdraw or restore a scope line from ``effective`` (default: today in China).

    History is append-only: the effective date may not precede the last recorded change.
    """
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a reason is required", field="reason")
    if new_status not in STORED_STATUSES:
        raise InvalidInput(f"status must be one of {list(STORED_STATUSES)}", field="status")
    authorization = get_authorization(session, authorization_id)
    if expected_version is not None and authorization.version != expected_version:
        raise StaleEdit(
            "this authorization was changed by someone else after you opened it; reload and try again",
            current_version=authorization.version,
        )
    verb = TRANSITIONS.get((authorization.status, new_status))
    if verb is None:
        raise Conflict(
            f"cannot change an authorization from {authorization.status} to {new_status}",
            field="status",
        )
    today = registry_today(now)
    effective = effective or today
    last = authorization.periods[-1]
    if effective < last.effective_from:
        raise InvalidInput(
            f"the effective date cannot precede the last recorded change ({last.effective_from})",
            field="effective",
        )
    if effective > latest_effective_date(today):
        raise InvalidInput("the effective date is more than a year ahead", field="effective")
    before = authorization_snapshot(authorization)
    last.effective_until = effective
    authorization.periods.append(
        StatusPeriod(
            status=new_status,
            effective_from=effective,
            effective_until=None,
            reason=reason,
            recorded_at=now,
            actor=actor,
        )
    )
    authorization.status = new_status
    session.flush()
    timeline.refresh(session, authorization)
    after = authorization_snapshot(authorization) | {"effective": effective}
    audit.record(
        session, now=now, actor=actor, action=f"body:authorization:{verb}",
        subject_type="authorization", subject_key=f"{authorization.body.code}/{authorization.id}",
        before=before, after=after, reason=reason,
    )
    return authorization


def change_body_status(
    session: Session,
    code: str,
    new_status: str,
    *,
    reason: str,
    actor: str,
    now: dt.datetime,
    effective: dt.date | None = None,
) -> list[Authorization]:
    """Apply a status to every scope line of a body that can take it; return the lines changed.

    All or nothing: every line is checked before the first one changes.
    """
    body = get_body(session, code)
    lines = [a for a in body.authorizations if (a.status, new_status) in TRANSITIONS]
    day = effective or registry_today(now)
    for line in lines:
        if day < line.periods[-1].effective_from:
            raise InvalidInput(
                f"the effective date cannot precede the last recorded change of line {line.id} "
                f"({line.periods[-1].effective_from})",
                field="effective",
            )
    changed = [
        change_status(session, a.id, new_status, reason=reason, actor=actor, now=now, effective=effective)
        for a in lines
    ]
    if not changed:
        raise Conflict(f"no authorization of body {code} can become {new_status}", field="status")
    return changed
