"""The transparency log over HTTP, under /log: signed checkpoints, proofs, entries and the key.

Every route is public and rate-limited like the JSON API (``create_app``). The log itself is
``registry.translog``; its operations are documented in the API's OpenAPI document
(``app.log.openapi_ops``).

Errors are application/problem+json whatever the Accept header says: the callers are monitors,
verifiers and curl, never a browser page, and ``app.access.wants_json`` only knows /api/ and
/.well-known/. Routing errors (an unknown /log/ path, a wrong method) happen before the
blueprint is known and keep the app's own handling.
"""

from __future__ import annotations

from flask import Blueprint, Response
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from app.errors import _describe as describe_error
from app.errors import problem
from registry.errors import RegistryError

bp = Blueprint("log", __name__)


def problem_answer(error: Exception) -> Response:
    """``error`` as problem+json, by the app's one table of statuses and codes (``app.errors``)."""
    status, code, detail, extra = describe_error(error)
    response = problem(status, code, detail, **extra)
    if isinstance(error, HTTPException):  # e.g. Retry-After of a 429
        for key, value in error.get_headers():
            if key.lower() not in ("content-type", "content-length"):
                response.headers[key] = value
    return response


for _error in (RegistryError, ValidationError, HTTPException):
    bp.register_error_handler(_error, problem_answer)

# Route modules register their views on the blueprint when imported.
from app.log import routes  # noqa: E402, F401
