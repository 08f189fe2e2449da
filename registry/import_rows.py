"""The official list's rows: the header and cells of an uploaded sheet, then every row checked.

The format is the export format (``registry.exports.COLUMNS``): one row per scope line, the
body's fields repeated on each row. :func:`parse` reads the header and rows (whole-file problems
raise :class:`ImportRejected`); :func:`validate` checks each row and the rows against each other,
giving one typed :class:`ImportRow` per valid row and every problem with its row and column.
``registry.import_plan`` plans and ``registry.importer`` applies them.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

from registry.authorizations import AuthorizationInput
from registry.bodies import KINDS, BodyInput
from registry.errors import ImportRejected
from registry.exports import COLUMNS
from registry.identifiers import check_credit_code, normalize_identifier, uscc_check_character
from registry.reference import province_code
from registry.spreadsheets import (
    ImportProblem,
    clean_cell,
    csv_rows,
    detect_format,
    parse_date,
    rejected,
    unreadable,
    xlsx_rows,
)

MAX_ROWS = 20_000
MAX_COLUMNS = 100
REQUIRED = ("body_code", "kind", "name_zh", "jurisdiction", "scheme", "category", "valid_from")
IDENTIFIER_COLUMNS = ("cnca", "cnas", "cma", "eu_nb", "niosh", "other")
ORG_COLUMNS = ("name_zh", "name_en", "country", "province", "address", "website")
BODY_COLUMNS = ("kind", "credit_code", *ORG_COLUMNS, *IDENTIFIER_COLUMNS)
LINE_COLUMNS = ("standards", "tests", "valid_from", "valid_until")
# The database's column sizes: longer text would fail at flush (PostgreSQL) instead of here.
MAX_LENGTHS = {"body_code": 40, "name_zh": 200, "name_en": 300, "address": 500, "website": 300, "scheme": 200}
STATUS_WORDS = {
    "": "active", "active": "active", "suspended": "suspended", "withdrawn": "withdrawn",
    "expired": "expired", "有效": "active", "暂停": "suspended", "撤销": "withdrawn", "过期": "expired",
}
_PROVINCE_SUFFIX = re.compile(r"(省|市|特别行政区|壮族自治区|回族自治区|维吾尔自治区|自治区)$")



@dataclass(frozen=True)
class SourceRow:
    number: int
    values: dict[str, str]


@dataclass
class SourceFile:
    """The cells of an uploaded file as text, keyed by column name."""

    format: str
    columns: tuple[str, ...]
    rows: list[SourceRow]
    problems: list[ImportProblem] = field(default_factory=list)



def parse(data: bytes, filename: str = "") -> SourceFile:
    """Read the header and rows of a CSV or XLSX file; whole-file problems raise ImportRejected.

    ``filename`` is informational only: the format is detected from the content.
    """
    fmt = detect_format(data)
    problems: list[ImportProblem] = []
    grid = xlsx_rows(data, problems) if fmt == "xlsx" else csv_rows(data)
    try:
        return _read_grid(fmt, grid, problems)
    except ImportRejected:
        raise
    except csv.Error as exc:
        raise rejected("the CSV is malformed: {detail}", detail=str(exc)) from None
    except Exception as exc:  # a damaged worksheet fails while streaming; report it, never a 500
        raise unreadable(exc) from None


def _read_grid(fmt: str, grid: Iterator[tuple[int, list[str]]], problems: list[ImportProblem]) -> SourceFile:
    header: list[str] | None = None
    header_row = 0
    for number, cells in grid:
        if any(c.strip() for c in cells):
            header, header_row = [c.strip().lstrip("\ufeff").lower() for c in cells], number
            break
    if header is None:
        raise rejected("the file has no header row")
    while header and not header[-1]:
        header.pop()
    if len(header) > MAX_COLUMNS:
        raise rejected("the header has more than {limit} columns", row=header_row, limit=MAX_COLUMNS)
    header_problems = _check_header(header, header_row)
    if header_problems:
        raise ImportRejected(header_problems[0].problem, errors=header_problems, unsupported=False)
    rows: list[SourceRow] = []
    for number, cells in grid:
        if not any(c.strip() for c in cells):
            continue
        if len(rows) == MAX_ROWS:
            raise rejected("the file has more than {limit} rows; split it", limit=MAX_ROWS)
        if any(c.strip() for c in cells[len(header):]):
            problems.append(ImportProblem(number, None, "the row has values to the right of the last column"))
        values = {name: clean_cell(cells[i]) if i < len(cells) else "" for i, name in enumerate(header)}
        rows.append(SourceRow(number, values))
    if not rows:
        # An empty list would withdraw every body: refuse rather than guess.
        raise rejected("the file has a header but no data rows")
    return SourceFile(fmt, tuple(header), rows, problems)


def _check_header(header: list[str], row: int) -> list[ImportProblem]:
    problems: list[ImportProblem] = []
    seen: set[str] = set()
    for index, name in enumerate(header, start=1):
        if not name:
            problems.append(ImportProblem(row, None, "column {index} has no name", {"index": index}))
        elif name not in COLUMNS:
            problems.append(ImportProblem(row, name, "unknown column {name!r}; use the export's columns",
                                          {"name": name}))
        elif name in seen:
            problems.append(ImportProblem(row, name, "column {name!r} appears twice", {"name": name}))
        seen.add(name)
    problems.extend(ImportProblem(row, name, "required column {name!r} is missing", {"name": name})
                    for name in REQUIRED if name not in seen)
    return problems


# --- Validation: one typed ImportRow per valid row, problems as (row, column, message) -------------


@dataclass
class ImportRow:
    """A valid row: the body it names, its scope line and the status the file gives that line."""

    number: int
    columns: frozenset[str]
    body: BodyInput
    line: AuthorizationInput
    status: str


@dataclass
class Validation:
    rows: list[ImportRow]
    errors: list[ImportProblem]
    warnings: list[ImportProblem]


def _province(text: str) -> str | None:
    """A code, or a name with or without its suffix (上海 and 上海市, 广西 and 广西壮族自治区)."""
    for candidate in (text, _PROVINCE_SUFFIX.sub("", text)):
        try:
            return province_code(candidate)
        except ValueError:
            continue
    return None


def _check_row(
    row: SourceRow, columns: frozenset[str], categories: Collection[str], jurisdictions: Collection[str],
    warnings: list[ImportProblem],
) -> tuple[ImportRow | None, list[ImportProblem]]:
    v, n = row.values, row.number
    errors: list[ImportProblem] = []

    def fail(column: str, message: str, **values: Any) -> None:
        errors.append(ImportProblem(n, column, message, values))

    for name in REQUIRED:
        if not v.get(name):
            fail(name, "a value is required")
    for name, limit in MAX_LENGTHS.items():
        if len(v.get(name, "")) > limit:
            fail(name, "at most {limit} characters", limit=limit)
    kind = v.get("kind", "")
    if kind and kind not in KINDS:
        fail("kind", "unknown kind {value!r}; use one of {allowed}", value=kind,
             allowed=", ".join(sorted(KINDS)))
    country = (v.get("country") or "CN").upper()
    if not (len(country) == 2 and country.isascii() and country.isalpha()):
        fail("country", "{value!r} is not an ISO 3166 two-letter country code", value=v.get("country"))
    province = None
    if v.get("province"):
        province = _province(v["province"])
        if province is None:
            fail("province", "unknown province {value!r}", value=v["province"])
    credit_code = None
    if v.get("credit_code"):
        try:
            credit_code = check_credit_code(v["credit_code"]).normalized
        except ValueError:
            fail("credit_code", "a unified social credit code has 18 characters from 0-9 and A-Y "
                 "without I, O, S, V, Z")
        else:
            expected = uscc_check_character(credit_code[:17])
            if credit_code[17] != expected:
                found = {"found": credit_code[17], "expected": expected}
                warnings.append(ImportProblem(n, "credit_code", "check character is {found}, "
                                              "GB 32100-2015 expects {expected}", found))
    identifiers: dict[str, str] = {}
    for scheme in IDENTIFIER_COLUMNS:
        if v.get(scheme):
            try:
                identifiers[scheme] = normalize_identifier(scheme, v[scheme])
            except ValueError:
                fail(scheme, "{value!r} is not a valid {scheme} identifier", value=v[scheme], scheme=scheme)
    jurisdiction, category = v.get("jurisdiction", "").upper(), v.get("category", "").lower()
    if jurisdiction and jurisdiction not in jurisdictions:
        fail("jurisdiction", "unknown jurisdiction {value!r}", value=v["jurisdiction"])
    if category and category not in categories:
        fail("category", "unknown product category {value!r}", value=v["category"])
    valid_from = parse_date(v.get("valid_from", ""))
    if v.get("valid_from") and valid_from is None:
        fail("valid_from", "{value!r} is not a date (YYYY-MM-DD)", value=v["valid_from"])
    valid_until = parse_date(v.get("valid_until", ""))
    if v.get("valid_until") and valid_until is None:
        fail("valid_until", "{value!r} is not a date (YYYY-MM-DD)", value=v["valid_until"])
    if valid_from and valid_until and valid_until < valid_from:
        fail("valid_until", "valid_until ({until}) is before valid_from ({start})", until=valid_until,
             start=valid_from)
    status = STATUS_WORDS.get(v.get("status", "").lower())
    if status is None:
        fail("status", "unknown status {value!r}; use active, suspended, withdrawn or expired",
             value=v["status"])
    if errors or valid_from is None or status is None:
        return None, errors
    body = BodyInput(
        code=v["body_code"], kind=kind, name_zh=v["name_zh"], name_en=v.get("name_en", ""),
        credit_code=credit_code, country=country, province=province, address=v.get("address", ""),
        website=v.get("website", ""), identifiers=identifiers,
    )
    line = AuthorizationInput(
        jurisdiction=jurisdiction, scheme=v["scheme"], category=category, valid_from=valid_from,
        valid_until=valid_until, standards=v.get("standards", ""), tests=v.get("tests", ""),
    )
    return ImportRow(n, columns, body, line, status), errors


def body_values(body: BodyInput) -> dict[str, str]:
    """A body's importable fields by column name, as text ("" for none)."""
    values = {name: getattr(body, name) or "" for name in ("kind", "credit_code", *ORG_COLUMNS)}
    return values | {scheme: body.identifiers.get(scheme, "") for scheme in IDENTIFIER_COLUMNS}


def validate(
    source: SourceFile, *, categories: Collection[str], jurisdictions: Collection[str]
) -> Validation:
    """Check every row, then the rows against each other (one body, one scope line, one identifier owner)."""
    columns = frozenset(source.columns)
    errors, warnings = list(source.problems), list[ImportProblem]()
    rows: list[ImportRow] = []
    for source_row in source.rows:
        row, row_errors = _check_row(source_row, columns, categories, jurisdictions, warnings)
        errors.extend(row_errors)
        if row is not None:
            rows.append(row)
    first_of_body: dict[str, ImportRow] = {}
    values_of: dict[str, dict[str, str]] = {}  # the first row's body values, by body code
    first_of_line: dict[tuple[str, str, str, str], int] = {}
    identifier_owner: dict[tuple[str, str], ImportRow] = {}
    organization_of: dict[str, ImportRow] = {}
    compared = [c for c in BODY_COLUMNS if c in columns]
    for row in rows:
        code = row.body.code
        first = first_of_body.setdefault(code, row)
        mine = body_values(row.body)
        if first is not row:
            theirs = values_of[code]
            errors.extend(
                ImportProblem(row.number, name, "differs from row {first} of the same body ({there!r} there, "
                              "{here!r} here)", {"first": first.number, "there": theirs[name], "here": value})
                for name in compared if theirs[name] != (value := mine[name])
            )
        else:
            values_of[code] = mine
            for scheme, value in row.body.identifiers.items():
                owner = identifier_owner.setdefault((scheme, value), row)
                if owner.body.code != code:
                    where = {"value": value, "other": owner.body.code, "other_row": owner.number}
                    errors.append(ImportProblem(row.number, scheme, "{value} is also the identifier of "
                                                "body {other} (row {other_row})", where))
            if row.body.credit_code:
                other = organization_of.setdefault(row.body.credit_code, row)
                clash = [c for c in ORG_COLUMNS if c in columns and values_of[other.body.code][c] != mine[c]]
                if clash:
                    where = {"other": other.body.code, "other_row": other.number, "column": clash[0]}
                    errors.append(ImportProblem(row.number, "credit_code", "body {other} (row {other_row}) "
                                                "has the same credit code but a different {column}", where))
        key = (code, row.line.jurisdiction, row.line.scheme, row.line.category)
        first_line = first_of_line.setdefault(key, row.number)
        if first_line != row.number:
            errors.append(ImportProblem(row.number, "scheme", "duplicate scope line: row {first} has the "
                                        "same body, jurisdiction, scheme and category",
                                        {"first": first_line}))
    errors.sort(key=lambda p: (p.row or 0, COLUMNS.index(p.column) if p.column in COLUMNS else -1))
    return Validation(rows, errors, warnings)


