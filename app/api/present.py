"""Turn loaded registry objects into the plain dicts the API's output schemas dump."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.db import utc
from registry.models import AuditEvent, Authorization, Body, Category, Jurisdiction, StatusPeriod
from registry.queries import authorization_status_on, headline_status
from registry.reference import provinces


def body_url(code: str) -> str:
    """The body's public HTML page."""
    return url_for("public.body", code=code, _external=True)


StatusOf = Callable[[Authorization], "str | None"]


def authorization_view(line: Authorization | Any, status: str | None) -> dict[str, Any]:
    return {
        "id": line.id,
        "jurisdiction": line.jurisdiction,
        "scheme": line.scheme,
        "category": line.category,
        "standards": line.standards,
        "tests": line.tests,
        "valid_from": line.valid_from,
        "valid_until": line.valid_until,
        "status": status,
    }


def period_view(period: StatusPeriod) -> dict[str, Any]:
    return {
        "status": period.status,
        "effective_from": period.effective_from,
        "effective_until": period.effective_until,
        "reason": period.reason,
    }


def body_view(
    body: Body, day: dt.date, status_of: StatusOf | None = None, lines: Sequence[Any] | None = None
) -> dict[str, Any]:
    """A body as of ``day``: its own fields, identifiers and every scope line with its status.

    ``status_of`` and ``lines`` are given by list pages, which read the lines as rows and their
    statuses from the timeline; by default the body's loaded lines and periods are used.
    """
    line_status = status_of or (lambda line: authorization_status_on(line, day))
    shown = body.authorizations if lines is None else lines
    statuses = {line.id: line_status(line) for line in shown}
    org = body.organization
    province = provinces().get(org.province or "")
    return {
        "code": body.code,
        "kind": body.kind,
        "names": {"zh": org.name_zh, "en": org.name_en},
        "credit_code": org.credit_code,
        "credit_code_warning": org.credit_code_warning,
        "country": org.country,
        "province": (
            {"code": province.code, "name_zh": province.name_zh, "name_en": province.name_en}
            if province is not None
            else None
        ),
        "address": org.address,
        "website": org.website,
        "identifiers": {i.scheme: i.value for i in body.identifiers},
        "status": headline_status(statuses.values()),
        "authorizations": [authorization_view(line, statuses[line.id]) for line in shown],
        "url": body_url(body.code),
    }


def body_history(session: Session, body: Body) -> list[dict[str, Any]]:
    """The audit events of the body and of its lines, oldest first, without the internal actor."""
    line_ids = {f"{body.code}/{line.id}": line.id for line in body.authorizations}
    events = session.scalars(
        select(AuditEvent)
        .where(
            ((AuditEvent.subject_type == "body") & (AuditEvent.subject_key == body.code))
            | ((AuditEvent.subject_type == "authorization") & AuditEvent.subject_key.in_(line_ids))
        )
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    )
    return [
        {
            "action": event.action,
            "occurred_at": utc(event.occurred_at),
            "reason": event.reason,
            "authorization_id": (
                line_ids.get(event.subject_key) if event.subject_type == "authorization" else None
            ),
        }
        for event in events
    ]


def body_detail_view(session: Session, body: Body, day: dt.date) -> dict[str, Any]:
    """``body_view`` plus each line's status periods and the body's change history."""
    view = body_view(body, day)
    periods = {line.id: [period_view(p) for p in line.periods] for line in body.authorizations}
    view["authorizations"] = [line | {"periods": periods[line["id"]]} for line in view["authorizations"]]
    view["as_of"] = day
    view["history"] = body_history(session, body)
    return view


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def category_view(category: Category) -> dict[str, Any]:
    return {
        "code": category.code,
        "name_zh": category.name_zh,
        "name_en": category.name_en,
        "standards_cn": _split(category.standards_cn),
        "standards_international": _split(category.standards_international),
        "hs6_codes": _split(category.hs6_codes),
        "hs6_neighbours": _split(category.hs6_neighbours),
    }


def jurisdiction_view(jurisdiction: Jurisdiction) -> dict[str, Any]:
    return {"code": jurisdiction.code, "name_zh": jurisdiction.name_zh, "name_en": jurisdiction.name_en}
