"""Misuse alerts: patterns in the scan log that suggest seals or certificates are being misused.

Four rules (``registry.alert_rules``), with thresholds from configuration (:class:`AlertThresholds`):

- ``shared_certificate``: one certificate declared by several exporters that are neither its
  holder nor its manufacturer, within some days;
- ``scanned_after_withdrawal``: any scan of a withdrawn certificate's seal, or of a seal signed
  with a revoked key;
- ``scan_burst``: one seal scanned at many ports within a few hours;
- ``forgeries_naming_body``: repeated forged seals naming one body within a day.

:func:`evaluate` runs after each scan log write (``app.alerts`` hooks it on
``app.scanlog.ScanLog.after_write``), in that write's transaction, over the rows just written.
There is one alert per kind and subject at a time: while it is open or acknowledged, new
evidence updates it (occurrences, last seen, detail); once closed, new evidence opens another.
Each alert is filed under a body (``body_id``), so a body sees the alerts about its own
certificates and about forgeries in its name; admins and auditors see them all.

Audit: opening an alert (``alert:open``), acknowledging it and closing it are audit events, so
they are in the transparency log. Updating an open alert is NOT: a busy forger would write an
audit event (and a log leaf) per scan and flood both; the scan log rows are the record of each
occurrence, and the open event plus the alert's counters say what they added up to.

Services flush, never commit.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import and_, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from registry import alert_rules as rules
from registry import audit
from registry.alert_rules import Finding, chunks
from registry.db import utc
from registry.errors import Conflict, InvalidInput, NotFound, StaleEdit
from registry.models import AuditEvent
from registry.oversight_models import AT_A_PORT, AlertKind, AlertStatus, MisuseAlert, ScanEvent
from registry.scanlog import ScanRecord

ALERT_ACTOR = "system:alerts"  # the audit actor of alerts the rules open
SUBJECT_TYPE = "misuse_alert"
ACTIVE = (AlertStatus.OPEN.value, AlertStatus.ACKNOWLEDGED.value)
MAX_NOTE = 2000
# Tries of evaluate_in_savepoint: a clash needs another process to commit the same alert in
# between, so a second try nearly always goes through; a third covers a burst.
EVALUATE_ATTEMPTS = 3


@dataclass(frozen=True)
class AlertThresholds:
    """When each rule fires; every value at least 1. ``from_config`` reads ``ALERT_<NAME>``."""

    shared_certificate_exporters: int = 2  # distinct unrelated exporters ...
    shared_certificate_days: int = 30  # ... within this many days
    burst_ports: int = 3  # distinct ports scanning one seal ...
    burst_hours: int = 6  # ... within this many hours
    forged_naming_body: int = 5  # FORGED scans naming one body ...
    forged_hours: int = 24  # ... within this many hours

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"alert threshold {item.name} must be a whole number >= 1, got {value!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AlertThresholds:
        """The thresholds of a settings mapping (``ALERT_BURST_PORTS`` ...); defaults for missing ones."""
        defaults = cls()
        return cls(**{
            item.name: int(config.get(config_key(item.name), getattr(defaults, item.name)))
            for item in fields(cls)
        })  # fmt: skip


def config_key(name: str) -> str:
    """The setting that holds threshold ``name``: ``burst_ports`` -> ``ALERT_BURST_PORTS``."""
    return f"ALERT_{name.upper()}"


def evaluate(
    session: Session,
    records: Sequence[ScanRecord],
    *,
    now: dt.datetime,
    thresholds: AlertThresholds | None = None,
) -> list[MisuseAlert]:
    """Run every rule over the new ``records`` (already written); return the alerts opened or updated.

    Windows end at ``now``. Only the subjects the records touch are looked at (see
    ``registry.alert_rules``), so the cost follows the batch, not the table.
    """
    if not records:
        return []
    limits = thresholds or AlertThresholds()
    findings = [
        *rules.scanned_after_withdrawal(session, records),
        *rules.shared_certificate(
            session, records, now=now, exporters=limits.shared_certificate_exporters,
            window=dt.timedelta(days=limits.shared_certificate_days),
        ),
        *rules.scan_burst(
            session, records, now=now, ports=limits.burst_ports,
            window=dt.timedelta(hours=limits.burst_hours),
        ),
        *rules.forgeries_naming_body(
            session, records, now=now, scans=limits.forged_naming_body,
            window=dt.timedelta(hours=limits.forged_hours),
        ),
    ]  # fmt: skip
    return _apply(session, findings, now)


def evaluate_in_savepoint(
    session: Session,
    records: Sequence[ScanRecord],
    *,
    now: dt.datetime,
    thresholds: AlertThresholds | None = None,
    attempts: int = EVALUATE_ATTEMPTS,
) -> list[MisuseAlert]:
    """:func:`evaluate` in a SAVEPOINT, tried again when another writer got to an alert first.

    Several processes write the scan log (each web worker flushes its own batches), so two may
    find evidence for the same alert at once. The alerts found are locked (FOR UPDATE), which
    makes a second updater wait and then add to the first one's counts; but two that open the
    same new alert clash on the one-active-alert-per-subject index, and a concurrent admin edit
    shows up as a stale version. Either way the savepoint is undone and the rules run again,
    now seeing what the other committed. After ``attempts`` the last error is raised (the
    caller's transaction, and the scan rows in it, are untouched).
    """
    for attempt in range(1, attempts + 1):
        try:
            with session.begin_nested():
                return evaluate(session, records, now=now, thresholds=thresholds)
        except (IntegrityError, StaleDataError):
            if attempt == attempts:
                raise
    return []  # attempts < 1: nothing was tried


def _active_alerts(session: Session, findings: Sequence[Finding]) -> dict[tuple[str, str], MisuseAlert]:
    """The open or acknowledged alert of each finding's (kind, subject), one query per kind,
    locked until the transaction ends (a concurrent updater waits, then sees these counts)."""
    keys_by_kind: dict[str, set[str]] = {}
    for finding in findings:
        keys_by_kind.setdefault(finding.kind.value, set()).add(finding.subject_key)
    found: dict[tuple[str, str], MisuseAlert] = {}
    for kind, keys in keys_by_kind.items():
        for chunk in chunks(keys):
            for alert in session.scalars(
                select(MisuseAlert)
                .where(MisuseAlert.kind == kind, MisuseAlert.subject_key.in_(chunk),
                       MisuseAlert.status.in_(ACTIVE))
                .order_by(MisuseAlert.id)  # one locking order for every writer: no deadlock
                .with_for_update()
            ):  # fmt: skip
                found[(alert.kind, alert.subject_key)] = alert  # the newest, should two ever exist
    return found


def _apply(session: Session, findings: Sequence[Finding], now: dt.datetime) -> list[MisuseAlert]:
    active = _active_alerts(session, findings)
    touched: list[MisuseAlert] = []
    for finding in findings:
        alert = active.get((finding.kind.value, finding.subject_key))
        if alert is None:
            alert = _open(session, finding, now)
            active[(alert.kind, alert.subject_key)] = alert
        else:
            _update(alert, finding)
        touched.append(alert)
    session.flush()
    return touched


def _open(session: Session, finding: Finding, now: dt.datetime) -> MisuseAlert:
    alert = MisuseAlert(
        kind=finding.kind.value,
        status=AlertStatus.OPEN.value,
        subject_key=finding.subject_key[:160],
        body_id=finding.body_id,
        certificate_id=finding.certificate_id,
        first_seen=utc(finding.first_seen),
        last_seen=utc(finding.last_seen),
        occurrences=finding.in_window,
        detail=audit.plain(finding.detail) or {},
    )
    session.add(alert)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=ALERT_ACTOR,
        action="alert:open",
        subject_type=SUBJECT_TYPE,
        subject_key=str(alert.id),
        before=None,
        after=alert_snapshot(alert),
    )
    return alert


def _update(alert: MisuseAlert, finding: Finding) -> None:
    """Add a finding's new scans to an open alert (no audit event: see the module's docstring)."""
    alert.occurrences += finding.new
    alert.last_seen = max(utc(alert.last_seen), utc(finding.last_seen))
    alert.body_id = alert.body_id or finding.body_id
    alert.certificate_id = alert.certificate_id or finding.certificate_id
    # A new dict, so the JSON column is seen as changed.
    alert.detail = merge_detail(alert.detail or {}, audit.plain(finding.detail) or {}, finding.cumulative)


def merge_detail(old: dict[str, Any], new: dict[str, Any], cumulative: bool) -> dict[str, Any]:
    """``new`` over ``old``; count mappings joined: summed if ``cumulative``, else the larger count
    (a window's counts, which an earlier window may have seen higher)."""
    merged = dict(old)
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            joined = dict(before)
            for item, count in value.items():
                previous = int(joined.get(item, 0))
                joined[item] = previous + int(count) if cumulative else max(previous, int(count))
            merged[key] = rules.top(joined)
        elif value is not None or key not in old:
            merged[key] = value
    return merged


def alert_snapshot(alert: MisuseAlert) -> dict[str, Any]:
    """The alert as audit events show it."""
    return {
        "kind": alert.kind,
        "status": alert.status,
        "subject_key": alert.subject_key,
        "body_id": alert.body_id,
        "certificate_id": alert.certificate_id,
        "first_seen": utc(alert.first_seen),
        "last_seen": utc(alert.last_seen),
        "occurrences": alert.occurrences,
        "detail": alert.detail,
    }


def get_alert(session: Session, alert_id: int) -> MisuseAlert:
    alert = session.get(MisuseAlert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}")
    return alert


def _handle(
    session: Session,
    alert_id: int,
    *,
    verb: str,
    to_status: AlertStatus,
    allowed_from: tuple[str, ...],
    actor: str,
    now: dt.datetime,
    expected_version: int | None,
    note: str,
) -> MisuseAlert:
    alert = get_alert(session, alert_id)
    if expected_version is not None and alert.version != expected_version:
        raise StaleEdit("the alert was changed meanwhile (new scans or another admin); reload and try again")
    if alert.status not in allowed_from:
        raise Conflict(f"cannot {verb} an alert that is {alert.status}", field="status")
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"the note is longer than {MAX_NOTE} characters", field="note")
    before = alert_snapshot(alert)
    alert.status = to_status.value
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action=f"alert:{verb}",
        subject_type=SUBJECT_TYPE,
        subject_key=str(alert.id),
        before=before,
        after=alert_snapshot(alert),
        reason=note,
    )
    return alert


def acknowledge(
    session: Session,
    alert_id: int,
    *,
    actor: str,
    now: dt.datetime,
    expected_version: int | None,
    note: str = "",
) -> MisuseAlert:
    """Mark an open alert as seen and being looked into (the note is optional). New scans still
    update it; it stays acknowledged."""
    return _handle(
        session, alert_id, verb="acknowledge", to_status=AlertStatus.ACKNOWLEDGED,
        allowed_from=(AlertStatus.OPEN.value,), actor=actor, now=now,
        expected_version=expected_version, note=note.strip(),
    )  # fmt: skip


def close(
    session: Session, alert_id: int, *, actor: str, now: dt.datetime, expected_version: int | None, note: str
) -> MisuseAlert:
    """Close an open or acknowledged alert, saying why (required); new evidence opens a new one."""
    note = note.strip()
    if not note:
        raise InvalidInput("a note is required to close an alert (what was found or done)", field="note")
    return _handle(
        session, alert_id, verb="close", to_status=AlertStatus.CLOSED, allowed_from=ACTIVE,
        actor=actor, now=now, expected_version=expected_version, note=note,
    )  # fmt: skip


@dataclass(frozen=True)
class AlertPage:
    items: list[MisuseAlert]
    total: int
    page: int
    pages: int


def search_alerts(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = None,
    body_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> AlertPage:
    """Alerts, newest first, optionally of one kind, status or body."""
    conditions = []
    if kind:
        conditions.append(MisuseAlert.kind == kind)
    if status:
        conditions.append(MisuseAlert.status == status)
    if body_id is not None:
        conditions.append(MisuseAlert.body_id == body_id)
    where = and_(true(), *conditions)
    total = session.scalar(select(func.count()).select_from(MisuseAlert).where(where)) or 0
    items = list(
        session.scalars(
            select(MisuseAlert).where(where)
            .order_by(MisuseAlert.first_seen.desc(), MisuseAlert.id.desc())
            .limit(per_page).offset((page - 1) * per_page)
        )
    )  # fmt: skip
    return AlertPage(items, total, page, max(1, math.ceil(total / per_page)))


def related_scans(session: Session, alert: MisuseAlert, *, limit: int = 200) -> list[ScanEvent]:
    """The scan log rows behind an alert (its subject's, between first and last seen), newest first."""
    detail = alert.detail or {}
    kind = AlertKind(alert.kind)
    if kind is AlertKind.SHARED_CERTIFICATE:
        match = and_(
            ScanEvent.certificate_id == alert.certificate_id, ScanEvent.exporter_credit_code.is_not(None)
        )
    elif kind is AlertKind.SCAN_BURST:  # the scans at ports the burst counted
        match = and_(ScanEvent.token_sha256 == alert.subject_key, AT_A_PORT)
    elif kind is AlertKind.FORGERIES_NAMING_BODY:
        match = and_(ScanEvent.claimed_body == alert.subject_key, ScanEvent.verdict == rules.FORGED)
    elif detail.get("body") and detail.get("number"):
        match = and_(
            ScanEvent.claimed_body == detail["body"],
            ScanEvent.claimed_number == detail["number"],
            ScanEvent.verdict.in_(rules.WITHDRAWAL_VERDICTS),
        )
    else:
        match = and_(ScanEvent.kid == detail.get("kid"), ScanEvent.verdict.in_(rules.WITHDRAWAL_VERDICTS))
    return list(
        session.scalars(
            select(ScanEvent)
            .where(match, ScanEvent.scanned_at.between(utc(alert.first_seen), utc(alert.last_seen)))
            .order_by(ScanEvent.scanned_at.desc(), ScanEvent.id.desc())
            .limit(limit)
        )
    )


def alert_history(session: Session, alert_id: int) -> list[AuditEvent]:
    """The audit events of an alert (opened, acknowledged, closed), oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_type == SUBJECT_TYPE, AuditEvent.subject_key == str(alert_id))
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
    )
