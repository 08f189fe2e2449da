"""The results of a bulk customs check, kept for download as CSV or XLSX.

Where they are kept, and why: the results are written once, when the file is checked, to
``CUSTOMS_RESULTS_DIR/<random id>.jsonl`` (24 random bytes, URL-safe: the id is the capability,
and the file also names its owner, whom the download must be). So the download is exactly what
the page showed (computing again later could give other verdicts: a certificate suspended
meanwhile), the user's session stays small, and memory stays bounded: the file is written row by
row and a CSV download streams it back row by row. A file is written under a temporary name and
renamed, so a download never sees half of one; files older than :data:`KEEP` are deleted
whenever a new one is written.

Each stored row holds the cells of :data:`RESULT_COLUMNS`; reasons are kept in both languages
(``[zh, en]``) and the download picks the reader's.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from flask import current_app
from openpyxl import Workbook

from app.customs.upload import SCANNED, BulkRow
from registry.customs import CustomsResult

# The export's guards: formula-like cells quoted, control characters XML cannot hold dropped.
from registry.exports import _safe_cell, _xlsx_cell
from verify.declaration import DECLARATION_FIELDS

CHECKS = ("holder", "hs_code", "certificate_on_date", "authorization_on_date")
RESULT_COLUMNS = (
    "row",
    SCANNED,
    *DECLARATION_FIELDS,
    "seal_verdict",
    "seal_reason",
    "body",
    "certificate_number",
    "declaration_outcome",
    *(f"{check}_{part}" for check in CHECKS for part in ("outcome", "reason")),
    "note",
)
NOT_CHECKED = "NOT_CHECKED"  # the seal names no registered certificate: nothing to check against
INVALID_ROW = "INVALID_ROW"  # the row itself is malformed: not checked at all
KEEP_SECONDS = 24 * 3600
RESULT_ID = re.compile(r"[A-Za-z0-9_-]{32}")
FORMATS = ("csv", "xlsx")

Cell = str | int | list[str]


def result_cells(row: BulkRow, result: CustomsResult | None, problems: Iterable[str] = ()) -> list[Cell]:
    """The stored cells of one row of the file: its result, or (``result`` None) its problems."""
    cells: dict[str, Cell] = dict.fromkeys(RESULT_COLUMNS, "")
    cells.update({"row": row.row, SCANNED: row.scanned})
    cells.update({name: row.values.get(name, "") for name in DECLARATION_FIELDS})
    if result is None:
        cells.update(declaration_outcome=INVALID_ROW, note="; ".join(problems))
        return [cells[name] for name in RESULT_COLUMNS]
    verification = result.verification
    cells.update(seal_verdict=verification.code, seal_reason=[verification.reason_zh, verification.reason_en])
    claims = verification.claims
    if claims is not None:
        cells.update(body=claims.body_code, certificate_number=claims.certificate_number)
    if result.report is None:
        cells.update(declaration_outcome=NOT_CHECKED, note=[result.skipped_zh, result.skipped_en])
    else:
        cells["declaration_outcome"] = str(result.report.overall)
        for check in result.report.checks:
            cells[f"{check.check}_outcome"] = str(check.outcome)
            cells[f"{check.check}_reason"] = [check.reason_zh, check.reason_en]
    return [cells[name] for name in RESULT_COLUMNS]


def _folder() -> Path:
    return Path(current_app.config.get("CUSTOMS_RESULTS_DIR") or Path(current_app.instance_path) / "customs")


def _sweep(folder: Path, now: float) -> None:
    """Delete results (and abandoned partial files) older than KEEP_SECONDS."""
    for path in folder.iterdir():
        try:
            if now - path.stat().st_mtime > KEEP_SECONDS:
                path.unlink()
        except OSError:  # deleted meanwhile by another worker: fine
            continue


def store(rows: Iterable[list[Cell]], owner: int) -> str:
    """Write the rows for ``owner`` (a user id); return the id to download them by."""
    folder = _folder()
    folder.mkdir(parents=True, exist_ok=True)
    _sweep(folder, time.time())
    result_id = secrets.token_urlsafe(24)
    path = folder / f"{result_id}.jsonl"
    partial = folder / f".{result_id}.part"
    with partial.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps({"owner": owner, "columns": RESULT_COLUMNS}) + "\n")
        for cells in rows:
            handle.write(json.dumps(cells, ensure_ascii=False) + "\n")
    os.replace(partial, path)
    return result_id


def load(result_id: str, owner: int) -> Iterator[list[Cell]] | None:
    """The stored rows of ``result_id`` if it exists and belongs to ``owner``, else None."""
    if not RESULT_ID.fullmatch(result_id):
        return None
    path = _folder() / f"{result_id}.jsonl"
    try:
        handle = path.open(encoding="utf-8")
    except OSError:
        return None
    head = json.loads(handle.readline() or "{}")
    if head.get("owner") != owner or tuple(head.get("columns", ())) != RESULT_COLUMNS:
        handle.close()
        return None

    def rows() -> Iterator[list[Cell]]:
        with handle:
            for line in handle:
                yield json.loads(line)

    return rows()


def _localized(cells: list[Cell], language: str) -> list[Any]:
    pick = 0 if language == "zh" else 1
    return [cell[pick] if isinstance(cell, list) else cell for cell in cells]


def csv_chunks(rows: Iterator[list[Cell]], language: str) -> Iterator[bytes]:
    """UTF-8 CSV with a BOM (for Excel), CRLF line ends, formula-like cells quoted; streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(RESULT_COLUMNS)
    yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
    for cells in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([_safe_cell(cell) for cell in _localized(cells, language)])
        yield buffer.getvalue().encode("utf-8")


def xlsx_bytes(rows: Iterator[list[Cell]], language: str) -> bytes:
    """One worksheet (write-only: rows go straight to the archive); at most 10,000 rows."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title="customs checks")
    sheet.append(list(RESULT_COLUMNS))
    for cells in rows:
        sheet.append([_xlsx_cell(cell) for cell in _localized(cells, language)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
