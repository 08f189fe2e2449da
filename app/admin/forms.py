"""Marshmallow schemas for the admin forms, and the plumbing that turns errors into form messages.

The schemas only check shape (types, lengths, dates, URL schemes); the domain rules live in the
registry services, whose ``InvalidInput``/``Conflict`` name the offending field. Both kinds of
error end up in the same ``FormState`` so the page shows each message next to its field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate
from sqlalchemy.orm.exc import StaleDataError

from app.database import get_session
from app.errors import status_for
from app.i18n import LANGUAGES
from registry.errors import RegistryError, StaleEdit
from registry.identifiers import IDENTIFIER_SCHEMES

# Form inputs are named like the fields the services report in errors ("identifiers.cnca").
IDENTIFIER_FIELDS = tuple(f"identifiers.{scheme}" for scheme in IDENTIFIER_SCHEMES)


class FormSchema(Schema):
    """Base of every admin form: unknown inputs are refused, empty inputs take the default."""

    class Meta:
        unknown = RAISE

    @pre_load
    def drop_token_and_empties(self, data: Any, **_: Any) -> dict[str, Any]:
        # The CSRF token was already checked by Flask-WTF; it is not part of the record. An empty
        # input means "no value" and takes the field's load_default (e.g. no end date).
        if hasattr(data, "to_dict"):
            data = data.to_dict(flat=True)
        # Passwords are taken as typed; every other input loses surrounding blanks.
        cleaned = {
            key: value.strip() if isinstance(value, str) and key != "password" else value
            for key, value in data.items()
            if key != "csrf_token"
        }
        return {key: value for key, value in cleaned.items() if value not in ("", None)}


def _text(max_length: int, default: str = "") -> fields.String:
    return fields.String(load_default=default, validate=validate.Length(max=max_length))


class BodyFieldsSchema(FormSchema):
    """The editable fields of a body and its organization (code and kind are fixed once created)."""

    name_zh = _text(200)
    name_en = _text(300)
    credit_code = _text(18)
    country = _text(2, "CN")
    province = fields.String(load_default=None, validate=validate.Length(equal=2))
    address = _text(500)
    # Rendered as a link on the public page: only web addresses, never javascript: or data: URLs.
    website = fields.String(
        load_default="",
        validate=[validate.Length(max=300), validate.URL(schemes={"http", "https"}, require_tld=True)],
    )
    contact_name = _text(100)
    contact_email = fields.String(load_default="", validate=[validate.Length(max=200), validate.Email()])
    contact_phone = _text(50)
    # Inputs are named "identifiers.<scheme>", as the services name the field in their errors.
    id_cnca = fields.String(data_key="identifiers.cnca", load_default="", validate=validate.Length(max=64))
    id_cnas = fields.String(data_key="identifiers.cnas", load_default="", validate=validate.Length(max=64))
    id_cma = fields.String(data_key="identifiers.cma", load_default="", validate=validate.Length(max=64))
    id_eu_nb = fields.String(data_key="identifiers.eu_nb", load_default="", validate=validate.Length(max=64))
    id_niosh = fields.String(data_key="identifiers.niosh", load_default="", validate=validate.Length(max=64))
    id_other = fields.String(data_key="identifiers.other", load_default="", validate=validate.Length(max=64))


def identifiers_of(data: dict[str, Any]) -> dict[str, str]:
    """The identifier inputs of loaded body ``data`` as the services expect them (scheme -> value)."""
    return {scheme: data[f"id_{scheme}"] for scheme in IDENTIFIER_SCHEMES if data.get(f"id_{scheme}")}


class BodyCreateSchema(BodyFieldsSchema):
    code = _text(40)
    kind = _text(24)


class BodyEditSchema(BodyFieldsSchema):
    # The version the editor loaded: a save against a newer one is refused (optimistic locking).
    version = fields.Integer(required=True)


class LineFieldsSchema(FormSchema):
    standards = _text(4000)
    tests = _text(4000)
    valid_from = fields.Date(required=True)
    valid_until = fields.Date(load_default=None)
    reason = _text(2000)


class LineGrantSchema(LineFieldsSchema):
    jurisdiction = _text(8)
    scheme = _text(200)
    category = _text(32)


class LineEditSchema(LineFieldsSchema):
    version = fields.Integer(required=True)


class StatusChangeSchema(FormSchema):
    status = _text(16)
    reason = _text(2000)
    effective = fields.Date(load_default=None)


class LineStatusSchema(StatusChangeSchema):
    version = fields.Integer(required=True)


class UserCreateSchema(FormSchema):
    username = _text(100)
    password = _text(200)
    role = _text(24)
    body = fields.String(load_default=None, validate=validate.Length(max=40))


class ListArgsSchema(Schema):
    """Query arguments shared by the admin lists."""

    class Meta:
        unknown = RAISE

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    lang = fields.String(validate=validate.OneOf(LANGUAGES))

    @pre_load
    def drop_empty(self, data: Any, **_: Any) -> dict[str, Any]:
        if hasattr(data, "to_dict"):
            data = data.to_dict(flat=True)
        return {k: v.strip() for k, v in data.items() if v not in ("", None)}


class BodyListArgs(ListArgsSchema):
    q = fields.String(validate=validate.Length(max=100))


class AuditListArgs(ListArgsSchema):
    action = fields.String(validate=validate.Length(max=80))
    subject = fields.String(validate=validate.Length(max=120))


UNKNOWN_FIELD = "Unknown field."  # marshmallow's message for an input no schema field declares


@dataclass
class FormState:
    """What a form shows: the user's input, per-field messages and a message for the whole form."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""
    status: int = 200
    # True when the save was refused because someone else saved the record first.
    stale: bool = False

    @classmethod
    def from_request(cls, form: Any) -> FormState:
        """Keep what the user typed (never the password or the token) to show it again."""
        values = {k: v for k, v in form.to_dict(flat=True).items() if k not in ("csrf_token", "password")}
        return cls(values=values)

    def fail_validation(self, error: ValidationError) -> FormState:
        """Record marshmallow's messages against their fields (422)."""
        messages = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
        unknown: list[str] = []
        for name, problems in messages.items():
            text = "; ".join(str(p) for p in problems) if isinstance(problems, list) else str(problems)
            if text == UNKNOWN_FIELD or name == "_":
                # No input of the form carries this name, so the message goes above the form.
                unknown.append(f"{name}: {text}")
            else:
                self.errors[str(name)] = text
        if unknown:
            self.errors["_"] = "; ".join(unknown)
        self.message = "Please correct the marked fields."
        self.status = 422
        return self

    def fail_domain(self, error: RegistryError) -> FormState:
        """Record a service's refusal; its ``field`` detail names the input to mark."""
        self.message = error.message
        name = error.details.get("field")
        if name:
            self.errors[str(name)] = error.message
        self.status = status_for(error)
        self.stale = isinstance(error, StaleEdit)
        return self


def refuse(state: FormState, error: Exception) -> FormState:
    """Discard the request's changes and describe ``error`` in ``state``, to show the form again.

    A service may have changed objects before it refused (an organization updated, then an
    identifier clash found). Rendering the page queries the database and would autoflush those
    half-made changes, so they are rolled back first; the response (>= 400) commits nothing anyway.
    """
    get_session().rollback()
    if isinstance(error, ValidationError):
        return state.fail_validation(error)
    if isinstance(error, StaleDataError):
        # Two saves raced past the version check; the database's version column caught the second.
        error = StaleEdit("the record was changed by someone else meanwhile; reload and edit again")
    if isinstance(error, RegistryError):
        return state.fail_domain(error)
    raise error
