"""Reading uploaded spreadsheets: CSV (UTF-8 or GB18030) and XLSX, as rows of text cells.

Shared by every upload of the service (the official list, certificates, customs declarations), so
they all take the same encodings and refuse hostile files the same way: other file types named,
zip bombs, formulas in cells, unreadable workbooks, each as an :class:`ImportRejected` carrying an
:class:`ImportProblem` (an English message template and its values, translated by the Flask layer),
never an unhandled exception.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import re
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from openpyxl import load_workbook

from registry.errors import ImportRejected

# A zip bomb guard: an XLSX of a 20,000-row list unpacks to a few tens of MB at most.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
# registry.exports prefixes cells starting with these with a quote (formula injection guard).
_FORMULA_GUARD = ("=", "+", "-", "@", "\t", "\r")
_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
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


def csv_rows(data: bytes) -> Iterator[tuple[int, list[str]]]:
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


def xlsx_rows(data: bytes, problems: list[ImportProblem]) -> Iterator[tuple[int, list[str]]]:
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
        raise unreadable(exc) from None
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


def unreadable(exc: Exception) -> ImportRejected:
    return rejected("the workbook cannot be read: {detail}", detail=str(exc) or type(exc).__name__)


def clean_cell(text: str) -> str:
    text = text.strip()
    if text[:1] == "'" and text[1:2] in _FORMULA_GUARD:
        text = text[1:].strip()
    return text




def parse_date(text: str) -> dt.date | None:
    match = _DATE.match(text)
    if not match:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


