"""Alert pages: the list (filters kind and status, newest first), one alert with the scans that
raised it and its handling history, and the admins' acknowledge and close forms.

Two views of the same pages: ``/admin/alerts`` (admins and auditors, every alert) and
``/certificates/alerts`` (body operators, only the alerts filed under their own body; 403 for
another body's). Only admins act, on the admin view, with the version they loaded: new scans
update an open alert, so a form loaded before them is refused with 409 and shown again.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from marshmallow import ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.access import roles
from app.admin.forms import FormSchema, FormState, ListArgsSchema, refuse
from app.alerts import ADMINS, BODY_VIEWERS, READERS, bp
from app.certificates.pages import acting_body_id
from app.database import get_session
from app.i18n import gettext
from registry import alerts
from registry.errors import RegistryError
from registry.models import Body, Certificate
from registry.oversight_models import AlertKind, AlertStatus, MisuseAlert

PER_PAGE = 50
FORM_ERRORS = (ValidationError, RegistryError, StaleDataError)
KINDS = [kind.value for kind in AlertKind]
STATUSES = [status.value for status in AlertStatus]
ACTIONS = {"acknowledge": alerts.acknowledge, "close": alerts.close}


class AlertListArgs(ListArgsSchema):
    kind = fields.String(validate=validate.OneOf(KINDS))
    status = fields.String(validate=validate.OneOf(STATUSES))


class AlertActionSchema(FormSchema):
    version = fields.Integer(required=True)
    note = fields.String(load_default="", validate=validate.Length(max=alerts.MAX_NOTE))


def _render_list(endpoint: str, detail_endpoint: str, body_id: int | None) -> ResponseReturnValue:
    problems: list[str] = []
    try:
        args = AlertListArgs().load(request.args)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        problems = [f"{name}: {'; '.join(map(str, msgs))}" for name, msgs in messages.items()]
        args = {"page": 1}
    session = get_session()
    page = alerts.search_alerts(
        session, kind=args.get("kind"), status=args.get("status"), body_id=body_id,
        page=args["page"], per_page=PER_PAGE,
    )  # fmt: skip
    html = render_template(
        "alerts/list.html",
        page=page,
        endpoint=endpoint,
        detail_endpoint=detail_endpoint,
        args={k: v for k, v in args.items() if k in ("kind", "status")},
        kinds=KINDS,
        statuses=STATUSES,
        problems=problems,
        bodies=_body_codes({a.body_id for a in page.items if a.body_id is not None}),
        own_body=session.get(Body, body_id) if body_id is not None else None,
    )
    return html, 422 if problems else 200


def _body_codes(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(get_session().execute(select(Body.id, Body.code).where(Body.id.in_(ids))).all())


def render_alert(
    alert: MisuseAlert, *, manage: bool, refused: str | None = None, state: FormState | None = None
) -> ResponseReturnValue:
    """One alert; ``manage`` is the admin view (with the forms, for admins), else the body view;
    ``refused`` names the form ``state`` belongs to."""
    session = get_session()
    states = {verb: FormState(values={"version": alert.version}) for verb in ACTIONS}
    status = 200
    if refused is not None and state is not None:
        state.values.setdefault("version", alert.version)
        states[refused] = state
        status = state.status
    certificate = session.get(Certificate, alert.certificate_id) if alert.certificate_id else None
    body = session.get(Body, alert.body_id) if alert.body_id else None
    html = render_template(
        "alerts/detail.html",
        alert=alert,
        body=body,
        certificate=certificate,
        # Certificate pages are the admins' and their body's operators', not the auditors'.
        certificate_link=certificate is not None and current_user.role in BODY_VIEWERS,
        scans=alerts.related_scans(session, alert),
        history=alerts.alert_history(session, alert.id),
        manage=manage and current_user.role in ADMINS,
        admin_view=manage,
        can_acknowledge=alert.status == AlertStatus.OPEN.value,
        can_close=alert.status in alerts.ACTIVE,
        states=states,
        back=url_for("alerts.index" if manage else "alerts.body_index"),
        detail_items=_detail_items(alert.detail or {}),
    )
    return html, status


def _detail_items(detail: dict[str, Any]) -> list[tuple[str, Any]]:
    """The detail's entries worth showing (empty ones left out), in a stable order."""
    return [(key, value) for key, value in sorted(detail.items()) if value not in (None, "", {}, [])]


@bp.get("/admin/alerts")
@roles(*READERS)
def index() -> ResponseReturnValue:
    """Every alert, newest first (admins and auditors)."""
    return _render_list("alerts.index", "alerts.detail", None)


@bp.get("/admin/alerts/<int:alert_id>")
@roles(*READERS)
def detail(alert_id: int) -> ResponseReturnValue:
    """One alert with its scans and history; admins also get the forms."""
    return render_alert(alerts.get_alert(get_session(), alert_id), manage=True)


def _act(alert_id: int, verb: str) -> ResponseReturnValue:
    session = get_session()
    alerts.get_alert(session, alert_id)  # 404 before anything else
    state = FormState.from_request(request.form)
    try:
        data = AlertActionSchema().load(request.form)
        changed = ACTIONS[verb](
            session, alert_id, actor=current_user.username, now=clock.now(),
            expected_version=data["version"], note=data["note"],
        )  # fmt: skip
    except FORM_ERRORS as error:
        refuse(state, error)
        return render_alert(alerts.get_alert(session, alert_id), manage=True, refused=verb, state=state)
    if verb == "acknowledge":
        flash(gettext("Alert {id} acknowledged.", id=changed.id), "success")
    else:
        flash(gettext("Alert {id} closed.", id=changed.id), "success")
    return redirect(url_for("alerts.detail", alert_id=alert_id))


@bp.post("/admin/alerts/<int:alert_id>/acknowledge")
@roles(*ADMINS)
def acknowledge(alert_id: int) -> ResponseReturnValue:
    """Mark the alert as being looked into (optional note; audited)."""
    return _act(alert_id, "acknowledge")


@bp.post("/admin/alerts/<int:alert_id>/close")
@roles(*ADMINS)
def close(alert_id: int) -> ResponseReturnValue:
    """Close the alert with a note saying why (audited)."""
    return _act(alert_id, "close")


@bp.get("/certificates/alerts")
@roles(*BODY_VIEWERS)
def body_index() -> ResponseReturnValue:
    """The alerts filed under the operator's body (an admin: every body's)."""
    return _render_list("alerts.body_index", "alerts.body_detail", acting_body_id())


@bp.get("/certificates/alerts/<int:alert_id>")
@roles(*BODY_VIEWERS)
def body_detail(alert_id: int) -> ResponseReturnValue:
    """One alert of the operator's body, read-only (403 for another body's)."""
    alert = alerts.get_alert(get_session(), alert_id)
    own = acting_body_id()
    if own is not None and alert.body_id != own:
        abort(403)
    return render_alert(alert, manage=False)
