"""OpenAPI operations of the transparency log's routes (merged into app.api.openapi)."""

from __future__ import annotations

from typing import Any

from app.log import schemas

PROBLEM = {"application/problem+json": {"schema": "Problem"}}
TAGS = ["transparency log"]


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": PROBLEM}


def _json(schema: Any, description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


_SHARED = {"405": "MethodNotAllowed", "429": "TooManyRequests"}
_CACHE = {"Cache-Control": {
    "schema": {"type": "string"},
    "description": "public, max-age=86400 when the parameters name every tree size (the answer is "
                   "final: the log is append-only); no-cache when a size defaults to the current one.",
}}  # fmt: skip
_INVALID = _problem(
    "A parameter that is not a whole number, out of range for the log's current size, a reversed "
    "range, or an unknown parameter (invalid_input; errors or field names the parameter)."
)
_NO_KEY = _problem("The log has no active key yet, or no key passphrase (signing_unavailable).")

LOG_OPERATIONS: dict[str, dict[str, Any]] = {
    "log.checkpoint": {
        "tags": TAGS,
        "parameters": [{"in": "query", "schema": schemas.LogKeyArgs}],
        "responses": {
            "200": _text(
                "The signed note: origin, tree size, base64 root hash, a blank line, and the "
                "signature line of the log key (C2SP tlog-checkpoint, signed-note).",
                {
                    "X-Log-Size": {"schema": {"type": "integer"}, "description": "The tree size."},
                    "Cache-Control": {"schema": {"type": "string"}, "description": "no-cache"},
                },
            ),
            "422": _INVALID,
            "503": _NO_KEY,
            **_SHARED,
        },
    },
    "log.verifier_key": {
        "tags": TAGS,
        "parameters": [{"in": "query", "schema": schemas.LogKeyArgs}],
        "responses": {
            "200": _text("<origin>+<key id hex>+<base64 of 0x01 || Ed25519 public key>, then a newline."),
            "422": _INVALID,
            "503": _NO_KEY,
            **_SHARED,
        },
    },
    "log.inclusion_proof": {
        "tags": TAGS,
        "parameters": [{"in": "query", "schema": schemas.InclusionArgs}],
        "responses": {
            "200": _json(schemas.InclusionProofSchema, "The proof; check it against a checkpoint's root.")
            | {"headers": _CACHE},
            "422": _INVALID,
            **_SHARED,
        },
    },
    "log.consistency_proof": {
        "tags": TAGS,
        "parameters": [{"in": "query", "schema": schemas.ConsistencyArgs}],
        "responses": {
            "200": _json(schemas.ConsistencyProofSchema, "The proof that the newer tree extends the older.")
            | {"headers": _CACHE},
            "422": _INVALID,
            **_SHARED,
        },
    },
    "log.list_entries": {
        "tags": TAGS,
        "parameters": [{"in": "query", "schema": schemas.EntriesArgs}],
        "responses": {
            "200": _json(schemas.LogEntriesSchema, "The entries, in index order.") | {"headers": _CACHE},
            "422": _INVALID,
            **_SHARED,
        },
    },
}

# Nested schemas before the schemas holding them, so each is registered once under its name.
COMPONENT_SCHEMAS: dict[str, type[Any]] = {
    "LogLeafEvent": schemas.LogLeafEventSchema,
    "LogLeaf": schemas.LogLeafSchema,
    "LogEntries": schemas.LogEntriesSchema,
    "LogInclusionProof": schemas.InclusionProofSchema,
    "LogConsistencyProof": schemas.ConsistencyProofSchema,
}
