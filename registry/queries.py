"""Read side of the registry: "was B authorized for C in J on D?" and lists as of any date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from registry.models import (
    Authorization,
    AuthorizationStatus,
    Body,
    BodyIdentifier,
    Organization,
    StatusPeriod,
)

STATUSES = tuple(s.value for s in AuthorizationStatus)


def _period_covers(day: dt.date) -> ColumnElement[bool]:
    return and_(
        StatusPeriod.authorization_id == Authorization.id,
        StatusPeriod.effective_from <= day,
        or_(StatusPeriod.effective_until.is_(None), StatusPeriod.effective_until > day),
    )


def _period_status_is(day: dt.date, status: str) -> ColumnElement[bool]:
    return exists().where(_period_covers(day), StatusPeriod.status == status)


def authorization_status_condition(status: str, day: dt.date) -> ColumnElement[bool]:
    """SQL condition: the authorization row has ``status`` on ``day`` (expired is derived)."""
    started = Authorization.valid_from <= day
    within = or_(Authorization.valid_until.is_(None), Authorization.valid_until >= day)
    if status == AuthorizationStatus.EXPIRED.value:
        return and_(
            Authorization.valid_until < day,
            ~_period_status_is(day, AuthorizationStatus.WITHDRAWN.value),
        )
    if status == AuthorizationStatus.WITHDRAWN.value:
        return and_(started, _period_status_is(day, status))
    return and_(started, within, _period_status_is(day, status))


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
    """A body's headline status: its best scope line's status on ``day``."""
    statuses = {authorization_status_on(a, day) for a in body.authorizations}
    for status in STATUSES:  # ordered best first: active, suspended, withdrawn, expired
        if status in statuses:
            return status
    return None


def is_authorized(
    session: Session, body_code: str, category: str, jurisdiction: str, day: dt.date
) -> bool:
    """Was body ``body_code`` authorized for ``category`` in ``jurisdiction`` on ``day``? One query."""
    query = select(
        exists()
        .where(
            Body.code == body_code,
            Authorization.body_id == Body.id,
            Authorization.category == category,
            Authorization.jurisdiction == jurisdiction,
            authorization_status_condition(AuthorizationStatus.ACTIVE.value, day),
        )
    )
    return bool(session.scalar(query))


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
    line_conditions: list[ColumnElement[bool]] = [
        Authorization.body_id == Body.id,
        Authorization.valid_from <= day,
    ]
    if filters.category:
        line_conditions.append(Authorization.category == filters.category)
    if filters.jurisdiction:
        line_conditions.append(Authorization.jurisdiction == filters.jurisdiction)
    if filters.status:
        line_conditions.append(authorization_status_condition(filters.status, day))
    query = query.where(exists().where(*line_conditions))
    if filters.text:
        pattern = _like_pattern(filters.text.strip())
        query = query.where(
            or_(
                func.lower(Organization.name_zh).like(pattern, escape="\\"),
                func.lower(Organization.name_en).like(pattern, escape="\\"),
                func.lower(Body.code).like(pattern, escape="\\"),
                func.lower(Organization.credit_code).like(pattern, escape="\\"),
                exists().where(
                    BodyIdentifier.body_id == Body.id,
                    func.lower(BodyIdentifier.value).like(pattern, escape="\\"),
                ),
            )
        )
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
    ids_query = body_ids_query(filters, day)
    total = session.scalar(select(func.count()).select_from(ids_query.order_by(None).subquery())) or 0
    ids = list(session.scalars(ids_query.limit(per_page).offset((page - 1) * per_page)))
    return Page(
        items=load_bodies(session, ids),
        total=total,
        page=page,
        per_page=per_page,
        as_of=day,
        filters=filters,
    )


def load_bodies(session: Session, ids: list[int]) -> list[Body]:
    """Load bodies with their identifiers, lines and periods, in the order of ``ids``."""
    if not ids:
        return []
    rows = session.scalars(
        select(Body)
        .where(Body.id.in_(ids))
        .options(
            selectinload(Body.identifiers),
            selectinload(Body.authorizations).selectinload(Authorization.periods),
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
