"""Admin pages: maintain bodies and authorizations, import the official list, read the audit trail.

Who may do what (every route declares it with ``@roles``):

- ``admin`` changes everything;
- ``auditor`` reads the dashboard, the bodies and the audit trail, and changes nothing;
- ``body_operator`` and ``customs`` see the dashboard only (their own pages come later).

The routes live in submodules that register on ``bp``; they are imported at the bottom.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import func, select

from app import clock
from app.access import roles
from app.database import get_session
from app.i18n import N_, gettext
from registry.models import Authorization, Body, BodyKind, Role
from registry.queries import STATUSES, authorization_status_condition
from registry.weekly_stats import week_end_of, weekly_statistics

bp = Blueprint("admin", __name__)

STAFF = (Role.ADMIN.value, Role.AUDITOR.value, Role.BODY_OPERATOR.value, Role.CUSTOMS.value)
# Read-only access to the registry pages: admins and auditors.
READERS = (Role.ADMIN.value, Role.AUDITOR.value)
# Anything that writes: admins only.
ADMINS = (Role.ADMIN.value,)
ROLE_LABELS = {
    Role.ADMIN.value: N_("Administrator"),
    Role.AUDITOR.value: N_("Auditor"),
    Role.BODY_OPERATOR.value: N_("Body operator"),
    Role.CUSTOMS.value: N_("Customs officer"),
}


def role_label(role: str) -> str:
    """A role code in words, in the current language (unknown codes as stored)."""
    return gettext(ROLE_LABELS[role]) if role in ROLE_LABELS else role


@bp.context_processor
def admin_template_globals() -> dict[str, Any]:
    """Let templates hide forms from users who could not submit them anyway."""
    role = getattr(current_user, "role", None)
    return {"can_change": role in ADMINS, "can_read_registry": role in READERS, "role_label": role_label}


def dashboard_counts(today: dt.date) -> dict[str, Any]:
    """Bodies by kind, and scope lines by their status on ``today`` (expired is derived)."""
    session = get_session()
    by_kind: dict[str, int] = dict(session.execute(select(Body.kind, func.count()).group_by(Body.kind)).all())
    lines_by_status = {
        status: session.scalar(
            select(func.count())
            .select_from(Authorization)
            .where(authorization_status_condition(status, today))
        )
        or 0
        for status in STATUSES
    }
    not_yet_valid = session.scalar(
        select(func.count()).select_from(Authorization).where(Authorization.valid_from > today)
    ) or 0
    return {
        "bodies_by_kind": {kind.value: by_kind.get(kind.value, 0) for kind in BodyKind},
        "lines_by_status": lines_by_status,
        "lines_not_yet_valid": not_yet_valid,
    }


@bp.get("/")
@roles(*STAFF)
def dashboard() -> str:
    """The landing page of every signed-in user: registry counts as of today, and links."""
    today = clock.today()
    # This week's figures so far, for those who may open the statistics page.
    this_week = (
        weekly_statistics(get_session(), week_end_of(clock.now()))
        if getattr(current_user, "role", None) in READERS
        else None
    )
    from app.admin.stats import charts  # the statistics page's charts, this week's so far

    return render_template(
        "admin/dashboard.html",
        today=today,
        this_week=this_week,
        this_week_charts=charts(this_week) if this_week is not None else [],
        **dashboard_counts(today),
    )


# Route modules register their views on ``bp`` when imported; they must come after ``bp`` exists.
from app.admin import bodies, imports, lines, stats, trail, users  # noqa: E402, F401
