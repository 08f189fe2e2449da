"""Admin pages: maintain bodies and authorizations, import the official list, read the audit trail."""

from __future__ import annotations

from flask import Blueprint, render_template

from app.access import roles
from registry.models import Role

bp = Blueprint("admin", __name__)

STAFF = (Role.ADMIN.value, Role.AUDITOR.value, Role.BODY_OPERATOR.value, Role.CUSTOMS.value)


@bp.get("/")
@roles(*STAFF)
def dashboard() -> str:
    return render_template("admin/dashboard.html")
