"""Errors answered as problem+json (API, JSON clients) or an HTML page, from one mapping table."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from app.access import wants_json
from registry.errors import (
    Conflict,
    ImportRejected,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RegistryError,
    StaleEdit,
)

log = logging.getLogger(__name__)

# Domain error -> HTTP status. The most specific class is looked up first (StaleEdit before Conflict).
STATUS_BY_ERROR: dict[type[RegistryError], int] = {
    NotFound: 404,
    InvalidInput: 422,
    ImportRejected: 422,
    StaleEdit: 409,
    Conflict: 409,
    PermissionDenied: 403,
}

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Upload too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}
# Seconds a client should wait before trying again after a 503.
RETRY_AFTER = "1"


def status_for(error: RegistryError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 400


def problem(status: int, code: str, detail: str, **extra: Any) -> Response:
    """An RFC 9457 problem+json response with a stable ``code``."""
    body = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status,
            "code": code, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _describe(error: Exception) -> tuple[int, str, str, dict[str, Any]]:
    if isinstance(error, RegistryError):
        return status_for(error), error.code, error.message, dict(error.details)
    if isinstance(error, ValidationError):
        return 422, "invalid_input", "the request has invalid fields", {"errors": error.messages}
    if isinstance(error, RequestEntityTooLarge):
        from flask import current_app

        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return 413, "too_large", f"the upload exceeds the limit of {limit} bytes", {"limit": limit}
    if isinstance(error, IntegrityError):
        # A concurrent request inserted the same key first (a number, a credit code, a seal):
        # the same answer as when the clash shows up at commit (app.database).
        return 409, "conflict", "the change clashes with data saved meanwhile; nothing was saved", {}
    lost = isinstance(error, DBAPIError) and error.connection_invalidated
    if lost or isinstance(error, OperationalError):
        # The database went away (a restart, a dropped connection) or is busy: nothing was
        # saved, and the pool has already dropped the dead connection, so trying again works.
        return 503, "database_unavailable", "the database cannot be reached just now; try again", {}
    if isinstance(error, HTTPException):
        status = error.code or 500
        code = (error.name or "error").lower().replace(" ", "_")
        return status, code, error.description or TITLES.get(status, "Error"), {}
    return 500, "internal_error", "an unexpected error occurred; it has been logged", {}


def render_error(error: Exception) -> Response:
    status, code, detail, extra = _describe(error)
    if status >= 500:
        log.exception("unhandled error", exc_info=error)
    if wants_json():
        response = problem(status, code, detail, **extra)
    else:
        html = render_template(
            "error.html",
            status=status,
            title=TITLES.get(status, "Error"),
            code=code,
            detail=detail,
            extra=extra,
        )
        response = Response(html, status=status, mimetype="text/html")
    if status == 503:
        response.headers["Retry-After"] = RETRY_AFTER
    if isinstance(error, HTTPException):
        for key, value in error.get_headers():
            if key.lower() not in ("content-type", "content-length"):
                response.headers[key] = value
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(RegistryError, render_error)
    app.register_error_handler(ValidationError, render_error)
    app.register_error_handler(HTTPException, render_error)
    app.register_error_handler(Exception, render_error)
