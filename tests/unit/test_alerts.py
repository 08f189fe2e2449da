"""Misuse alert rules: each fires exactly at its threshold, within its window, for the subjects the
new rows touch; an open alert is updated rather than duplicated; opening and handling are audited."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import config
from registry import alerts
from registry.db import make_engine, make_session_factory
from registry.errors import Conflict, InvalidInput, StaleEdit
from registry.models import AuditEvent, Certificate
from registry.oversight_models import AlertKind, AlertStatus, MisuseAlert
from registry.scanlog import ScanRecord, write_scans
from tests.factories import credit_code, make_body
from tests.unit.seal_support import make_world, register

HOLDER, MAKER = credit_code(7001), credit_code(7002)  # seal_support's holder and manufacturer
TOKEN = "a" * 64


@pytest.fixture
def certificate(session: Session, now: dt.datetime) -> Certificate:
    world = make_world(session, now, keys=False)
    found = register(session, now, world, "ALERT-0001")
    session.flush()
    return found


def record(when: dt.datetime, **values: Any) -> ScanRecord:
    base: dict[str, Any] = {"scanned_at": when, "channel": "customs", "verdict": "VALID"}
    return ScanRecord(**(base | values))


def scan(session: Session, now: dt.datetime, *records: ScanRecord) -> list[MisuseAlert]:
    """Write ``records`` to the scan log, then run the rules over them, as the scan log's hook does."""
    write_scans(session, list(records))
    return alerts.evaluate(session, list(records), now=now)


def declared(certificate: Certificate, when: dt.datetime, exporter: str) -> ScanRecord:
    return record(
        when, certificate_id=certificate.id, claimed_body=certificate.body.code,
        claimed_number=certificate.number, exporter_credit_code=exporter, port="Shanghai",
    )  # fmt: skip


def forged(when: dt.datetime, body: str, number: str = "FAKE-1") -> ScanRecord:
    return record(when, channel="page", verdict="FORGED", claimed_body=body, claimed_number=number)


def at_port(when: dt.datetime, port: str, token: str = TOKEN) -> ScanRecord:
    return record(when, token_sha256=token, port=port, claimed_body="NOBODY", claimed_number="N-1")


def alerts_of(session: Session, kind: AlertKind | None = None) -> list[MisuseAlert]:
    query = select(MisuseAlert).order_by(MisuseAlert.id)
    if kind is not None:
        query = query.where(MisuseAlert.kind == kind.value)
    return list(session.scalars(query))


def audit_actions(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_type == "misuse_alert").order_by(AuditEvent.id)
        )
    )


# --- one certificate, several unrelated exporters ---------------------------------------------------


def test_two_unrelated_exporters_fire_and_one_does_not(
    session: Session, now: dt.datetime, certificate: Certificate
) -> None:
    hour = dt.timedelta(hours=1)
    # The holder, the manufacturer and one other exporter: nothing odd yet.
    first = [
        declared(certificate, now - 3 * hour, HOLDER),
        declared(certificate, now - 2 * hour, MAKER),
        declared(certificate, now - hour, credit_code(8001)),
    ]
    assert scan(session, now, *first) == []
    [alert] = scan(
        session, now, declared(certificate, now, credit_code(8002).lower())
    )  # case does not matter
    assert (alert.kind, alert.status) == (AlertKind.SHARED_CERTIFICATE.value, AlertStatus.OPEN.value)
    assert alert.subject_key == f"{certificate.body.code}/{certificate.number}"
    assert (alert.body_id, alert.certificate_id) == (certificate.body_id, certificate.id)
    assert alert.occurrences == 2  # the two unrelated declarations, not the holder's
    assert alert.detail["exporters"] == {credit_code(8001): 1, credit_code(8002): 1}
    assert alert.detail["related"] == sorted([HOLDER, MAKER])


def test_exporters_outside_the_window_do_not_count(
    session: Session, now: dt.datetime, certificate: Certificate
) -> None:
    assert scan(session, now, declared(certificate, now - dt.timedelta(days=31), credit_code(8001))) == []
    assert scan(session, now, declared(certificate, now, credit_code(8002))) == []
    assert scan(session, now, declared(certificate, now - dt.timedelta(days=29), credit_code(8003))) != []


# --- one seal at many ports ------------------------------------------------------------------------


def test_three_ports_within_six_hours_fire(session: Session, now: dt.datetime) -> None:
    hours = dt.timedelta(hours=1)
    assert scan(session, now, at_port(now - 5 * hours, "Shanghai"), at_port(now - 2 * hours, "Ningbo")) == []
    [alert] = scan(session, now, at_port(now, "Shenzhen"))
    assert (alert.kind, alert.subject_key) == (AlertKind.SCAN_BURST.value, TOKEN)
    assert alert.detail["ports"] == {"Ningbo": 1, "Shanghai": 1, "Shenzhen": 1}
    assert alert.occurrences == 3 and alert.body_id is None  # it names no registered body


def test_three_ports_over_seven_hours_do_not_fire(session: Session, now: dt.datetime) -> None:
    hours = dt.timedelta(hours=1)
    assert scan(session, now, at_port(now - 7 * hours, "Shanghai"), at_port(now - 3 * hours, "Ningbo")) == []
    assert scan(session, now, at_port(now, "Shenzhen")) == []
    # Many scans at one port are not a burst either.
    assert scan(session, now, *(at_port(now, "Shenzhen", token="b" * 64) for _ in range(5))) == []


# --- forged seals naming one body ------------------------------------------------------------------


def test_five_forgeries_within_a_day_fire_and_four_do_not(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now, code="NAMED")
    hour = dt.timedelta(hours=1)
    scan(session, now, forged(now - 25 * hour, "NAMED"))  # outside the window
    assert scan(session, now, *(forged(now - k * hour, "NAMED") for k in (20, 10, 5))) == []
    assert scan(session, now, forged(now, "NAMED", "FAKE-2")) == []  # four in the window
    [alert] = scan(session, now, forged(now, "NAMED"))
    assert (alert.kind, alert.subject_key, alert.body_id) == (
        AlertKind.FORGERIES_NAMING_BODY.value,
        "NAMED",
        body.id,
    )
    assert alert.occurrences == 5 and alert.detail["numbers"] == {"FAKE-1": 4, "FAKE-2": 1}
    assert alert.detail["scans_in_window"] == 5


def test_forgeries_naming_an_unknown_body_are_filed_under_no_body(session: Session, now: dt.datetime) -> None:
    [alert] = scan(session, now, *(forged(now, "NO-SUCH-BODY") for _ in range(5)))
    assert alert.body_id is None and alert.subject_key == "NO-SUCH-BODY"


# --- withdrawn certificate, revoked key ------------------------------------------------------------


def test_a_withdrawn_or_revoked_seal_fires_at_once(
    session: Session, now: dt.datetime, certificate: Certificate
) -> None:
    names = {"claimed_body": certificate.body.code, "claimed_number": certificate.number}
    [alert] = scan(
        session,
        now,
        record(now, channel="page", verdict="CERTIFICATE_WITHDRAWN", certificate_id=certificate.id, **names),
    )
    assert (alert.kind, alert.occurrences) == (AlertKind.SCANNED_AFTER_WITHDRAWAL.value, 1)
    assert (alert.body_id, alert.certificate_id) == (certificate.body_id, certificate.id)
    # A revoked key's seal is not believed, so it has no certificate_id; it is filed by what it names.
    [same] = scan(session, now, record(now, verdict="KEY_REVOKED", kid="k1", port="Xiamen", **names))
    assert same.id == alert.id and same.occurrences == 2
    assert same.detail["verdicts"] == {"CERTIFICATE_WITHDRAWN": 1, "KEY_REVOKED": 1}
    assert same.detail["ports"] == {"Xiamen": 1}
    assert [s.verdict for s in alerts.related_scans(session, same)] == [
        "KEY_REVOKED",
        "CERTIFICATE_WITHDRAWN",
    ]


def test_other_verdicts_raise_nothing(session: Session, now: dt.datetime, certificate: Certificate) -> None:
    verdicts = ("VALID", "CERTIFICATE_SUSPENDED", "CERTIFICATE_EXPIRED", "NOT_REGISTERED", "FORGED")
    assert (
        scan(session, now, *(record(now, verdict=v, certificate_id=certificate.id) for v in verdicts)) == []
    )


# --- one alert per subject at a time; audit ---------------------------------------------------------


def test_new_evidence_updates_the_open_alert_without_an_audit_event(
    session: Session, now: dt.datetime
) -> None:
    [alert] = scan(
        session, now - dt.timedelta(hours=1), *(forged(now - dt.timedelta(hours=1), "X") for _ in range(5))
    )
    version = alert.version
    assert audit_actions(session) == ["alert:open"]
    [again] = scan(session, now, forged(now, "X"), forged(now, "X", "FAKE-9"))
    assert again.id == alert.id and again.occurrences == 7 and again.version > version
    assert alerts.alert_history(session, alert.id)[0].actor == alerts.ALERT_ACTOR
    assert again.last_seen.replace(tzinfo=dt.UTC) == now
    assert again.detail["numbers"] == {"FAKE-1": 6, "FAKE-9": 1}
    assert len(alerts_of(session)) == 1 and audit_actions(session) == ["alert:open"]
    # Acknowledged is still active: it is updated, and stays acknowledged.
    alerts.acknowledge(session, alert.id, actor="admin", now=now, expected_version=again.version)
    [third] = scan(session, now, forged(now, "X"))
    assert third.id == alert.id and third.status == AlertStatus.ACKNOWLEDGED.value


def test_a_closed_alert_lets_a_new_one_open(
    session: Session, now: dt.datetime, certificate: Certificate
) -> None:
    withdrawn = record(now, verdict="CERTIFICATE_WITHDRAWN", certificate_id=certificate.id,
                       claimed_body=certificate.body.code, claimed_number=certificate.number)  # fmt: skip
    [first] = scan(session, now, withdrawn)
    alerts.close(
        session, first.id, actor="admin", now=now, expected_version=first.version, note="label recalled"
    )
    [second] = scan(session, now, withdrawn)
    assert second.id != first.id and second.status == AlertStatus.OPEN.value
    assert [a.status for a in alerts_of(session)] == ["closed", "open"]
    assert audit_actions(session) == ["alert:open", "alert:close", "alert:open"]


def test_acknowledge_and_close_are_audited_and_checked(session: Session, now: dt.datetime) -> None:
    [alert] = scan(session, now, *(forged(now, "Y") for _ in range(5)))
    with pytest.raises(StaleEdit):
        alerts.acknowledge(session, alert.id, actor="admin", now=now, expected_version=alert.version - 1)
    with pytest.raises(InvalidInput):
        alerts.close(session, alert.id, actor="admin", now=now, expected_version=alert.version, note="  ")
    alerts.acknowledge(
        session, alert.id, actor="admin", now=now, expected_version=alert.version, note="on it"
    )
    with pytest.raises(Conflict):
        alerts.acknowledge(session, alert.id, actor="admin", now=now, expected_version=alert.version)
    alerts.close(
        session, alert.id, actor="admin", now=now, expected_version=alert.version, note="reported to SAMR"
    )
    with pytest.raises(Conflict):
        alerts.close(session, alert.id, actor="admin", now=now, expected_version=alert.version, note="again")
    history = alerts.alert_history(session, alert.id)
    assert [(e.action, e.actor, e.reason) for e in history] == [
        ("alert:open", alerts.ALERT_ACTOR, ""),
        ("alert:acknowledge", "admin", "on it"),
        ("alert:close", "admin", "reported to SAMR"),
    ]
    assert history[0].subject_key == str(alert.id) and history[0].after["kind"] == "forgeries_naming_body"
    assert (history[2].before["status"], history[2].after["status"]) == ("acknowledged", "closed")


# --- thresholds from configuration ------------------------------------------------------------------


def test_thresholds_come_from_configuration(
    monkeypatch: pytest.MonkeyPatch, session: Session, now: dt.datetime
) -> None:
    monkeypatch.setenv("ALERT_FORGED_NAMING_BODY", "2")
    monkeypatch.setenv("ALERT_BURST_HOURS", "12")
    limits = alerts.AlertThresholds.from_config(config.from_environment())
    assert limits == replace(alerts.AlertThresholds(), forged_naming_body=2, burst_hours=12)
    write_scans(session, [forged(now, "Z"), forged(now, "Z")])
    assert alerts.evaluate(session, [forged(now, "Z")], now=now) == []  # 2 of the default 5
    assert alerts.evaluate(session, [forged(now, "Z")], now=now, thresholds=limits) != []  # 2 of 2
    assert alerts.AlertThresholds.from_config({}) == alerts.AlertThresholds()
    with pytest.raises(ValueError, match="burst_ports"):
        alerts.AlertThresholds.from_config({"ALERT_BURST_PORTS": 0})


# --- set-based: only the touched subjects, a bounded number of statements ---------------------------


@pytest.fixture
def statements(session: Session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.get_bind()

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", remember)
    yield seen
    event.remove(engine, "before_cursor_execute", remember)


def test_only_what_the_new_rows_touch_is_read(
    session: Session, now: dt.datetime, certificate: Certificate, statements: list[str]
) -> None:
    write_scans(session, [forged(now, "QUIET") for _ in range(5)])  # over the threshold, but not new
    batch = [
        *(forged(now, f"B-{k}") for k in range(40)),
        *(at_port(now, f"P-{k}", token=f"{k:064x}") for k in range(40)),
        *(declared(certificate, now, credit_code(9000 + k)) for k in range(40)),
    ]
    write_scans(session, batch)
    statements.clear()
    opened = alerts.evaluate(session, batch, now=now)
    assert [a.kind for a in opened] == ["shared_certificate"]  # QUIET's old rows are not looked at
    on_scans = [s for s in statements if "scan_event" in s]
    assert len(on_scans) == 3  # one GROUP BY per windowed rule, whatever the batch holds
    for statement in on_scans:
        assert "GROUP BY" in statement and " IN " in statement and "BETWEEN" in statement, statement
    assert len(statements) <= 12  # lookups of alerts, certificates and bodies; the opened alert and its audit


def test_the_rules_read_the_scan_log_through_its_partial_indexes(
    session: Session, now: dt.datetime, certificate: Certificate
) -> None:
    """Only declarations and scans at a port are indexed by certificate and by token (every
    verification writes a row; those indexes cost most of the write): the rules that read them
    must say so in the way the database matches to the index."""
    executed: list[tuple[str, Any]] = []
    engine = session.get_bind()

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if "FROM scan_event" in statement and "GROUP BY" in statement:
            executed.append((statement, parameters))

    batch = [at_port(now, "P-1"), declared(certificate, now, credit_code(9001))]
    write_scans(session, batch)
    event.listen(engine, "before_cursor_execute", remember)
    try:
        alerts.evaluate(session, batch, now=now)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"
    if not sqlite:  # a few rows: PostgreSQL would rather read the table, unless told not to
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    plans = {}
    explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    for statement, parameters in executed:
        rows = connection.exec_driver_sql(explain + statement, parameters)
        plans[statement] = " ".join(str(value) for row in rows for value in row)
    definitions = dict(
        connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE tbl_name = 'scan_event' AND type = 'index'"
            if sqlite
            else "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'scan_event'"
        ).all()
    )
    assert "exporter_credit_code IS NOT NULL" in definitions["ix_scan_event_certificate_time"]
    assert "port" in definitions["ix_scan_event_token_time"].split("WHERE")[1]
    by_token = [plan for statement, plan in plans.items() if "token_sha256 IN" in statement]
    by_certificate = [plan for statement, plan in plans.items() if "certificate_id IN" in statement]
    assert len(by_token) == 1 and "ix_scan_event_token_time" in by_token[0], plans
    assert len(by_certificate) == 1 and "ix_scan_event_certificate_time" in by_certificate[0], plans
    # And the evidence of a burst is its scans at ports.
    unported = record(now, token_sha256=TOKEN, claimed_body="NOBODY", claimed_number="N-1")
    bursts = scan(session, now, unported, at_port(now, "P-2"), at_port(now, "P-3"))
    assert [a.kind for a in bursts] == ["scan_burst"]
    assert {s.port for s in alerts.related_scans(session, bursts[0])} == {"P-1", "P-2", "P-3"}


def test_search_and_related_scans(session: Session, now: dt.datetime, certificate: Certificate) -> None:
    [shared] = scan(
        session,
        now,
        declared(certificate, now, credit_code(8001)),
        declared(certificate, now, credit_code(8002)),
    )
    scan(session, now, *(forged(now, "W") for _ in range(5)))
    assert alerts.search_alerts(session).total == 2
    page = alerts.search_alerts(session, body_id=certificate.body_id)
    assert [a.id for a in page.items] == [shared.id] and page.pages == 1
    assert alerts.search_alerts(session, kind="scan_burst").total == 0
    assert alerts.search_alerts(session, status="open", kind="forgeries_naming_body").total == 1
    assert {s.exporter_credit_code for s in alerts.related_scans(session, shared)} == {
        credit_code(8001),
        credit_code(8002),
    }
    assert session.scalar(select(func.count()).select_from(MisuseAlert)) == 2


def test_the_database_keeps_one_alert_not_closed_per_subject(session: Session, now: dt.datetime) -> None:
    """Two processes raising the same alert at once: the second insert is refused."""

    def alert(status: str = AlertStatus.OPEN.value) -> MisuseAlert:
        return MisuseAlert(kind=AlertKind.SCAN_BURST.value, status=status, subject_key="token:abc",
                           first_seen=now, last_seen=now, occurrences=1, detail={})

    first = alert()
    session.add(first)
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(alert(AlertStatus.ACKNOWLEDGED.value))
        session.flush()
    first.status = AlertStatus.CLOSED.value
    session.flush()
    session.add(alert())  # once closed, the next one may open
    session.flush()


# --- several scan log writers at once ---------------------------------------------------------------


def test_workers_flushing_at_once_add_up_on_one_alert(committed_url: str, now: dt.datetime) -> None:
    """Two web workers write scans of one withdrawn seal at the same moment: the second waits for
    the first (its alert row, its new index entry, or on SQLite the write lock) and adds to it;
    no evidence is lost to a clash, whether the alert is being opened or updated."""
    engine = make_engine(committed_url, pool_size=4)
    factory = make_session_factory(engine)

    def scans(n: int) -> list[ScanRecord]:
        return [record(now, verdict="CERTIFICATE_WITHDRAWN", claimed_body="CNCA-X", claimed_number="N-1")
                for _ in range(n)]  # fmt: skip

    def flush_batch(session: Session, rows: list[ScanRecord]) -> None:
        write_scans(session, rows)
        alerts.evaluate_in_savepoint(session, rows, now=now)

    try:
        for _opening_then_updating in range(2):
            first = factory()
            flush_batch(first, scans(2))  # holds its alert (new or locked) until it commits
            errors: list[BaseException] = []

            def second(errors: list[BaseException] = errors) -> None:
                try:
                    with factory() as session:
                        flush_batch(session, scans(3))
                        session.commit()
                except BaseException as error:  # reported by the main thread
                    errors.append(error)

            thread = threading.Thread(target=second)
            thread.start()
            thread.join(0.5)  # long enough to read what the first has not committed yet
            first.commit()
            first.close()
            thread.join()
            assert not errors, errors
        with factory() as session:
            [alert] = alerts_of(session, AlertKind.SCANNED_AFTER_WITHDRAWAL)
            assert alert.occurrences == 10
            assert alert.detail["verdicts"] == {"CERTIFICATE_WITHDRAWN": 10}
            assert audit_actions(session) == ["alert:open"]
    finally:
        engine.dispose()
