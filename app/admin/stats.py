"""Weekly statistics for admins and auditors: the table, two bar charts, CSV and XLSX downloads.

``?week=YYYY-MM-DD`` picks the reporting week (ending Thursday 17:00 Beijing time, see
``registry.weekly_stats``); a date that is not a Thursday stands for the week containing it, and
the page says so. Without it the page shows the latest completed week. A malformed date is a
422 with the reason on the page, for the downloads too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import Response, render_template, request
from flask.typing import ResponseReturnValue
from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate

from app import clock
from app.access import roles
from app.admin import READERS, bp
from app.database import get_session
from app.i18n import LANGUAGES, N_, gettext, localized
from app.templating import category_name
from registry import weekly_export
from registry.reference import provinces
from registry.weekly_stats import WeeklyReport, latest_completed_week, week_end_of, weekly_statistics

UNPROCESSABLE = 422
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2100, 1, 1)
VERDICT_LABELS = {
    "VALID": N_("Genuine and valid"),
    "FORGED": N_("Forged"),
    "KEY_REVOKED": N_("Key revoked"),
    "NOT_REGISTERED": N_("Not registered"),
    "BODY_NOT_AUTHORIZED": N_("Body not authorized"),
    "CERTIFICATE_WITHDRAWN": N_("Certificate withdrawn"),
    "CERTIFICATE_SUSPENDED": N_("Certificate suspended"),
    "CERTIFICATE_EXPIRED": N_("Certificate expired"),
    "BODY_AUTHORIZATION_ENDED": N_("Body authorization ended"),
}
# The chart's geometry, in SVG user units (the SVG scales to the page width).
CHART_WIDTH, LABEL_WIDTH, VALUE_WIDTH, BAR_PITCH, BAR_HEIGHT = 720, 260, 60, 26, 18


class StatsArgs(Schema):
    """Query arguments of the statistics page and downloads; unknown ones are refused."""

    class Meta:
        unknown = RAISE

    week = fields.Date(format="%Y-%m-%d")
    lang = fields.String(validate=validate.OneOf(LANGUAGES))

    @pre_load
    def drop_empty(self, data: Any, **_: Any) -> dict[str, Any]:
        if hasattr(data, "to_dict"):
            data = data.to_dict(flat=True)
        return {k: v.strip() for k, v in data.items() if v not in ("", None)}


@dataclass(frozen=True)
class WeekChoice:
    """The week to show, what was asked for, and what the page must explain."""

    week_end: dt.date | None
    asked: str = ""
    adjusted: bool = False  # the date asked for was not a Thursday
    problem: str = ""


def choose_week(args: Any, now: dt.datetime) -> WeekChoice:
    """The week named by ``args`` (default: the latest completed one), or the problem with it."""
    asked = str(args.get("week", "")).strip()
    try:
        data = StatsArgs().load(args)
    except ValidationError as error:
        if "week" in error.messages:
            return WeekChoice(None, asked, problem=gettext("“{value}” is not a date of the form YYYY-MM-DD.",
                                                           value=asked))
        names = ", ".join(sorted(str(name) for name in error.messages))
        return WeekChoice(None, asked, problem=gettext("Unknown parameter: {names}.", names=names))
    day: dt.date | None = data.get("week")
    if day is None:
        return WeekChoice(latest_completed_week(now))
    if not EARLIEST <= day <= LATEST:
        return WeekChoice(None, asked, problem=gettext("The week must lie between {first} and {last}.",
                                                       first=EARLIEST.isoformat(), last=LATEST.isoformat()))
    week_end = week_end_of(day)
    return WeekChoice(week_end, asked, adjusted=week_end != day)


def verdict_label(code: str) -> str:
    """A verdict code in words, in the request's language (an unknown code as stored)."""
    return gettext(VERDICT_LABELS[code]) if code in VERDICT_LABELS else code


def province_label(code: str) -> str:
    """A province code in words; "" (foreign bodies, forged seals, complaints) says so."""
    if not code:
        return gettext("No province")
    found = provinces().get(code)
    return localized(found) if found is not None else code


def category_label(code: str) -> str:
    return category_name(code) if code else gettext("No category")


@dataclass(frozen=True)
class Bar:
    code: str
    label: str
    value: int
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart drawn as inline SVG by the template (no script, no CDN)."""

    ident: str
    title: str
    bars: list[Bar]
    width: int = CHART_WIDTH
    label_width: int = LABEL_WIDTH
    bar_height: int = BAR_HEIGHT

    @property
    def height(self) -> int:
        return max(1, len(self.bars)) * BAR_PITCH + 4


def bar_chart(ident: str, title: str, items: list[tuple[str, str, int]]) -> BarChart:
    """Bars for (code, label, value) items, scaled so the largest fills the plot area."""
    plot = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
    largest = max((value for _code, _label, value in items), default=0)
    bars = [
        Bar(code, label, value, index * BAR_PITCH + 2, round(plot * value / largest, 1) if largest else 0.0)
        for index, (code, label, value) in enumerate(items)
    ]
    return BarChart(ident, title, bars)


def charts(report: WeeklyReport) -> list[BarChart]:
    """Verifications by verdict, and certificates registered per category, for the week."""
    by_verdict = report.totals.verifications
    verdicts = [(code, verdict_label(code), by_verdict.get(code, 0)) for code in report.verdicts]
    per_category: dict[str, int] = {}
    for row in report.rows:
        if row.certificates_registered:
            per_category[row.category] = per_category.get(row.category, 0) + row.certificates_registered
    categories = [(code, category_label(code), count) for code, count in per_category.items()]
    return [
        bar_chart("chart-verdicts", gettext("Verifications by verdict"), verdicts),
        bar_chart("chart-categories", gettext("Certificates registered per category"), categories),
    ]


def _render(choice: WeekChoice, report: WeeklyReport | None, status: int = 200) -> tuple[str, int]:
    now = clock.now()
    html = render_template(
        "admin/stats.html",
        choice=choice,
        report=report,
        in_progress=report is not None and report.end > now,
        charts=charts(report) if report is not None else [],
        verdict_label=verdict_label,
        province_label=province_label,
        category_label=category_label,
    )
    return html, status


@bp.get("/stats")
@roles(*READERS)
def stats() -> ResponseReturnValue:
    """The statistics of one reporting week."""
    choice = choose_week(request.args, clock.now())
    if choice.week_end is None:
        return _render(choice, None, UNPROCESSABLE)
    return _render(choice, weekly_statistics(get_session(), choice.week_end))


def _download(fmt: str) -> ResponseReturnValue:
    choice = choose_week(request.args, clock.now())
    if choice.week_end is None:
        return _render(choice, None, UNPROCESSABLE)
    report = weekly_statistics(get_session(), choice.week_end)
    data = weekly_export.to_csv(report) if fmt == "csv" else weekly_export.to_xlsx(report)
    # content_type, not mimetype: Werkzeug would append a second "; charset=utf-8" to the CSV type.
    response = Response(data, content_type=weekly_export.FORMATS[fmt])
    filename = f"weekly-stats-{report.week_end.isoformat()}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/stats.csv")
@roles(*READERS)
def stats_csv() -> ResponseReturnValue:
    """The week's statistics as CSV (UTF-8 with a BOM)."""
    return _download("csv")


@bp.get("/stats.xlsx")
@roles(*READERS)
def stats_xlsx() -> ResponseReturnValue:
    """The week's statistics as XLSX, with a second sheet of verifications by verdict."""
    return _download("xlsx")
