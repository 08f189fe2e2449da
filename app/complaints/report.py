"""The public report form: ``/report`` takes a complaint, ``/report/received`` shows its reference.

Whatever is wrong with a submission (a missing description, an oversized or disguised attachment,
an expired form, a request over the size cap) the reader gets the form again with a message in
their language and a 4xx status; nothing is written (the request's session is rolled back).
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from app import clock
from app.access import public
from app.admin.forms import FormState
from app.complaints import bp
from app.complaints.forms import ReportSchema
from app.database import get_session
from app.i18n import N_, current_language, gettext
from registry.complaints import (
    MAX_ATTACHMENT_BYTES,
    MAX_SUBJECT_CHARS,
    SUBJECT_KINDS,
    AttachmentInput,
    ComplaintInput,
    submit_complaint,
)
from registry.errors import RegistryError

# The whole request may exceed the attachment by this much (the text fields and the multipart
# framing); beyond it Werkzeug stops reading and answers 413 before anything is parsed.
FORM_OVERHEAD_BYTES = 256 * 1024
MAX_REQUEST_BYTES = MAX_ATTACHMENT_BYTES + FORM_OVERHEAD_BYTES
MAX_FORM_PARTS = 20
SESSION_KEY = "complaint_reference"

# One sentence per input, whatever the exact problem: the reader needs to know what to fix.
FIELD_PROBLEMS = {
    "kind": N_("Choose what the report is about."),
    "subject": N_("Name the certificate, seal or body in at most 500 characters, on one line."),
    "description": N_("Describe what is suspicious, in at most 5000 characters."),
    "name": N_("Your name may have at most 100 characters, on one line."),
    "contact": N_("Your contact details may have at most 200 characters, on one line."),
}
ATTACHMENT_PROBLEMS = {
    "too_large": N_("The attachment is larger than 5 MB."),
    "type": N_("The attachment must be a PDF, PNG or JPEG file."),
    "mismatch": N_("The attachment's name or type does not match its content (PDF, PNG or JPEG)."),
    "empty": N_("The attachment is empty."),
}
UNKNOWN_INPUT = N_("The form sent inputs it does not have; please reload the page and try again.")
CORRECT_FIELDS = N_("Please correct the marked fields; nothing has been sent yet.")
TOO_LARGE = N_("The report is too large (an attachment may have at most 5 MB); nothing was sent.")
FORM_EXPIRED = N_("The form has expired; nothing was sent. Please check your input and send it again.")


@bp.url_value_preprocessor
def cap_request_size(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Runs before every before_request function, so before the CSRF check reads the form: the cap
    # applies to the whole upload, whatever MAX_CONTENT_LENGTH allows the other forms.
    request.max_content_length = MAX_REQUEST_BYTES
    request.max_form_parts = MAX_FORM_PARTS


def _prefill(args: MultiDict[str, str]) -> dict[str, str]:
    """Values a link may suggest (the seal page links here with the seal's URL); wrong ones are dropped."""
    values = {"kind": "other"}
    if args.get("kind") in SUBJECT_KINDS:
        values["kind"] = args["kind"]
    subject = "".join(ch for ch in args.get("subject", "") if ch.isprintable())[:MAX_SUBJECT_CHARS]
    if subject.strip():
        values["subject"] = subject.strip()
    return values


def _render(state: FormState) -> ResponseReturnValue:
    html = render_template(
        "complaints/report.html", state=state, kinds=SUBJECT_KINDS, max_mb=MAX_ATTACHMENT_BYTES // 2**20
    )
    return html, state.status


def _attachment() -> AttachmentInput | None:
    """The uploaded file, if one was chosen; read only one byte past the limit."""
    if set(request.files) - {"attachment"}:
        raise ValidationError({"_": ["unknown file input"]})
    storage = request.files.get("attachment")
    if storage is None or not storage.filename:
        return None  # a file input left empty still sends a part, with no name and no content
    data = storage.stream.read(MAX_ATTACHMENT_BYTES + 1)
    return AttachmentInput(storage.filename, storage.mimetype or "", data)


def _refuse(state: FormState, error: ValidationError | RegistryError) -> FormState:
    """Word every problem for the reader, next to its input (422), and write nothing."""
    get_session().rollback()
    if isinstance(error, ValidationError):
        messages = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        problems = [{"field": str(name), "code": "invalid"} for name in messages]
    else:
        problems = error.details.get("errors") or [
            {"field": error.details.get("field", "_"), "code": error.details.get("code", "invalid")}
        ]
    for problem in problems:
        name = problem["field"]
        if name == "attachment":
            worded = ATTACHMENT_PROBLEMS.get(problem["code"], ATTACHMENT_PROBLEMS["type"])
            state.errors[name] = gettext(worded)
        elif name in FIELD_PROBLEMS:
            state.errors[name] = gettext(FIELD_PROBLEMS[name])
        else:
            state.errors["_"] = gettext(UNKNOWN_INPUT)
    state.message, state.status = CORRECT_FIELDS, 422
    return state


@bp.route("/report", methods=["GET", "POST"])
@public
def report() -> ResponseReturnValue:
    """The form (GET), and a submission (POST): on success, on to the page with the reference."""
    if request.method == "GET":
        return _render(FormState(values=_prefill(request.args)))
    state = FormState.from_request(request.form)
    try:
        data = ReportSchema().load(request.form)
        complaint = submit_complaint(
            get_session(),
            ComplaintInput(
                subject_kind=data["kind"],
                subject_text=data["subject"],
                description=data["description"],
                reporter_name=data["name"],
                reporter_contact=data["contact"],
                language=current_language(),
            ),
            _attachment(),
            now=clock.now(),
        )
    except (ValidationError, RegistryError) as error:
        return _render(_refuse(state, error))
    # Post/redirect/get: reloading the confirmation does not send the report twice.
    session[SESSION_KEY] = complaint.reference
    return redirect(url_for("complaints.received"))


@bp.get("/report/received")
@public
def received() -> ResponseReturnValue:
    """The confirmation, with the reference to quote (only to whoever sent the report)."""
    reference = session.get(SESSION_KEY)
    if not reference:
        return redirect(url_for("complaints.report"))
    return render_template("complaints/received.html", reference=reference)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_error: RequestEntityTooLarge) -> ResponseReturnValue:
    # Nothing of the form could be read (Werkzeug stopped at the cap), so it comes back empty.
    state = FormState(values={"kind": "other"}, message=TOO_LARGE, status=413)
    state.errors["attachment"] = gettext(ATTACHMENT_PROBLEMS["too_large"])
    return _render(state)


@bp.errorhandler(CSRFError)
def form_expired(_error: CSRFError) -> ResponseReturnValue:
    state = FormState.from_request(request.form)
    state.message, state.status = FORM_EXPIRED, 400
    return _render(state)
