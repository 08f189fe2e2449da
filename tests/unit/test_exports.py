"""Exports of the list as of a date (registry.exports): rows, CSV, XLSX and JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from registry import exports
from registry.authorizations import change_status
from registry.exports import COLUMNS, FORMATS, rows
from registry.models import Body
from registry.queries import load_bodies
from tests.factories import grant, make_body

D = dt.date
DAY = D(2026, 6, 15)
DANGEROUS = ['=HYPERLINK("http://evil.example","x")', "+86 10 1234 5678", "-2+3", "@SUM(A1:A9)"]


@pytest.fixture
def body(session: Session, now: dt.datetime) -> Body:
    """A body with one line in each state on DAY, plus one not yet valid."""
    created = make_body(
        session,
        now,
        code="EXP-1",
        name_zh="中国检验认证集团",
        name_en='China Certification & Inspection, "CCIC"',
        identifiers={"cnca": "CNCA-R-2002-002", "eu_nb": "2195"},
    )
    grant(session, now, created, category="mask", valid_until=None)
    suspended = grant(session, now, created, category="ventilator")
    change_status(session, suspended.id, "suspended", reason="r", actor="t", now=now, effective=D(2026, 1, 1))
    withdrawn = grant(session, now, created, category="ir_thermometer")
    change_status(session, withdrawn.id, "withdrawn", reason="r", actor="t", now=now, effective=D(2025, 1, 1))
    grant(session, now, created, category="meltblown", valid_until=D(2026, 6, 14))
    grant(session, now, created, category="test_reagent", valid_from=D(2026, 6, 16))
    session.flush()
    session.expire_all()
    return load_bodies(session, [created.id])[0]


def by_category(data: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {row["category"]: row for row in data}


def test_rows_have_the_import_columns_and_the_status_on_the_day(body: Body) -> None:
    data = rows([body], DAY)
    assert all(list(row) == COLUMNS for row in data)
    assert {c: r["status"] for c, r in by_category(data).items()} == {
        "mask": "active",
        "ventilator": "suspended",
        "ir_thermometer": "withdrawn",
        "meltblown": "expired",
    }  # test_reagent starts tomorrow: left out
    mask = by_category(data)["mask"]
    assert mask["body_code"] == "EXP-1" and mask["name_zh"] == "中国检验认证集团"
    assert (mask["cnca"], mask["eu_nb"], mask["cnas"]) == ("CNCA-R-2002-002", "2195", "")
    assert (mask["valid_from"], mask["valid_until"]) == ("2020-03-01", "")
    assert mask["credit_code"] == body.organization.credit_code and mask["province"] == "11"


def test_rows_follow_the_as_of_date(body: Body) -> None:
    earlier = by_category(rows([body], D(2024, 12, 31)))
    assert {c: r["status"] for c, r in earlier.items()} == {
        "mask": "active",
        "ventilator": "active",
        "ir_thermometer": "active",
        "meltblown": "active",
    }
    later = by_category(rows([body], D(2026, 6, 16)))
    assert later["test_reagent"]["status"] == "active"
    assert rows([body], D(2020, 2, 29)) == []


def test_empty_fields_are_empty_strings(session: Session, now: dt.datetime) -> None:
    foreign = make_body(session, now, province=None)
    foreign.organization.credit_code = None
    grant(session, now, foreign)
    [row] = rows([foreign], DAY)
    assert (row["credit_code"], row["province"], row["other"]) == ("", "", "")


def test_csv_has_a_bom_a_header_and_crlf(body: Body) -> None:
    data = exports.to_csv(rows([body], DAY))
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.split("\r\n", 1)[0] == ",".join(COLUMNS)
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert parsed == rows([body], DAY)  # quotes, commas and Chinese survive
    assert exports.to_csv([]).decode("utf-8-sig") == ",".join(COLUMNS) + "\r\n"


def test_xlsx_opens_with_openpyxl(body: Body) -> None:
    data = rows([body], DAY)
    workbook = load_workbook(io.BytesIO(exports.to_xlsx(data, DAY)), read_only=True)
    sheet = workbook.active
    assert sheet is not None and sheet.title == "as of 2026-06-15"
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == COLUMNS
    assert [
        dict(zip(COLUMNS, (v if v is not None else "" for v in r), strict=True)) for r in values[1:]
    ] == data


def test_json_shape(body: Body) -> None:
    data = rows([body], DAY)
    raw = exports.to_json(data, DAY)
    assert "中国检验认证集团".encode() in raw  # UTF-8, not \\u escapes
    assert json.loads(raw) == {"as_of": "2026-06-15", "count": 4, "items": data}
    assert json.loads(exports.to_json([], DAY)) == {"as_of": "2026-06-15", "count": 0, "items": []}


def dangerous_body(session: Session, now: dt.datetime) -> Body:
    created = make_body(session, now, name_en=DANGEROUS[0])
    created.organization.address = DANGEROUS[1]
    grant_line = grant(session, now, created)
    grant_line.standards = DANGEROUS[2]
    grant_line.tests = DANGEROUS[3]
    session.flush()
    return created


def test_csv_quotes_formula_injection(session: Session, now: dt.datetime) -> None:
    [row] = csv.DictReader(
        io.StringIO(exports.to_csv(rows([dangerous_body(session, now)], DAY)).decode("utf-8-sig"))
    )
    cells = [row["name_en"], row["address"], row["standards"], row["tests"]]
    assert cells == ["'" + value for value in DANGEROUS]
    # Harmless cells are left alone.
    assert row["scheme"] == "CCC" and row["valid_from"] == "2020-03-01"


def test_xlsx_has_no_formula_cells(session: Session, now: dt.datetime) -> None:
    data = rows([dangerous_body(session, now)], DAY)
    workbook = load_workbook(io.BytesIO(exports.to_xlsx(data, DAY)))
    sheet = workbook.active
    assert sheet is not None
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert not [cell.coordinate for cell in cells if cell.data_type == "f"]
    texts = {str(cell.value) for cell in cells if cell.value is not None}
    assert {"'" + value for value in DANGEROUS} <= texts


def test_json_keeps_values_verbatim(session: Session, now: dt.datetime) -> None:
    [item] = json.loads(exports.to_json(rows([dangerous_body(session, now)], DAY), DAY))["items"]
    assert [item["name_en"], item["address"], item["standards"], item["tests"]] == DANGEROUS


def test_control_characters_do_not_break_the_xlsx(session: Session, now: dt.datetime) -> None:
    # Text pasted from Word or PDFs can carry control characters that XLSX (XML) cannot hold.
    created = make_body(session, now)
    line = grant(session, now, created)
    line.tests = "过滤效率\x0b细菌过滤效率\x01"
    session.flush()
    workbook = load_workbook(io.BytesIO(exports.to_xlsx(rows([created], DAY), DAY)))
    sheet = workbook.active
    assert sheet is not None
    assert sheet.cell(row=2, column=COLUMNS.index("tests") + 1).value == "过滤效率细菌过滤效率"


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_render_dispatches_on_the_format(body: Body, fmt: str) -> None:
    data = rows([body], DAY)
    expected = {
        "csv": exports.to_csv(data),
        "json": exports.to_json(data, DAY),
    }
    rendered = exports.render(fmt, [body], DAY)
    if fmt == "xlsx":
        assert rendered.startswith(b"PK")  # a zip container
    else:
        assert rendered == expected[fmt]


def test_unknown_format_is_refused(body: Body) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        exports.render("pdf", [body], DAY)
