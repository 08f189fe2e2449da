"""OpenAPI operations of the certificate and verification routes (merged into app.api.openapi)."""

from __future__ import annotations

from typing import Any

from app.certificates import schemas

PROBLEM = {"application/problem+json": {"schema": "Problem"}}


def _json(schema: Any, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": PROBLEM}


_SHARED = {"405": "MethodNotAllowed", "429": "TooManyRequests"}
# Writes take "Authorization: Bearer ecr_..." (a body's API token) or a signed-in admin or body
# operator's session cookie with a JSON body.
_UNAUTHORIZED = _problem(
    "No credentials (code unauthorized), or an unknown or revoked API token (invalid_token)."
)
_FORBIDDEN = _problem("The caller acts for another body (wrong_body), or the role cannot write (forbidden).")
_UNSUPPORTED = _problem("The body is not application/json (code unsupported_media_type).")
_TOO_LARGE = _problem("The request body exceeds the route's size limit, named in detail (payload_too_large).")
_UNAVAILABLE = _problem("No usable signing key: none generated, or no passphrase (signing_unavailable).")
_CONFLICT = _problem("Not a legal change from the current status, or a stale version (conflict, stale_edit).")
_PATH = [
    {
        "in": "path",
        "name": "body",
        "required": True,
        "schema": {"type": "string"},
        "description": "Body code.",
    },
    {
        "in": "path",
        "name": "number",
        "required": True,
        "schema": {"type": "string"},
        "description": "Certificate number.",
    },
]


def _json_body(schema: Any, description: str) -> dict[str, Any]:
    return {"required": True, "description": description, "content": {"application/json": {"schema": schema}}}


def _image(media_type: str, description: str) -> dict[str, Any]:
    schema = {"type": "string"} if media_type.endswith("xml") else {"type": "string", "format": "binary"}
    return {
        "tags": ["certificates"],
        "parameters": _PATH,
        "responses": {
            "200": {"description": description, "content": {media_type: {"schema": schema}}},
            "304": {"description": "Not modified (ETag of the seal)."},
            "404": "NotFound",
            **_SHARED,
        },
    }


def _status_change(verb: str) -> dict[str, Any]:
    return {
        "tags": ["certificates"],
        "parameters": _PATH,
        "requestBody": _json_body(schemas.StatusChangeSchema, f"Why the certificate is {verb}."),
        "responses": {
            "200": _json(schemas.CertificateDetailSchema, "The certificate after the change."),
            "401": _UNAUTHORIZED,
            "403": _FORBIDDEN,
            "404": "NotFound",
            "409": _CONFLICT,
            "415": _UNSUPPORTED,
            "422": "InvalidInput",
            **_SHARED,
        },
    }


CERTIFICATE_OPERATIONS: dict[str, dict[str, Any]] = {
    "api.list_certificates": {
        "tags": ["certificates"],
        "parameters": [{"in": "query", "schema": schemas.CertificateListArgs}],
        "responses": {
            "200": _json(schemas.CertificatePageSchema, "One page of certificates."),
            "422": "InvalidInput",
            **_SHARED,
        },
    },
    "api.register_certificates": {
        "tags": ["certificates"],
        "requestBody": {
            "required": True,
            "description": "One certificate or a batch {body?, items} of up to 10,000, all or nothing.",
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/CertificateCreate"},
                            {"$ref": "#/components/schemas/CertificateBatch"},
                        ]
                    }
                }
            },
        },
        "responses": {
            "200": {"description": "Not used: a registration answers 201."},
            "201": _json(schemas.RegistrationSchema, "Registered and sealed (Location names a single one)."),
            "401": _UNAUTHORIZED,
            "403": _FORBIDDEN,
            "404": "NotFound",
            "413": _TOO_LARGE,
            "415": _UNSUPPORTED,
            "422": _problem(
                "Invalid fields (invalid_input), a rule broken (per item in a batch: import_rejected "
                "with errors [{index, field, problem}]), or more than 10,000 items (batch_too_large)."
            ),
            "503": _UNAVAILABLE,
            **_SHARED,
        },
    },
    "api.get_certificate_detail": {
        "tags": ["certificates"],
        "parameters": _PATH,
        "responses": {
            "200": _json(schemas.CertificateDetailSchema, "The certificate, its seal and history."),
            "404": "NotFound",
            **_SHARED,
        },
    },
    "api.certificate_qr_png": _image("image/png", "The QR code of the current seal (ECC M)."),
    "api.certificate_qr_svg": _image("image/svg+xml", "The QR code of the current seal."),
    "api.certificate_label_png": _image("image/png", "The QR code with the certificate number under it."),
    "api.suspend_certificate": _status_change("suspended"),
    "api.withdraw_certificate": _status_change("withdrawn"),
    "api.restore_certificate": _status_change("restored"),
    "api.verify_seals": {
        "tags": ["verification"],
        "requestBody": {
            "required": True,
            "description": "{token} or {qr}, or {items: [...]}: up to 1,000 such objects or strings.",
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/VerifyItem"},
                            {"$ref": "#/components/schemas/VerifyBatch"},
                        ]
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": "A verdict (VerdictBatch for a batch); any string gets one.",
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/Verdict"},
                                {"$ref": "#/components/schemas/VerdictBatch"},
                            ]
                        }
                    }
                },
            },
            "400": _problem("Not JSON (invalid_json)."),
            "413": _TOO_LARGE,
            "415": _UNSUPPORTED,
            "422": _problem(
                "Not an object of the documented shape (invalid_input), or more than 1,000 items "
                "(batch_too_large)."
            ),
            **_SHARED,
        },
    },
    "api.trust_bundle": {
        "tags": ["verification"],
        "parameters": [{"in": "query", "schema": schemas.TrustBundleArgs}],
        "responses": {
            "200": {
                "description": "The signed bundle; X-Root-Key-Id names the root key (base64url).",
                "headers": {
                    "X-Root-Key-Id": {"schema": {"type": "string"}},
                    "X-Bundle-Sequence": {"schema": {"type": "integer"}},
                },
                "content": {"application/cbor": {"schema": {"type": "string", "format": "binary"}}},
            },
            "422": "InvalidInput",
            "503": _UNAVAILABLE,
            **_SHARED,
        },
    },
    "api.ping": {
        "tags": ["meta"],
        "responses": {"200": _json(schemas.PingSchema, 'Always {"ok": true}.'), **_SHARED},
    },
}

COMPONENT_SCHEMAS: dict[str, type[Any]] = {
    "CertificateCreate": schemas.CertificateCreateSchema,
    "CertificateBatch": schemas.CertificateBatchSchema,
    "Certificate": schemas.CertificateSchema,
    "CertificateDetail": schemas.CertificateDetailSchema,
    "CertificatePage": schemas.CertificatePageSchema,
    "Registration": schemas.RegistrationSchema,
    "VerifyItem": schemas.VerifyItemSchema,
    "VerifyBatch": schemas.VerifyBatchSchema,
    "Verdict": schemas.VerdictSchema,
    "VerdictBatch": schemas.VerdictBatchSchema,
}
