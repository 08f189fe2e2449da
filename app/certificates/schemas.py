"""marshmallow schemas of the certificate and verification API: what it reads and what it returns.

Input schemas refuse unknown fields (``unknown = RAISE``, nested ones too) and turn a valid
certificate into the registry's ``CertificateInput``; the domain rules (authorization on the
issue date, labs, duplicates) stay in ``registry.certificate_input``. Output schemas document the
answers (OpenAPI) and make sure only declared fields leave the service.
"""

from __future__ import annotations

from typing import Any

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)

from app.api.schemas import _DAY_RANGE, NamesSchema, PageSchema
from app.certificates.customs import DeclarationReportSchema, DeclarationSchema
from app.i18n import LANGUAGES
from registry.certificates import MAX_BULK, CertificateInput, PartyInput, TestReportInput
from registry.models import CertificateStatus
from verify.verdict import VerdictCode

MAX_VERIFY_BATCH = 1_000
MAX_TEST_REPORTS = 50
CERTIFICATE_STATUSES = tuple(s.value for s in CertificateStatus)
VERDICT_CODES = tuple(code.value for code in VerdictCode)


class _Strict(Schema):
    class Meta:
        unknown = RAISE


def _text(
    max_length: int, *, required: bool = False, default: str = "", description: str = ""
) -> fields.String:
    meta = {"description": description} if description else {}
    if required:
        return fields.String(required=True, validate=validate.Length(min=1, max=max_length), metadata=meta)
    return fields.String(load_default=default, validate=validate.Length(max=max_length), metadata=meta)


def _date(description: str) -> fields.Date:
    return fields.Date(
        required=True, format="%Y-%m-%d", validate=_DAY_RANGE, metadata={"description": description}
    )


class PartySchema(_Strict):
    """The holder or the manufacturer: an organization, by its unified social credit code."""

    name_zh = _text(200, required=True, description="Legal name (Chinese, or the foreign legal name).")
    name_en = _text(300)
    credit_code = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=18),
        metadata={"description": "GB 32100 unified social credit code; required for CN organizations."},
    )
    country = fields.String(
        load_default="CN",
        validate=validate.Length(equal=2),
        metadata={"description": "ISO 3166 alpha-2; default CN."},
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> PartyInput:
        return PartyInput(**data)


class TestReportSchema(_Strict):
    """A test report the certificate relies on."""

    __test__ = False  # not a pytest test class, despite the name

    lab_code = _text(40, required=True, description="The listed testing lab's code.")
    report_number = _text(64, required=True)
    report_date = _date("YYYY-MM-DD")

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> TestReportInput:
        return TestReportInput(**data)


class CertificateFieldsSchema(_Strict):
    """One certificate to register (without the body: that comes from the caller or the batch)."""

    number = _text(64, required=True, description="Unique within the issuing body.")
    holder = fields.Nested(PartySchema, required=True)
    manufacturer = fields.Nested(PartySchema, required=True)
    category = _text(32, required=True, description="A category code, e.g. mask.")
    jurisdiction = fields.String(load_default="CN", validate=validate.Length(min=1, max=8))
    scheme = _text(200, required=True, description="Scheme or legislation, e.g. CCC.")
    product_name = _text(300, required=True)
    models = _text(4000)
    standards = _text(4000)
    issue_date = _date("YYYY-MM-DD; the body must have been authorized on it.")
    expiry_date = _date("YYYY-MM-DD; after the issue date.")
    test_reports = fields.List(
        fields.Nested(TestReportSchema), load_default=list, validate=validate.Length(max=MAX_TEST_REPORTS)
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> CertificateInput:
        return CertificateInput(**data)


class CertificateCreateSchema(CertificateFieldsSchema):
    """POST /certificates with one certificate."""

    body = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=40),
        metadata={"description": "The issuing body's code; default the caller's own (required for admins)."},
    )

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Any:
        body = data.pop("body")
        return {"body": body, "items": [CertificateInput(**data)]}


class CertificateBatchSchema(_Strict):
    """POST /certificates with up to 10,000 certificates, registered all or nothing."""

    body = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    items = fields.List(
        fields.Nested(CertificateFieldsSchema),
        required=True,
        validate=validate.Length(min=1, max=MAX_BULK),
        metadata={"description": f"1 to {MAX_BULK} certificates."},
    )


class StatusChangeSchema(_Strict):
    """POST .../suspend, .../withdraw, .../restore."""

    reason = _text(2000, required=True, description="Why; recorded in the audit trail.")
    version = fields.Integer(
        load_default=None, metadata={"description": "The version read; refused (409) if it changed since."}
    )


class CertificateListArgs(_Strict):
    """Query parameters of GET /certificates."""

    body = fields.String(
        validate=validate.Length(min=1, max=40), metadata={"description": "Issuing body code."}
    )
    holder = fields.String(
        validate=validate.Length(min=1, max=18), metadata={"description": "Holder's credit code."}
    )
    category = fields.String(validate=validate.Length(min=1, max=32))
    status = fields.String(
        validate=validate.OneOf(CERTIFICATE_STATUSES),
        metadata={"description": "Status today: valid, suspended, withdrawn or expired."},
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=100))
    lang = fields.String(validate=validate.OneOf(LANGUAGES), metadata={"description": "Ignored by the API."})

    @pre_load
    def drop_empty(self, data: Any, **_: Any) -> Any:
        if hasattr(data, "to_dict"):
            data = data.to_dict(flat=True)
        return {k: v.strip() for k, v in data.items() if v.strip()}


class VerifyItemSchema(_Strict):
    """One seal to check: the bare token, or the text a scanner read (the seal URL)."""

    token = fields.String(metadata={"description": "The base32 token (any case)."})
    qr = fields.String(metadata={"description": "The scanned text, e.g. HTTPS://HOST/V/TOKEN."})
    log_proof = fields.Boolean(
        load_default=False,
        metadata={
            "description": (
                "Also return the certificate's latest log entry with its inclusion proof against "
                "the current signed checkpoint (single verification only)."
            )
        },
    )

    declaration = fields.Nested(
        DeclarationSchema,
        metadata={
            "description": (
                "The customs declaration the seal was scanned with: the answer then also checks it "
                "against the registered certificate (and the scan is logged as a customs check)."
            )
        },
    )

    @validates_schema
    def one_of(self, data: dict[str, Any], **_: Any) -> None:
        if ("token" in data) == ("qr" in data):
            raise ValidationError("give exactly one of token and qr")


class VerifyBatchSchema(_Strict):
    items = fields.List(
        fields.Raw(),
        required=True,
        validate=validate.Length(min=1, max=MAX_VERIFY_BATCH),
        metadata={
            "description": (
                f"1 to {MAX_VERIFY_BATCH} objects {{token}} or {{qr}} (each with an optional "
                "declaration, as VerifyItem), or scanned strings."
            )
        },
    )


# ---- Output documents -------------------------------------------------------------------------


class PartyOutSchema(Schema):
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)
    credit_code = fields.String(required=True, allow_none=True)
    country = fields.String(required=True)


class TestReportOutSchema(Schema):
    __test__ = False

    lab = fields.String(required=True)
    report_number = fields.String(required=True)
    report_date = fields.Date(required=True)


class SealSchema(Schema):
    token = fields.String(required=True, metadata={"description": "Base32 COSE_Sign1, uppercase."})
    url = fields.String(required=True, metadata={"description": "What the QR code holds."})
    kid = fields.String(
        required=True, metadata={"description": "Signing key id (base64url, as in the JWKS)."}
    )
    issued_at = fields.DateTime(required=True, format="iso")
    qr_png = fields.String(required=True)
    qr_svg = fields.String(required=True)
    label_png = fields.String(required=True)


class StatusChangeOutSchema(Schema):
    status = fields.String(required=True)
    reason = fields.String(required=True)
    recorded_at = fields.DateTime(required=True, format="iso")


class CertificateCoreSchema(Schema):
    """The fields every view of a registered certificate shows."""

    body = fields.String(required=True)
    body_names = fields.Nested(NamesSchema, required=True)
    number = fields.String(required=True)
    holder = fields.Nested(PartyOutSchema, required=True)
    manufacturer = fields.Nested(PartyOutSchema, required=True)
    category = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    scheme = fields.String(required=True)
    product_name = fields.String(required=True)
    models = fields.String(required=True)
    standards = fields.String(required=True)
    issue_date = fields.Date(required=True)
    expiry_date = fields.Date(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(CERTIFICATE_STATUSES),
        metadata={"description": "Status today (expired follows from the date)."},
    )


class CertificateSchema(CertificateCoreSchema):
    """A registered certificate with its status today and its current seal."""

    stored_status = fields.String(required=True, metadata={"description": "valid, suspended or withdrawn."})
    version = fields.Integer(required=True)
    test_reports = fields.List(fields.Nested(TestReportOutSchema), required=True)
    seal = fields.Nested(SealSchema, required=True, allow_none=True)
    url = fields.String(required=True)


class CertificateDetailSchema(CertificateSchema):
    history = fields.List(
        fields.Nested(StatusChangeOutSchema), required=True, metadata={"description": "Oldest first."}
    )


class CertificatePageSchema(PageSchema):
    items = fields.List(fields.Nested(CertificateSchema), required=True)


class RegisteredSchema(Schema):
    body = fields.String(required=True)
    number = fields.String(required=True)
    seal = fields.Nested(SealSchema, required=True)


class RegistrationSchema(Schema):
    count = fields.Integer(required=True)
    items = fields.List(fields.Nested(RegisteredSchema), required=True)


class VerifiedCertificateSchema(CertificateCoreSchema):
    """The registered certificate a genuine seal names."""

    url = fields.String(required=True, metadata={"description": "The certificate in this API."})


class LogEntrySchema(Schema):
    """Where the certificate's latest change sits in the transparency log (see /log/*)."""

    index = fields.Integer(required=True, metadata={"description": "The leaf index."})
    size = fields.Integer(metadata={"description": "The checkpoint's log size (with log_proof)."})
    checkpoint = fields.String(metadata={"description": "The signed checkpoint note (with log_proof)."})
    leaf = fields.String(metadata={"description": "The leaf's data: the audit event's canonical JSON."})
    proof = fields.List(fields.String(), metadata={"description": "RFC 9162 inclusion proof, base64."})


class VerdictSchema(Schema):
    """The verdict on one seal; ``verdict`` is a stable code."""

    verdict = fields.String(
        required=True,
        validate=validate.OneOf(VERDICT_CODES),
        metadata={
            "description": (
                "VALID, FORGED, KEY_REVOKED, NOT_REGISTERED, BODY_NOT_AUTHORIZED, CERTIFICATE_WITHDRAWN, "
                "CERTIFICATE_SUSPENDED, CERTIFICATE_EXPIRED or BODY_AUTHORIZATION_ENDED."
            )
        },
    )
    detail = fields.String(
        required=True, metadata={"description": "Refines the verdict, e.g. bad_signature."}
    )
    valid = fields.Boolean(required=True, metadata={"description": "True for VALID and for a warning."})
    warning = fields.Boolean(
        required=True,
        metadata={
            "description": (
                "True for BODY_AUTHORIZATION_ENDED within its grace period: accepted, with a warning."
            )
        },
    )
    reason = fields.Nested(NamesSchema, required=True)
    certificate = fields.Nested(VerifiedCertificateSchema, required=True, allow_none=True)
    log = fields.Nested(LogEntrySchema, required=True, allow_none=True)
    checked_at = fields.DateTime(required=True, format="iso")
    declaration = fields.Nested(
        DeclarationReportSchema, metadata={"description": "Only when a declaration was given."}
    )


class VerdictBatchSchema(Schema):
    checked_at = fields.DateTime(required=True, format="iso")
    count = fields.Integer(required=True)
    items = fields.List(fields.Nested(VerdictSchema), required=True)


class TrustBundleArgs(_Strict):
    """Query parameters of GET /trust-bundle."""

    registered = fields.Boolean(
        load_default=False,
        metadata={
            "description": (
                "Also list every registered certificate (larger; lets a scanner say NOT_REGISTERED)."
            )
        },
    )
    lang = fields.String(validate=validate.OneOf(LANGUAGES), metadata={"description": "Ignored by the API."})


class PingSchema(Schema):
    ok = fields.Boolean(required=True)
