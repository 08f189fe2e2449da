"""API routes: the list of bodies as of a date, one body with its history, exports, "was B authorized".

Query parameters go through marshmallow schemas with ``unknown = RAISE``; anything malformed raises
a ValidationError that ``app.errors`` answers with a 422 problem+json naming each bad parameter.
"""

from __future__ import annotations

import datetime as dt

from flask import Response, current_app, jsonify, request, url_for
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import clock
from app.access import public
from app.api import bp
from app.api.present import (
    authorization_view,
    body_detail_view,
    body_url,
    body_view,
    category_view,
    jurisdiction_view,
)
from app.api.schemas import (
    AuthorizedArgs,
    AuthorizedSchema,
    BodyDetailArgs,
    BodyDetailSchema,
    CategoryListSchema,
    JurisdictionListSchema,
    NoArgs,
)
from app.database import get_session
from app.filters import parse_body_filters
from registry import exports
from registry.bodies import get_body
from registry.models import Category, Jurisdiction
from registry.queries import (
    STATUSES,
    all_matching_bodies,
    authorization_status_on,
    is_authorized,
    search_bodies,
)


def _page_link(args: dict[str, str], page: int) -> str:
    return url_for("api.list_bodies", **(args | {"page": str(page)}), _external=True)


@bp.get("/bodies")
@public
def list_bodies() -> Response:
    """Certification bodies, inspection bodies and labs matching the filters, as of a date."""
    session = get_session()
    filters, page, per_page = parse_body_filters(session, request.args)
    result = search_bodies(session, filters, today=clock.today(), page=page, per_page=per_page)
    # Links keep the caller's (already validated) filters and change only the page.
    args = {k: v for k, v in request.args.to_dict(flat=True).items() if v.strip()}
    document = {
        "as_of": result.as_of,
        "page": result.page,
        "per_page": result.per_page,
        "total": result.total,
        "pages": result.pages,
        "items": [
            body_view(body, result.as_of, result.line_status, result.lines(body)) for body in result.items
        ],
        "links": {
            "self": _page_link(args, page),
            "next": _page_link(args, page + 1) if page < result.pages else None,
            "prev": _page_link(args, min(page - 1, result.pages)) if page > 1 else None,
        },
    }
    # The presented dicts already have the schema's shape (the tests validate responses against
    # the OpenAPI document); dumping 20 bodies and their lines through marshmallow again would
    # cost more than the database work; the app's JSON provider writes the dates (ISO 8601).
    return jsonify(document)


@bp.get("/bodies/export.<any(csv, xlsx, json):fmt>")
@public
def export_bodies(fmt: str) -> Response:
    """Every scope line of the bodies matching the filters, as of a date, as CSV, XLSX or JSON."""
    session = get_session()
    # The same filters as the list; paging means nothing for a whole-list export.
    args = {k: v for k, v in request.args.to_dict(flat=True).items() if k not in ("page", "per_page")}
    filters, _page, _per_page = parse_body_filters(session, args)
    found, day = all_matching_bodies(session, filters, today=clock.today())
    response = Response(exports.render(fmt, found, day), mimetype=exports.FORMATS[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="registry-{day.isoformat()}.{fmt}"'
    return response


@bp.get("/bodies/<code>")
@public
def get_body_detail(code: str) -> Response:
    """One body as of a date, with each line's status periods and the body's change history."""
    args = BodyDetailArgs().load(request.args)
    session = get_session()
    body = get_body(session, code)
    day: dt.date = args.get("as_of") or clock.today()
    return jsonify(BodyDetailSchema().dump(body_detail_view(session, body, day)))


def _check_reference(session: Session, category: str, jurisdiction: str) -> None:
    """Refuse unknown category and jurisdiction codes, naming each, as the list filters do."""
    errors: dict[str, list[str]] = {}
    if session.get(Category, category) is None:
        errors["category"] = [f"unknown category {category!r}"]
    if session.get(Jurisdiction, jurisdiction) is None:
        errors["jurisdiction"] = [f"unknown jurisdiction {jurisdiction!r}"]
    if errors:
        raise ValidationError(errors)


@bp.get("/authorized")
@public
def authorized() -> Response:
    """Was body B authorized for category C in jurisdiction J on date D?"""
    args = AuthorizedArgs().load(request.args)
    session = get_session()
    _check_reference(session, args["category"], args["jurisdiction"])
    body = get_body(session, args["body"])
    day: dt.date = args.get("date") or clock.today()
    answer = is_authorized(session, body.code, args["category"], args["jurisdiction"], day)
    lines = [
        authorization_view(line, authorization_status_on(line, day))
        for line in body.authorizations
        if line.category == args["category"] and line.jurisdiction == args["jurisdiction"]
    ]
    statuses = {line["status"] for line in lines}
    document = {
        "authorized": answer,
        "body": body.code,
        "category": args["category"],
        "jurisdiction": args["jurisdiction"],
        "date": day,
        # STATUSES is ordered best first, so a suspended line does not hide an active one.
        "status": next((s for s in STATUSES if s in statuses), None),
        "lines": lines,
        "url": body_url(body.code),
    }
    return jsonify(AuthorizedSchema().dump(document))


@bp.get("/categories")
@public
def list_categories() -> Response:
    """The product categories, with their main standards and HS-6 codes."""
    NoArgs().load(request.args)
    rows = get_session().scalars(select(Category).order_by(Category.sort_order, Category.code))
    return jsonify(CategoryListSchema().dump({"items": [category_view(c) for c in rows]}))


@bp.get("/jurisdictions")
@public
def list_jurisdictions() -> Response:
    """The jurisdictions a scope line can cover."""
    NoArgs().load(request.args)
    rows = get_session().scalars(select(Jurisdiction).order_by(Jurisdiction.sort_order, Jurisdiction.code))
    return jsonify(JurisdictionListSchema().dump({"items": [jurisdiction_view(j) for j in rows]}))


@bp.get("/openapi.json")
@public
def openapi_document() -> Response:
    """This API's OpenAPI 3.1 document."""
    from app.api.openapi import spec_for

    return jsonify(spec_for(current_app))
