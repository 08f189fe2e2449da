"""marshmallow schemas of the transparency log's routes: the query arguments and the JSON answers.

Query schemas refuse unknown parameters (``unknown = RAISE``) and anything but plain decimal
digits, so a malformed number is a 422 naming its parameter before any query runs. Ranges that
depend on the log's current size are checked by ``registry.translog`` (``InvalidInput``, also a
422 naming the parameter). The output schemas document the answers in the OpenAPI document.
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app.api.schemas import _QueryArgs
from registry.translog import MAX_ENTRIES

# Tree sizes and leaf indexes are stored as BIGINT: anything larger is no index of this log.
MAX_LOG_NUMBER = 2**63 - 1
DEFAULT_PAGE = 100
_DIGITS = re.compile(r"[0-9]{1,19}")


class LogNumber(fields.Integer):
    """A leaf index or tree size: decimal digits only (no sign, no "_", no spaces, no exponent)."""

    def __init__(self, **kwargs: Any) -> None:
        messages = {"invalid": "must be a whole number of at least 0, in decimal digits"}
        super().__init__(**{"error_messages": messages, **kwargs})

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        # int() alone would take "+5", " 5", "1_000" and, from JSON, true.
        if not isinstance(value, str) or not _DIGITS.fullmatch(value):
            raise self.make_error("invalid")
        number: int = super()._deserialize(value, attr, data, **kwargs)
        return number


def _number(minimum: int, description: str, **kwargs: Any) -> LogNumber:
    return LogNumber(
        validate=validate.Range(min=minimum, max=MAX_LOG_NUMBER), metadata={"description": description},
        **kwargs,
    )


class InclusionArgs(_QueryArgs):
    """Query parameters of GET /log/proof/inclusion."""

    index = _number(0, "The leaf's index (0 is the first audit event).", required=True)
    size = _number(1, "The tree size to prove inclusion in; default the log's current size.")


class ConsistencyArgs(_QueryArgs):
    """Query parameters of GET /log/proof/consistency."""

    size_from = _number(1, "The older tree size (a checkpoint the client trusts).", required=True,
                        data_key="from")
    size_to = _number(1, "The newer tree size; default the log's current size.", data_key="to")

    @validates_schema
    def ordered(self, data: dict[str, Any], **_: Any) -> None:
        if "size_to" in data and data["size_from"] > data["size_to"]:
            raise ValidationError(f"from must be at most to = {data['size_to']}", "from")


class EntriesArgs(_QueryArgs):
    """Query parameters of GET /log/entries."""

    start = _number(0, "The first leaf index; default 0.", load_default=0)
    end = _number(
        1, f"One past the last leaf index; default start + {DEFAULT_PAGE}, capped at the log's size. "
        f"At most {MAX_ENTRIES} entries per request."
    )

    @validates_schema
    def page(self, data: dict[str, Any], **_: Any) -> None:
        if "end" not in data:
            return
        if data["end"] <= data["start"]:
            raise ValidationError(f"end must be greater than start = {data['start']}", "end")
        if data["end"] - data["start"] > MAX_ENTRIES:
            raise ValidationError(
                f"at most {MAX_ENTRIES} entries per request, asked for {data['end'] - data['start']}", "end"
            )


class LogKeyArgs(_QueryArgs):
    """GET /log/checkpoint and /log/key take no parameter (unknown ones are still refused)."""


# ---- Output documents -------------------------------------------------------------------------

_B64 = "Standard base64 (RFC 4648 §4) of a 32-byte SHA-256 hash."


def _hash(description: str) -> fields.String:
    return fields.String(required=True, metadata={"description": f"{description} {_B64}"})


class InclusionProofSchema(Schema):
    """An RFC 9162 inclusion proof (§2.1.3) of one leaf in the tree of ``size`` leaves."""

    index = fields.Integer(required=True)
    size = fields.Integer(required=True)
    leaf_hash = _hash("SHA-256(0x00 || the entry's data), as stored in the log.")
    proof = fields.List(fields.String(), required=True,
                        metadata={"description": "The sibling hashes from the leaf up, base64."})
    root_hash = _hash("The root of the tree of size leaves (the root hash of its checkpoint).")


class ConsistencyProofSchema(Schema):
    """An RFC 9162 consistency proof (§2.1.4) between two sizes of the log."""

    size_from = fields.Integer(required=True, data_key="from")
    size_to = fields.Integer(required=True, data_key="to")
    proof = fields.List(fields.String(), required=True, metadata={"description": "Hashes, base64."})
    root_from = _hash("The root of the tree of from leaves.")
    root_to = _hash("The root of the tree of to leaves.")


class LogLeafEventSchema(Schema):
    """The audit event a leaf logs, in short (``data`` holds all of it)."""

    id = fields.Integer(required=True)
    occurred_at = fields.DateTime(required=True, format="iso")
    action = fields.String(required=True, metadata={"description": 'A tag such as "certificate:add".'})
    subject_type = fields.String(required=True)
    subject_key = fields.String(required=True)


class LogLeafSchema(Schema):
    index = fields.Integer(required=True)
    leaf_hash = _hash("The stored leaf hash: SHA-256(0x00 || UTF-8 of data).")
    data = fields.String(
        required=True,
        metadata={"description": "The audit event's canonical JSON, exactly the text the leaf hashes."},
    )
    event = fields.Nested(LogLeafEventSchema, required=True)


class LogEntriesSchema(Schema):
    start = fields.Integer(required=True)
    end = fields.Integer(required=True, metadata={"description": "One past the last entry's index."})
    entries = fields.List(fields.Nested(LogLeafSchema), required=True)
