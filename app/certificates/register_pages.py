"""Registering certificates on the pages: one through a form, many through a CSV/XLSX upload.

Each registered certificate gets its seal in the same transaction. A refused registration
writes nothing: the page comes back with every problem (next to its field, or in a table of
rows for an upload) and a 4xx status, so the request's session is rolled back.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from marshmallow import ValidationError, fields, post_load, validate
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app import clock
from app.access import roles
from app.admin.forms import FormSchema, FormState, refuse
from app.certificates import MANAGERS, bp
from app.certificates.pages import acting_body_id, check_body
from app.certificates.service import register_with_seals
from app.certificates.upload import COLUMNS, REQUIRED_COLUMNS, RowProblem, parse_upload, service_problems
from app.database import get_session
from app.filters import reference_choices
from app.i18n import gettext
from registry.bodies import get_body
from registry.certificates import CertificateInput, PartyInput, TestReportInput
from registry.errors import ImportRejected, InvalidInput, RegistryError
from registry.models import Body, BodyKind

SHOWN_PROBLEMS = 500


def _text(max_length: int, key: str | None = None) -> fields.String:
    return fields.String(load_default="", data_key=key, validate=validate.Length(max=max_length))


def _date(key: str | None = None, required: bool = True) -> fields.Date:
    if required:
        return fields.Date(required=True, data_key=key)
    return fields.Date(load_default=None, data_key=key)


class CertificateFormSchema(FormSchema):
    """The register form. Inputs are named as the service names fields in its errors."""

    body = _text(40)
    number = _text(64)
    holder_name_zh = _text(200, "holder.name_zh")
    holder_name_en = _text(300, "holder.name_en")
    holder_credit_code = _text(18, "holder.credit_code")
    holder_country = _text(2, "holder.country")
    manufacturer_name_zh = _text(200, "manufacturer.name_zh")
    manufacturer_name_en = _text(300, "manufacturer.name_en")
    manufacturer_credit_code = _text(18, "manufacturer.credit_code")
    manufacturer_country = _text(2, "manufacturer.country")
    category = _text(32)
    jurisdiction = _text(8)
    scheme = _text(200)
    product_name = _text(300)
    models = _text(4000)
    standards = _text(4000)
    issue_date = _date()
    expiry_date = _date()
    report_lab = _text(40, "test_reports[0].lab_code")
    report_number = _text(64, "test_reports[0].report_number")
    report_date = _date("test_reports[0].report_date", required=False)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> tuple[str, CertificateInput]:
        reports = []
        if data["report_lab"] or data["report_number"] or data["report_date"]:
            if data["report_date"] is None:
                raise ValidationError({"test_reports[0].report_date": ["the report date is required"]})
            reports.append(TestReportInput(data["report_lab"], data["report_number"], data["report_date"]))
        item = CertificateInput(
            number=data["number"],
            holder=PartyInput(
                data["holder_name_zh"],
                data["holder_name_en"],
                data["holder_credit_code"] or None,
                data["holder_country"] or "CN",
            ),
            manufacturer=PartyInput(
                data["manufacturer_name_zh"],
                data["manufacturer_name_en"],
                data["manufacturer_credit_code"] or None,
                data["manufacturer_country"] or "CN",
            ),
            category=data["category"],
            jurisdiction=data["jurisdiction"] or "CN",
            scheme=data["scheme"],
            product_name=data["product_name"],
            issue_date=data["issue_date"],
            expiry_date=data["expiry_date"],
            models=data["models"],
            standards=data["standards"],
            test_reports=reports,
        )
        return data["body"], item


def certification_bodies() -> list[Body]:
    """The bodies an admin may pick (an operator has only their own)."""
    own = acting_body_id()
    query = select(Body).where(Body.kind == BodyKind.CERTIFICATION_BODY.value).order_by(Body.code)
    if own is not None:
        query = query.where(Body.id == own)
    return list(get_session().scalars(query))


def target_body(code: str) -> Body:
    """The body to register for: the operator's own; for an admin, the one chosen (required)."""
    own = acting_body_id()
    if own is not None:
        found = get_session().get(Body, own)
        assert found is not None
        if code and code != found.code:
            abort(403)  # an operator naming another body: refused, not silently redirected
        return found
    if not code:
        raise InvalidInput("choose the issuing body", field="body")
    body = get_body(get_session(), code)
    check_body(body)
    return body


def _render_form(state: FormState) -> ResponseReturnValue:
    return render_template(
        "certificates/new.html",
        state=state,
        bodies=certification_bodies(),
        **reference_choices(get_session()),
    ), state.status


@bp.get("/new")
@roles(*MANAGERS)
def new() -> ResponseReturnValue:
    """The form to register one certificate."""
    return _render_form(
        FormState(values={"jurisdiction": "CN", "holder.country": "CN", "manufacturer.country": "CN"})
    )


@bp.post("/new")
@roles(*MANAGERS)
def create() -> ResponseReturnValue:
    """Register one certificate and seal it."""
    state = FormState.from_request(request.form)
    try:
        body_code, item = CertificateFormSchema().load(request.form)
        body = target_body(body_code)
        ((certificate, _seal),) = register_with_seals(
            get_session(), body.code, [item], actor=current_user.username, now=clock.now()
        )
    except (ValidationError, RegistryError, StaleDataError) as error:
        refuse(state, error)
        if isinstance(error, InvalidInput):
            # Every problem the service found goes next to its input, not only the first.
            for problem in error.details.get("errors", []):
                state.errors.setdefault(str(problem.get("field", "_")), str(problem.get("problem", "")))
        return _render_form(state)
    flash(gettext("Certificate {number} registered and sealed.", number=certificate.number), "success")
    return redirect(url_for("certificates.detail", body=certificate.body.code, number=certificate.number))


def _render_upload(problems: list[RowProblem], status: int, body_code: str = "") -> ResponseReturnValue:
    return render_template(
        "certificates/upload.html",
        problems=problems[:SHOWN_PROBLEMS],
        problem_count=len(problems),
        required=REQUIRED_COLUMNS,
        optional=[c for c in COLUMNS if c not in REQUIRED_COLUMNS],
        bodies=certification_bodies(),
        body_code=body_code,
    ), status


@bp.get("/upload")
@roles(*MANAGERS)
def upload_form() -> ResponseReturnValue:
    """The bulk upload form, with the columns it reads."""
    return _render_upload([], 200)


@bp.post("/upload")
@roles(*MANAGERS)
def upload() -> ResponseReturnValue:
    """Register every certificate of a CSV/XLSX file and seal each, or none of them."""
    body_code = request.form.get("body", "").strip()[:40]
    session = get_session()
    try:
        body = target_body(body_code)
    except RegistryError as error:
        return _render_upload([RowProblem(None, "body", error.message)], 422, body_code)
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return _render_upload(
            [RowProblem(None, None, gettext("Choose a CSV or XLSX file to upload."))], 400, body_code
        )
    parsed = parse_upload(upload_file.read())
    problems = list(parsed.problems)
    registered = []
    if parsed.items and not any(p.row is None or p.row <= 1 for p in problems):
        # Even when some rows are malformed, the others are checked too: one round of fixes.
        try:
            registered = register_with_seals(
                session, body.code, parsed.items, actor=current_user.username, now=clock.now()
            )
        except ImportRejected as error:
            problems += service_problems(error, parsed.rows)
        except InvalidInput as error:  # a single row: the service names fields, not indexes
            problems += service_problems(
                ImportRejected(
                    error.message,
                    errors=[
                        {"index": 0, **e} for e in error.details.get("errors", [{"problem": error.message}])
                    ],
                ),
                parsed.rows,
            )
    if problems:
        session.rollback()  # nothing of a refused file is kept, and the page must not autoflush it
        problems.sort(key=lambda p: (p.row or 0, p.column or ""))
        return _render_upload(problems, 422, body_code)
    flash(gettext("{count} certificates registered and sealed.", count=len(registered)), "success")
    return redirect(
        url_for("certificates.index", body=body.code)
        if acting_body_id() is None
        else url_for("certificates.index")
    )
