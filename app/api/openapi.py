"""The OpenAPI 3.1 document of /api/v1 and the transparency log (/log), built by apispec from the
marshmallow schemas.

Paths come from the app's URL map (so a route cannot exist without appearing here); each
operation's parameters and responses come from ``OPERATIONS`` below, its summary from the view's
docstring. A route missing from ``OPERATIONS`` still appears, with a bare 200, and a test fails.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask

from app.api import schemas
from app.certificates.openapi_ops import CERTIFICATE_OPERATIONS
from app.certificates.openapi_ops import COMPONENT_SCHEMAS as CERTIFICATE_SCHEMAS
from app.filters import BodyListArgs
from app.log.openapi_ops import COMPONENT_SCHEMAS as LOG_SCHEMAS
from app.log.openapi_ops import LOG_OPERATIONS
from registry.exports import FORMATS

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
PROBLEM_MEDIA_TYPE = "application/problem+json"
_RULE_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_EXTENSION = "api_openapi_document"
# The blueprints whose routes the document describes: the JSON API and the transparency log.
DOCUMENTED_BLUEPRINTS = ("api.", "log.")


def _json(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {"404": "NotFound", "405": "MethodNotAllowed", "422": "InvalidInput", "429": "TooManyRequests"}


def _responses(ok: dict[str, Any], *errors: str) -> dict[str, Any]:
    return {"200": ok, **{status: _ERRORS[status] for status in ("405", "429", *errors)}}


_CODE = {"in": "path", "name": "code", "required": True, "schema": {"type": "string"},
         "description": "The body's code."}

OPERATIONS: dict[str, dict[str, Any]] = {
    "api.list_bodies": {
        "tags": ["bodies"],
        "parameters": [{"in": "query", "schema": BodyListArgs}],
        "responses": _responses(
            _json("BodyPage", "One page of bodies; a page past the end has no items."), "422"
        ),
    },
    "api.export_bodies": {
        "tags": ["bodies"],
        "parameters": [
            {"in": "path", "name": "fmt", "required": True,
             "schema": {"type": "string", "enum": list(FORMATS)}, "description": "Export format."},
            {"in": "query", "schema": BodyListArgs(exclude=("page", "per_page"))},
        ],
        "responses": _responses(
            {
                "description": "One row per scope line valid on as_of, in the import columns.",
                "content": {
                    FORMATS["csv"]: {"schema": {"type": "string"}},
                    FORMATS["xlsx"]: {"schema": {"type": "string", "format": "binary"}},
                    FORMATS["json"]: {"schema": "Export"},
                },
            },
            "422",
        ),
    },
    "api.get_body_detail": {
        "tags": ["bodies"],
        "parameters": [_CODE, {"in": "query", "schema": schemas.BodyDetailArgs}],
        "responses": _responses(_json("BodyDetail", "The body with its history."), "404", "422"),
    },
    "api.authorized": {
        "tags": ["bodies"],
        "parameters": [{"in": "query", "schema": schemas.AuthorizedArgs}],
        "responses": _responses(
            _json("Authorized", "authorized is true when a matching line was active on the date."),
            "404",
            "422",
        ),
    },
    "api.list_categories": {
        "tags": ["reference"],
        "parameters": [{"in": "query", "schema": schemas.NoArgs}],
        "responses": _responses(_json("CategoryList", "Every product category."), "422"),
    },
    "api.list_jurisdictions": {
        "tags": ["reference"],
        "parameters": [{"in": "query", "schema": schemas.NoArgs}],
        "responses": _responses(_json("JurisdictionList", "Every jurisdiction."), "422"),
    },
    "api.openapi_document": {
        "tags": ["meta"],
        "responses": _responses({"description": "This document.", "content": {"application/json": {}}}),
    },
}

COMPONENT_SCHEMAS: dict[str, type[Any]] = {
    "Body": schemas.BodySchema,
    "BodyDetail": schemas.BodyDetailSchema,
    "BodyPage": schemas.BodyPageSchema,
    "Authorized": schemas.AuthorizedSchema,
    "CategoryList": schemas.CategoryListSchema,
    "JurisdictionList": schemas.JurisdictionListSchema,
    "Export": schemas.ExportSchema,
    "Problem": schemas.ProblemSchema,
}

# The certificate and verification routes describe themselves next to their schemas.
OPERATIONS.update(CERTIFICATE_OPERATIONS)
COMPONENT_SCHEMAS.update(CERTIFICATE_SCHEMAS)
# So do the transparency log's routes (app.log).
OPERATIONS.update(LOG_OPERATIONS)
COMPONENT_SCHEMAS.update(LOG_SCHEMAS)

_ERROR_DESCRIPTIONS = {
    "NotFound": "No such body or route (code not_found).",
    "MethodNotAllowed": "The route exists but not for this method (code method_not_allowed).",
    "InvalidInput": "A malformed or unknown parameter (code invalid_input, with errors per parameter).",
    "TooManyRequests": "Rate limit exceeded (code too_many_requests).",
}


def openapi_path(rule: str) -> str:
    """A Werkzeug rule as an OpenAPI path: ``/bodies/<code>`` -> ``/bodies/{code}``."""
    return _RULE_ARGUMENT.sub(r"{\1}", rule)


def _summary(view: Any) -> dict[str, str]:
    doc = (view.__doc__ or "").strip()
    if not doc:
        return {}
    first, _, rest = doc.partition("\n")
    return {"summary": first.strip(), **({"description": rest.strip()} if rest.strip() else {})}


def build_spec(app: Flask) -> dict[str, Any]:
    """Build the OpenAPI document for every ``api.*`` and ``log.*`` rule of ``app``."""
    spec = APISpec(
        title="Epidemic-prevention certification registry API",
        version=API_VERSION,
        openapi_version=OPENAPI_VERSION,
        plugins=[MarshmallowPlugin()],
        info={
            "description": (
                "Certification bodies, inspection bodies and testing labs authorized for "
                "epidemic-prevention products, with their status on any date. Errors are "
                "application/problem+json (RFC 9457) with a stable `code`. Every change to the "
                "registry is an entry of a public transparency log (RFC 9162 proofs, C2SP "
                "checkpoints) under /log."
            )
        },
    )
    for name, schema in COMPONENT_SCHEMAS.items():
        spec.components.schema(name, schema=schema)
    for name, description in _ERROR_DESCRIPTIONS.items():
        spec.components.response(
            name, {"description": description, "content": {PROBLEM_MEDIA_TYPE: {"schema": "Problem"}}}
        )
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(DOCUMENTED_BLUEPRINTS):
            continue
        view = app.view_functions[rule.endpoint]
        fallback = {"responses": {"200": {"description": "OK"}}}
        operation = _summary(view) | copy.deepcopy(OPERATIONS.get(rule.endpoint, fallback))
        # api.list_bodies -> list_bodies, log.checkpoint -> log_checkpoint
        operation["operationId"] = rule.endpoint.removeprefix("api.").replace(".", "_")
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        paths.setdefault(openapi_path(rule.rule), {}).update({m.lower(): operation for m in methods})
    for path in sorted(paths):
        spec.path(path=path, operations=paths[path])
    return spec.to_dict()


def spec_for(app: Flask) -> dict[str, Any]:
    """The document of ``app``, built once: the URL map does not change after start-up."""
    if _EXTENSION not in app.extensions:
        app.extensions[_EXTENSION] = build_spec(app)
    document: dict[str, Any] = app.extensions[_EXTENSION]
    return document
