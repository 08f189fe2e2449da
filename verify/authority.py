"""Authorization facts of a body, computed the same way online (from database rows) and offline
(from a trust bundle), so both give the same verdict.

The server converts its ``registry.models.Authorization`` rows with :func:`lines_from_rows`
(duck-typed: no import of the ORM here) and the trust bundle stores the same
:class:`AuthorizationLine` records. :func:`authorization_facts` then answers: was the body
authorized for the category and jurisdiction on the certificate's issue date, and if so, has
that authorization ended since, and when?

Rules (mirroring ``registry.queries.authorization_status_on``): a line has no status before
``valid_from``; a withdrawn period wins over everything; after ``valid_until`` the line is
expired; otherwise the status period covering the day decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

ACTIVE, SUSPENDED, WITHDRAWN, EXPIRED = "active", "suspended", "withdrawn", "expired"
STORED_STATUSES = (ACTIVE, SUSPENDED, WITHDRAWN)


@dataclass(frozen=True, slots=True)
class StatusPeriod:
    """A status governing ``[effective_from, effective_until)``; ``effective_until`` None = open."""

    status: str
    effective_from: dt.date
    effective_until: dt.date | None = None


@dataclass(frozen=True, slots=True)
class AuthorizationLine:
    """One scope line: the body may certify ``category`` under ``scheme`` in ``jurisdiction``."""

    category: str
    jurisdiction: str
    scheme: str
    valid_from: dt.date
    valid_until: dt.date | None
    periods: tuple[StatusPeriod, ...]

    def status_on(self, day: dt.date) -> str | None:
        """Status on ``day``: active, suspended, withdrawn, expired, or None before it started."""
        if day < self.valid_from:
            return None
        status = None
        for period in self.periods:
            if period.effective_from <= day and (
                period.effective_until is None or day < period.effective_until
            ):
                status = period.status
        if status == WITHDRAWN:
            return status
        if self.valid_until is not None and day > self.valid_until:
            return EXPIRED
        return status

    def active_until(self, day: dt.date) -> tuple[dt.date, str] | None:
        """If the line is active on ``day``, the first later day it is not, with the status it
        then has; None if it is still active on every day the data covers."""
        if self.status_on(day) != ACTIVE:
            raise ValueError("the line is not active on that day")
        changes = sorted(
            {p.effective_from for p in self.periods if p.effective_from > day}
            | {
                p.effective_until
                for p in self.periods
                if p.effective_until is not None and p.effective_until > day
            }
            | ({self.valid_until + dt.timedelta(days=1)} if self.valid_until is not None else set())
        )
        for change in changes:
            status = self.status_on(change)
            if status != ACTIVE:
                return change, status or EXPIRED
        return None


@dataclass(frozen=True, slots=True)
class AuthorizationFacts:
    """What the verdict needs to know about the issuing body.

    ``authorized_on_issue_date``: some line for the category and jurisdiction was active on the
    certificate's issue date. ``ended_on``: if every such line has stopped being active since
    (suspended, withdrawn or expired), the earliest day on which none was active any more,
    with ``ended_status`` saying how; None while one is still active.
    """

    authorized_on_issue_date: bool
    ended_on: dt.date | None = None
    ended_status: str | None = None


_AUTHORIZED = AuthorizationFacts(authorized_on_issue_date=True)
_NOT_AUTHORIZED = AuthorizationFacts(authorized_on_issue_date=False)


def authorization_facts(
    lines: Iterable[AuthorizationLine],
    category: str,
    jurisdiction: str,
    issue_date: dt.date,
    today: dt.date,
) -> AuthorizationFacts:
    """The facts for a certificate of ``category`` in ``jurisdiction`` issued on ``issue_date``,
    as known ``today``.

    Only lines active on the issue date count. The authorization has ended if none of them is
    active today; it ended on the day the last of them stopped being active (a certificate stays
    covered while any line that covered its issue still does).
    """
    covering = []
    for line in lines:
        if (
            line.category == category
            and line.jurisdiction == jurisdiction
            and line.status_on(issue_date) == ACTIVE
        ):
            if today <= issue_date or line.status_on(today) == ACTIVE:
                return _AUTHORIZED  # the common case, answered without building anything
            covering.append(line)
    if not covering:
        return _NOT_AUTHORIZED
    ends = [line.active_until(issue_date) for line in covering]
    if any(end is None or end[0] > today for end in ends):
        # Not active today yet active through today: impossible; be conservative.
        return _AUTHORIZED
    ended_on, ended_status = max(end for end in ends if end is not None)
    return AuthorizationFacts(authorized_on_issue_date=True, ended_on=ended_on, ended_status=ended_status)


def lines_from_rows(rows: Sequence[Any]) -> tuple[AuthorizationLine, ...]:
    """Convert ``registry.models.Authorization`` rows (with their ``periods`` loaded) without
    importing the ORM: the server and the bundle builder both use this."""
    return tuple(
        AuthorizationLine(
            category=row.category,
            jurisdiction=row.jurisdiction,
            scheme=row.scheme,
            valid_from=row.valid_from,
            valid_until=row.valid_until,
            periods=tuple(
                StatusPeriod(p.status, p.effective_from, p.effective_until)
                for p in sorted(row.periods, key=lambda p: (p.effective_from, p.id))
            ),
        )
        for row in rows
    )
