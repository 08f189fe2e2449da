"""Customs declarations in the verification API and pages: the schemas and the answers.

A verification may carry the customs declaration the seal was scanned with
(``{"token"|"qr", "declaration": {...}}``); :class:`DeclarationSchema` reads it through
``verify.declaration.parse_declaration`` (so the API, the page and the bulk upload refuse the
same things, naming every bad field), and :func:`declaration_view` gives the checks' answer.
Every checked declaration is logged on the customs channel (:func:`log_customs`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask_login import current_user
from marshmallow import RAISE, Schema, ValidationError, fields, post_load, pre_load, validate

from app.scanlog import log_verification
from registry.customs import CustomsResult, declaration_record
from registry.models import Role
from registry.oversight_models import ScanChannel
from verify.declaration import Declaration, DeclarationError, Outcome, parse_declaration

OUTCOMES = tuple(outcome.value for outcome in Outcome)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # line breaks and tabs are text
CHECKS = ("holder", "hs_code", "certificate_on_date", "authorization_on_date")
# The longest text each field may have (the database keeps the port in 100 characters).
FIELD_LIMITS = {
    "exporter_credit_code": 40,
    "manufacturer_credit_code": 40,
    "hs_code": 40,
    "product_description": 500,
    "quantity": 40,
    "port": 100,
    "declaration_date": 40,
}


def _text(name: str, description: str) -> fields.Raw:
    # Raw: the values are read by parse_declaration (in check_fields), which names every bad
    # field at once; the metadata documents them.
    limit = {"type": "string", "maxLength": FIELD_LIMITS[name]}
    return fields.Raw(allow_none=True, metadata={**limit, "description": description})


def read_declaration(values: Mapping[str, Any]) -> tuple[Declaration | None, dict[str, str]]:
    """The declaration of plain field values (a JSON object, a form, a CSV row), or None with every
    problem by field: parse_declaration's, texts over FIELD_LIMITS, and control characters (a NUL
    cannot be stored by PostgreSQL: it would lose the scan log's batch)."""
    problems: dict[str, str] = {}
    for name, limit in FIELD_LIMITS.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > limit:
            problems[name] = f"at most {limit} characters"
        elif isinstance(value, str) and _CONTROL.search(value):
            problems[name] = "must not contain control characters"
    try:
        declaration = parse_declaration(values)
    except DeclarationError as error:
        return None, error.problems | problems
    return (None, problems) if problems else (declaration, {})


def declaration_from_fields(values: Mapping[str, Any]) -> Declaration:
    """A Declaration from plain field values, or a ValidationError naming every bad field."""
    declaration, problems = read_declaration(values)
    if declaration is None:
        raise ValidationError(problems)
    return declaration


class DeclarationSchema(Schema):
    """The customs declaration a seal was scanned with. Every field is optional: what is not
    declared is not compared (and its check warns)."""

    class Meta:
        unknown = RAISE

    exporter_credit_code = _text("exporter_credit_code", "The exporter's unified social credit code (18).")
    manufacturer_credit_code = _text(
        "manufacturer_credit_code", "The manufacturer's unified social credit code (18)."
    )
    hs_code = _text(
        "hs_code",
        "The declared HS code, 6 to 10 digits (dots and spaces allowed); its first 6 digits are "
        "compared with the category's HS 2017 and HS 2022 subheadings.",
    )
    product_description = _text("product_description", "The goods as declared.")
    quantity = fields.Raw(
        allow_none=True,
        metadata={
            "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string"}, {"type": "null"}],
            "description": "A whole number greater than 0 (a number, or digits as text).",
        },
    )
    port = _text("port", "The port of export (kept in the scan log).")
    declaration_date = _text(
        "declaration_date",
        "YYYY-MM-DD; the certificate and the authorization are checked on it (default: today).",
    )

    @pre_load
    def check_fields(self, data: Any, **_: Any) -> Any:
        """Every problem of the declaration at once, unknown fields included."""
        if isinstance(data, Mapping):
            declaration_from_fields(data)
        return data  # anything else is refused by marshmallow as not an object

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Declaration:
        return parse_declaration(data)


class ReasonSchema(Schema):
    zh = fields.String(required=True, metadata={"description": "In Chinese."})
    en = fields.String(required=True, metadata={"description": "In English."})


class DeclarationCheckSchema(Schema):
    """One check of the declaration against the registered certificate."""

    check = fields.String(
        required=True,
        validate=validate.OneOf(CHECKS),
        metadata={
            "description": (
                "holder (the declared exporter / manufacturer is the certificate's holder or "
                "manufacturer), hs_code (the HS code fits the category), certificate_on_date, "
                "authorization_on_date (the body was authorized for the category on the date)."
            )
        },
    )
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    reason = fields.Nested(ReasonSchema, required=True)
    detail = fields.String(required=True, metadata={"description": "Refines the outcome, e.g. hs_neighbour."})


class DeclarationReportSchema(Schema):
    """The declaration's checks; none when the seal names no registered certificate."""

    overall = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(OUTCOMES),
        metadata={"description": "The worst outcome of the checks; null when they were skipped."},
    )
    checked_on = fields.Date(
        required=True, allow_none=True, metadata={"description": "The day the dated checks were made for."}
    )
    checks = fields.List(fields.Nested(DeclarationCheckSchema), required=True)
    skipped = fields.Nested(
        ReasonSchema,
        required=True,
        allow_none=True,
        metadata={"description": "Why nothing was checked (a forged or unregistered seal); else null."},
    )


def declaration_view(result: CustomsResult) -> dict[str, Any]:
    """The declaration part of a verification answer (JSON-ready)."""
    report = result.report
    if report is None:
        return {
            "overall": None,
            "checked_on": None,
            "checks": [],
            "skipped": {"zh": result.skipped_zh, "en": result.skipped_en},
        }
    return {
        "overall": str(report.overall),
        "checked_on": report.checked_on.isoformat(),
        "checks": [
            {
                "check": check.check,
                "outcome": str(check.outcome),
                "reason": {"zh": check.reason_zh, "en": check.reason_en},
                "detail": check.detail,
            }
            for check in report.checks
        ],
        "skipped": None,
    }


def log_customs(result: CustomsResult, scanned: str) -> None:
    """Record the verification in the scan log as a customs check, with what was declared.

    Only a signed-in customs officer's (or admin's) declaration counts as one: anyone may ask the
    API to check a declaration, but an anonymous one is logged as a plain API verification, so
    nobody can feed the misuse alerts (e.g. "declared by several unrelated exporters") at will.
    """
    if getattr(current_user, "role", None) not in (Role.CUSTOMS.value, Role.ADMIN.value):
        log_verification(result.verification, scanned, channel=ScanChannel.API)
        return
    overall = result.overall
    log_verification(
        result.verification,
        scanned,
        channel=ScanChannel.CUSTOMS,
        port=result.declaration.port,
        declaration=declaration_record(result.declaration),
        declaration_outcome=None if overall is None else str(overall),
    )
