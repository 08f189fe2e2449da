"""Reading JSON request bodies safely, and turning schema errors into stable problem documents.

``request.get_json`` lets a ``RecursionError`` (deeply nested arrays) escape as a 500, and its
413 names the app-wide limit even where a view raised it; these helpers answer 400/413/422.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from flask import request
from marshmallow import ValidationError
from werkzeug.exceptions import BadRequest, HTTPException, RequestEntityTooLarge

from registry.errors import ImportRejected, InvalidInput


class PayloadTooLarge(HTTPException):
    """413 naming the limit of this route (code ``payload_too_large``)."""

    code = 413
    name = "Payload too large"


class BatchTooLarge(InvalidInput):
    """422: more items than a batch may hold; ``limit`` and ``count`` say how many."""

    code = "batch_too_large"


class InvalidJson(BadRequest):
    name = "Invalid JSON"


def read_json(max_bytes: int | None = None) -> Any:
    """The request body parsed as JSON; ``max_bytes`` raises this request's size limit."""
    if max_bytes is not None:
        request.max_content_length = max_bytes
    limit = request.max_content_length
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes") from None
    if limit is not None and len(raw) > limit:  # no Content-Length (chunked): checked after reading
        raise PayloadTooLarge(f"the request body exceeds the limit of {limit} bytes")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidJson("the request body is not valid JSON (UTF-8)") from None


def check_batch_size(items: Any, limit: int, what: str) -> None:
    """Refuse a list longer than ``limit`` before validating a single item of it."""
    if isinstance(items, list) and len(items) > limit:
        raise BatchTooLarge(
            f"at most {limit} {what} per request, got {len(items)}", limit=limit, count=len(items)
        )


def stringify_keys(messages: Any) -> Any:
    """marshmallow keys list errors by index (int); JSON objects need string keys."""
    if isinstance(messages, dict):
        return {str(key): stringify_keys(value) for key, value in messages.items()}
    if isinstance(messages, list):
        return [stringify_keys(value) for value in messages]
    return messages


def flatten(messages: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(dotted field path, message) pairs of a marshmallow error tree."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = str(key)
            path = f"{prefix}[{name}]" if isinstance(key, int) else (f"{prefix}.{name}" if prefix else name)
            yield from flatten(value, path)
    elif isinstance(messages, list):
        for value in messages:
            yield from flatten(value, prefix)
    else:
        yield prefix, str(messages)


def batch_errors(error: ValidationError, list_field: str = "items") -> ImportRejected:
    """A batch's schema errors as ``{"index", "field", "problem"}`` rows (index null: the batch)."""
    rows: list[dict[str, Any]] = []
    messages = error.messages if isinstance(error.messages, dict) else {"": error.messages}
    for key, value in messages.items():
        if key == list_field and isinstance(value, dict) and all(isinstance(i, int) for i in value):
            for index, item_messages in sorted(value.items()):
                rows.extend({"index": index, "field": f, "problem": p} for f, p in flatten(item_messages))
        else:
            rows.extend({"index": None, "field": f, "problem": p} for f, p in flatten({key: value}))
    return ImportRejected(f"{len(rows)} problem(s) in the request; nothing was registered", errors=rows)


def strict_load(schema: Any, data: Any) -> Any:
    """``schema.load(data)`` with JSON-safe error keys (so a 422 never becomes a 500)."""
    try:
        return schema.load(data)
    except ValidationError as error:
        raise ValidationError(stringify_keys(error.messages)) from None
