"""Public pages: the lists of bodies and labs, a body's page with its scope and history.

A malformed filter (a bad date, an unknown category, ``page=abc``, an unknown parameter) does
not lead to a bare error page: the page is shown again with the problems above the filters,
in the reader's language, with status 422.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from marshmallow import ValidationError
from sqlalchemy import select

from app import clock
from app.access import public
from app.database import get_session
from app.filters import BodyListArgs, parse_body_filters, reference_choices
from app.i18n import N_, gettext
from registry import exports
from registry.bodies import get_body
from registry.complaints import credit_records_for
from registry.models import AuditEvent, Authorization, Body, BodyKind, StatusPeriod
from registry.queries import (
    BodyFilter,
    Page,
    all_matching_bodies,
    authorization_status_on,
    body_status_on,
    search_bodies,
)

bp = Blueprint("public", __name__)

BODY_KINDS = (BodyKind.CERTIFICATION_BODY.value, BodyKind.INSPECTION_BODY.value)
LAB_KINDS = (BodyKind.TESTING_LAB.value,)
# The body page takes only a date (and the language); anything else is a mistake worth saying.
BODY_PAGE_ARGS = ("as_of", "lang")
UNPROCESSABLE = 422

# What to tell the reader when a parameter is wrong; ``{value}`` is what they sent.
PROBLEMS = {
    "kind": N_("“{value}” is not a kind of body listed on this page."),
    "category": N_("“{value}” is not a known product category."),
    "jurisdiction": N_("“{value}” is not a known jurisdiction."),
    "province": N_("“{value}” is not a known province code."),
    "status": N_("“{value}” is not a status: use active, suspended, withdrawn or expired."),
    "q": N_("The search text must have 1 to 100 characters."),
    "as_of": N_("“{value}” is not a date between 2000-01-01 and 2100-01-01 (write it as YYYY-MM-DD)."),
    "page": N_("“{value}” is not a page number: use a whole number from 1 to 10000."),
    "per_page": N_("“{value}” is not a page size: use a whole number from 1 to 100."),
    "lang": N_("“{value}” is not a language: use zh or en."),
}
UNKNOWN_PARAMETER = N_("“{value}” is not a filter of this page.")
INVALID_PARAMETER = N_("“{value}” is not a valid value for {name}.")
KNOWN_PARAMETERS = frozenset(BodyListArgs().fields)


def describe_problems(error: ValidationError, args: Mapping[str, Any]) -> list[str]:
    """Turn a filter ValidationError into one translated sentence per wrong parameter."""
    names = error.messages if isinstance(error.messages, dict) else {"": error.messages}
    problems = []
    for name in sorted(names):
        value = str(args.get(name, ""))
        shown = value if len(value) <= 40 else value[:39] + "…"
        if name in PROBLEMS:
            problems.append(gettext(PROBLEMS[name], value=shown))
        elif name in KNOWN_PARAMETERS:
            problems.append(gettext(INVALID_PARAMETER, name=name, value=shown))
        else:
            problems.append(gettext(UNKNOWN_PARAMETER, value=name[:40]))
    return problems


def _parse_list_args(args: Mapping[str, Any], kinds: tuple[str, ...]) -> tuple[BodyFilter, int, int]:
    """Parse the list filters, refusing a ``kind`` that does not belong on this list."""
    filters, page, per_page = parse_body_filters(get_session(), args, kinds=kinds)
    if not set(filters.kinds) <= set(kinds):
        # /labs?kind=certification_body would otherwise list certification bodies as labs.
        raise ValidationError({"kind": ["not listed on this page"]})
    return filters, page, per_page


@dataclass(frozen=True)
class ListPage:
    """One of the two public lists."""

    kinds: tuple[str, ...]
    endpoint: str
    title: str
    export_stem: str


BODIES = ListPage(BODY_KINDS, "public.bodies", N_("Certification bodies"), "certification-bodies")
LABS = ListPage(LAB_KINDS, "public.labs", N_("Testing labs"), "testing-labs")


def _render_list(page: ListPage, *, result: Page | None = None, problems: list[str] | None = None) -> str:
    """The list page; without ``result`` (bad filters) only the problems and the form are shown."""
    return render_template(
        "public/list.html",
        result=result,
        problems=problems or [],
        endpoint=page.endpoint,
        title=page.title,
        show_kind=len(page.kinds) > 1,
        args=request.args,
        **reference_choices(get_session()),
    )


def _list(page: ListPage) -> tuple[str, int]:
    try:
        filters, number, per_page = _parse_list_args(request.args, page.kinds)
    except ValidationError as error:
        return _render_list(page, problems=describe_problems(error, request.args)), UNPROCESSABLE
    result = search_bodies(get_session(), filters, today=clock.today(), page=number, per_page=per_page)
    return _render_list(page, result=result), 200


@bp.get("/")
@public
def index() -> str:
    return render_template("public/index.html", **reference_choices(get_session()))


@bp.get("/bodies")
@public
def bodies() -> tuple[str, int]:
    return _list(BODIES)


@bp.get("/labs")
@public
def labs() -> tuple[str, int]:
    return _list(LABS)


@dataclass(frozen=True)
class HistoryRow:
    """A status period of one scope line, for the status history table."""

    line: Authorization
    period: StatusPeriod


def _change_history(body: Body) -> list[AuditEvent]:
    line_keys = [f"{body.code}/{line.id}" for line in body.authorizations]
    return list(
        get_session().scalars(
            select(AuditEvent)
            .where(
                ((AuditEvent.subject_type == "body") & (AuditEvent.subject_key == body.code))
                | ((AuditEvent.subject_type == "authorization") & AuditEvent.subject_key.in_(line_keys))
            )
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        )
    )


def _body_day(args: Mapping[str, Any]) -> tuple[dt.date, list[str]]:
    """The date the body page shows its scope on, and any problems with the parameters."""
    unknown = [name for name in args if name not in BODY_PAGE_ARGS]
    problems = [gettext(UNKNOWN_PARAMETER, value=name[:40]) for name in sorted(unknown)]
    known = {name: value for name, value in args.items() if name in BODY_PAGE_ARGS}
    try:
        filters, _page, _per_page = parse_body_filters(get_session(), known)
    except ValidationError as error:
        return clock.today(), problems + describe_problems(error, known)
    return filters.as_of or clock.today(), problems


@bp.get("/bodies/<code>")
@public
def body(code: str) -> tuple[str, int]:
    found = get_body(get_session(), code)
    day, problems = _body_day(request.args)
    history = sorted(
        (HistoryRow(line, period) for line in found.authorizations for period in line.periods),
        key=lambda row: (row.period.effective_from, row.period.id),
        reverse=True,
    )
    html = render_template(
        "public/body.html",
        body=found,
        day=day,
        body_status=body_status_on(found, day),
        problems=problems,
        status_on=authorization_status_on,
        history=history,
        events=_change_history(found),
        lines={f"{found.code}/{line.id}": line for line in found.authorizations},
        credit_records=credit_records_for(get_session(), found.organization_id),
    )
    return html, UNPROCESSABLE if problems else 200


def _export(page: ListPage, fmt: str) -> Response | tuple[str, int]:
    if fmt not in exports.FORMATS:
        abort(404)
    # An export holds every match, so the pager's parameters mean nothing here.
    args = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}
    try:
        filters, _page, _per_page = _parse_list_args(args, page.kinds)
    except ValidationError as error:
        return _render_list(page, problems=describe_problems(error, args)), UNPROCESSABLE
    found, day = all_matching_bodies(get_session(), filters, today=clock.today())
    # content_type, not mimetype: Werkzeug would append a second "; charset=utf-8" to the CSV type.
    response = Response(exports.render(fmt, found, day), content_type=exports.FORMATS[fmt])
    filename = f"{page.export_stem}-{day.isoformat()}.{fmt}"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/bodies/export.<fmt>")
@public
def bodies_export(fmt: str) -> Response | tuple[str, int]:
    return _export(BODIES, fmt)


@bp.get("/labs/export.<fmt>")
@public
def labs_export(fmt: str) -> Response | tuple[str, int]:
    return _export(LABS, fmt)
