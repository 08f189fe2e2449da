"""The customs check page: one scanned seal with its declaration, one big verdict, four checks.

The scan field has the focus; a handheld scanner types the seal URL into it and sends Enter,
which submits the whole form (an ordinary form submits on Enter from a text field), so the
declaration filled beside it goes along. The result page keeps the declaration and empties the
scan field, ready for the next seal of the same declaration.
"""

from __future__ import annotations

from typing import Any

from flask import render_template, request
from flask.typing import ResponseReturnValue
from marshmallow import ValidationError, fields, post_load, validate

from app import clock
from app.access import roles
from app.admin.forms import FormSchema, FormState
from app.certificates.customs import declaration_from_fields, log_customs
from app.certificates.service import grace_days
from app.certificates.verify_pages import Headline, checked_label, headline
from app.customs import CUSTOMS_ROLES, bp
from app.customs.upload import MAX_SCANNED, SCANNED
from app.database import get_reading_session
from registry.customs import CustomsResult, check_declarations
from verify.declaration import DECLARATION_FIELDS, Declaration, Outcome
from verify.verdict import REGISTRY_TIMEZONE

# The big words when the seal holds and the declaration was checked (the seal page's idea: one
# verdict, readable at a glance, in one colour per outcome).
CUSTOMS_HEADLINES = {
    Outcome.MATCH: Headline("申报相符", "DECLARATION MATCHES", "ok"),
    Outcome.WARN: Headline("申报需核实", "CHECK THE DECLARATION", "warning"),
    Outcome.MISMATCH: Headline("申报不符", "DECLARATION MISMATCH", "invalid"),
}


def customs_headline(result: CustomsResult) -> Headline:
    """The seal's own headline when it does not hold (FORGED, CERTIFICATE SUSPENDED...), else the
    declaration's; a seal valid only with a warning makes a matching declaration a warning."""
    verification = result.verification
    overall = result.overall
    if not verification.is_valid or overall is None:
        return headline(verification)
    if verification.is_warning and overall is Outcome.MATCH:
        overall = Outcome.WARN
    return CUSTOMS_HEADLINES[overall]


def _text() -> fields.String:
    # Lengths and formats are read_declaration's, which names every bad field at once.
    return fields.String(load_default=None)


class CheckFormSchema(FormSchema):
    """The check form: the scanned text and the declaration's fields, named as the API names them."""

    scanned = fields.String(required=True, validate=validate.Length(min=1, max=MAX_SCANNED))
    exporter_credit_code = _text()
    manufacturer_credit_code = _text()
    hs_code = _text()
    product_description = _text()
    quantity = _text()
    port = _text()
    declaration_date = _text()

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> tuple[str, Declaration]:
        scanned = data.pop(SCANNED)
        return scanned, declaration_from_fields(data)


def _render(state: FormState, result: CustomsResult | None = None) -> ResponseReturnValue:
    now = clock.now()
    html = render_template(
        "customs/check.html",
        state=state,
        result=result,
        headline=customs_headline(result) if result is not None else None,
        certificate=result.verification.certificate if result is not None else None,
        fields=DECLARATION_FIELDS,
        checked_at=checked_label(now.astimezone(REGISTRY_TIMEZONE)),
    )
    return html, state.status, {"Cache-Control": "no-store"}


@bp.get("/check")
@roles(*CUSTOMS_ROLES)
def check_form() -> ResponseReturnValue:
    """The check form, the scan field focused."""
    return _render(FormState())


@bp.post("/check")
@roles(*CUSTOMS_ROLES)
def check() -> ResponseReturnValue:
    """Check one scanned seal and its declaration; the form comes back with the declaration kept."""
    state = FormState.from_request(request.form)
    try:
        scanned, declaration = CheckFormSchema().load(request.form)
    except ValidationError as error:
        return _render(state.fail_validation(error))
    session = get_reading_session()  # a check only reads (its scan log row is written apart)
    items = [(scanned, declaration)]
    (result,) = check_declarations(session, items, now=clock.now(), grace_days=grace_days())
    log_customs(result, scanned)
    state.values.pop(SCANNED, None)  # ready for the next seal of the same declaration
    return _render(state, result)
