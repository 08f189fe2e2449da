"""Admin pages for bodies: the list, the create and edit forms, and a body's admin page."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.access import roles
from app.admin import ADMINS, READERS, bp
from app.admin.forms import (
    IDENTIFIER_FIELDS,
    BodyCreateSchema,
    BodyEditSchema,
    BodyListArgs,
    FormState,
    identifiers_of,
    refuse,
)
from app.database import get_session
from app.filters import reference_choices
from app.i18n import gettext, localized
from app.templating import kind_label, status_label
from registry.authorizations import STORED_STATUSES, TRANSITIONS
from registry.bodies import BodyInput, body_snapshot, create_body, get_body, update_body
from registry.errors import RegistryError
from registry.models import Body, BodyKind
from registry.queries import authorization_status_on, body_status_on, load_bodies, text_matches
from registry.reference import provinces

PER_PAGE = 50


@bp.get("/bodies")
@roles(*READERS)
def bodies() -> ResponseReturnValue:
    """Every body (also those without a scope line yet), filtered by name, code or identifier."""
    args = BodyListArgs().load(request.args)
    session = get_session()
    query = select(Body.id)
    text = args.get("q")
    if text:
        query = query.where(text_matches(text))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = args["page"]
    ids = list(session.scalars(query.order_by(Body.code).limit(PER_PAGE).offset((page - 1) * PER_PAGE)))
    return render_template(
        "admin/bodies.html",
        items=load_bodies(session, ids),
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        q=text or "",
        today=clock.today(),
        body_status_on=body_status_on,
    )


def _body_input(code: str, kind: str, data: dict[str, Any]) -> BodyInput:
    return BodyInput(
        code=code,
        kind=kind,
        name_zh=data["name_zh"],
        name_en=data["name_en"],
        credit_code=data["credit_code"] or None,
        country=data["country"],
        province=data["province"],
        address=data["address"],
        website=data["website"],
        contact_name=data["contact_name"],
        contact_email=data["contact_email"],
        contact_phone=data["contact_phone"],
        identifiers=identifiers_of(data),
    )


def _render_form(state: FormState, body: Body | None) -> ResponseReturnValue:
    return (
        render_template(
            "admin/body_form.html",
            state=state,
            body=body,
            kind_options=[(k.value, kind_label(k.value)) for k in BodyKind],
            province_options=[(p.code, f"{p.code} {localized(p)}") for p in provinces().values()],
            identifier_fields=IDENTIFIER_FIELDS,
        ),
        state.status,
    )


def _warn_about_credit_code(body: Body) -> None:
    # A failed GB 32100 check is accepted (some real pilot-region codes fail it) but must be seen.
    warning = body.organization.credit_code_warning
    if warning:
        flash(
            gettext("Saved, but the credit code looks wrong: {warning}. Please check it.", warning=warning),
            "warning",
        )


@bp.get("/bodies/new")
@roles(*ADMINS)
def body_new() -> ResponseReturnValue:
    return _render_form(FormState(values={"kind": BodyKind.CERTIFICATION_BODY.value, "country": "CN"}), None)


@bp.post("/bodies/new")
@roles(*ADMINS)
def body_create() -> ResponseReturnValue:
    """Create a body; refused input re-shows the form with the message next to the field."""
    state = FormState.from_request(request.form)
    try:
        data = BodyCreateSchema().load(request.form)
        body = create_body(
            get_session(),
            _body_input(data["code"], data["kind"], data),
            actor=current_user.username,
            now=clock.now(),
        )
    except (ValidationError, RegistryError, StaleDataError) as error:
        return _render_form(refuse(state, error), None)
    flash(gettext("Body {code} created.", code=body.code), "success")
    _warn_about_credit_code(body)
    return redirect(url_for("admin.body", code=body.code))


def _form_values(body: Body) -> dict[str, Any]:
    """The edit form's initial values: the stored record and the version it was loaded at."""
    snapshot = body_snapshot(body)
    identifiers = snapshot.pop("identifiers")
    values = {k: ("" if v is None else v) for k, v in snapshot.items()}
    values.update({f"identifiers.{scheme}": value for scheme, value in identifiers.items()})
    values["version"] = body.version
    return values


@bp.get("/bodies/<code>/edit")
@roles(*ADMINS)
def body_edit(code: str) -> ResponseReturnValue:
    body = get_body(get_session(), code)
    return _render_form(FormState(values=_form_values(body)), body)


@bp.post("/bodies/<code>/edit")
@roles(*ADMINS)
def body_update(code: str) -> ResponseReturnValue:
    """Save an edit unless someone else saved the body since the editor loaded it (409 then)."""
    session = get_session()
    body = get_body(session, code)
    state = FormState.from_request(request.form)
    try:
        data = BodyEditSchema().load(request.form)
        body = update_body(
            session,
            code,
            _body_input(body.code, body.kind, data),
            expected_version=data["version"],
            actor=current_user.username,
            now=clock.now(),
        )
    except (ValidationError, RegistryError, StaleDataError) as error:
        refuse(state, error)
        return _render_form(state, get_body(session, code))
    flash(gettext("Body {code} saved.", code=body.code), "success")
    _warn_about_credit_code(body)
    return redirect(url_for("admin.body", code=body.code))


def render_body_page(
    body: Body, failed_form: str = "", state: FormState | None = None
) -> ResponseReturnValue:
    """A body's admin page; ``failed_form`` names the form whose submission ``state`` describes."""
    state = state or FormState()
    today = clock.today()
    choices = reference_choices(get_session())
    return (
        render_template(
            "admin/body.html",
            body=body,
            today=today,
            status_on=authorization_status_on,
            body_status=body_status_on(body, today),
            targets={s: [to for (frm, to) in TRANSITIONS if frm == s] for s in STORED_STATUSES},
            status_options=lambda statuses: [(s, status_label(s)) for s in statuses],
            jurisdiction_options=[(j.code, f"{j.code} {localized(j)}") for j in choices["jurisdictions"]],
            category_options=[(c.code, localized(c)) for c in choices["categories"]],
            failed_form=failed_form,
            state=state,
        ),
        state.status,
    )


@bp.get("/bodies/<code>")
@roles(*READERS)
def body(code: str) -> ResponseReturnValue:
    return render_body_page(get_body(get_session(), code))
