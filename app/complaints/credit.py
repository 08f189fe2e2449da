"""Credit records: entered from a substantiated complaint, or directly by an admin; listed for staff.

The organization's public page shows them (``app.public``); here admins enter them and admins and
auditors read the full list.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from app import clock
from app.access import roles
from app.admin.forms import FormState, ListArgsSchema, refuse
from app.complaints import ADMINS, READERS, credit_kind_label, ledger_bp
from app.complaints.forms import CreditSchema
from app.complaints.ledger import FORM_ERRORS, render_complaint
from app.database import get_session
from app.i18n import gettext
from registry import complaints as ledger
from registry.models import Complaint, CreditRecord, Organization

PER_PAGE = 100


def _record(reference: str | None) -> CreditRecord:
    data = CreditSchema().load(request.form)
    return ledger.record_credit(
        get_session(), reference, data["organization"], data["kind"], data["reason"], data["effective_date"],
        actor=current_user.username, now=clock.now(),
    )


def _recorded_message(record: CreditRecord) -> str:
    return gettext("Credit record entered: {kind}, effective {day}.", kind=credit_kind_label(record.kind),
                   day=record.effective_date.isoformat())


@ledger_bp.post("/<reference>/credit")
@roles(*ADMINS)
def record_from_complaint(reference: str) -> ResponseReturnValue:
    """A credit record that a substantiated complaint leads to (refused for any other status)."""
    complaint = ledger.get_complaint(get_session(), reference)
    state = FormState.from_request(request.form)
    try:
        record = _record(complaint.reference)
    except FORM_ERRORS as error:
        refuse(state, error)
        return render_complaint(ledger.get_complaint(get_session(), reference), "credit", state)
    flash(_recorded_message(record), "success")
    return redirect(url_for("complaint_ledger.detail", reference=complaint.reference))


def _render_records(state: FormState, page: int = 1) -> ResponseReturnValue:
    rows = get_session().execute(
        select(CreditRecord, Organization, Complaint.reference)
        .join(Organization, CreditRecord.organization_id == Organization.id)
        .outerjoin(Complaint, CreditRecord.complaint_id == Complaint.id)
        .order_by(CreditRecord.recorded_at.desc(), CreditRecord.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    total = get_session().scalar(select(func.count()).select_from(CreditRecord)) or 0
    state.values.setdefault("effective_date", clock.today().isoformat())
    html = render_template(
        "complaints/credit_records.html", rows=rows, state=state, credit_kinds=ledger.CREDIT_KINDS,
        page=page, pages=max(1, -(-total // PER_PAGE)), total=total,
    )
    return html, state.status


@ledger_bp.get("/credit-records")
@roles(*READERS)
def credit_records() -> ResponseReturnValue:
    """Every credit record, latest first, with the form for a direct one (admins)."""
    args = ListArgsSchema().load(request.args)  # a malformed page number: a 422 page, never a 500
    return _render_records(FormState(), args["page"])


@ledger_bp.post("/credit-records")
@roles(*ADMINS)
def record_directly() -> ResponseReturnValue:
    """A credit record entered by a regulator without a complaint."""
    state = FormState.from_request(request.form)
    try:
        record = _record(None)
    except FORM_ERRORS as error:
        refuse(state, error)
        return _render_records(state)
    flash(_recorded_message(record), "success")
    return redirect(url_for("complaint_ledger.credit_records"))
