"""Weekly statistics: per province and category, what happened in one reporting week.

A reporting week ends on Thursday at 17:00 China Standard Time (the weekly cut-off of the
oversight report) and starts at the previous Thursday 17:00; it is named by the date of the
Thursday it ends on. Windows are half-open, ``[start, end)``: an event at 17:00:00 sharp
belongs to the next week.

Every figure is one set-based query (GROUP BY in the database), so the cost follows the number
of events in the week, not the size of the tables, wherever an index allows. The indexes each
query relies on (timings: PostgreSQL, 100k certificates, 200k status changes, 1M scans, a week
with 20k scans):

- listed bodies and labs: ``authorization_timeline`` through ``ix_authorization_timeline_as_of``
  (status, starts, ends, body_id), then ``body`` and ``organization`` by primary key; the
  distinct counts read ``body_timeline`` alone through ``ix_body_timeline_as_of`` (~4 ms each);
- certificates registered: ``certificate.created_at`` has NO index, so this is a full scan of
  the certificates (~40 ms);
- certificates suspended / withdrawn: ``certificate_status_change.recorded_at`` has NO index,
  so a full scan of the changes (~80 ms);
- verifications: ``ix_scan_event_scanned_at`` for the window; grouped by certificate and verdict
  first, so only the distinct certificates scanned are joined (~150 ms, mostly that join);
- misuse alerts: ``ix_misuse_alert_first_seen`` (~5 ms);
- complaints: ``ix_complaint_received_at``; ``complaint.closed_at`` has NO index (the complaint
  table is small).

A body or lab is "on the list" for a category when it has a line of that category whose status
is active (in force: not suspended, withdrawn or expired) on the cut-off's calendar day; line
statuses change by day, so the Thursday's status applies.

Where a figure belongs:

- province: the organization of the body concerned (the issuing body for certificates and
  scans); "" when it has none (a foreign body) or when there is no body (a forged seal);
- category: the authorization line's or the certificate's; "" when there is no certificate;
- misuse alerts: the body an alert names, else its certificate's issuer; the certificate's
  category ("" for an alert about a body alone);
- suspended / withdrawn: certificates with such a change recorded in the week, each counted
  once per status however often it changed;
- complaints are not attributed (a complaint may name several bodies, or none, until triage):
  they are counted in the row with province "" and category "", so that every column of the
  totals row is the sum of the rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, distinct, func, or_, select
from sqlalchemy.orm import Session

from registry.bodies import REGISTRY_TIMEZONE
from registry.models import (
    AuthorizationStatus,
    AuthorizationTimeline,
    Body,
    BodyKind,
    BodyTimeline,
    Certificate,
    CertificateStatus,
    CertificateStatusChange,
    Complaint,
    MisuseAlert,
    Organization,
    ScanEvent,
)
from registry.reference import reference_snapshot
from verify.verdict import VerdictCode

CUTOFF = dt.time(17, 0)
THURSDAY = 3  # dt.date.weekday()
ONE_WEEK = dt.timedelta(days=7)
# "Bodies" are the kinds that certify or inspect; labs are counted apart.
BODY_KINDS = frozenset({BodyKind.CERTIFICATION_BODY.value, BodyKind.INSPECTION_BODY.value})
LAB_KINDS = frozenset({BodyKind.TESTING_LAB.value})
IN_FORCE = AuthorizationStatus.ACTIVE.value
UNATTRIBUTED = ("", "")


def week_end_of(moment: dt.date | dt.datetime) -> dt.date:
    """The Thursday that ends the reporting week containing ``moment``.

    A date stands for the week it falls in, a Thursday for the week it ends. A datetime must be
    timezone-aware: a Thursday at or after 17:00 (Shanghai) belongs to the next week.
    """
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            raise ValueError("a naive datetime is ambiguous: give it a time zone")
        local = moment.astimezone(REGISTRY_TIMEZONE)
        days_ahead = (THURSDAY - local.weekday()) % 7
        if days_ahead == 0 and local.time() >= CUTOFF:
            days_ahead = 7
        return local.date() + dt.timedelta(days=days_ahead)
    return moment + dt.timedelta(days=(THURSDAY - moment.weekday()) % 7)


def week_window(moment: dt.date | dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """``(start, end)`` of the reporting week containing ``moment``, aware, in Shanghai time."""
    end = dt.datetime.combine(week_end_of(moment), CUTOFF, tzinfo=REGISTRY_TIMEZONE)
    return end - ONE_WEEK, end


def latest_completed_week(now: dt.datetime) -> dt.date:
    """The end date of the last week whose cut-off is at or before ``now``."""
    return week_end_of(now) - ONE_WEEK


@dataclass
class StatsRow:
    """The figures of one (province, category); every count defaults to zero."""

    province: str
    category: str
    bodies_listed: int = 0
    labs_listed: int = 0
    certificates_registered: int = 0
    certificates_suspended: int = 0
    certificates_withdrawn: int = 0
    # Verdict code -> number of verifications with that verdict.
    verifications: dict[str, int] = field(default_factory=dict)
    misuse_alerts: int = 0
    complaints_received: int = 0
    complaints_closed: int = 0

    @property
    def verifications_total(self) -> int:
        return sum(self.verifications.values())


# The plain integer columns of a row, in report order; verifications (a dict) come between
# the two groups.
CERTIFICATE_COLUMNS = (
    "bodies_listed",
    "labs_listed",
    "certificates_registered",
    "certificates_suspended",
    "certificates_withdrawn",
)
OVERSIGHT_COLUMNS = ("misuse_alerts", "complaints_received", "complaints_closed")
COUNT_COLUMNS = CERTIFICATE_COLUMNS + OVERSIGHT_COLUMNS


@dataclass
class WeeklyReport:
    """The statistics of the week ending ``week_end`` at 17:00 Shanghai time."""

    week_end: dt.date
    start: dt.datetime
    end: dt.datetime
    # Verdict codes in column order: the verifier's, then any other code the log holds.
    verdicts: tuple[str, ...]
    rows: list[StatsRow]
    totals: StatsRow
    # Bodies and labs with a line in force at the cut-off, each counted once (the totals row
    # counts a body once per category it is listed for).
    distinct_bodies_listed: int
    distinct_labs_listed: int
    # Category code -> (Chinese name, English name), for the categories in ``rows``.
    category_names: dict[str, tuple[str, str]]


def _utc(moment: dt.datetime) -> dt.datetime:
    # SQLite stores the wall time of the datetime it is given (UTC everywhere in this project)
    # and drops the offset, so bounds must be compared in UTC too.
    return moment.astimezone(dt.UTC)


class _Rows:
    """Rows keyed by (province, category), created on first use."""

    def __init__(self) -> None:
        self.by_key: dict[tuple[str, str], StatsRow] = {}

    def row(self, province: str | None, category: str | None) -> StatsRow:
        key = (province or "", category or "")
        if key not in self.by_key:
            self.by_key[key] = StatsRow(*key)
        return self.by_key[key]


def _listed(session: Session, rows: _Rows, day: dt.date) -> None:
    query = (
        select(Organization.province, AuthorizationTimeline.category, Body.kind,
               func.count(distinct(AuthorizationTimeline.body_id)))
        .select_from(AuthorizationTimeline)
        .join(Body, Body.id == AuthorizationTimeline.body_id)
        .join(Organization, Organization.id == Body.organization_id)
        .where(
            AuthorizationTimeline.status == IN_FORCE,
            AuthorizationTimeline.starts <= day,
            or_(AuthorizationTimeline.ends.is_(None), AuthorizationTimeline.ends > day),
        )
        .group_by(Organization.province, AuthorizationTimeline.category, Body.kind)
    )
    for province, category, kind, count in session.execute(query):
        row = rows.row(province, category)
        if kind in LAB_KINDS:
            row.labs_listed += count
        elif kind in BODY_KINDS:
            row.bodies_listed += count


def _distinct_listed(session: Session, day: dt.date) -> dict[str, int]:
    query = (
        select(BodyTimeline.kind, func.count().label("bodies"))
        .where(
            BodyTimeline.status == IN_FORCE,
            BodyTimeline.starts <= day,
            or_(BodyTimeline.ends.is_(None), BodyTimeline.ends > day),
        )
        .group_by(BodyTimeline.kind)
    )
    return {row.kind: row.bodies for row in session.execute(query)}


def _registered(session: Session, rows: _Rows, start: dt.datetime, end: dt.datetime) -> None:
    query = (
        select(Organization.province, Certificate.category, func.count())
        .select_from(Certificate)
        .join(Body, Body.id == Certificate.body_id)
        .join(Organization, Organization.id == Body.organization_id)
        .where(Certificate.created_at >= start, Certificate.created_at < end)
        .group_by(Organization.province, Certificate.category)
    )
    for province, category, count in session.execute(query):
        rows.row(province, category).certificates_registered += count


def _status_changes(session: Session, rows: _Rows, start: dt.datetime, end: dt.datetime) -> None:
    # Certificates, not changes: one suspended twice in the week counts once.
    wanted = (CertificateStatus.SUSPENDED.value, CertificateStatus.WITHDRAWN.value)
    query = (
        select(Organization.province, Certificate.category, CertificateStatusChange.status,
               func.count(distinct(CertificateStatusChange.certificate_id)))
        .select_from(CertificateStatusChange)
        .join(Certificate, Certificate.id == CertificateStatusChange.certificate_id)
        .join(Body, Body.id == Certificate.body_id)
        .join(Organization, Organization.id == Body.organization_id)
        .where(
            CertificateStatusChange.recorded_at >= start,
            CertificateStatusChange.recorded_at < end,
            CertificateStatusChange.status.in_(wanted),
        )
        .group_by(Organization.province, Certificate.category, CertificateStatusChange.status)
    )
    for province, category, status, count in session.execute(query):
        row = rows.row(province, category)
        if status == CertificateStatus.SUSPENDED.value:
            row.certificates_suspended += count
        else:
            row.certificates_withdrawn += count


def _verifications(session: Session, rows: _Rows, start: dt.datetime, end: dt.datetime) -> set[str]:
    # Grouping the scans by certificate first keeps the joins to the certificates scanned.
    per_certificate = (
        select(ScanEvent.certificate_id, ScanEvent.verdict, func.count().label("scans"))
        .where(ScanEvent.scanned_at >= start, ScanEvent.scanned_at < end)
        .group_by(ScanEvent.certificate_id, ScanEvent.verdict)
        .subquery()
    )
    query = (
        select(Organization.province, Certificate.category, per_certificate.c.verdict,
               func.sum(per_certificate.c.scans))
        .select_from(per_certificate)
        .outerjoin(Certificate, Certificate.id == per_certificate.c.certificate_id)
        .outerjoin(Body, Body.id == Certificate.body_id)
        .outerjoin(Organization, Organization.id == Body.organization_id)
        .group_by(Organization.province, Certificate.category, per_certificate.c.verdict)
    )
    seen: set[str] = set()
    for province, category, verdict, count in session.execute(query):
        verifications = rows.row(province, category).verifications
        verifications[verdict] = verifications.get(verdict, 0) + int(count)
        seen.add(verdict)
    return seen


def _alerts(session: Session, rows: _Rows, start: dt.datetime, end: dt.datetime) -> None:
    # An alert names a body, a certificate, or both; the body is the named one, else the issuer.
    query = (
        select(Organization.province, Certificate.category, func.count())
        .select_from(MisuseAlert)
        .outerjoin(Certificate, Certificate.id == MisuseAlert.certificate_id)
        .outerjoin(Body, Body.id == func.coalesce(MisuseAlert.body_id, Certificate.body_id))
        .outerjoin(Organization, Organization.id == Body.organization_id)
        .where(MisuseAlert.first_seen >= start, MisuseAlert.first_seen < end)
        .group_by(Organization.province, Certificate.category)
    )
    for province, category, count in session.execute(query):
        rows.row(province, category).misuse_alerts += count


def _complaints(session: Session, rows: _Rows, start: dt.datetime, end: dt.datetime) -> None:
    received = session.scalar(
        select(func.count()).where(Complaint.received_at >= start, Complaint.received_at < end)
    ) or 0
    closed = session.scalar(
        select(func.count()).where(
            and_(Complaint.closed_at.is_not(None), Complaint.closed_at >= start, Complaint.closed_at < end)
        )
    ) or 0
    if received or closed:
        row = rows.row(*UNATTRIBUTED)
        row.complaints_received += received
        row.complaints_closed += closed


def _verdict_order(seen: Iterable[str]) -> tuple[str, ...]:
    known = tuple(code.value for code in VerdictCode)
    return known + tuple(sorted(set(seen) - set(known)))


def sum_rows(rows: Iterable[StatsRow], *, province: str = "", category: str = "") -> StatsRow:
    """A row whose every figure is the sum of ``rows``'."""
    total = StatsRow(province, category)
    for row in rows:
        for name in COUNT_COLUMNS:
            setattr(total, name, getattr(total, name) + getattr(row, name))
        for verdict, count in row.verifications.items():
            total.verifications[verdict] = total.verifications.get(verdict, 0) + count
    return total


def weekly_statistics(session: Session, week_end: dt.date) -> WeeklyReport:
    """The statistics of the reporting week ending on ``week_end`` (a Thursday; any other date
    stands for the week containing it). Rows with nothing to count are left out."""
    start, end = week_window(week_end)
    utc_start, utc_end = _utc(start), _utc(end)
    cutoff_day = end.date()  # line statuses change by calendar day: the Thursday's status applies
    rows = _Rows()
    _listed(session, rows, cutoff_day)
    _registered(session, rows, utc_start, utc_end)
    _status_changes(session, rows, utc_start, utc_end)
    seen = _verifications(session, rows, utc_start, utc_end)
    _alerts(session, rows, utc_start, utc_end)
    _complaints(session, rows, utc_start, utc_end)
    snapshot = reference_snapshot(session)
    category_order = {item.code: index for index, item in enumerate(snapshot.categories)}
    names = {item.code: (item.name_zh, item.name_en) for item in snapshot.categories}
    ordered = sorted(
        rows.by_key.values(),
        # Provinces by code with "" (no province) last; categories in display order, "" last.
        key=lambda r: (r.province == "", r.province, r.category == "",
                       category_order.get(r.category, len(category_order)), r.category),
    )
    distinct_listed = _distinct_listed(session, cutoff_day)
    return WeeklyReport(
        week_end=end.date(),
        start=start,
        end=end,
        verdicts=_verdict_order(seen),
        rows=ordered,
        totals=sum_rows(ordered),
        distinct_bodies_listed=sum(distinct_listed.get(kind, 0) for kind in BODY_KINDS),
        distinct_labs_listed=sum(distinct_listed.get(kind, 0) for kind in LAB_KINDS),
        category_names={row.category: names[row.category] for row in ordered if row.category in names},
    )
