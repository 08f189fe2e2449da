"""The displayed-status timeline of a scope line, kept in ``authorization_timeline``.

A line's status on day D depends on its validity window and its status periods, with
withdrawal dominating expiry (``registry.queries.authorization_status_on``). Answering
"which bodies were active on D?" from those two sources needs a correlated subquery per line;
instead every change of a line rewrites its timeline here: contiguous segments
``[starts, ends)`` each with one status, ``ends`` NULL for the open last one. An as-of query
is then a single indexed range condition on one table.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from registry.models import Authorization, AuthorizationTimeline, Body, BodyTimeline

WITHDRAWN = "withdrawn"
LISTED = "listed"  # body_timeline only: on the list (any status) from the first line's start
EXPIRED = "expired"
ONE_DAY = dt.timedelta(days=1)


class Period(NamedTuple):
    status: str
    effective_from: dt.date
    effective_until: dt.date | None


class Segment(NamedTuple):
    status: str
    starts: dt.date
    ends: dt.date | None


def _status_on(day: dt.date, valid_until: dt.date | None, periods: Sequence[Period]) -> str | None:
    period_status = None
    for period in periods:
        if period.effective_from <= day and (period.effective_until is None or day < period.effective_until):
            period_status = period.status
    if period_status == WITHDRAWN:
        return period_status
    if valid_until is not None and day > valid_until:
        return EXPIRED
    return period_status


def compute(valid_from: dt.date, valid_until: dt.date | None, periods: Sequence[Period]) -> list[Segment]:
    """Segments of constant displayed status from ``valid_from`` on (pure; mirrors the Python rule).

    The status can only change at a period boundary or the day after ``valid_until``, so it is
    evaluated once per boundary and equal neighbours are merged.
    """
    boundaries = {valid_from}
    for period in periods:
        boundaries.add(period.effective_from)
        if period.effective_until is not None:
            boundaries.add(period.effective_until)
    if valid_until is not None:
        boundaries.add(valid_until + ONE_DAY)
    segments: list[Segment] = []
    for day in sorted(b for b in boundaries if b >= valid_from):
        status = _status_on(day, valid_until, periods)
        if segments and segments[-1].status == status:
            continue
        if segments:
            segments[-1] = segments[-1]._replace(ends=day)
        if status is not None:
            segments.append(Segment(status, day, None))
        # A day with no status (a gap in the periods) closes the previous segment and opens none.
    return segments


def segments_of(authorization: Authorization) -> list[Segment]:
    periods = [Period(p.status, p.effective_from, p.effective_until) for p in authorization.periods]
    return compute(authorization.valid_from, authorization.valid_until, periods)


def refresh(session: Session, authorization: Authorization) -> None:
    """Rewrite the timeline rows of one line, then its body's (after any change to the line)."""
    session.flush()
    session.execute(
        delete(AuthorizationTimeline).where(AuthorizationTimeline.authorization_id == authorization.id)
    )
    rows = timeline_rows(authorization.id, authorization.body_id, authorization.category,
                         authorization.jurisdiction, segments_of(authorization))
    if rows:
        session.execute(insert(AuthorizationTimeline), rows)
    refresh_body(session, authorization.body)


def list_key(province: str | None, code: str) -> str:
    """Sort key of lists: province code, foreign bodies (no province) last, then the body code.

    Province codes are exactly two characters, so plain concatenation orders like the pair.
    """
    return (province or "~~") + code


def merge(intervals: Iterable[tuple[dt.date, dt.date | None]]) -> list[tuple[dt.date, dt.date | None]]:
    """Union of half-open intervals ``[starts, ends)`` (``ends`` None: open) as disjoint ones."""
    merged: list[tuple[dt.date, dt.date | None]] = []
    for starts, ends in sorted(intervals, key=lambda i: i[0]):
        if merged and (merged[-1][1] is None or starts <= merged[-1][1]):
            last_start, last_end = merged[-1]
            wider = None if last_end is None or ends is None else max(last_end, ends)
            merged[-1] = (last_start, wider)
        else:
            merged.append((starts, ends))
    return merged


def body_rows(
    body_id: int, kind: str, province: str | None, code: str, segments: Iterable[Segment]
) -> list[dict[str, object]]:
    """``body_timeline`` rows from the segments of all of a body's lines."""
    by_status: dict[str, list[tuple[dt.date, dt.date | None]]] = defaultdict(list)
    first: dt.date | None = None
    for segment in segments:
        by_status[segment.status].append((segment.starts, segment.ends))
        first = segment.starts if first is None else min(first, segment.starts)
    if first is not None:
        by_status[LISTED] = [(first, None)]
    key = list_key(province, code)
    return [
        {"body_id": body_id, "kind": kind, "province": province, "list_key": key,
         "status": status, "starts": starts, "ends": ends}
        for status, intervals in sorted(by_status.items())
        for starts, ends in merge(intervals)
    ]


def refresh_body(session: Session, body: Body) -> None:
    """Rewrite a body's rows in ``body_timeline`` from its lines' timelines."""
    session.flush()
    segments = [
        Segment(row.status, row.starts, row.ends)
        for row in session.execute(
            select(AuthorizationTimeline.status, AuthorizationTimeline.starts, AuthorizationTimeline.ends)
            .where(AuthorizationTimeline.body_id == body.id)
        )
    ]
    session.execute(delete(BodyTimeline).where(BodyTimeline.body_id == body.id))
    rows = body_rows(body.id, body.kind, body.organization.province, body.code, segments)
    if rows:
        session.execute(insert(BodyTimeline), rows)


def timeline_rows(
    authorization_id: int, body_id: int, category: str, jurisdiction: str, segments: Sequence[Segment]
) -> list[dict[str, object]]:
    """Rows for ``authorization_timeline`` (also used by bulk loaders and the migration)."""
    return [
        {
            "authorization_id": authorization_id,
            "body_id": body_id,
            "category": category,
            "jurisdiction": jurisdiction,
            "status": s.status,
            "starts": s.starts,
            "ends": s.ends,
        }
        for s in segments
    ]
