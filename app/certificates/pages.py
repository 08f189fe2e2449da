"""Staff pages: the list of certificates, one certificate with its seal, status changes, the label.

A body operator sees and changes only their own body's certificates (403 otherwise); an admin
sees every body's. Refusals re-show the page with the message and a 4xx status.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup
from marshmallow import ValidationError, fields, validate
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.access import roles
from app.admin import admin_template_globals
from app.admin.forms import FormSchema, FormState, ListArgsSchema, refuse
from app.certificates import MANAGERS, bp, qr_cache
from app.certificates.labels import ACTIONS, ACTIONS_FROM, certificate_status_label
from app.certificates.schemas import CERTIFICATE_STATUSES
from app.certificates.service import CertificateFilter, latest_seals, seal_url_for, search_certificates
from app.database import get_session
from app.filters import reference_choices
from app.i18n import gettext
from registry.certificates import change_certificate_status, get_certificate, status_on
from registry.errors import RegistryError
from registry.models import Body, Certificate, Role

PER_PAGE = 50
FORM_ERRORS = (ValidationError, RegistryError, StaleDataError)

bp.context_processor(admin_template_globals)  # the admin navigation on these pages too


def acting_body_id() -> int | None:
    """None for an admin (every body), else the operator's own body (403 without one)."""
    if current_user.role == Role.ADMIN.value:
        return None
    if current_user.body_id is None:
        abort(403)
    return int(current_user.body_id)


def check_body(body: Body) -> None:
    """403 unless the signed-in user may manage ``body``'s certificates."""
    allowed = acting_body_id()
    if allowed is not None and body.id != allowed:
        abort(403)


def managed_certificate(body: str, number: str) -> Certificate:
    """The certificate, if the user may manage it (404 if it does not exist, 403 if not theirs)."""
    certificate = get_certificate(get_session(), body, number)
    check_body(certificate.body)
    return certificate


class CertificateListArgs(ListArgsSchema):
    body = fields.String(validate=validate.Length(max=40))
    category = fields.String(validate=validate.Length(max=32))
    status = fields.String(validate=validate.OneOf(CERTIFICATE_STATUSES))


@bp.get("/")
@roles(*MANAGERS)
def index() -> ResponseReturnValue:
    """The certificates of the operator's body (an admin: of every body, or of one)."""
    problems: list[str] = []
    try:
        args = CertificateListArgs().load(request.args)
    except ValidationError as error:
        problems = [f"{name}: {'; '.join(map(str, msgs))}" for name, msgs in error.messages.items()]  # type: ignore[union-attr]
        args = {"page": 1}
    own = acting_body_id()
    filters = CertificateFilter(
        body_code=args.get("body") if own is None else None,
        body_id=own,
        category=args.get("category"),
        status=args.get("status"),
    )
    page = search_certificates(
        get_session(), filters, today=clock.today(), page=args["page"], per_page=PER_PAGE
    )
    shown_args = {k: v for k, v in request.args.items() if k != "page" and v}
    html = render_template(
        "certificates/list.html",
        page=page,
        today=clock.today(),
        args=shown_args,
        problems=problems,
        own_body=get_session().get(Body, own) if own is not None else None,
        **(reference_choices(get_session()) | {"statuses": CERTIFICATE_STATUSES}),
    )
    return html, 422 if problems else 200


def render_certificate(certificate: Certificate, state: FormState | None = None) -> ResponseReturnValue:
    """The certificate page, with the status form showing ``state``'s input and errors."""
    session = get_session()
    seal = latest_seals(session, [certificate.id]).get(certificate.id)
    state = state or FormState(values={"version": certificate.version})
    state.values.setdefault("version", certificate.version)
    return render_template(
        "certificates/detail.html",
        certificate=certificate,
        status_today=status_on(certificate, clock.today()),
        seal=seal,
        seal_url=seal_url_for(seal) if seal is not None else None,
        actions=[(verb, ACTIONS[verb][1]) for verb in ACTIONS_FROM.get(certificate.status, ())],
        state=state,
    ), state.status


@bp.get("/<body>/<path:number>")
@roles(*MANAGERS)
def detail(body: str, number: str) -> ResponseReturnValue:
    """One certificate: details, current seal and QR code, status history and status change."""
    return render_certificate(managed_certificate(body, number))


class StatusFormSchema(FormSchema):
    action = fields.String(required=True, validate=validate.OneOf(list(ACTIONS)))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    version = fields.Integer(required=True)


@bp.post("/<body>/<path:number>/status")
@roles(*MANAGERS)
def change_status(body: str, number: str) -> ResponseReturnValue:
    """Suspend, withdraw or restore the certificate, with a reason (audited)."""
    certificate = managed_certificate(body, number)
    state = FormState.from_request(request.form)
    try:
        data = StatusFormSchema().load(request.form)
        changed = change_certificate_status(
            get_session(),
            certificate.body.code,
            certificate.number,
            ACTIONS[data["action"]][0],
            reason=data["reason"],
            actor=current_user.username,
            now=clock.now(),
            expected_version=data["version"],
        )
    except FORM_ERRORS as error:
        refuse(state, error)
        return render_certificate(managed_certificate(body, number), state)
    flash(
        gettext(
            "Certificate {number} is now {status}.",
            number=changed.number,
            status=certificate_status_label(changed.status),
        ),
        "success",
    )
    return redirect(url_for("certificates.detail", body=changed.body.code, number=changed.number))


@bp.get("/<body>/<path:number>/print")
@roles(*MANAGERS)
def print_label(body: str, number: str) -> ResponseReturnValue:
    """A page to print the seal label: the QR code with the certificate number under it."""
    certificate = managed_certificate(body, number)
    seal = latest_seals(get_session(), [certificate.id]).get(certificate.id)
    label: Any = None
    if seal is not None:
        # Our own SVG (verify.qr escapes the caption), so it is safe to inline.
        svg = qr_cache.label_svg(seal_url_for(seal), certificate.number, certificate.body.code)
        label = Markup(svg.decode("utf-8"))  # noqa: S704
    return render_template("certificates/print.html", certificate=certificate, seal=seal, label=label)
