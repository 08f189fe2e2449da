"""The admin ledger of complaints: the list, one complaint with its history, and the admins' actions.

Admins change (status, person in charge and due date, links, notes); auditors read, attachments
included. A refused action shows the complaint again with the message at its form and a 4xx status.
"""

from __future__ import annotations

import io
from typing import Any

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.access import roles
from app.admin.forms import FormState, refuse
from app.complaints import ADMINS, READERS, complaint_status_label, ledger_bp
from app.complaints.forms import AssignSchema, EmptySchema, LedgerArgs, LinkSchema, NoteSchema, StatusSchema
from app.database import get_session
from app.i18n import gettext
from registry import complaints as ledger
from registry.errors import RegistryError
from registry.models import Body, Certificate, Complaint, CreditRecord, Organization, Role, User

PER_PAGE = 50
FORM_ERRORS = (ValidationError, RegistryError, StaleDataError)
# The forms of the complaint page; a refused one is shown again with its input and messages.
FORMS = ("status", "assign", "link", "note", "credit")


@ledger_bp.get("/")
@roles(*READERS)
def index() -> ResponseReturnValue:
    """Complaints, newest first, filtered by status and by "overdue" (open and past the due date)."""
    problems: list[str] = []
    try:
        args = LedgerArgs().load(request.args)
    except ValidationError as error:
        messages = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        problems = [f"{name}: {'; '.join(map(str, msgs))}" for name, msgs in messages.items()]
        args = {"page": 1}
    session, today = get_session(), clock.today()
    items, total = ledger.search_complaints(
        session, status=args.get("status"), overdue=bool(args.get("overdue")), today=today,
        page=args["page"], per_page=PER_PAGE,
    )
    html = render_template(
        "complaints/list.html",
        items=items,
        total=total,
        page=args["page"],
        pages=max(1, -(-total // PER_PAGE)),
        status=args.get("status", ""),
        overdue=bool(args.get("overdue")),
        statuses=ledger.STATUSES,
        problems=problems,
        today=today,
        is_overdue=ledger.is_overdue,
        assignees=_usernames({c.assignee_id for c in items if c.assignee_id is not None}),
    )
    return html, 422 if problems else 200


def _usernames(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(get_session().execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def _link_rows(complaint: Complaint) -> list[dict[str, Any]]:
    """Each link with its label and, where the viewer may open it, the staff page of its target."""
    session = get_session()
    rows = []
    for found in complaint.links:
        href = None
        if found.body_id is not None:
            body = session.get(Body, found.body_id)
            href = url_for("admin.body", code=body.code) if body is not None else None
        elif current_user.role == Role.ADMIN.value:  # the certificate pages are not the auditors'
            certificate = session.get(Certificate, found.certificate_id)
            if certificate is not None:
                href = url_for("certificates.detail", body=certificate.body.code, number=certificate.number)
        rows.append({"id": found.id, "label": ledger.link_label(session, found), "href": href})
    return rows


def _default_credit_organization(complaint: Complaint) -> str:
    """The first linked body's code, as the likeliest subject of a credit record."""
    session = get_session()
    for found in complaint.links:
        if found.body_id is not None:
            body = session.get(Body, found.body_id)
            if body is not None:
                return body.code
    return ""


def render_complaint(
    complaint: Complaint, refused: str | None = None, state: FormState | None = None
) -> ResponseReturnValue:
    """The complaint page; ``refused`` names the form ``state`` belongs to (shown with its errors)."""
    session = get_session()
    version = complaint.version
    states = {
        "status": FormState(values={"version": version}),
        "assign": FormState(values={
            "assignee": complaint.assignee_id or "",
            "due_date": complaint.due_date.isoformat() if complaint.due_date else "",
            "version": version,
        }),
        "link": FormState(),
        "note": FormState(),
        "credit": FormState(values={
            "organization": _default_credit_organization(complaint),
            "effective_date": clock.today().isoformat(),
        }),
    }  # fmt: skip
    if refused is not None and state is not None:
        state.values.setdefault("version", version)
        states[refused] = state
    credit_rows = session.execute(
        select(CreditRecord, Organization)
        .join(Organization, CreditRecord.organization_id == Organization.id)
        .where(CreditRecord.complaint_id == complaint.id)
        .order_by(CreditRecord.id)
    ).all()
    assignable = ledger.assignable_users(session)
    html = render_template(
        "complaints/detail.html",
        complaint=complaint,
        states=states,
        links=_link_rows(complaint),
        next_statuses=ledger.TRANSITIONS.get(complaint.status, ()),
        assignable=assignable,
        names=_usernames({e for e in [complaint.assignee_id] if e is not None}),
        credit_rows=credit_rows,
        credit_kinds=ledger.CREDIT_KINDS,
        overdue=ledger.is_overdue(complaint, clock.today()),
        can_record_credit=complaint.status == "substantiated",
    )
    return html, state.status if state is not None else 200


@ledger_bp.get("/<reference>")
@roles(*READERS)
def detail(reference: str) -> ResponseReturnValue:
    """One complaint: what was reported, attachments, links, history, and (admins) the forms."""
    return render_complaint(ledger.get_complaint(get_session(), reference))


def _refused(reference: str, form: str, state: FormState, error: Exception) -> ResponseReturnValue:
    refuse(state, error)  # rolls back, then describes the error
    return render_complaint(ledger.get_complaint(get_session(), reference), form, state)


def _done(complaint: Complaint, message: str) -> ResponseReturnValue:
    flash(message, "success")
    return redirect(url_for("complaint_ledger.detail", reference=complaint.reference))


@ledger_bp.post("/<reference>/status")
@roles(*ADMINS)
def change_status(reference: str) -> ResponseReturnValue:
    """Move the complaint on (triage, investigate, substantiate, close), with a note."""
    complaint = ledger.get_complaint(get_session(), reference)
    state = FormState.from_request(request.form)
    try:
        data = StatusSchema().load(request.form)
        complaint = ledger.change_status(
            get_session(), complaint.reference, data["status"], data["note"],
            actor=current_user.username, now=clock.now(), expected_version=data["version"],
        )
    except FORM_ERRORS as error:
        return _refused(reference, "status", state, error)
    return _done(complaint, gettext("Complaint {reference} is now {status}.", reference=complaint.reference,
                                    status=complaint_status_label(complaint.status)))


@ledger_bp.post("/<reference>/assign")
@roles(*ADMINS)
def assign(reference: str) -> ResponseReturnValue:
    """Put an admin or auditor in charge, with a due date (either may be left empty)."""
    complaint = ledger.get_complaint(get_session(), reference)
    state = FormState.from_request(request.form)
    try:
        data = AssignSchema().load(request.form)
        complaint = ledger.assign(
            get_session(), complaint.reference, data["assignee"], data["due_date"],
            actor=current_user.username, now=clock.now(), expected_version=data["version"],
        )
    except FORM_ERRORS as error:
        return _refused(reference, "assign", state, error)
    return _done(complaint, gettext("Complaint {reference} saved.", reference=complaint.reference))


@ledger_bp.post("/<reference>/links")
@roles(*ADMINS)
def add_link(reference: str) -> ResponseReturnValue:
    """Link a body (its code), or one of its certificates (code and number)."""
    complaint = ledger.get_complaint(get_session(), reference)
    state = FormState.from_request(request.form)
    try:
        data = LinkSchema().load(request.form)
        target = (data["body"], data["number"]) if data["number"] else data["body"]
        ledger.link(get_session(), complaint.reference, target, actor=current_user.username, now=clock.now())
    except FORM_ERRORS as error:
        return _refused(reference, "link", state, error)
    return _done(complaint, gettext("Complaint {reference} saved.", reference=complaint.reference))


@ledger_bp.post("/<reference>/links/<int:link_id>/delete")
@roles(*ADMINS)
def remove_link(reference: str, link_id: int) -> ResponseReturnValue:
    complaint = ledger.get_complaint(get_session(), reference)
    state = FormState.from_request(request.form)
    try:
        EmptySchema().load(request.form)
        ledger.unlink(
            get_session(), complaint.reference, link_id, actor=current_user.username, now=clock.now()
        )
    except FORM_ERRORS as error:
        return _refused(reference, "link", state, error)
    return _done(complaint, gettext("Complaint {reference} saved.", reference=complaint.reference))


@ledger_bp.post("/<reference>/notes")
@roles(*ADMINS)
def add_note(reference: str) -> ResponseReturnValue:
    complaint = ledger.get_complaint(get_session(), reference)
    state = FormState.from_request(request.form)
    try:
        data = NoteSchema().load(request.form)
        ledger.add_note(get_session(), complaint.reference, data["note"], actor=current_user.username,
                        now=clock.now())
    except FORM_ERRORS as error:
        return _refused(reference, "note", state, error)
    return _done(complaint, gettext("Complaint {reference} saved.", reference=complaint.reference))


@ledger_bp.get("/<reference>/attachments/<int:attachment_id>")
@roles(*READERS)
def attachment(reference: str, attachment_id: int) -> ResponseReturnValue:
    """The file as a download, never shown inline: its type is the checked one, and no sniffing."""
    complaint = ledger.get_complaint(get_session(), reference)
    found = next((a for a in complaint.attachments if a.id == attachment_id), None)
    if found is None:
        abort(404)
    response = send_file(
        io.BytesIO(found.data), mimetype=found.media_type, as_attachment=True,
        download_name=found.filename, etag=False, max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    # Should a browser render it anyway, the file gets no scripts and no access to this origin.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
