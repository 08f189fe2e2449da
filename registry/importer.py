"""Import of the official list from CSV or XLSX: parse, validate, plan (the dry run), apply.

The format is the export format (``registry.exports.COLUMNS``): one row per scope line, the
body's fields repeated on each row, so an export can be edited and imported back. ``dry_run``
parses, validates and plans without writing; ``apply`` makes the planned changes through
``registry.bodies`` (one audit event per change) plus one ``registry:import`` event, inside a
SAVEPOINT so that any failure leaves nothing behind. Problems carry an English message template
and its values, so the Flask layer can translate them.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from registry import audit
from registry.bodies import (
    KINDS,
    TRANSITIONS,
    AuthorizationInput,
    BodyInput,
    body_snapshot,
    change_status,
    create_body,
    get_authorization,
    grant_authorization,
    latest_effective_date,
    registry_today,
    update_authorization,
    update_body,
)
from registry.errors import ImportRejected, RegistryError
from registry.exports import COLUMNS
from registry.identifiers import check_credit_code, normalize_identifier, uscc_check_character
from registry.models import Authorization, Body, Category, Jurisdiction
from registry.reference import province_code

MAX_ROWS = 20_000
MAX_COLUMNS = 100
# A zip bomb guard: an XLSX of a 20,000-row list unpacks to a few tens of MB at most.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
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
# registry.exports prefixes cells starting with these with a quote (formula injection guard).
_FORMULA_GUARD = ("=", "+", "-", "@", "\t", "\r")
_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_PROVINCE_SUFFIX = re.compile(r"(省|市|特别行政区|壮族自治区|回族自治区|维吾尔自治区|自治区)$")
_NOT_SPREADSHEETS = {b"%PDF": "PDF", b"\x89PNG": "PNG", b"\xff\xd8\xff": "JPEG", b"GIF8": "GIF"}


@dataclass(frozen=True)
class ImportProblem:
    """One problem: ``row`` as a spreadsheet shows it (header = 1), the column, and the message.

    ``message`` is an English template filled from ``values``; ``problem`` is the filled text.
    """

    row: int | None
    column: str | None
    message: str
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def problem(self) -> str:
        return self.message.format(**self.values)

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "problem": self.problem}


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


def rejected(message: str, *, unsupported: bool = False, row: int | None = None,
             column: str | None = None, **values: Any) -> ImportRejected:
    """An ImportRejected for a whole-file problem; ``unsupported`` marks a wrong file type."""
    problem = ImportProblem(row, column, message, values)
    return ImportRejected(problem.problem, errors=[problem], unsupported=unsupported)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def detect_format(data: bytes) -> str:
    """``"xlsx"`` or ``"csv"`` from the content (an XLSX is a zip archive); raise for anything else."""
    if not data.strip():
        raise rejected("the file is empty")
    if data.startswith(b"PK"):
        return "xlsx"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise rejected("legacy .xls workbooks are not supported; save the sheet as .xlsx or CSV",
                       unsupported=True)
    for magic, kind in _NOT_SPREADSHEETS.items():
        if data.startswith(magic):
            raise rejected("this is a {kind} file, not a CSV or XLSX spreadsheet", unsupported=True,
                           kind=kind)
    if b"\x00" in data:
        raise rejected("this is a binary or UTF-16 file; save the sheet as CSV (UTF-8) or XLSX",
                       unsupported=True)
    return "csv"


def _decode(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # Chinese government spreadsheets are often saved as GBK, which GB18030 contains.
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise rejected("the text is neither UTF-8 nor GB18030 (GBK); save the sheet as CSV UTF-8") from None


def _csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    # The record number, not reader.line_num: a quoted cell may span lines, a spreadsheet row does not.
    yield from enumerate(reader, start=1)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _xlsx_rows(data: bytes, problems: list[ImportProblem]) -> Iterator[tuple[int, list[str]]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
        raise rejected("the file looks like an XLSX workbook (a zip archive) but is corrupt") from None
    if "xl/workbook.xml" not in names:
        raise rejected("this zip archive is not an XLSX workbook", unsupported=True)
    if unpacked > MAX_UNPACKED_BYTES:
        raise rejected("the workbook unpacks to more than {limit} MB", limit=MAX_UNPACKED_BYTES // 2**20)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for damaged parts; all mean "unreadable"
        raise _unreadable(exc) from None
    try:
        if not workbook.worksheets:
            raise rejected("the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        # Some generators write a wrong <dimension>; without this, rows beyond it would be lost silently.
        sheet.reset_dimensions()  # type: ignore[union-attr]
        for number, cells in enumerate(sheet.iter_rows(), start=1):
            texts = []
            for cell in cells:
                if getattr(cell, "data_type", None) == "f":
                    # The cached result may be missing or stale; the official list must hold values.
                    where = {"cell": getattr(cell, "coordinate", "?")}
                    problems.append(ImportProblem(number, None, "cell {cell} holds a formula; paste values",
                                                  where))
                    texts.append("")
                else:
                    texts.append(_cell_text(cell.value))
            yield number, texts
    finally:
        workbook.close()


def _unreadable(exc: Exception) -> ImportRejected:
    return rejected("the workbook cannot be read: {detail}", detail=str(exc) or type(exc).__name__)


def _clean_cell(text: str) -> str:
    text = text.strip()
    if text[:1] == "'" and text[1:2] in _FORMULA_GUARD:
        text = text[1:].strip()
    return text


def parse(data: bytes, filename: str = "") -> SourceFile:
    """Read the header and rows of a CSV or XLSX file; whole-file problems raise ImportRejected.

    ``filename`` is informational only: the format is detected from the content.
    """
    fmt = detect_format(data)
    problems: list[ImportProblem] = []
    grid = _xlsx_rows(data, problems) if fmt == "xlsx" else _csv_rows(data)
    try:
        return _read_grid(fmt, grid, problems)
    except ImportRejected:
        raise
    except csv.Error as exc:
        raise rejected("the CSV is malformed: {detail}", detail=str(exc)) from None
    except Exception as exc:  # a damaged worksheet fails while streaming; report it, never a 500
        raise _unreadable(exc) from None


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
        values = {name: _clean_cell(cells[i]) if i < len(cells) else "" for i, name in enumerate(header)}
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


def _date(text: str) -> dt.date | None:
    match = _DATE.match(text)
    if not match:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


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
    valid_from = _date(v.get("valid_from", ""))
    if v.get("valid_from") and valid_from is None:
        fail("valid_from", "{value!r} is not a date (YYYY-MM-DD)", value=v["valid_from"])
    valid_until = _date(v.get("valid_until", ""))
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


# --- The plan: what applying the file would change ------------------------------------------------

LIVE = ("active", "suspended")


@dataclass(frozen=True)
class FieldChange:
    column: str
    old: Any
    new: Any


@dataclass
class BodyPlan:
    """A body to add, change (``changes``) or withdraw (``withdrawn_lines`` lines)."""

    code: str
    name_zh: str
    row: int | None
    data: BodyInput | None = None
    changes: list[FieldChange] = field(default_factory=list)
    withdrawn_lines: int = 0
    takes_held_identifier: bool = False


@dataclass
class LinePlan:
    """A scope line to add, edit (``changes``) and/or move through ``status_steps``."""

    body_code: str
    jurisdiction: str
    scheme: str
    category: str
    row: int | None
    authorization_id: int | None
    data: AuthorizationInput | None
    changes: list[FieldChange] = field(default_factory=list)
    status_from: str | None = None
    status_steps: list[str] = field(default_factory=list)
    absent: bool = False

    @property
    def action(self) -> str:
        if self.authorization_id is None:
            return "added"
        if self.absent:
            return "withdrawn"
        return "changed" if self.changes else "status"


@dataclass
class ImportPlan:
    sha256: str = ""
    filename: str = ""
    rows: int = 0
    bodies_added: list[BodyPlan] = field(default_factory=list)
    bodies_changed: list[BodyPlan] = field(default_factory=list)
    bodies_withdrawn: list[BodyPlan] = field(default_factory=list)
    lines: list[LinePlan] = field(default_factory=list)
    errors: list[ImportProblem] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.bodies_added or self.bodies_changed or self.lines)

    def counts(self) -> dict[str, int]:
        """How many bodies and lines each kind of change touches."""
        return {
            "bodies_added": len(self.bodies_added),
            "bodies_changed": len(self.bodies_changed),
            "bodies_withdrawn": len(self.bodies_withdrawn),
            "lines_added": sum(lp.authorization_id is None for lp in self.lines),
            "lines_changed": sum(bool(lp.changes) for lp in self.lines),
            "lines_status_changed": sum(bool(lp.status_steps) and not lp.absent for lp in self.lines
                                        if lp.authorization_id is not None),
            "lines_withdrawn": sum(lp.absent for lp in self.lines),
        }

    def digest(self) -> str:
        """A fingerprint of the planned changes: the UI applies only the plan the admin reviewed."""
        payload = {
            "sha256": self.sha256,
            "bodies": [(b.code, [(c.column, c.old, c.new) for c in b.changes])
                       for b in (*self.bodies_added, *self.bodies_changed, *self.bodies_withdrawn)],
            "lines": [(lp.body_code, lp.jurisdiction, lp.scheme, lp.category, lp.authorization_id,
                       [(c.column, c.old, c.new) for c in lp.changes], lp.status_steps) for lp in self.lines],
        }
        return sha256_hex(json.dumps(payload, default=str, ensure_ascii=False).encode("utf-8"))


def _load_bodies(session: Session) -> dict[str, Body]:
    # Four queries for the whole registry instead of several per row.
    query = select(Body).options(
        selectinload(Body.identifiers), selectinload(Body.authorizations).selectinload(Authorization.periods)
    )
    return {b.code: b for b in session.scalars(query)}


def _desired_body(row: ImportRow, body: Body | None) -> BodyInput:
    """The file's body, with the database's value for any column the file does not have."""
    if body is None:
        return row.body
    current = body_snapshot(body)
    given = body_values(row.body)
    identifiers = {s: given[s] if s in row.columns else current["identifiers"].get(s, "")
                   for s in IDENTIFIER_COLUMNS}
    kept = {name: (getattr(row.body, name) if name in row.columns else current[name])
            for name in ("credit_code", *ORG_COLUMNS)}
    return BodyInput(
        code=row.body.code, kind=row.body.kind, contact_name=body.contact_name,
        contact_email=body.contact_email, contact_phone=body.contact_phone,
        identifiers={s: v for s, v in identifiers.items() if v}, **kept,
    )


def _period_status(line: Authorization, day: dt.date) -> str:
    status = line.periods[0].status
    for period in line.periods:
        if period.effective_from <= day:
            status = period.status
    return status


def _status_steps(stored: str, target: str) -> list[str]:
    if stored == target:
        return []
    if (stored, target) in TRANSITIONS:
        return [target]
    return ["active", target]  # withdrawn -> suspended: restore, then suspend


def _plan_line(
    row: ImportRow, line: Authorization | None, today: dt.date, errors: list[ImportProblem]
) -> LinePlan | None:
    data = row.line
    if line is not None:
        # Columns the file does not have keep the database's value.
        optional = ("standards", "tests", "valid_until")
        data = AuthorizationInput(
            jurisdiction=line.jurisdiction, scheme=line.scheme, category=line.category,
            valid_from=row.line.valid_from,
            **{name: getattr(row.line if name in row.columns else line, name) for name in optional},
        )
    plan_ = LinePlan(row.body.code, data.jurisdiction, data.scheme, data.category, row.number,
                     line.id if line else None, data)
    if line is None:
        target = "active" if row.status == "expired" else row.status
        plan_.status_steps = _status_steps("active", target)
        last_change = data.valid_from
    else:
        plan_.changes = [FieldChange(name, getattr(line, name), getattr(data, name)) for name in LINE_COLUMNS
                         if getattr(line, name) != getattr(data, name)]
        if (data.valid_from != line.valid_from and len(line.periods) > 1
                and data.valid_from >= line.periods[1].effective_from):
            errors.append(ImportProblem(row.number, "valid_from", "valid_from must precede the line's first "
                                        "status change ({day})", {"day": line.periods[1].effective_from}))
        day = max(today, data.valid_from)
        in_force = _period_status(line, day)
        target = in_force if row.status == "expired" and in_force in LIVE else row.status
        target = "active" if target == "expired" else target
        last_change = line.periods[-1].effective_from if len(line.periods) > 1 else data.valid_from
        plan_.status_from = line.status
        if target not in (in_force, line.status):
            if last_change > day:
                errors.append(ImportProblem(row.number, "status", "a status change is already scheduled for "
                                            "{day}; change this line's status in the admin pages",
                                            {"day": last_change}))
            else:
                plan_.status_steps = _status_steps(line.status, target)
    if plan_.status_steps and max(today, last_change) > latest_effective_date(today):
        errors.append(ImportProblem(row.number, "status", "the line starts more than a year ahead; its "
                                    "status cannot be set yet"))
    return plan_ if (line is None or plan_.changes or plan_.status_steps) else None


def _withdraw_absent(result: ImportPlan, body: Body, lines: Iterable[Authorization], today: dt.date) -> int:
    """Plan the withdrawal of ``body``'s live lines that the file does not list; return how many."""
    count = 0
    for line in lines:
        if line.status not in LIVE:
            continue
        count += 1
        result.lines.append(LinePlan(body.code, line.jurisdiction, line.scheme, line.category, None, line.id,
                                     None, status_from=line.status, status_steps=["withdrawn"], absent=True))
        if line.periods[-1].effective_from > latest_effective_date(today):
            where = {"body": body.code, "category": line.category, "day": line.periods[-1].effective_from}
            result.errors.append(ImportProblem(None, None, "body {body}: the {category} line the file drops "
                                               "starts on {day}, too far ahead to withdraw now", where))
    return count


def plan(session: Session, rows: list[ImportRow], now: dt.datetime, *, sha256: str = "",
         filename: str = "") -> ImportPlan:
    """Compare validated rows with the database. Bodies and lines not in the file are withdrawn.

    Nothing is written. ``errors`` lists what only the database reveals (a kind change, an
    identifier held by another body, a valid_from after a status change).
    """
    today = registry_today(now)
    result = ImportPlan(sha256=sha256, filename=filename, rows=len(rows))
    existing = _load_bodies(session)
    by_body: dict[str, list[ImportRow]] = {}
    for row in rows:
        by_body.setdefault(row.body.code, []).append(row)
    held = {(i.scheme, i.value): b.code for b in existing.values() for i in b.identifiers}
    final_owner = {key: code for key, code in held.items() if code not in by_body}
    for code, body_rows in by_body.items():
        first, body = body_rows[0], existing.get(code)
        desired = _desired_body(first, body)
        entry = BodyPlan(code, desired.name_zh, first.number, desired)
        for scheme, value in desired.identifiers.items():
            owner = final_owner.setdefault((scheme, value), code)
            if owner != code:
                result.errors.append(ImportProblem(first.number, scheme, "{value} is the identifier of body "
                                                   "{other}, which the file does not list",
                                                   {"value": value, "other": owner}))
            entry.takes_held_identifier |= held.get((scheme, value), code) != code
        if body is None:
            result.bodies_added.append(entry)
        else:
            if desired.kind != body.kind:
                kinds = {"old": body.kind, "new": desired.kind}
                result.errors.append(ImportProblem(first.number, "kind", "a body's kind cannot change ({old} "
                                                   "to {new}); withdraw it and add a new body", kinds))
            snapshot = body_snapshot(body)
            fields = BodyInput.__dataclass_fields__
            old = body_values(BodyInput(**{k: v for k, v in snapshot.items() if k in fields}))
            entry.changes = [FieldChange(c, old[c], new) for c, new in body_values(desired).items()
                             if old[c] != new]
            if entry.changes:
                result.bodies_changed.append(entry)
        lines = {(a.jurisdiction, a.scheme, a.category): a for a in (body.authorizations if body else [])}
        for row in body_rows:
            key = (row.line.jurisdiction, row.line.scheme, row.line.category)
            line_plan = _plan_line(row, lines.pop(key, None), today, result.errors)
            if line_plan is not None:
                result.lines.append(line_plan)
        if body is not None:
            _withdraw_absent(result, body, lines.values(), today)
    for code, body in existing.items():
        if code not in by_body:
            withdrawn = _withdraw_absent(result, body, body.authorizations, today)
            if withdrawn:
                name = body.organization.name_zh
                result.bodies_withdrawn.append(BodyPlan(code, name, None, withdrawn_lines=withdrawn))
    return result


# --- Apply ------------------------------------------------------------------------------------------


def _effective(line: Authorization, today: dt.date) -> dt.date:
    # Status history is append-only: a change cannot take effect before the last recorded one.
    return max(today, line.periods[-1].effective_from)


def _apply_changes(
    session: Session, planned: ImportPlan, *, actor: str, now: dt.datetime, reason: str
) -> None:
    today = registry_today(now)
    # Strong references keep these in the identity map, so the services' session.get() for every
    # granted line is answered without a query (the map only holds objects weakly).
    reference = [*session.scalars(select(Category)), *session.scalars(select(Jurisdiction))]
    # Bodies that only give identifiers up go first, so a body taking one over finds it free.
    for entry in sorted(planned.bodies_changed, key=lambda b: b.takes_held_identifier):
        assert entry.data is not None
        update_body(session, entry.code, entry.data, expected_version=None, actor=actor, now=now)
    for entry in planned.bodies_added:
        assert entry.data is not None
        create_body(session, entry.data, actor=actor, now=now)
    for lp in planned.lines:
        if lp.authorization_id is None:
            assert lp.data is not None
            line = grant_authorization(session, lp.body_code, lp.data, actor=actor, now=now, reason=reason)
        elif lp.changes:
            assert lp.data is not None
            line = update_authorization(session, lp.authorization_id, lp.data, expected_version=None,
                                        actor=actor, now=now, reason=reason)
        else:
            line = get_authorization(session, lp.authorization_id)
        why = f"{reason}; no longer in the official list" if lp.absent else reason
        for status in lp.status_steps:
            change_status(session, line.id, status, reason=why, actor=actor, now=now,
                          effective=_effective(line, today))
    del reference


def apply(
    session: Session, planned: ImportPlan, *, actor: str, now: dt.datetime, reason: str
) -> dict[str, int]:
    """Make the planned changes through the audited services, plus one ``registry:import`` event.

    All or nothing: the changes run in a SAVEPOINT, and any failure rolls it back and raises
    ImportRejected. The caller commits. A plan without changes writes nothing at all.
    """
    reason = reason.strip()
    if not reason:
        raise rejected("a reason is required", column="reason")
    if planned.errors:
        raise ImportRejected(planned.errors[0].problem, errors=planned.errors)
    counts = planned.counts()
    if not planned.has_changes:
        return counts
    note = f"{reason} (import {planned.sha256[:12]})" if planned.sha256 else reason
    try:
        with session.begin_nested():
            _apply_changes(session, planned, actor=actor, now=now, reason=note)
            audit.record(
                session, now=now, actor=actor, action="registry:import", subject_type="import",
                subject_key=planned.sha256 or "-", before=None,
                after={"sha256": planned.sha256, "filename": planned.filename, "rows": planned.rows,
                       **counts},
                reason=reason,
            )
    except RegistryError as exc:
        raise rejected("the import was rolled back: {detail}", detail=exc.message) from None
    except SQLAlchemyError as exc:
        raise rejected("the import was rolled back: {detail}", detail=str(exc).splitlines()[0]) from None
    return counts


@dataclass
class ImportReport:
    """The dry run of one file: problems, warnings and (when there is no error) the plan."""

    filename: str
    sha256: str
    format: str | None
    errors: list[ImportProblem]
    warnings: list[ImportProblem] = field(default_factory=list)
    plan: ImportPlan | None = None
    unsupported: bool = False

    @property
    def applicable(self) -> bool:
        return not self.errors and self.plan is not None


def dry_run(session: Session, data: bytes, filename: str, now: dt.datetime) -> ImportReport:
    """Parse, validate and plan ``data`` without writing anything."""
    digest = sha256_hex(data)
    try:
        source = parse(data, filename)
    except ImportRejected as exc:
        return ImportReport(filename, digest, None, list(exc.details.get("errors", [])),
                            unsupported=bool(exc.details.get("unsupported")))
    checked = validate(
        source,
        categories=set(session.scalars(select(Category.code))),
        jurisdictions=set(session.scalars(select(Jurisdiction.code))),
    )
    if checked.errors:
        return ImportReport(filename, digest, source.format, checked.errors, checked.warnings)
    planned = plan(session, checked.rows, now, sha256=digest, filename=filename)
    return ImportReport(filename, digest, source.format, planned.errors, checked.warnings, planned)


def import_file(
    session: Session, data: bytes, filename: str, *, actor: str, now: dt.datetime, reason: str
) -> ImportPlan:
    """Dry-run then apply ``data`` in one go; raise ImportRejected (nothing written) on any problem."""
    report = dry_run(session, data, filename, now)
    if not report.applicable or report.plan is None:
        first = report.errors[0].problem if report.errors else "the file cannot be imported"
        raise ImportRejected(first, errors=report.errors)
    apply(session, report.plan, actor=actor, now=now, reason=reason)
    return report.plan
