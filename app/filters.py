"""The list filters, parsed by one marshmallow schema for pages, exports and the API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate
from sqlalchemy.orm import Session

from app.i18n import LANGUAGES
from registry.models import BodyKind
from registry.queries import STATUSES, BodyFilter
from registry.reference import provinces, reference_snapshot

MAX_PAGE = 10_000


class BodyListArgs(Schema):
    """Query parameters of the body and lab lists. Unknown parameters are refused."""

    class Meta:
        unknown = RAISE

    kind = fields.String(
        validate=validate.OneOf([k.value for k in BodyKind]), metadata={"description": "Kind of body."}
    )
    category = fields.String(
        validate=validate.Length(max=32), metadata={"description": "Has a scope line of this category."}
    )
    jurisdiction = fields.String(
        validate=validate.Length(max=8), metadata={"description": "Has a scope line in this jurisdiction."}
    )
    province = fields.String(
        validate=validate.Length(max=2), metadata={"description": "GB/T 2260 two-digit province code."}
    )
    status = fields.String(
        validate=validate.OneOf(STATUSES),
        metadata={"description": "Has a matching line with this status on as_of."},
    )
    q = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Free text in the names, code, credit code or identifiers."},
    )
    as_of = fields.Date(
        format="%Y-%m-%d", metadata={"description": "The list as of this date (YYYY-MM-DD); default today."}
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    lang = fields.String(validate=validate.OneOf(LANGUAGES))

    @pre_load
    def drop_empty(self, data: Any, **_: Any) -> Any:
        # HTML forms send empty fields for "any"; they filter nothing.
        if hasattr(data, "to_dict"):
            data = data.to_dict(flat=True)
        stripped = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        return {k: v for k, v in stripped.items() if v not in ("", None)}


def parse_body_filters(
    session: Session, args: Any, *, kinds: tuple[str, ...] = ()
) -> tuple[BodyFilter, int, int]:
    """Validate query args against the schema and the reference tables; return filter, page, per_page."""
    data = BodyListArgs().load(args)
    errors: dict[str, list[str]] = {}
    snapshot = reference_snapshot(session)
    if "category" in data and data["category"] not in snapshot.category_codes:
        errors["category"] = [f"unknown category {data['category']!r}"]
    if "jurisdiction" in data and data["jurisdiction"] not in snapshot.jurisdiction_codes:
        errors["jurisdiction"] = [f"unknown jurisdiction {data['jurisdiction']!r}"]
    if "province" in data and data["province"] not in provinces():
        errors["province"] = [f"unknown province code {data['province']!r}"]
    as_of: dt.date | None = data.get("as_of")
    if as_of is not None and not dt.date(2000, 1, 1) <= as_of <= dt.date(2100, 1, 1):
        errors["as_of"] = ["as_of must lie between 2000-01-01 and 2100-01-01"]
    if "kind" in data:
        # A kind narrows the page's kinds; it never widens them (/labs?kind=certification_body).
        if kinds and data["kind"] not in kinds:
            errors["kind"] = [f"{data['kind']!r} is not listed here"]
        kinds = (data["kind"],)
    if errors:
        raise ValidationError(errors)
    return (
        BodyFilter(
            kinds=kinds,
            category=data.get("category"),
            jurisdiction=data.get("jurisdiction"),
            province=data.get("province"),
            status=data.get("status"),
            text=data.get("q"),
            as_of=as_of,
        ),
        data["page"],
        data["per_page"],
    )


def reference_choices(session: Session) -> dict[str, Any]:
    """Categories and jurisdictions for filter drop-downs."""
    snapshot = reference_snapshot(session)
    return {
        "categories": snapshot.categories,
        "jurisdictions": snapshot.jurisdictions,
        "provinces": list(provinces().values()),
        "statuses": STATUSES,
    }
