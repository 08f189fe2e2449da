"""The weekly statistics as CSV and XLSX: one line per (province, category), then the totals.

Headers are English codes (like the list exports, ``registry.exports``); province and category
names come in both languages in their own columns. The XLSX has a second sheet with the
verifications by verdict, one line per row and verdict, then the week's total per verdict.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook

from registry.exports import FORMATS, _safe_cell, _xlsx_cell
from registry.reference import provinces
from registry.weekly_stats import CERTIFICATE_COLUMNS, OVERSIGHT_COLUMNS, StatsRow, WeeklyReport

__all__ = ["FORMATS", "columns", "table", "to_csv", "to_xlsx", "verdict_table"]

TOTAL = "TOTAL"
NAME_COLUMNS = (
    "week_end", "province", "province_zh", "province_en", "category", "category_zh", "category_en",
)
VERDICT_SHEET_COLUMNS = (*NAME_COLUMNS, "verdict", "verifications")
# (Chinese, English) for the rows that are not a real province or category.
TOTAL_NAMES = ("合计", "Total")
NO_PROVINCE = ("无省份", "No province")
NO_CATEGORY = ("无类别", "No category")


def columns(report: WeeklyReport) -> list[str]:
    """Header of the main table: names, the counts, then one column per verdict."""
    verdict_columns = [f"verdict_{code}" for code in report.verdicts]
    return [*NAME_COLUMNS, *CERTIFICATE_COLUMNS, "verifications", *verdict_columns, *OVERSIGHT_COLUMNS]


def _names(report: WeeklyReport, row: StatsRow, *, total: bool) -> list[Any]:
    if total:
        return [report.week_end.isoformat(), TOTAL, *TOTAL_NAMES, "", "", ""]
    province = provinces().get(row.province)
    if province is not None:
        province_names = (province.name_zh, province.name_en)
    else:  # no province, or a code the reference file does not know (shown as stored)
        province_names = (row.province, row.province) if row.province else NO_PROVINCE
    category_names = report.category_names.get(row.category) or (
        (row.category, row.category) if row.category else NO_CATEGORY
    )
    return [report.week_end.isoformat(), row.province, *province_names, row.category, *category_names]


def _line(report: WeeklyReport, row: StatsRow, *, total: bool = False) -> list[Any]:
    return [
        *_names(report, row, total=total),
        *(getattr(row, name) for name in CERTIFICATE_COLUMNS),
        row.verifications_total,
        *(row.verifications.get(code, 0) for code in report.verdicts),
        *(getattr(row, name) for name in OVERSIGHT_COLUMNS),
    ]


def table(report: WeeklyReport) -> list[list[Any]]:
    """The main table without its header: a line per row, then the totals line."""
    return [_line(report, row) for row in report.rows] + [_line(report, report.totals, total=True)]


def verdict_table(report: WeeklyReport) -> list[list[Any]]:
    """(names..., verdict, count) for every row and verdict with a count, then the totals."""
    lines = [
        [*_names(report, row, total=False), code, row.verifications[code]]
        for row in report.rows
        for code in report.verdicts
        if row.verifications.get(code)
    ]
    totals = report.totals
    lines += [[*_names(report, totals, total=True), code, totals.verifications.get(code, 0)]
              for code in report.verdicts]
    return lines


def to_csv(report: WeeklyReport) -> bytes:
    """UTF-8 CSV with a BOM (Excel then reads the Chinese names right) and CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns(report))
    for line in table(report):
        writer.writerow([_safe_cell(value) for value in line])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(report: WeeklyReport) -> bytes:
    """Two sheets: the main table, and the verifications by verdict."""
    workbook = Workbook(write_only=True)
    main = workbook.create_sheet(title=f"week {report.week_end.isoformat()}")
    main.append(columns(report))
    for line in table(report):
        main.append([_xlsx_cell(value) for value in line])
    verdicts = workbook.create_sheet(title="verifications by verdict")
    verdicts.append(list(VERDICT_SHEET_COLUMNS))
    for line in verdict_table(report):
        verdicts.append([_xlsx_cell(value) for value in line])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
