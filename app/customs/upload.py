"""Reading a bulk customs file: one declaration per row with the seal scanned for it.

The file is read with the service's spreadsheet readers (``registry.spreadsheets``: UTF-8 or
GB18030, CSV or XLSX, size guards, formula refusal), as the certificate upload does. A file that
cannot be used (unreadable, an unknown or missing column, more than 10,000 rows, no rows) gives
its problems and no row is checked; otherwise each row is checked or, when it is malformed,
listed with its problems (row numbered as a spreadsheet numbers it, the header being row 1).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.certificates.customs import read_declaration
from app.certificates.upload import RowProblem, grid, read_header
from registry.customs import MAX_ITEMS
from registry.errors import ImportRejected

# The readers every upload shares: same encodings, same guards against hostile workbooks.
from registry.spreadsheets import clean_cell
from verify.declaration import DECLARATION_FIELDS, Declaration

SCANNED = "scanned"
COLUMNS = (SCANNED, *DECLARATION_FIELDS)
MAX_SCANNED = 4096  # a seal URL is about 200 characters; anything far longer is not a scan


@dataclass(frozen=True)
class BulkRow:
    """One data row: its number, its cells by column, and the declaration when it is well formed."""

    row: int
    values: dict[str, str]
    declaration: Declaration | None

    @property
    def scanned(self) -> str:
        return self.values.get(SCANNED, "")


@dataclass
class ParsedBulk:
    """The rows of a file and the problems found; ``usable`` is False when none may be checked."""

    rows: list[BulkRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    usable: bool = True

    @property
    def checkable(self) -> list[BulkRow]:
        return [row for row in self.rows if row.declaration is not None]

    def refuse(self, problems: list[RowProblem]) -> ParsedBulk:
        self.rows, self.problems, self.usable = [], problems, False
        return self


def _row(number: int, values: dict[str, str], problems: list[RowProblem]) -> BulkRow:
    found: list[RowProblem] = []
    if not values.get(SCANNED):
        found.append(RowProblem(number, SCANNED, "a value is required: the scanned seal URL or token"))
    elif len(values[SCANNED]) > MAX_SCANNED:
        found.append(RowProblem(number, SCANNED, f"at most {MAX_SCANNED} characters"))
    declared = {name: values.get(name, "") for name in DECLARATION_FIELDS}
    declaration, declaration_problems = read_declaration(declared)
    found += [RowProblem(number, name, message) for name, message in declaration_problems.items()]
    problems.extend(found)
    if found:
        declaration = None
    return BulkRow(number, values, declaration)


def parse_bulk(data: bytes) -> ParsedBulk:
    """Every row of the file, or the problems that make it unusable (the header, the size)."""
    result = ParsedBulk()
    try:
        header: list[str] | None = None
        for number, cells in grid(data):
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header, header_problems = read_header(cells, number, COLUMNS, (SCANNED,))
                if header_problems:
                    return result.refuse(header_problems)
                continue
            if len(result.rows) == MAX_ITEMS:
                problem = RowProblem(number, None, f"the file has more than {MAX_ITEMS} rows; split it")
                return result.refuse([problem])
            values = {name: clean_cell(cells[i]) if i < len(cells) else "" for i, name in enumerate(header)}
            result.rows.append(_row(number, values, result.problems))
    except ImportRejected as error:
        found = [RowProblem(p.row, p.column, p.problem) for p in error.details.get("errors", [])]
        return result.refuse(found or [RowProblem(None, None, error.message)])
    except Exception as error:  # a reader's unexpected failure is the file's problem, never a 500
        return result.refuse([RowProblem(None, None, f"the file cannot be read: {type(error).__name__}")])
    if not result.rows:
        return result.refuse([RowProblem(None, None, "the file has no data rows")])
    return result
