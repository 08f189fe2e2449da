"""The official-list import: parsing, validation, the plan and its all-or-nothing application."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from registry import exports, import_plan, import_rows, importer, spreadsheets
from registry.errors import ImportRejected
from registry.exports import COLUMNS
from registry.identifiers import USCC_ALPHABET, uscc_check_character
from registry.importer import ImportReport, apply, dry_run, import_file, parse
from registry.models import AuditEvent, Authorization, Body
from registry.queries import load_bodies
from tests.factories import grant, make_body


def uscc(seed: str) -> str:
    """A valid credit code for ``seed``; the Shenzhen prefix keeps it apart from the factories' codes."""
    digest = hashlib.sha256(seed.encode()).digest()
    first17 = "91440300" + "".join(USCC_ALPHABET[b % 31] for b in digest[:9])
    return first17 + uscc_check_character(first17)


GOOD_CODE = uscc("warning")
BAD_CHECK_CODE = GOOD_CODE[:17] + ("0" if GOOD_CODE[17] != "0" else "1")


def line(code: str = "IMP-A", **overrides: Any) -> dict[str, Any]:
    """One row of the import format; body fields follow ``code`` so rows of one body agree."""
    row: dict[str, Any] = {
        "body_code": code, "kind": "certification_body", "name_zh": f"导入测试认证中心{code}",
        "name_en": f"Import Test Centre {code}", "credit_code": uscc(code),
        "country": "CN", "province": "11", "address": "北京市海淀区", "website": "", "cnca": "",
        "cnas": "", "cma": "", "eu_nb": "", "niosh": "", "other": "", "jurisdiction": "CN",
        "scheme": "CCC", "category": "mask", "standards": "GB 2626-2019", "tests": "",
        "valid_from": "2020-03-01", "valid_until": "2030-03-01", "status": "active",
    }
    row.update(overrides)
    return row


def to_csv(
    rows: list[dict[str, Any]], columns: list[str] | None = None, encoding: str = "utf-8-sig"
) -> bytes:
    columns = columns or list(COLUMNS)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def to_xlsx(rows: list[dict[str, Any]], columns: list[str] | None = None) -> bytes:
    """An XLSX as a person makes it: real date cells, numbers where cells look numeric."""
    columns = columns or list(COLUMNS)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(columns)
    for row in rows:
        cells: list[Any] = []
        for name in columns:
            value = row.get(name, "")
            if name in ("valid_from", "valid_until") and value:
                value = dt.datetime.fromisoformat(value)
            elif name in ("province", "cma") and str(value).isdigit():
                value = int(value)
            cells.append(value if value != "" else None)
        sheet.append(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def run(session: Session, data: bytes, now: dt.datetime, name: str = "list.csv") -> ImportReport:
    return dry_run(session, data, name, now)


def audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def body_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Body)) or 0


EU_LINE = {
    "province": "Guangdong", "jurisdiction": "EU", "scheme": "Regulation (EU) 2016/425", "eu_nb": "2163",
}


def first_version() -> list[dict[str, Any]]:
    return [
        line("IMP-A", cnas="CNAS C123-P"),
        line("IMP-A", cnas="CNAS C123-P", category="protective_clothing", standards="GB 19082-2009"),
        line("IMP-B", kind="testing_lab", province="上海市", cma="123456789012", tests="过滤效率"),
        line("IMP-C", **EU_LINE),
    ]


# --- Parsing ------------------------------------------------------------------------------------


def test_csv_and_xlsx_parse_to_the_same_rows() -> None:
    rows = first_version()
    from_csv = parse(to_csv(rows), "list.csv")
    from_xlsx = parse(to_xlsx(rows), "list.xlsx")
    assert (from_csv.format, from_xlsx.format) == ("csv", "xlsx")
    assert [r.values for r in from_csv.rows] == [r.values for r in from_xlsx.rows]
    assert [r.number for r in from_xlsx.rows] == [2, 3, 4, 5]
    assert from_xlsx.rows[2].values["province"] == "上海市"
    assert from_xlsx.rows[2].values["valid_from"] == "2020-03-01"


def test_gbk_csv_is_decoded(session: Session, now: dt.datetime) -> None:
    data = to_csv([line("IMP-G", name_zh="广东省医疗器械质量监督检验所")], encoding="gbk")
    data.decode("gb18030")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    report = run(session, data, now)
    assert report.applicable, report.errors
    assert report.plan is not None
    assert report.plan.bodies_added[0].name_zh == "广东省医疗器械质量监督检验所"


def test_columns_in_any_order_and_only_required_ones(session: Session, now: dt.datetime) -> None:
    columns = ["valid_from", "category", "scheme", "jurisdiction", "name_zh", "kind", "body_code"]
    report = run(session, to_csv([line("IMP-O")], columns), now)
    assert report.applicable, report.errors
    assert report.plan is not None
    added = report.plan.bodies_added[0].data
    assert added is not None
    assert (added.code, added.country, added.credit_code) == ("IMP-O", "CN", None)


@pytest.mark.parametrize(
    ("data", "unsupported", "fragment"),
    [
        (b"", False, "empty"),
        (b"PK\x03\x04 this is not really a zip", False, "corrupt"),
        (b"\x89PNG\r\n\x1a\n....", True, "PNG"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", True, ".xls"),
        (b"\xff\xfeb\x00o\x00", True, "UTF-16"),
        (b"\n\n,,\n", False, "no header"),
        (b"body_code,kind,name_zh,jurisdiction,scheme,category,valid_from\r\n", False, "no data rows"),
    ],
)
def test_broken_files_are_rejected_with_a_message(data: bytes, unsupported: bool, fragment: str,
                                                  session: Session, now: dt.datetime) -> None:
    report = run(session, data, now)
    assert report.plan is None and not report.applicable
    assert report.unsupported is unsupported
    assert fragment in report.errors[0].problem
    with pytest.raises(ImportRejected):
        parse(data, "x")


def test_a_zip_that_is_not_a_workbook_is_unsupported(session: Session, now: dt.datetime) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    report = run(session, buffer.getvalue(), now, "list.xlsx")
    assert report.unsupported and "not an XLSX workbook" in report.errors[0].problem


def test_too_many_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_rows, "MAX_ROWS", 3)
    with pytest.raises(ImportRejected, match="more than 3 rows"):
        parse(to_csv([line(f"IMP-{i}") for i in range(4)]), "big.csv")
    assert len(parse(to_csv([line(f"IMP-{i}") for i in range(3)]), "ok.csv").rows) == 3


def test_wrong_header_lists_every_problem() -> None:
    columns = ["body_code", "kind", "name_zh", "Jurisdiction", "scheme", "scheme", "colour", "valid_from"]
    with pytest.raises(ImportRejected) as caught:
        parse(to_csv([line()], columns), "x.csv")
    problems = {(p.row, p.column, p.problem) for p in caught.value.details["errors"]}
    assert (1, "scheme", "column 'scheme' appears twice") in problems
    assert (1, "colour", "unknown column 'colour'; use the export's columns") in problems
    assert (1, "category", "required column 'category' is missing") in problems
    # Header names are case-insensitive: "Jurisdiction" is the jurisdiction column.
    assert not any(p.column == "jurisdiction" for p in caught.value.details["errors"])


def test_formula_cells_are_refused(session: Session, now: dt.datetime) -> None:
    rows = [line("IMP-F")]
    data = to_xlsx(rows)
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    sheet.append([rows[0][c] or None for c in COLUMNS])
    sheet["D2"] = '=CONCAT("Import ", "Centre")'
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert run(session, data, now).applicable
    report = run(session, buffer.getvalue(), now, "f.xlsx")
    assert [(p.row, p.problem) for p in report.errors] == [(2, "cell D2 holds a formula; paste values")]


# --- Validation ----------------------------------------------------------------------------------


def test_row_errors_carry_row_and_column_and_nothing_is_written(session: Session, now: dt.datetime) -> None:
    rows = [
        line("IMP-1"),
        line("IMP-2", valid_from="2020-02-30"),
        line("IMP-3", category="gloves", province="Atlantis"),
        line("IMP-4", valid_from="2021-01-01", valid_until="2020-01-01"),
        line("IMP-5", cnas="X-1", credit_code="123"),
        line("IMP-6", kind="lab", status="revoked", jurisdiction="MARS"),
        line("IMP-7", credit_code=BAD_CHECK_CODE, name_zh=""),
    ]
    # A blank line in the middle: the rows after it keep their spreadsheet numbers.
    data = to_csv(rows).replace(b"\r\nIMP-3", b"\r\n,,,\r\nIMP-3")
    before = audit_count(session)
    report = run(session, data, now)
    found = {(p.row, p.column) for p in report.errors}
    assert found == {
        (3, "valid_from"), (5, "category"), (5, "province"), (6, "valid_until"), (7, "cnas"),
        (7, "credit_code"), (8, "kind"), (8, "status"), (8, "jurisdiction"), (9, "name_zh"),
    }
    assert [(p.row, p.column) for p in report.warnings] == [(9, "credit_code")]
    assert report.plan is None
    with pytest.raises(ImportRejected):
        import_file(session, data, "bad.csv", actor="t", now=now, reason="test")
    assert (body_count(session), audit_count(session)) == (0, before)


def test_a_failing_check_character_only_warns(session: Session, now: dt.datetime) -> None:
    report = run(session, to_csv([line("IMP-W", credit_code=BAD_CHECK_CODE.lower())]), now)
    assert report.applicable
    [warning] = report.warnings
    assert warning.column == "credit_code" and "GB 32100-2015 expects" in warning.problem
    assert report.plan is not None and report.plan.bodies_added[0].data is not None
    assert report.plan.bodies_added[0].data.credit_code == BAD_CHECK_CODE


def test_rows_are_checked_against_each_other(session: Session, now: dt.datetime) -> None:
    rows = [
        line("IMP-X"),
        line("IMP-X", name_en="Another name", category="ventilator"),
        line("IMP-X"),
        line("IMP-Y", eu_nb="2163", credit_code=line("IMP-X")["credit_code"]),
        line("IMP-Z", eu_nb="2163"),
    ]
    report = run(session, to_csv(rows), now)
    messages = {(p.row, p.column): p.problem for p in report.errors}
    assert "differs from row 2" in messages[(3, "name_en")]
    assert "duplicate scope line: row 2" in messages[(4, "scheme")]
    assert "same credit code but a different name_zh" in messages[(5, "credit_code")]
    assert messages[(6, "eu_nb")] == "2163 is also the identifier of body IMP-Y (row 5)"


# --- Plan and apply ----------------------------------------------------------------------------------


def test_apply_then_reimport_changes_nothing(session: Session, now: dt.datetime) -> None:
    data = to_csv(first_version())
    before = audit_count(session)
    report = run(session, data, now)
    assert report.plan is not None
    assert report.plan.counts() == {
        "bodies_added": 3, "bodies_changed": 0, "bodies_withdrawn": 0, "lines_added": 4,
        "lines_changed": 0, "lines_status_changed": 0, "lines_withdrawn": 0,
    }
    assert (body_count(session), audit_count(session)) == (0, before), "a dry run writes nothing"
    apply(session, report.plan, actor="importer", now=now, reason="CNCA list of 2026-06")
    session.flush()
    # 3 bodies + 4 lines, and one event for the import itself.
    assert audit_count(session) == before + 3 + 4 + 1
    summary = session.scalars(select(AuditEvent).where(AuditEvent.action == "registry:import")).one()
    assert summary.subject_key == report.sha256 and summary.after is not None
    assert summary.after["lines_added"] == 4 and summary.actor == "importer"
    b = session.scalars(select(Body).where(Body.code == "IMP-B")).one()
    assert (b.kind, b.organization.province, {i.scheme: i.value for i in b.identifiers}) == (
        "testing_lab", "31", {"cma": "123456789012"})
    assert b.authorizations[0].tests == "过滤效率"

    for again in (data, to_xlsx(first_version())):
        report = run(session, again, now)
        assert report.plan is not None and not report.plan.has_changes, report.plan
        apply(session, report.plan, actor="importer", now=now, reason="again")
    assert audit_count(session) == before + 8


def test_new_version_reports_added_changed_and_withdrawn(session: Session, now: dt.datetime) -> None:
    import_file(session, to_csv(first_version()), "v1.csv", actor="t", now=now, reason="v1")
    v2 = [
        line("IMP-A", cnas="CNAS C124-P", name_en="Import Test Centre A (renamed)", status="suspended",
             valid_until="2031-03-01"),
        # IMP-A's protective_clothing line is gone: withdrawn. IMP-B is gone entirely: withdrawn.
        line("IMP-C", **EU_LINE),
        line("IMP-C", **EU_LINE, category="ir_thermometer", status="withdrawn"),
        line("IMP-D", kind="inspection_body", category="meltblown"),
    ]
    report = run(session, to_xlsx(v2), now, "v2.xlsx")
    assert report.applicable, report.errors
    plan = report.plan
    assert plan is not None
    assert [b.code for b in plan.bodies_added] == ["IMP-D"]
    assert [(b.code, b.withdrawn_lines) for b in plan.bodies_withdrawn] == [("IMP-B", 1)]
    [changed] = plan.bodies_changed
    assert changed.code == "IMP-A" and changed.row == 2
    assert {(c.column, c.old, c.new) for c in changed.changes} == {
        ("name_en", "Import Test Centre IMP-A", "Import Test Centre A (renamed)"),
        ("cnas", "CNAS C123-P", "CNAS C124-P"),
    }
    actions = {(lp.body_code, lp.category, lp.action, tuple(lp.status_steps)) for lp in plan.lines}
    assert actions == {
        ("IMP-A", "mask", "changed", ("suspended",)),
        ("IMP-A", "protective_clothing", "withdrawn", ("withdrawn",)),
        ("IMP-B", "mask", "withdrawn", ("withdrawn",)),
        ("IMP-C", "ir_thermometer", "added", ("withdrawn",)),
        ("IMP-D", "meltblown", "added", ()),
    }
    assert plan.counts() == {
        "bodies_added": 1, "bodies_changed": 1, "bodies_withdrawn": 1, "lines_added": 2,
        "lines_changed": 1, "lines_status_changed": 1, "lines_withdrawn": 2,
    }
    apply(session, plan, actor="t", now=now, reason="v2")
    session.flush()
    session.expire_all()
    by_code = {b.code: b for b in load_bodies(session, list(session.scalars(select(Body.id))))}
    statuses = {(code, a.category): a.status for code, b in by_code.items() for a in b.authorizations}
    assert statuses == {
        ("IMP-A", "mask"): "suspended", ("IMP-A", "protective_clothing"): "withdrawn",
        ("IMP-B", "mask"): "withdrawn", ("IMP-C", "mask"): "active",
        ("IMP-C", "ir_thermometer"): "withdrawn", ("IMP-D", "meltblown"): "active",
    }
    a = by_code["IMP-A"]
    assert a.organization.name_en == "Import Test Centre A (renamed)"
    assert [i.value for i in a.identifiers] == ["CNAS C124-P"]
    assert a.authorizations[0].valid_until == dt.date(2031, 3, 1)
    withdrawn = session.scalars(select(Authorization).where(Authorization.status == "withdrawn")).all()
    assert all(w.periods[-1].reason.startswith("v2 (import ") for w in withdrawn)
    # The new version, imported again, changes nothing.
    again = run(session, to_xlsx(v2), now, "v2.xlsx")
    assert again.plan is not None and not again.plan.has_changes


def test_an_export_imports_back_without_changes(session: Session, now: dt.datetime) -> None:
    first = make_body(session, now, identifiers={"cnca": "CNCA-R-2002-001"})
    grant(session, now, first)
    grant(session, now, first, category="ventilator", jurisdiction="EU", scheme="MDR", valid_until=None)
    second = make_body(session, now, kind="testing_lab", province=None)
    expired = grant(session, now, second, valid_from=dt.date(2019, 1, 1), valid_until=dt.date(2021, 1, 1))
    bodies = load_bodies(session, [first.id, second.id])
    day = now.date()
    assert exports.rows(bodies, day)[-1]["status"] == "expired"
    for fmt in ("csv", "xlsx"):
        report = run(session, exports.render(fmt, bodies, day), now, f"export.{fmt}")
        assert report.applicable, report.errors
        assert report.plan is not None and not report.plan.has_changes, report.plan
    assert expired.status == "active"


def test_an_export_imports_back_keeping_scheduled_lines(session: Session, now: dt.datetime) -> None:
    """The export lists what is in force on its day: a grant scheduled ahead is not in it, and
    importing the export back must not withdraw it (nor the body whose only line it is)."""
    day = now.date()
    listed = make_body(session, now)
    grant(session, now, listed)
    later = grant(session, now, listed, category="ventilator", valid_from=day + dt.timedelta(days=30))
    scheduled_only = make_body(session, now)
    far = grant(session, now, scheduled_only, valid_from=day + dt.timedelta(days=800), valid_until=None)
    bodies = load_bodies(session, [listed.id, scheduled_only.id])
    assert {(r["body_code"], r["category"]) for r in exports.rows(bodies, day)} == {(listed.code, "mask")}
    report = run(session, exports.render("csv", bodies, day), now, "export.csv")
    assert report.applicable, report.errors
    assert report.plan is not None and not report.plan.has_changes and not report.plan.bodies_withdrawn
    assert {(p.values["body"], p.values["category"]) for p in report.warnings} == {
        (listed.code, "ventilator"), (scheduled_only.code, "mask"),
    }
    assert all("not listed in the file: kept" in p.problem for p in report.warnings)
    assert apply(session, report.plan, actor="importer", now=now, reason="round trip")["lines_withdrawn"] == 0
    assert (later.status, far.status) == ("active", "active")


def test_database_only_problems_are_plan_errors(session: Session, now: dt.datetime) -> None:
    held = make_body(session, now, identifiers={"eu_nb": "0123"})
    grant(session, now, held)
    existing = make_body(session, now)
    grant(session, now, existing)
    rows = [
        line(existing.code, kind="testing_lab"),
        line("IMP-N", eu_nb="0123"),
        line(held.code, name_zh=held.organization.name_zh, eu_nb=""),
    ]
    report = run(session, to_csv(rows), now)
    assert not report.applicable
    assert {(p.row, p.column) for p in report.errors} == {(2, "kind")}
    # Without the kind change, IMP-N may take 0123 because the file takes it away from its holder.
    rows[0]["kind"] = "certification_body"
    report = run(session, to_csv(rows), now)
    assert report.applicable, report.errors
    import_file(session, to_csv(rows), "moved.csv", actor="t", now=now, reason="moved")
    session.flush()
    taker = session.scalars(select(Body).where(Body.code == "IMP-N")).one()
    assert [i.value for i in taker.identifiers] == ["0123"]
    # The holder keeps 0123 if the file does not list it at all: the identifier is still taken.
    rows2 = [line("IMP-M", eu_nb="0123")]
    report = run(session, to_csv(rows2 + rows[:1]), now)
    assert [(p.row, p.column) for p in report.errors] == [(2, "eu_nb")]


def test_apply_requires_a_reason_and_rolls_back_entirely(session: Session, now: dt.datetime) -> None:
    report = run(session, to_csv(first_version()), now)
    assert report.plan is not None
    with pytest.raises(ImportRejected, match="reason"):
        apply(session, report.plan, actor="t", now=now, reason="  ")
    before = audit_count(session)
    # A body created behind the plan's back makes the third creation fail: nothing may remain.
    make_body(session, now, code="IMP-C")
    after_setup = audit_count(session)
    with pytest.raises(ImportRejected, match="rolled back"):
        apply(session, report.plan, actor="t", now=now, reason="race")
    assert audit_count(session) == after_setup == before + 1
    survivors = select(func.count()).select_from(Body).where(Body.code.in_(["IMP-A", "IMP-B"]))
    assert session.scalar(survivors) == 0


def test_plan_loads_the_registry_in_a_few_queries(session: Session, now: dt.datetime) -> None:
    bodies = [make_body(session, now) for _ in range(30)]
    for body in bodies:
        grant(session, now, body)
    session.flush()
    rows = [line(b.code, name_zh=b.organization.name_zh, name_en=b.organization.name_en,
                 credit_code=b.organization.credit_code, address="") for b in bodies]
    source = parse(to_csv(rows), "x.csv")
    checked = importer.validate(source, categories={"mask"}, jurisdictions={"CN"})
    assert not checked.errors
    statements: list[str] = []
    engine = session.get_bind()

    def count(*_args: Any) -> None:
        statements.append("x")

    event.listen(engine, "before_cursor_execute", count)
    try:
        planned = importer.plan(session, checked.rows, now)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert not planned.errors and not planned.has_changes, planned
    assert len(statements) <= 5


def test_every_problem_message_has_a_chinese_translation() -> None:
    """Problems are shown translated; a message added to the importer without Chinese fails here."""
    import ast
    import inspect

    from app.catalog.imports import ZH

    position = {"rejected": 0, "fail": 1, "ImportProblem": 2}
    messages = set()
    tree = ast.Module(
        body=[ast.parse(inspect.getsource(module))
              for module in (spreadsheets, import_rows, import_plan, importer)],
        type_ignores=[],
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in position:
            argument = node.args[position[node.func.id]] if len(node.args) > position[node.func.id] else None
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                messages.add(argument.value)
    assert len(messages) > 40
    assert sorted(messages - set(ZH)) == []
    for message in messages:
        placeholders = set(re.findall(r"\{(\w+)", message))
        assert set(re.findall(r"\{(\w+)", ZH[message])) == placeholders, message
