"""Exports of the list as of a date: one row per scope line, as CSV, XLSX or JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from registry.models import Body
from registry.queries import authorization_status_on

COLUMNS = [
    "body_code", "kind", "name_zh", "name_en", "credit_code", "country", "province", "address",
    "website", "cnca", "cnas", "cma", "eu_nb", "niosh", "other", "jurisdiction", "scheme",
    "category", "standards", "tests", "valid_from", "valid_until", "status",
]
IDENTIFIER_COLUMNS = ("cnca", "cnas", "cma", "eu_nb", "niosh", "other")
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


def rows(bodies: Iterable[Body], day: dt.date) -> list[dict[str, Any]]:
    """Flatten bodies into scope-line rows with their status on ``day`` (lines not yet valid are left out).

    The columns are the import format's, so an export can be edited and imported back.
    """
    out: list[dict[str, Any]] = []
    for body in bodies:
        org = body.organization
        ids = {i.scheme: i.value for i in body.identifiers}
        for line in body.authorizations:
            status = authorization_status_on(line, day)
            if status is None:
                continue
            out.append(
                {
                    "body_code": body.code,
                    "kind": body.kind,
                    "name_zh": org.name_zh,
                    "name_en": org.name_en,
                    "credit_code": org.credit_code or "",
                    "country": org.country,
                    "province": org.province or "",
                    "address": org.address,
                    "website": org.website,
                    **{scheme: ids.get(scheme, "") for scheme in IDENTIFIER_COLUMNS},
                    "jurisdiction": line.jurisdiction,
                    "scheme": line.scheme,
                    "category": line.category,
                    "standards": line.standards,
                    "tests": line.tests,
                    "valid_from": line.valid_from.isoformat(),
                    "valid_until": line.valid_until.isoformat() if line.valid_until else "",
                    "status": status,
                }
            )
    return out


def _safe_cell(value: Any) -> Any:
    # Spreadsheet formula injection: a cell starting with = + - @ is read as a formula by Excel.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _xlsx_cell(value: Any) -> Any:
    # XML cannot hold most control characters (pasted from Word or PDFs, e.g. a vertical tab);
    # openpyxl raises on them, which would turn the whole export into a server error.
    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return _safe_cell(value)


def to_csv(data: list[dict[str, Any]]) -> bytes:
    """UTF-8 CSV with a BOM and CRLF line ends, formula-like cells quoted."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in data:
        writer.writerow({k: _safe_cell(v) for k, v in row.items()})
    # The BOM lets Excel open UTF-8 Chinese text correctly.
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(data: list[dict[str, Any]], day: dt.date) -> bytes:
    """One worksheet named after ``day``; formula-like cells quoted, control characters dropped."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=f"as of {day.isoformat()}")
    sheet.append(COLUMNS)
    for row in data:
        sheet.append([_xlsx_cell(row[c]) for c in COLUMNS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_json(data: list[dict[str, Any]], day: dt.date) -> bytes:
    """``{"as_of", "count", "items"}`` as UTF-8 JSON; values verbatim (no spreadsheet quoting)."""
    payload = {"as_of": day.isoformat(), "count": len(data), "items": data}
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def render(fmt: str, bodies: Iterable[Body], day: dt.date) -> bytes:
    """Render ``bodies`` as ``fmt`` (one of FORMATS)."""
    data = rows(bodies, day)
    if fmt == "csv":
        return to_csv(data)
    if fmt == "xlsx":
        return to_xlsx(data, day)
    if fmt == "json":
        return to_json(data, day)
    raise ValueError(f"unknown export format {fmt!r}")
