"""Read side of the registry: "was B authorized for C in J on D?" and lists as of any date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from registry.models import (
    Authorization,
    AuthorizationStatus,
    AuthorizationTimeline,
    Body,
    BodyTimeline,
)
from registry.timeline import LISTED

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


@dataclass(frozen=True)
class ActiveWindows:
    """When bodies were authorized, read once to answer many :func:`is_authorized` questions
    (a bulk registration asks one per item): the ACTIVE segments of their lines' timelines."""

    windows: dict[tuple[int, str, str], list[tuple[dt.date, dt.date | None]]]

    def authorized(self, body_id: int, category: str, jurisdiction: str | None, day: dt.date) -> bool:
        """:func:`is_authorized`'s answer; ``jurisdiction`` None means in any jurisdiction."""
        keys = (
            [(body_id, category, jurisdiction)]
            if jurisdiction is not None
            else [key for key in self.windows if key[:2] == (body_id, category)]
        )
        return any(
            starts <= day and (ends is None or ends > day)
            for key in keys
            for starts, ends in self.windows.get(key, ())
        )


def active_windows(session: Session, body_ids: Iterable[int]) -> ActiveWindows:
    """The ACTIVE timeline segments of these bodies' lines, in one query (per 500 bodies)."""
    ids = sorted(set(body_ids))
    windows: dict[tuple[int, str, str], list[tuple[dt.date, dt.date | None]]] = {}
    t = AuthorizationTimeline
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(t.body_id, t.category, t.jurisdiction, t.starts, t.ends).where(
                t.body_id.in_(ids[start : start + 500]), t.status == AuthorizationStatus.ACTIVE.value
            )
        )
        for body_id, category, jurisdiction, starts, ends in rows:
            windows.setdefault((body_id, category, jurisdiction), []).append((starts, ends))
    return ActiveWindows(windows)


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
    # Authorization id -> status on ``as_of``, from the timeline.
    statuses: dict[int, str] = field(default_factory=dict)
    # Body id -> its scope lines as plain rows (the columns of ``LINE_COLUMNS``): a list shows
    # a summary of them, and rows cost a tenth of ORM objects with their periods.
    lines_by_body: dict[int, list[Any]] = field(default_factory=dict)

    def lines(self, body: Body) -> list[Any]:
        return self.lines_by_body.get(body.id, [])

    def line_status(self, line: Authorization | Any) -> str | None:
        return self.statuses.get(line.id)

    def body_status(self, body: Body) -> str | None:
        return headline_status(self.statuses.get(line.id) for line in self.lines(body))

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def text_matches(text: str) -> ColumnElement[bool]:
    """Body's names, code, credit code or an identifier contain ``text`` (literally, any case).

    One LIKE on the precomputed ``Body.search_text``; lower-cased here in Python, since SQLite's
    lower() only folds ASCII.
    """
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Body.search_text.like(f"%{escaped}%", escape="\\")


def body_ids_query(filters: BodyFilter, day: dt.date) -> Select[int]:
    """The ids of bodies matching ``filters`` on ``day``, in list order (province, then code)."""
    text = filters.text.strip() if filters.text else ""
    if not filters.category and not filters.jurisdiction:
        # Whole-body question: the per-body timeline answers it from one table, no DISTINCT.
        query = select(BodyTimeline.body_id).where(
            BodyTimeline.status == (filters.status or LISTED),
            BodyTimeline.starts <= day,
            or_(BodyTimeline.ends.is_(None), BodyTimeline.ends > day),
        )
        if filters.kinds:
            query = query.where(BodyTimeline.kind.in_(filters.kinds))
        if filters.province:
            query = query.where(BodyTimeline.province == filters.province)
        if text:
            query = query.join(Body, Body.id == BodyTimeline.body_id).where(
                text_matches(text)
            )
        return query.order_by(BodyTimeline.list_key)
    query = select(Body.id)
    if filters.kinds:
        query = query.where(Body.kind.in_(filters.kinds))
    if filters.province:
        # list_key starts with the two-digit province code: a range on its index, no join.
        successor = f"{int(filters.province) + 1:02d}"
        query = query.where(Body.list_key >= filters.province, Body.list_key < successor)
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
    if text:
        query = query.where(text_matches(text))
    return query.order_by(Body.list_key)


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
    if filters.text and filters.text.strip():
        # A text search matches few bodies but must read every search text: one pass for all
        # the matching ids, rather than a count and an ordered walk that would each read them all.
        all_ids = list(session.scalars(ids_query))
        total, ids = len(all_ids), all_ids[(page - 1) * per_page : page * per_page]
    else:
        # An exact count (an index-only range scan on the timelines), then the page: the ordering
        # column is indexed, so the database walks the list in order and stops after ``per_page``.
        total = session.scalar(select(func.count()).select_from(ids_query.order_by(None).subquery())) or 0
        ids = list(session.scalars(ids_query.limit(per_page).offset((page - 1) * per_page)))
    return Page(
        items=load_bodies(session, ids, with_lines=False),
        total=total,
        page=page,
        per_page=per_page,
        as_of=day,
        filters=filters,
        statuses=line_statuses(session, ids, day),
        lines_by_body=line_rows(session, ids),
    )


LINE_COLUMNS = (
    Authorization.id,
    Authorization.body_id,
    Authorization.jurisdiction,
    Authorization.scheme,
    Authorization.category,
    Authorization.standards,
    Authorization.tests,
    Authorization.valid_from,
    Authorization.valid_until,
)


def line_rows(session: Session, body_ids: list[int]) -> dict[int, list[Any]]:
    """The scope lines of these bodies as rows, grouped by body, in display order."""
    grouped: dict[int, list[Any]] = {body_id: [] for body_id in body_ids}
    if body_ids:
        query = (
            select(*LINE_COLUMNS)
            .where(Authorization.body_id.in_(body_ids))
            .order_by(Authorization.jurisdiction, Authorization.category, Authorization.id)
        )
        for row in session.execute(query):
            grouped[row.body_id].append(row)
    return grouped


def load_bodies(session: Session, ids: list[int], *, with_lines: bool = True) -> list[Body]:
    """Load bodies with their identifiers (and lines with their periods), in the order of ``ids``.

    Lists pass ``with_lines=False`` and read lines and statuses as rows (``line_rows``,
    ``line_statuses``): the lines and periods are most of the objects a page would build.
    """
    if not ids:
        return []
    options = [selectinload(Body.identifiers)]
    if with_lines:
        options.append(selectinload(Body.authorizations).selectinload(Authorization.periods))
    rows = session.scalars(select(Body).where(Body.id.in_(ids)).options(*options)).unique()
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
