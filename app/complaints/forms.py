"""Marshmallow schemas of the complaint forms (shape only; ``registry.complaints`` has the rules)."""

from __future__ import annotations

from marshmallow import fields, validate

from app.admin.forms import FormSchema, ListArgsSchema
from registry.complaints import (
    CREDIT_KINDS,
    MAX_DESCRIPTION_CHARS,
    MAX_NOTE_CHARS,
    MAX_REASON_CHARS,
    MAX_REPORTER_CONTACT_CHARS,
    MAX_REPORTER_NAME_CHARS,
    MAX_SUBJECT_CHARS,
    STATUSES,
    SUBJECT_KINDS,
)


def _text(max_length: int) -> fields.String:
    return fields.String(load_default="", validate=validate.Length(max=max_length))


class ReportSchema(FormSchema):
    """The public form. Input names are the field names ``submit_complaint`` reports problems on."""

    kind = fields.String(required=True, validate=validate.OneOf(SUBJECT_KINDS))
    subject = _text(MAX_SUBJECT_CHARS)
    description = fields.String(required=True, validate=validate.Length(max=MAX_DESCRIPTION_CHARS))
    name = _text(MAX_REPORTER_NAME_CHARS)
    contact = _text(MAX_REPORTER_CONTACT_CHARS)


class StatusSchema(FormSchema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    note = _text(MAX_NOTE_CHARS)
    version = fields.Integer(required=True)


class AssignSchema(FormSchema):
    assignee = fields.Integer(load_default=None)
    due_date = fields.Date(load_default=None)
    version = fields.Integer(required=True)


class LinkSchema(FormSchema):
    """A body by its code, or one of its certificates when a number is given too."""

    body = fields.String(required=True, validate=validate.Length(max=40))
    number = fields.String(load_default="", validate=validate.Length(max=64))


class NoteSchema(FormSchema):
    note = fields.String(required=True, validate=validate.Length(max=MAX_NOTE_CHARS))


class CreditSchema(FormSchema):
    organization = fields.String(required=True, validate=validate.Length(max=40))
    kind = fields.String(required=True, validate=validate.OneOf(CREDIT_KINDS))
    reason = fields.String(required=True, validate=validate.Length(max=MAX_REASON_CHARS))
    effective_date = fields.Date(required=True)


class EmptySchema(FormSchema):
    """A form that sends nothing but its CSRF token (e.g. removing a link)."""


class LedgerArgs(ListArgsSchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    overdue = fields.Boolean()
