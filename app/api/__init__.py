"""JSON API under /api/v1, described by an OpenAPI document at /api/v1/openapi.json."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__)

from app.api import bodies, certificates, verify  # noqa: E402,F401  (registers the routes)
