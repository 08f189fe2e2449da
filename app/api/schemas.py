"""marshmallow schemas of the JSON API: the query arguments it reads and the documents it returns.

Output schemas are dumped from plain dicts built by ``app.api.present``; dumping through a schema
means only declared fields ever leave the service (an audit event's actor, for one, never does).
The same schemas feed the OpenAPI document (``app.api.openapi``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, fields, pre_load, validate

from app.i18n import LANGUAGES
from registry.exports import COLUMNS
from registry.models import BodyKind
from registry.queries import STATUSES

# The dates the registry can answer for; outside them a date is a typo, not a question.
EARLIEST_DAY = dt.date(2000, 1, 1)
LATEST_DAY = dt.date(2100, 1, 1)
_DAY_RANGE = validate.Range(
    min=EARLIEST_DAY, max=LATEST_DAY, error="the date must lie between 2000-01-01 and 2100-01-01"
)
_STATUS = validate.OneOf(STATUSES)


def _drop_empty(data: Any) -> Any:
    # An empty parameter ("?as_of=") means "not given", as on the HTML forms.
    if hasattr(data, "to_dict"):
        data = data.to_dict(flat=True)
    if not isinstance(data, dict):
        return data
    return {k: v.strip() if isinstance(v, str) else v for k, v in data.items() if v not in ("", None)}


class _QueryArgs(Schema):
    """Base of the API's own query schemas: unknown parameters are refused, empty ones ignored."""

    class Meta:
        unknown = RAISE

    @pre_load
    def drop_empty(self, data: Any, **_: Any) -> Any:
        return _drop_empty(data)


class BodyDetailArgs(_QueryArgs):
    """Query parameters of GET /api/v1/bodies/{code}."""

    as_of = fields.Date(
        format="%Y-%m-%d", validate=_DAY_RANGE,
        metadata={"description": "Show statuses on this date (YYYY-MM-DD); default today (China time)."},
    )
    lang = fields.String(validate=validate.OneOf(LANGUAGES), metadata={"description": "Ignored by the API."})


class AuthorizedArgs(_QueryArgs):
    """Query parameters of GET /api/v1/authorized."""

    body = fields.String(
        required=True, validate=validate.Length(min=1, max=40), metadata={"description": "The body's code."}
    )
    category = fields.String(
        required=True, validate=validate.Length(min=1, max=32), metadata={"description": "A category code."}
    )
    jurisdiction = fields.String(
        load_default="CN", validate=validate.Length(min=1, max=8),
        metadata={"description": "A jurisdiction code; default CN."},
    )
    date = fields.Date(
        format="%Y-%m-%d", validate=_DAY_RANGE,
        metadata={"description": "The day asked about (YYYY-MM-DD); default today (China time)."},
    )
    lang = fields.String(validate=validate.OneOf(LANGUAGES), metadata={"description": "Ignored by the API."})


class NoArgs(_QueryArgs):
    """Routes that take no parameter but ``lang`` still refuse unknown ones."""

    lang = fields.String(validate=validate.OneOf(LANGUAGES), metadata={"description": "Ignored by the API."})


# ---- Output documents -------------------------------------------------------------------------


class NamesSchema(Schema):
    zh = fields.String(required=True, metadata={"description": "Legal name in Chinese."})
    en = fields.String(required=True, metadata={"description": "English name; may be empty."})


class ProvinceSchema(Schema):
    code = fields.String(required=True, metadata={"description": "GB/T 2260 two-digit code."})
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)


class StatusPeriodSchema(Schema):
    """A status and the days it governs: ``[effective_from, effective_until)``."""

    status = fields.String(required=True, validate=_STATUS)
    effective_from = fields.Date(required=True)
    effective_until = fields.Date(
        required=True, allow_none=True, metadata={"description": "Exclusive; null while in force."}
    )
    reason = fields.String(required=True)


class AuthorizationSchema(Schema):
    """One scope line of a body."""

    id = fields.Integer(required=True)
    jurisdiction = fields.String(required=True)
    scheme = fields.String(required=True, metadata={"description": "Scheme or legislation, e.g. CCC."})
    category = fields.String(required=True)
    standards = fields.String(required=True)
    tests = fields.String(required=True, metadata={"description": "For labs: the tests they may run."})
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(required=True, allow_none=True)
    status = fields.String(
        required=True, allow_none=True, validate=_STATUS,
        metadata={"description": "Status on as_of; null when the line is not yet valid then."},
    )


class AuthorizationDetailSchema(AuthorizationSchema):
    periods = fields.List(fields.Nested(StatusPeriodSchema), required=True)


class AuditEntrySchema(Schema):
    """One recorded change of the body or one of its lines (who made it is internal)."""

    action = fields.String(required=True, metadata={"description": "e.g. body:authorization:suspend"})
    occurred_at = fields.DateTime(required=True, format="iso")
    reason = fields.String(required=True)
    authorization_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "The line changed; null for the body."}
    )


class BodySchema(Schema):
    """A certification body, inspection body or testing lab as of a date."""

    code = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in BodyKind]))
    names = fields.Nested(NamesSchema, required=True)
    credit_code = fields.String(
        required=True, allow_none=True, metadata={"description": "Unified social credit code (GB 32100)."}
    )
    credit_code_warning = fields.String(
        required=True, allow_none=True,
        metadata={"description": "Set when the check character does not match; the code is shown anyway."},
    )
    country = fields.String(required=True, metadata={"description": "ISO 3166 alpha-2."})
    province = fields.Nested(ProvinceSchema, required=True, allow_none=True)
    address = fields.String(required=True)
    website = fields.String(required=True)
    identifiers = fields.Dict(
        keys=fields.String(), values=fields.String(), required=True,
        metadata={"description": "Identifier by scheme: cnca, cnas, cma, eu_nb, niosh, other."},
    )
    status = fields.String(
        required=True, allow_none=True, validate=_STATUS,
        metadata={"description": "Headline status on as_of: the best status of its lines."},
    )
    authorizations = fields.List(fields.Nested(AuthorizationSchema), required=True)
    url = fields.String(required=True, metadata={"description": "The body's public page."})


class BodyDetailSchema(BodySchema):
    as_of = fields.Date(required=True)
    authorizations = fields.List(fields.Nested(AuthorizationDetailSchema), required=True)
    history = fields.List(
        fields.Nested(AuditEntrySchema), required=True, metadata={"description": "Oldest first."}
    )


class PageLinksSchema(Schema):
    self = fields.String(required=True)
    next = fields.String(required=True, allow_none=True)
    prev = fields.String(required=True, allow_none=True)


class PageSchema(Schema):
    """The envelope of every paginated list; subclasses add ``items``."""

    as_of = fields.Date(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)
    total = fields.Integer(required=True)
    pages = fields.Integer(required=True)
    links = fields.Nested(PageLinksSchema, required=True)


class BodyPageSchema(PageSchema):
    items = fields.List(fields.Nested(BodySchema), required=True)


class AuthorizedSchema(Schema):
    """The answer to "was body B authorized for category C in jurisdiction J on date D?"."""

    authorized = fields.Boolean(required=True)
    body = fields.String(required=True)
    category = fields.String(required=True)
    jurisdiction = fields.String(required=True)
    date = fields.Date(required=True)
    status = fields.String(
        required=True, allow_none=True, validate=_STATUS,
        metadata={"description": "Best status of the matching lines on date; null if none applies."},
    )
    lines = fields.List(fields.Nested(AuthorizationSchema), required=True)
    url = fields.String(required=True)


class CategorySchema(Schema):
    code = fields.String(required=True)
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)
    standards_cn = fields.List(fields.String(), required=True)
    standards_international = fields.List(fields.String(), required=True)
    hs6_codes = fields.List(fields.String(), required=True)
    hs6_neighbours = fields.List(fields.String(), required=True)


class CategoryListSchema(Schema):
    items = fields.List(fields.Nested(CategorySchema), required=True)


class JurisdictionSchema(Schema):
    code = fields.String(required=True)
    name_zh = fields.String(required=True)
    name_en = fields.String(required=True)


class JurisdictionListSchema(Schema):
    items = fields.List(fields.Nested(JurisdictionSchema), required=True)


ExportRowSchema = Schema.from_dict(
    {column: fields.String(required=True) for column in COLUMNS}, name="ExportRowSchema"
)


class ExportSchema(Schema):
    """The JSON export: one row per scope line, in the import spreadsheet's columns."""

    as_of = fields.Date(required=True)
    count = fields.Integer(required=True)
    items = fields.List(fields.Nested(ExportRowSchema), required=True)


class ProblemSchema(Schema):
    """RFC 9457 problem details; ``code`` is stable and meant for programs."""

    class Meta:
        # Some problems carry more members (the upload limit, the current version of a stale record).
        unknown = INCLUDE

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    code = fields.String(
        required=True,
        metadata={"description": "Stable error code: not_found, invalid_input, method_not_allowed, ..."},
    )
    detail = fields.String(required=True)
    errors = fields.Raw(
        metadata={
            "description": "With invalid_input: the messages per field (an object); with "
            "import_rejected: a list of {index or row, field, problem}."
        }
    )
