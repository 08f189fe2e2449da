"""Read side of the registry: "was B authorized for C in J on D?" and lists as of any date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlalchemy.orm import Session, selectinload

from registry.models import (
    Authorization,
    AuthorizationStatus,
    AuthorizationTimeline,
    Body,
    Organization,
)

STATUSES = tuple(s.value for s in AuthorizationStatus)


def _covers(day: dt.date) -> ColumnElement[bool]:
    return and_(
        AuthorizationTimeline.starts <= day,
        or_(AuthorizationTimeline.ends.is_(None), AuthorizationTimeline.ends > day),
    )


def authorization_status_condition(status: str, day: dt.date) -> ColumnElement[bool]:
    """SQL condition: the ``Authorization`` row has ``status`` on ``day`` (from its timeline)."""
    return exists().where(
        AuthorizationTimeline.authorization_id == Authorization.id,
        AuthorizationTimeline.status == status,
        _covers(day),
    )


def authorization_status_on(authorization: Authorization, day: dt.date) -> str | None:
    """Status of a loaded authorization on ``day``; None before it started."""
    if day < authorization.valid_from:
        return None
    period_status = None
    for period in authorization.periods:
        if period.effective_from <= day and (
            period.effective_until is None or day < period.effective_until
        ):
            period_status = period.status
    if period_status == AuthorizationStatus.WITHDRAWN.value:
        return period_status
    if authorization.valid_until is not None and day > authorization.valid_until:
        return AuthorizationStatus.EXPIRED.value
    return period_status


def body_status_on(body: Body, day: dt.date) -> str | None:
    """A loaded body's headline status: its best scope line's status on ``day``."""
    return headline_status(authorization_status_on(a, day) for a in body.authorizations)


def is_authorized(
    session: Session, body_code: str, category: str, jurisdiction: str, day: dt.date
) -> bool:
    """Was body ``body_code`` authorized for ``category`` in ``jurisdiction`` on ``day``? One query."""
    query = select(
        exists().where(
            Body.code == body_code,
            AuthorizationTimeline.body_id == Body.id,
            AuthorizationTimeline.category == category,
            AuthorizationTimeline.jurisdiction == jurisdiction,
            AuthorizationTimeline.status == AuthorizationStatus.ACTIVE.value,
            _covers(day),
        )
    )
    return bool(session.scalar(query))


def line_statuses(session: Session, body_ids: list[int], day: dt.date) -> dict[int, str]:
    """Status on ``day`` of every scope line of these bodies (lines not yet valid are absent)."""
    if not body_ids:
        return {}
    rows = session.execute(
        select(AuthorizationTimeline.authorization_id, AuthorizationTimeline.status).where(
            AuthorizationTimeline.body_id.in_(body_ids), _covers(day)
        )
    )
    return {row.authorization_id: row.status for row in rows}


def headline_status(statuses: Iterable[str | None]) -> str | None:
    """A body's headline status: the best of its lines' statuses (active first)."""
    present = set(statuses)
    for status in STATUSES:  # ordered best first: active, suspended, withdrawn, expired
        if status in present:
            return status
    return None


@dataclass(frozen=True)
class BodyFilter:
    """Filters of the public list. Empty values do not filter."""

    kinds: tuple[str, ...] = ()
    category: str | None = None
    jurisdiction: str | None = None
    province: str | None = None
    status: str | None = None
    text: str | None = None
    as_of: dt.date | None = None


@dataclass
class Page:
    items: list[Body]
    total: int
    page: int
    per_page: int
    as_of: dt.date
    filters: BodyFilter = field(default_factory=BodyFilter)
    # Authorization id -> status on ``as_of``; the page's bodies are loaded without their periods.
    statuses: dict[int, str] = field(default_factory=dict)

    def line_status(self, authorization: Authorization) -> str | None:
        return self.statuses.get(authorization.id)

    def body_status(self, body: Body) -> str | None:
        return headline_status(self.statuses.get(a.id) for a in body.authorizations)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _like_pattern(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def body_ids_query(filters: BodyFilter, day: dt.date) -> Select[int]:
    """The ids of bodies matching ``filters`` on ``day``, ordered for display."""
    query = select(Body.id).join(Organization, Body.organization_id == Organization.id)
    if filters.kinds:
        query = query.where(Body.kind.in_(filters.kinds))
    if filters.province:
        query = query.where(Organization.province == filters.province)
    line_conditions: list[ColumnElement[bool]] = [AuthorizationTimeline.body_id == Body.id]
    if filters.category:
        line_conditions.append(AuthorizationTimeline.category == filters.category)
    if filters.jurisdiction:
        line_conditions.append(AuthorizationTimeline.jurisdiction == filters.jurisdiction)
    if filters.status:
        line_conditions += [AuthorizationTimeline.status == filters.status, _covers(day)]
    else:
        # Any line that had started by ``day``, whatever its status then.
        line_conditions.append(AuthorizationTimeline.starts <= day)
    query = query.where(exists().where(*line_conditions))
    if filters.text and filters.text.strip():
        query = query.where(Body.search_text.like(_like_pattern(filters.text.strip()), escape="\\"))
    # NULLS LAST spelled out: SQLite sorts NULL first and PostgreSQL last, and the list must
    # read the same on both (bodies without a province, i.e. foreign ones, after the provinces).
    return query.order_by(Organization.province.asc().nulls_last(), Body.code)


def search_bodies(
    session: Session,
    filters: BodyFilter,
    *,
    today: dt.date,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """One page of bodies matching ``filters`` as of ``filters.as_of`` (default ``today``).

    A page number below 1 means the first page (PostgreSQL refuses a negative OFFSET).
    """
    page, per_page = max(1, page), max(1, per_page)
    day = filters.as_of or today
    # One query for every matching id, instead of a COUNT plus a page query that would each
    # evaluate the filters: ids are small, and even 10,000 of them cost less than a second pass.
    all_ids = list(session.scalars(body_ids_query(filters, day)))
    ids = all_ids[(page - 1) * per_page : page * per_page]
    return Page(
        items=load_bodies(session, ids, with_periods=False),
        total=len(all_ids),
        page=page,
        per_page=per_page,
        as_of=day,
        filters=filters,
        statuses=line_statuses(session, ids, day),
    )


def load_bodies(session: Session, ids: list[int], *, with_periods: bool = True) -> list[Body]:
    """Load bodies with their identifiers and lines (and periods), in the order of ``ids``.

    Lists pass ``with_periods=False`` and read statuses from ``line_statuses`` instead: the
    periods are most of the objects and only a body's own page shows them.
    """
    if not ids:
        return []
    lines = selectinload(Body.authorizations)
    rows = session.scalars(
        select(Body)
        .where(Body.id.in_(ids))
        .options(
            selectinload(Body.identifiers),
            lines.selectinload(Authorization.periods) if with_periods else lines,
        )
    ).unique()
    by_id = {b.id: b for b in rows}
    return [by_id[i] for i in ids]


def all_matching_bodies(
    session: Session, filters: BodyFilter, *, today: dt.date, limit: int = 100_000
) -> tuple[list[Body], dt.date]:
    """Every body matching ``filters`` (for exports), loaded in chunks."""
    day = filters.as_of or today
    ids = list(session.scalars(body_ids_query(filters, day).limit(limit)))
    bodies: list[Body] = []
    for start in range(0, len(ids), 500):
        bodies.extend(load_bodies(session, ids[start : start + 500]))
    return bodies, day
