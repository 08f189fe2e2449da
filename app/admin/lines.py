"""Admin actions on scope lines: grant, edit, and suspend / withdraw / restore (one line or a body).

Every action needs a reason; status changes take an effective date (default today). Refusals
re-show the body page (or the edit form) with the message next to the field and a 4xx status.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.access import roles
from app.admin import ADMINS, bp
from app.admin.bodies import render_body_page
from app.admin.forms import (
    FormState,
    LineEditSchema,
    LineGrantSchema,
    LineStatusSchema,
    StatusChangeSchema,
    refuse,
)
from app.database import get_session
from app.i18n import gettext
from app.templating import status_label
from registry.authorizations import (
    AuthorizationInput,
    change_body_status,
    change_status,
    get_authorization,
    grant_authorization,
    update_authorization,
)
from registry.bodies import get_body
from registry.errors import RegistryError
from registry.models import Authorization

FORM_ERRORS = (ValidationError, RegistryError, StaleDataError)


@bp.post("/bodies/<code>/lines")
@roles(*ADMINS)
def line_grant(code: str) -> ResponseReturnValue:
    """Grant a new scope line to the body."""
    session = get_session()
    body = get_body(session, code)
    state = FormState.from_request(request.form)
    try:
        data = LineGrantSchema().load(request.form)
        line = grant_authorization(
            session,
            body.code,
            AuthorizationInput(
                jurisdiction=data["jurisdiction"],
                scheme=data["scheme"],
                category=data["category"],
                valid_from=data["valid_from"],
                valid_until=data["valid_until"],
                standards=data["standards"],
                tests=data["tests"],
            ),
            actor=current_user.username,
            now=clock.now(),
            reason=data["reason"],
        )
    except FORM_ERRORS as error:
        refuse(state, error)
        return render_body_page(get_body(session, code), "grant", state)
    flash(gettext("Line granted: {line}.", line=_describe(line)), "success")
    return redirect(url_for("admin.body", code=body.code))


def _describe(line: Authorization) -> str:
    return f"{line.jurisdiction} · {line.scheme} · {line.category}"


def _line_values(line: Authorization) -> dict[str, Any]:
    return {
        "standards": line.standards,
        "tests": line.tests,
        "valid_from": line.valid_from.isoformat(),
        "valid_until": line.valid_until.isoformat() if line.valid_until else "",
        "version": line.version,
    }


def _render_line_form(line: Authorization, state: FormState) -> ResponseReturnValue:
    return render_template("admin/line_form.html", line=line, body=line.body, state=state), state.status


@bp.get("/lines/<int:line_id>/edit")
@roles(*ADMINS)
def line_edit(line_id: int) -> ResponseReturnValue:
    line = get_authorization(get_session(), line_id)
    return _render_line_form(line, FormState(values=_line_values(line)))


@bp.post("/lines/<int:line_id>/edit")
@roles(*ADMINS)
def line_update(line_id: int) -> ResponseReturnValue:
    """Save a line's standards, tests and validity, unless it changed since it was loaded."""
    session = get_session()
    line = get_authorization(session, line_id)
    state = FormState.from_request(request.form)
    try:
        data = LineEditSchema().load(request.form)
        line = update_authorization(
            session,
            line_id,
            AuthorizationInput(
                jurisdiction=line.jurisdiction,
                scheme=line.scheme,
                category=line.category,
                valid_from=data["valid_from"],
                valid_until=data["valid_until"],
                standards=data["standards"],
                tests=data["tests"],
            ),
            expected_version=data["version"],
            actor=current_user.username,
            now=clock.now(),
            reason=data["reason"],
        )
    except FORM_ERRORS as error:
        refuse(state, error)
        return _render_line_form(get_authorization(session, line_id), state)
    flash(gettext("Line saved: {line}.", line=_describe(line)), "success")
    return redirect(url_for("admin.body", code=line.body.code))


@bp.post("/lines/<int:line_id>/status")
@roles(*ADMINS)
def line_status(line_id: int) -> ResponseReturnValue:
    """Suspend, withdraw or restore one line from an effective date, with a reason."""
    session = get_session()
    line = get_authorization(session, line_id)
    code = line.body.code
    state = FormState.from_request(request.form)
    try:
        data = LineStatusSchema().load(request.form)
        line = change_status(
            session,
            line_id,
            data["status"],
            reason=data["reason"],
            actor=current_user.username,
            now=clock.now(),
            effective=data["effective"] or clock.today(),
            expected_version=data["version"],
        )
    except FORM_ERRORS as error:
        refuse(state, error)
        return render_body_page(get_body(session, code), f"line-{line_id}", state)
    flash(
        gettext("Line {line} is now {status}.", line=_describe(line), status=status_label(line.status)),
        "success",
    )
    return redirect(url_for("admin.body", code=code))


@bp.post("/bodies/<code>/status")
@roles(*ADMINS)
def body_status(code: str) -> ResponseReturnValue:
    """Apply a status to every line of the body that can take it (e.g. suspend the whole body)."""
    session = get_session()
    body = get_body(session, code)
    state = FormState.from_request(request.form)
    try:
        data = StatusChangeSchema().load(request.form)
        changed = change_body_status(
            session,
            body.code,
            data["status"],
            reason=data["reason"],
            actor=current_user.username,
            now=clock.now(),
            effective=data["effective"] or clock.today(),
        )
    except FORM_ERRORS as error:
        refuse(state, error)
        return render_body_page(get_body(session, code), "body-status", state)
    flash(
        gettext("{count} line(s) are now {status}.", count=len(changed), status=status_label(data["status"])),
        "success",
    )
    return redirect(url_for("admin.body", code=code))
