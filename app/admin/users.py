"""Accounts: the list and the create form (admins only; passwords are never shown again)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.access import roles
from app.admin import ADMINS, bp, role_label
from app.admin.forms import FormState, UserCreateSchema, refuse
from app.database import get_session
from app.i18n import gettext
from registry.errors import RegistryError
from registry.models import Body, Role, User
from registry.users import MIN_PASSWORD_LENGTH, create_user


def _render_users(state: FormState) -> ResponseReturnValue:
    session = get_session()
    rows = session.execute(
        select(User, Body.code).outerjoin(Body, User.body_id == Body.id).order_by(User.username)
    ).all()
    return (
        render_template(
            "admin/users.html",
            rows=rows,
            state=state,
            role_pairs=[(r.value, role_label(r.value)) for r in Role],
            min_password_length=MIN_PASSWORD_LENGTH,
        ),
        state.status,
    )


@bp.get("/users")
@roles(*ADMINS)
def users() -> ResponseReturnValue:
    return _render_users(FormState(values={"role": Role.AUDITOR.value}))


@bp.post("/users")
@roles(*ADMINS)
def user_create() -> ResponseReturnValue:
    """Create an account; a body operator must name the body they work for."""
    state = FormState.from_request(request.form)
    try:
        data = UserCreateSchema().load(request.form)
        user = create_user(
            get_session(),
            data["username"],
            data["password"],
            data["role"],
            actor=current_user.username,
            now=clock.now(),
            body_code=data["body"],
        )
    except (ValidationError, RegistryError, StaleDataError) as error:
        return _render_users(refuse(state, error))
    flash(gettext("User {username} created.", username=user.username), "success")
    return redirect(url_for("admin.users"))
