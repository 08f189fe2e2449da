"""Bulk customs checks: upload declarations with their scanned seals, read and download the results.

An unusable file (unreadable, wrong columns, too many rows) is refused with its problems (422)
and nothing is checked. Otherwise every well-formed row is checked (``registry.customs``, a few
statements per 1,000 rows) and logged, every malformed row is listed with its problems, and all
rows, checked or not, go into the stored results (``app.customs.results``) for download.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from flask import Response, abort, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app import clock
from app.access import roles
from app.certificates.customs import log_customs
from app.certificates.service import grace_days
from app.certificates.upload import RowProblem
from app.customs import CUSTOMS_ROLES, bp, results
from app.customs.results import INVALID_ROW, NOT_CHECKED, RESULT_COLUMNS, Cell
from app.customs.upload import COLUMNS, SCANNED, parse_bulk
from app.database import get_reading_session
from app.i18n import current_language
from registry.customs import CustomsResult, check_declarations

SHOWN_ROWS = 200  # the page shows this many results; the downloads have them all
SHOWN_PROBLEMS = 500
SUMMARY_ORDER = ("MATCH", "WARN", "MISMATCH", NOT_CHECKED, INVALID_ROW)
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _render(
    problems: list[RowProblem],
    status: int,
    *,
    rows: list[list[Cell]] | None = None,
    result_id: str = "",
) -> ResponseReturnValue:
    outcome_at = RESULT_COLUMNS.index("declaration_outcome")
    counts = Counter(str(cells[outcome_at]) for cells in rows or [])
    return render_template(
        "customs/bulk.html",
        problems=problems[:SHOWN_PROBLEMS],
        problem_count=len(problems),
        invalid_rows=len({problem.row for problem in problems}),
        columns=COLUMNS,
        required=SCANNED,
        rows=(rows or [])[:SHOWN_ROWS],
        row_count=len(rows or []),
        summary=[(outcome, counts[outcome]) for outcome in SUMMARY_ORDER],
        result_id=result_id,
        column_index={name: index for index, name in enumerate(RESULT_COLUMNS)},
    ), status


@bp.get("/bulk")
@roles(*CUSTOMS_ROLES)
def bulk_form() -> ResponseReturnValue:
    """The bulk check form, with the columns it reads."""
    return _render([], 200)


@bp.post("/bulk")
@roles(*CUSTOMS_ROLES)
def bulk_check() -> ResponseReturnValue:
    """Check every declaration of a CSV/XLSX file; list malformed rows; keep the results for download."""
    upload = request.files.get("file")
    data = upload.read() if upload is not None else b""
    if not data:
        return _render([RowProblem(None, "file", "choose a CSV or XLSX file to upload")], 422)
    parsed = parse_bulk(data)
    if not parsed.usable:
        return _render(parsed.problems, 422)
    checkable = parsed.checkable
    items = [(row.scanned, row.declaration) for row in checkable if row.declaration is not None]
    checked = check_declarations(get_reading_session(), items, now=clock.now(), grace_days=grace_days())
    by_row: dict[int, CustomsResult] = {}
    for row, result in zip(checkable, checked, strict=True):
        log_customs(result, row.scanned)
        by_row[row.row] = result
    problems_by_row: dict[int | None, list[str]] = {}
    for problem in parsed.problems:
        problems_by_row.setdefault(problem.row, []).append(f"{problem.column}: {problem.problem}")
    rows = [
        results.result_cells(row, by_row.get(row.row), problems_by_row.get(row.row, ()))
        for row in parsed.rows
    ]
    result_id = results.store(rows, current_user.id)
    return _render(parsed.problems, 200, rows=rows, result_id=result_id)


@bp.get("/bulk/<result_id>.<fmt>")
@roles(*CUSTOMS_ROLES)
def bulk_download(result_id: str, fmt: str) -> Response:
    """The stored results of a bulk check as CSV or XLSX (reasons in the reader's language)."""
    if fmt not in MEDIA_TYPES:
        abort(404)
    rows = results.load(result_id, current_user.id)
    if rows is None:
        abort(404)
    language = current_language()
    body: bytes | Iterator[bytes]
    if fmt == "csv":
        body = stream_with_context(results.csv_chunks(rows, language))
    else:
        body = results.xlsx_bytes(rows, language)
    response = Response(body, mimetype=MEDIA_TYPES[fmt].split(";")[0])
    response.headers["Content-Type"] = MEDIA_TYPES[fmt]
    response.headers["Content-Disposition"] = f'attachment; filename="customs-checks-{result_id[:8]}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response
