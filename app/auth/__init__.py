"""Sign-in and sign-out. The blueprint is rate-limited on POST (see create_app)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_user, logout_user
from werkzeug.wrappers import Response

from app import LoginUser
from app.access import public, roles
from app.database import get_session
from app.i18n import gettext as _
from registry.users import ROLES, authenticate

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after sign-in (no open redirects)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("admin.dashboard")


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> str | Response:
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        user = authenticate(get_session(), username, password)
        if user is not None:
            login_user(LoginUser(user))
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Wrong username or password."), "error")
        return render_template("auth/login.html", username=username), 401  # type: ignore[return-value]
    return render_template("auth/login.html", username="")


@bp.post("/logout")
@roles(*ROLES)
def logout() -> Response:
    logout_user()
    return redirect(url_for("public.index"))
