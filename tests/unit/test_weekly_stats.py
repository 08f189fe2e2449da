"""Weekly statistics: the Thursday 17:00 (Shanghai) cut-off, every column on both sides of it,
totals, and the CSV / XLSX exports read back."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from registry.authorizations import change_status
from registry.certificates import (
    CertificateInput,
    PartyInput,
    change_certificate_status,
    register_certificate,
)
from registry.models import Body, Certificate, Complaint, MisuseAlert, ScanEvent
from registry.weekly_export import columns, table, to_csv, to_xlsx, verdict_table
from registry.weekly_stats import (
    COUNT_COLUMNS,
    StatsRow,
    WeeklyReport,
    latest_completed_week,
    week_end_of,
    week_window,
    weekly_statistics,
)
from tests.factories import credit_code, grant, make_body
from tests.unit.seal_support import World, make_world, register

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
WEEK = dt.date(2026, 6, 11)  # a Thursday: the week 2026-06-04 17:00 .. 2026-06-11 17:00 (+08)
PREVIOUS, NEXT = dt.date(2026, 6, 4), dt.date(2026, 6, 18)
CUTOFF = dt.datetime(2026, 6, 11, 9, 0, tzinfo=dt.UTC)  # 17:00 in Shanghai
START = dt.datetime(2026, 6, 4, 9, 0, tzinfo=dt.UTC)
SECOND = dt.timedelta(seconds=1)


def shanghai(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


# --- the week window ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "week_end"),
    [
        (shanghai(2026, 6, 11, 16, 59, 59), WEEK),
        (shanghai(2026, 6, 11, 17, 0, 0), NEXT),
        (shanghai(2026, 6, 11, 23, 0), NEXT),  # a Thursday evening belongs to the next week
        (shanghai(2026, 6, 4, 17, 0, 0), WEEK),  # the first instant of the week
        (CUTOFF - SECOND, WEEK),  # the same instants given in UTC
        (CUTOFF, NEXT),
        (dt.datetime(2026, 6, 11, 1, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=-7))), WEEK),
        (dt.datetime(2026, 6, 11, 2, 0, tzinfo=dt.timezone(dt.timedelta(hours=-7))), NEXT),  # 17:00 +08
        (dt.date(2026, 6, 11), WEEK),  # a Thursday names the week it ends
        (dt.date(2026, 6, 10), WEEK),
        (dt.date(2026, 6, 5), WEEK),
        (dt.date(2026, 6, 12), NEXT),
    ],
)
def test_the_week_ends_on_thursday_at_17_shanghai(moment: dt.date, week_end: dt.date) -> None:
    start, end = week_window(moment)
    assert end == shanghai(week_end.year, week_end.month, week_end.day, 17, 0)
    assert start == end - dt.timedelta(days=7)
    assert start.utcoffset() == end.utcoffset() == dt.timedelta(hours=8)
    assert week_end_of(moment) == week_end
    assert start <= moment < end if isinstance(moment, dt.datetime) else True


def test_the_week_crosses_the_year_boundary() -> None:
    assert week_window(shanghai(2025, 12, 31, 23, 30)) == (
        shanghai(2025, 12, 25, 17, 0), shanghai(2026, 1, 1, 17, 0)
    )
    assert week_end_of(dt.date(2025, 12, 26)) == dt.date(2026, 1, 1)
    assert week_end_of(shanghai(2026, 1, 1, 17, 0)) == dt.date(2026, 1, 8)
    assert week_end_of(dt.date(2024, 12, 27)) == dt.date(2025, 1, 2)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        week_window(dt.datetime(2026, 6, 11, 17, 0))  # naive: the point of the test


def test_the_latest_completed_week() -> None:
    assert latest_completed_week(CUTOFF) == WEEK
    assert latest_completed_week(CUTOFF - SECOND) == PREVIOUS
    assert latest_completed_week(dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)) == WEEK


# --- the figures ------------------------------------------------------------------------------


@dataclass
class Scene:
    world: World
    beijing_bodies: list[Body]
    certificates: dict[str, Certificate]


def _certificate_of(session: Session, body: Body, number: str, category: str, at: dt.datetime) -> Certificate:
    data = CertificateInput(
        number=number,
        holder=PartyInput(name_zh="上海某防护用品有限公司", credit_code=credit_code(8101)),
        manufacturer=PartyInput(name_zh="上海某制造有限公司", credit_code=credit_code(8102)),
        category=category,
        jurisdiction="CN",
        scheme="CCC",
        product_name="Protective coverall",
        issue_date=dt.date(2026, 3, 1),
        expiry_date=dt.date(2029, 3, 1),
    )
    return register_certificate(session, body.code, data, actor="op", now=at)


def _scan(session: Session, at: dt.datetime, verdict: str, certificate: Certificate | None = None) -> None:
    session.add(ScanEvent(scanned_at=at, channel="page", verdict=verdict,
                          certificate_id=certificate.id if certificate else None))


def _alert(session: Session, at: dt.datetime, key: str, *, body: Body | None = None,
           certificate: Certificate | None = None) -> None:
    session.add(MisuseAlert(kind="scan_burst", subject_key=key, first_seen=at, last_seen=at,
                            body_id=body.id if body else None,
                            certificate_id=certificate.id if certificate else None, detail={}))


def _complaint(session: Session, reference: str, received: dt.datetime,
               closed: dt.datetime | None = None) -> None:
    session.add(Complaint(reference=reference, received_at=received,
                          status="closed" if closed else "received", subject_kind="certificate",
                          subject_text="a certificate", description="looks fake", closed_at=closed))


@pytest.fixture
def scene(session: Session, now: dt.datetime) -> Scene:
    """Bodies, certificates and events placed a second either side of the cut-offs of WEEK."""
    world = make_world(session, now, keys=False)  # a body and a lab in Beijing (11), masks
    grant(session, now, world.body, category="protective_clothing")
    # Beijing, masks: listed only from the day after the cut-off; suspended from that day;
    # withdrawn on the cut-off day itself.
    later = make_body(session, now)
    grant(session, now, later, valid_from=dt.date(2026, 6, 12))
    suspended_later = make_body(session, now)
    line = grant(session, now, suspended_later)
    change_status(session, line.id, "suspended", reason="audit", actor="t", now=now,
                  effective=dt.date(2026, 6, 12))
    withdrawn = make_body(session, now)
    line = grant(session, now, withdrawn)
    change_status(session, line.id, "withdrawn", reason="fraud", actor="t", now=now,
                  effective=dt.date(2026, 6, 11))
    # Shanghai (31), protective clothing: a certification body and an inspection body.
    shanghai_body = make_body(session, now, province="31")
    grant(session, now, shanghai_body, category="protective_clothing")
    grant(session, now, make_body(session, now, province="31", kind="inspection_body"),
          category="protective_clothing")

    certificates = {
        "before": register(session, START - SECOND, world, "C-BEFORE"),
        "first": register(session, START, world, "C-FIRST"),
        "last": register(session, CUTOFF - SECOND, world, "C-LAST"),
        "after": register(session, CUTOFF, world, "C-AFTER"),
        "shanghai": _certificate_of(session, shanghai_body, "S-1", "protective_clothing", CUTOFF - SECOND),
    }
    code = world.body.code
    change_certificate_status(session, code, "C-BEFORE", "suspended", reason="r", actor="t",
                              now=START - SECOND)
    change_certificate_status(session, code, "C-BEFORE", "withdrawn", reason="r", actor="t", now=START)
    for at in (START + dt.timedelta(hours=1), START + dt.timedelta(hours=3)):  # suspended twice
        change_certificate_status(session, code, "C-FIRST", "suspended", reason="r", actor="t", now=at)
        change_certificate_status(session, code, "C-FIRST", "valid", reason="r", actor="t",
                                  now=at + dt.timedelta(hours=1))
    change_certificate_status(session, code, "C-LAST", "suspended", reason="r", actor="t", now=CUTOFF)

    _scan(session, CUTOFF - SECOND, "VALID", certificates["first"])
    _scan(session, CUTOFF, "VALID", certificates["first"])
    _scan(session, START, "CERTIFICATE_SUSPENDED", certificates["first"])
    _scan(session, START, "FORGED")
    _scan(session, START - SECOND, "FORGED")
    _scan(session, START + SECOND, "VALID", certificates["shanghai"])
    _scan(session, START + SECOND, "SOMETHING_NEW", certificates["shanghai"])

    _alert(session, START, "cert", certificate=certificates["first"])
    _alert(session, CUTOFF - SECOND, "body", body=world.body)
    _alert(session, CUTOFF, "late", body=world.body)

    _complaint(session, "CP-IN", START + SECOND)
    _complaint(session, "CP-OLD", START - SECOND, closed=CUTOFF - SECOND)
    _complaint(session, "CP-NEXT", CUTOFF, closed=CUTOFF)
    session.flush()
    return Scene(world, [world.body, later, suspended_later, withdrawn], certificates)


def _rows(report: WeeklyReport) -> dict[tuple[str, str], StatsRow]:
    return {(row.province, row.category): row for row in report.rows}


def test_every_column_of_the_week(session: Session, scene: Scene) -> None:
    report = weekly_statistics(session, WEEK)
    rows = _rows(report)
    assert report.week_end == WEEK
    assert (report.start, report.end) == (START, CUTOFF)
    assert list(rows) == [("11", "mask"), ("11", "protective_clothing"), ("11", ""),
                          ("31", "protective_clothing"), ("", "")]
    masks = rows[("11", "mask")]
    # The world's body and the one suspended from the day after the cut-off; not the one listed
    # only from that day, nor the one withdrawn on the cut-off day.
    assert (masks.bodies_listed, masks.labs_listed) == (2, 1)
    assert masks.certificates_registered == 2  # C-FIRST at the first instant, C-LAST a second before the end
    # C-FIRST twice, counted once; C-LAST at the cut-off is next week's.
    assert masks.certificates_suspended == 1
    assert masks.certificates_withdrawn == 1  # C-BEFORE
    assert masks.verifications == {"VALID": 1, "CERTIFICATE_SUSPENDED": 1}
    assert masks.misuse_alerts == 1  # through the certificate's body
    assert (masks.complaints_received, masks.complaints_closed) == (0, 0)
    assert rows[("11", "protective_clothing")].bodies_listed == 1
    assert rows[("11", "")].misuse_alerts == 1  # an alert naming a body only
    shanghai_row = rows[("31", "protective_clothing")]
    assert (shanghai_row.bodies_listed, shanghai_row.labs_listed) == (2, 0)
    assert shanghai_row.certificates_registered == 1
    assert shanghai_row.verifications == {"VALID": 1, "SOMETHING_NEW": 1}
    unattributed = rows[("", "")]
    assert unattributed.verifications == {"FORGED": 1}
    assert (unattributed.complaints_received, unattributed.complaints_closed) == (1, 1)
    assert report.verdicts[0] == "VALID" and report.verdicts[-1] == "SOMETHING_NEW"
    # The world's body counts once per category in the rows, once in the distinct count.
    assert report.totals.bodies_listed == 5
    assert (report.distinct_bodies_listed, report.distinct_labs_listed) == (4, 1)
    assert report.category_names["mask"][0] == "口罩"


def test_the_weeks_either_side_get_what_this_week_left_out(session: Session, scene: Scene) -> None:
    before = weekly_statistics(session, PREVIOUS).totals
    assert before.certificates_registered == 1  # C-BEFORE, a second before the start
    assert before.certificates_suspended == 1 and before.certificates_withdrawn == 0
    assert before.verifications == {"FORGED": 1}
    assert (before.misuse_alerts, before.complaints_received, before.complaints_closed) == (0, 1, 0)

    after = weekly_statistics(session, NEXT)
    masks = _rows(after)[("11", "mask")]
    assert masks.bodies_listed == 2  # the one listed from 06-12 in, the one suspended from then out
    assert masks.certificates_registered == 1 and masks.certificates_suspended == 1
    assert masks.verifications == {"VALID": 1}
    assert after.totals.misuse_alerts == 1
    assert (after.totals.complaints_received, after.totals.complaints_closed) == (1, 1)


def test_any_day_of_the_week_gives_the_same_report(session: Session, scene: Scene) -> None:
    friday = weekly_statistics(session, dt.date(2026, 6, 5))
    assert friday.week_end == WEEK
    assert friday.totals == weekly_statistics(session, WEEK).totals


def test_the_totals_are_the_sums_of_the_rows(session: Session, scene: Scene) -> None:
    report = weekly_statistics(session, WEEK)
    for name in COUNT_COLUMNS:
        assert getattr(report.totals, name) == sum(getattr(row, name) for row in report.rows), name
    for verdict in report.verdicts:
        assert report.totals.verifications.get(verdict, 0) == sum(
            row.verifications.get(verdict, 0) for row in report.rows
        ), verdict
    assert report.totals.verifications_total == 5
    assert report.totals.certificates_registered == 3


def test_an_empty_week_has_no_rows_and_zero_totals(session: Session) -> None:
    report = weekly_statistics(session, dt.date(2001, 1, 4))
    assert report.rows == []
    assert all(getattr(report.totals, name) == 0 for name in COUNT_COLUMNS)
    assert report.totals.verifications_total == 0


# --- the exports ------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def test_the_csv_reads_back_as_the_table(session: Session, scene: Scene) -> None:
    report = weekly_statistics(session, WEEK)
    data = to_csv(report)
    assert data.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert lines[0] == columns(report)
    assert lines[1:] == [[_text(v) for v in line] for line in table(report)]
    by_key = {(line[1], line[4]): dict(zip(lines[0], line, strict=True)) for line in lines[1:]}
    masks = by_key[("11", "mask")]
    assert (masks["province_zh"], masks["province_en"], masks["category_zh"]) == ("北京", "Beijing", "口罩")
    assert masks["certificates_registered"] == "2" and masks["verdict_VALID"] == "1"
    assert masks["verifications"] == "2"
    total = by_key[("TOTAL", "")]
    assert total["province_zh"] == "合计" and total["complaints_received"] == "1"
    assert by_key[("", "")]["province_en"] == "No province"
    assert data.count(b"\r\n") == len(report.rows) + 2


def test_the_xlsx_reads_back_as_both_tables(session: Session, scene: Scene) -> None:
    report = weekly_statistics(session, WEEK)
    workbook = load_workbook(io.BytesIO(to_xlsx(report)), read_only=True)
    assert workbook.sheetnames == ["week 2026-06-11", "verifications by verdict"]
    main = [[_text(v) for v in row] for row in workbook["week 2026-06-11"].iter_rows(values_only=True)]
    assert main[0] == columns(report)
    assert main[1:] == [[_text(v) for v in line] for line in table(report)]
    sheet = workbook["verifications by verdict"]
    verdicts = [[_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert verdicts[0][-2:] == ["verdict", "verifications"]
    assert verdicts[1:] == [[_text(v) for v in line] for line in verdict_table(report)]
    forged = [line for line in verdicts if line[1] == "" and line[-2] == "FORGED"]
    assert [line[-1] for line in forged] == ["1"]
    totals = {line[-2]: line[-1] for line in verdicts if line[1] == "TOTAL"}
    assert totals["VALID"] == "2" and totals["KEY_REVOKED"] == "0"
