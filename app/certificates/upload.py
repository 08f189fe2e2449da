"""Bulk registration from a CSV or XLSX file: columns, parsing, and row-numbered problems.

The file is read with the service's spreadsheet readers (``registry.spreadsheets``: encoding
detection, XLSX size guards, formula refusal), then each row becomes a ``CertificateInput``.
Shape problems (a missing column, a bad date) and the registry's refusals both end up as
``(row, column, problem)`` rows, so the page shows one table whatever went wrong.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from registry.certificates import MAX_BULK, CertificateInput, PartyInput, TestReportInput
from registry.errors import ImportRejected

# The readers every upload shares: same encodings, same guards against hostile workbooks.
from registry.spreadsheets import clean_cell, csv_rows, detect_format, parse_date, xlsx_rows

REQUIRED_COLUMNS = (
    "number",
    "holder_name_zh",
    "manufacturer_name_zh",
    "category",
    "scheme",
    "product_name",
    "issue_date",
    "expiry_date",
)
OPTIONAL_COLUMNS = (
    "holder_name_en",
    "holder_credit_code",
    "holder_country",
    "manufacturer_name_en",
    "manufacturer_credit_code",
    "manufacturer_country",
    "jurisdiction",
    "models",
    "standards",
    "test_reports",
)
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
LIMITS = {
    "number": 64,
    "holder_name_zh": 200,
    "holder_name_en": 300,
    "manufacturer_name_zh": 200,
    "manufacturer_name_en": 300,
    "holder_credit_code": 18,
    "manufacturer_credit_code": 18,
    "holder_country": 2,
    "manufacturer_country": 2,
    "category": 32,
    "jurisdiction": 8,
    "scheme": 200,
    "product_name": 300,
    "models": 4000,
    "standards": 4000,
    "test_reports": 4000,
}
REPORT_SEPARATOR = re.compile(r"[;\n]")
# A service error's field ("holder.credit_code", "test_reports[0].lab_code") -> the file's column.
_FIELD_COLUMNS = {
    "holder.name_zh": "holder_name_zh",
    "holder.credit_code": "holder_credit_code",
    "manufacturer.name_zh": "manufacturer_name_zh",
    "manufacturer.credit_code": "manufacturer_credit_code",
}


@dataclass(frozen=True)
class RowProblem:
    """One problem: the row as a spreadsheet numbers it (header = 1), the column, the message."""

    row: int | None
    column: str | None
    problem: str


@dataclass
class ParsedUpload:
    """The certificates of a file, with the row each came from, and the problems found."""

    items: list[CertificateInput] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)  # the row of each item
    problems: list[RowProblem] = field(default_factory=list)
    data_rows: int = 0


def _whole_file(error: ImportRejected) -> list[RowProblem]:
    found = [RowProblem(p.row, p.column, p.problem) for p in error.details.get("errors", [])]
    return found or [RowProblem(None, None, error.message)]


def grid(data: bytes) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of an uploaded CSV or XLSX file; a formula in a cell stops it."""
    fmt = detect_format(data)
    if fmt == "xlsx":
        formula_problems: list[Any] = []
        for number, cells in xlsx_rows(data, formula_problems):
            if formula_problems:
                problem = formula_problems.pop()
                raise ImportRejected(problem.problem, errors=[problem])
            yield number, cells
    else:
        yield from csv_rows(data)


def _reports(text: str, problems: list[RowProblem], row: int) -> list[TestReportInput]:
    reports = []
    for entry in (part.strip() for part in REPORT_SEPARATOR.split(text)):
        if not entry:
            continue
        parts = [p.strip() for p in entry.split("|")]
        day = parse_date(parts[2]) if len(parts) == 3 else None
        if len(parts) != 3 or not parts[0] or not parts[1] or day is None:
            problems.append(
                RowProblem(row, "test_reports", f"{entry[:60]!r} is not LAB_CODE|REPORT_NUMBER|YYYY-MM-DD")
            )
            continue
        reports.append(TestReportInput(parts[0], parts[1], day))
    return reports


def _row_input(values: dict[str, str], row: int, problems: list[RowProblem]) -> CertificateInput | None:
    before = len(problems)
    for name in REQUIRED_COLUMNS:
        if not values.get(name):
            problems.append(RowProblem(row, name, "a value is required"))
    for name, limit in LIMITS.items():
        if len(values.get(name, "")) > limit:
            problems.append(RowProblem(row, name, f"at most {limit} characters"))
    dates: dict[str, dt.date | None] = {}
    for name in ("issue_date", "expiry_date"):
        dates[name] = parse_date(values.get(name, "")) if values.get(name) else None
        if values.get(name) and dates[name] is None:
            problems.append(RowProblem(row, name, f"{values[name][:20]!r} is not a date (YYYY-MM-DD)"))
    reports = _reports(values.get("test_reports", ""), problems, row)
    if len(problems) > before:
        return None
    issue, expiry = dates["issue_date"], dates["expiry_date"]
    assert issue is not None and expiry is not None
    return CertificateInput(
        number=values["number"],
        holder=PartyInput(
            values["holder_name_zh"],
            values.get("holder_name_en", ""),
            values.get("holder_credit_code") or None,
            values.get("holder_country") or "CN",
        ),
        manufacturer=PartyInput(
            values["manufacturer_name_zh"],
            values.get("manufacturer_name_en", ""),
            values.get("manufacturer_credit_code") or None,
            values.get("manufacturer_country") or "CN",
        ),
        category=values["category"],
        jurisdiction=values.get("jurisdiction") or "CN",
        scheme=values["scheme"],
        product_name=values["product_name"],
        issue_date=issue,
        expiry_date=expiry,
        models=values.get("models", ""),
        standards=values.get("standards", ""),
        test_reports=reports,
    )


def read_header(
    cells: list[str], row: int, columns: tuple[str, ...], required: tuple[str, ...]
) -> tuple[list[str], list[RowProblem]]:
    """An upload's header row: the column names, and a problem for each unknown, repeated or
    missing required column."""
    header = [c.strip().lstrip("\ufeff").lower() for c in cells]
    while header and not header[-1]:
        header.pop()
    problems = [
        RowProblem(row, name, f"unknown column {name!r}") for name in header if name and name not in columns
    ]
    problems += [
        RowProblem(row, name, f"column {name!r} appears twice")
        for name in sorted({n for n in header if n and header.count(n) > 1})
    ]
    problems += [
        RowProblem(row, name, f"required column {name!r} is missing")
        for name in required
        if name not in header
    ]
    return header, problems


def parse_upload(data: bytes) -> ParsedUpload:
    """Every certificate of the file, or the problems that stop it (the header, then each row)."""
    result = ParsedUpload()
    try:
        grid_rows = grid(data)
        header: list[str] | None = None
        for number, cells in grid_rows:
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header, header_problems = read_header(cells, number, COLUMNS, REQUIRED_COLUMNS)
                if header_problems:
                    result.problems = header_problems
                    return result
                continue
            if result.data_rows == MAX_BULK:
                result.problems.append(
                    RowProblem(number, None, f"the file has more than {MAX_BULK} rows; split it")
                )
                return result
            values = {name: clean_cell(cells[i]) if i < len(cells) else "" for i, name in enumerate(header)}
            result.data_rows += 1
            item = _row_input(values, number, result.problems)
            if item is not None:
                result.items.append(item)
                result.rows.append(number)
    except ImportRejected as error:
        result.problems = _whole_file(error)
        return result
    except Exception as error:
        result.problems = [RowProblem(None, None, f"the file cannot be read: {type(error).__name__}")]
        return result
    if not result.data_rows and not result.problems:
        result.problems.append(RowProblem(None, None, "the file has no data rows"))
    return result


def service_problems(error: ImportRejected, rows: list[int]) -> list[RowProblem]:
    """``register_bulk``'s ``{"index", "field", "problem"}`` as rows of the file."""
    found = []
    for item in error.details.get("errors", []):
        index = item.get("index")
        row = rows[index] if isinstance(index, int) and 0 <= index < len(rows) else None
        name = str(item.get("field") or "")
        column = _FIELD_COLUMNS.get(name) or ("test_reports" if name.startswith("test_reports") else name)
        found.append(RowProblem(row, column or None, str(item.get("problem", ""))))
    return found
