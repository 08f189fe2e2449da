"""Public pages: the lists of bodies and labs, a body's page with its scope and history."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import select

from app import clock
from app.access import public
from app.database import get_session
from app.filters import parse_body_filters, reference_choices
from registry import exports
from registry.bodies import get_body
from registry.models import AuditEvent, BodyKind
from registry.queries import (
    all_matching_bodies,
    authorization_status_on,
    body_status_on,
    search_bodies,
)

bp = Blueprint("public", __name__)

BODY_KINDS = (BodyKind.CERTIFICATION_BODY.value, BodyKind.INSPECTION_BODY.value)
LAB_KINDS = (BodyKind.TESTING_LAB.value,)


@bp.get("/")
@public
def index() -> str:
    return render_template("public/index.html", **reference_choices(get_session()))


def _list(kinds: tuple[str, ...], endpoint: str, title: str) -> str:
    session = get_session()
    filters, page, per_page = parse_body_filters(session, request.args, kinds=kinds)
    result = search_bodies(session, filters, today=clock.today(), page=page, per_page=per_page)
    return render_template(
        "public/list.html",
        result=result,
        endpoint=endpoint,
        title=title,
        body_status_on=body_status_on,
        args=request.args,
        **reference_choices(session),
    )


@bp.get("/bodies")
@public
def bodies() -> str:
    return _list(BODY_KINDS, "public.bodies", "Certification bodies")


@bp.get("/labs")
@public
def labs() -> str:
    return _list(LAB_KINDS, "public.labs", "Testing labs")


@bp.get("/bodies/<code>")
@public
def body(code: str) -> str:
    session = get_session()
    found = get_body(session, code)
    filters, _page, _per = parse_body_filters(session, {k: v for k, v in request.args.items() if k in ("as_of", "lang")})
    day = filters.as_of or clock.today()
    line_keys = [f"{found.code}/{a.id}" for a in found.authorizations]
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(
                ((AuditEvent.subject_type == "body") & (AuditEvent.subject_key == found.code))
                | ((AuditEvent.subject_type == "authorization") & AuditEvent.subject_key.in_(line_keys))
            )
            .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        )
    )
    return render_template(
        "public/body.html",
        body=found,
        day=day,
        status_on=authorization_status_on,
        body_status=body_status_on(found, day),
        events=events,
        **reference_choices(session),
    )


def _export(kinds: tuple[str, ...], fmt: str, stem: str) -> Response:
    if fmt not in exports.FORMATS:
        abort(404)
    session = get_session()
    args = {k: v for k, v in request.args.items() if k not in ("page", "per_page")}
    filters, _page, _per = parse_body_filters(session, args, kinds=kinds)
    found, day = all_matching_bodies(session, filters, today=clock.today())
    response = Response(exports.render(fmt, found, day), mimetype=exports.FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{stem}-{day.isoformat()}.{fmt}"'
    return response


@bp.get("/bodies/export.<fmt>")
@public
def bodies_export(fmt: str) -> Response:
    return _export(BODY_KINDS, fmt, "certification-bodies")


@bp.get("/labs/export.<fmt>")
@public
def labs_export(fmt: str) -> Response:
    return _export(LAB_KINDS, fmt, "testing-labs")
