"""API tokens on the pages: issue one (its secret is shown once), list them, revoke one.

An operator manages their own body's tokens; an admin every certification body's. The secret
never goes into a flash message or a redirect (the session cookie is signed, not encrypted): the
page that answers the POST shows it, with ``Cache-Control: no-store``.
"""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from marshmallow import ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.access import roles
from app.admin.forms import FormSchema, FormState, refuse
from app.certificates import MANAGERS, bp
from app.certificates.pages import acting_body_id
from app.certificates.register_pages import certification_bodies, target_body
from app.database import get_session
from app.i18n import gettext
from registry.errors import RegistryError
from registry.models import ApiToken
from registry.tokens import issue_token, revoke_token


class TokenFormSchema(FormSchema):
    name = fields.String(load_default="", validate=validate.Length(max=100))
    body = fields.String(load_default="", validate=validate.Length(max=40))


def _render_tokens(state: FormState, secret: str | None = None, issued: ApiToken | None = None) -> Response:
    own = acting_body_id()
    query = select(ApiToken).order_by(
        ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc(), ApiToken.id.desc()
    )
    if own is not None:
        query = query.where(ApiToken.body_id == own)
    html = render_template(
        "certificates/tokens.html",
        tokens=list(get_session().scalars(query)),
        state=state,
        bodies=certification_bodies(),
        secret=secret,
        issued=issued,
    )
    response = Response(html, status=state.status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/tokens")
@roles(*MANAGERS)
def tokens() -> ResponseReturnValue:
    """The body's API tokens (an admin: every body's) and the form to issue one."""
    return _render_tokens(FormState())


@bp.post("/tokens")
@roles(*MANAGERS)
def token_issue() -> ResponseReturnValue:
    """Issue a token and show its secret, this once."""
    state = FormState.from_request(request.form)
    try:
        data = TokenFormSchema().load(request.form)
        body = target_body(data["body"])
        token, secret = issue_token(
            get_session(), body.code, data["name"], actor=current_user.username, now=clock.now()
        )
    except (ValidationError, RegistryError, StaleDataError) as error:
        return _render_tokens(refuse(state, error))
    state.status = 201
    state.values = {}
    return _render_tokens(state, secret=secret, issued=token)


@bp.post("/tokens/<int:token_id>/revoke")
@roles(*MANAGERS)
def token_revoke(token_id: int) -> ResponseReturnValue:
    """Revoke a token: the next request made with it is refused (401)."""
    state = FormState()
    try:
        token = revoke_token(
            get_session(), token_id, actor=current_user.username, now=clock.now(), body_id=acting_body_id()
        )
    except (RegistryError, StaleDataError) as error:
        return _render_tokens(refuse(state, error))
    flash(gettext("Token {prefix}… revoked.", prefix=token.prefix), "success")
    return redirect(url_for("certificates.tokens"))
