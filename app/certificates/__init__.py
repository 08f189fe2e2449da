"""Certificates, seals and verification in the web layer.

Two blueprints, registered by :func:`register` (the one call in ``create_app``):

- ``verification`` (public, rate-limited like the rest of the public site): the page a phone
  opens when it scans a seal, ``/V/<TOKEN>`` and ``/v/<token>``, and the published keys under
  ``/.well-known/``;
- ``certificates`` (signed-in staff, under ``/certificates``): body operators manage their own
  body's certificates and API tokens, admins every body's.

The JSON API routes live in ``app.api.certificates`` and ``app.api.verify``.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app
from flask_limiter import Limiter

# The API package first: its routes import this package's modules, and this package's schemas
# import the API's; loading app.api first makes the order the same from every entry point.
import app.api  # noqa: F401  isort: skip
from app.certificates.labels import template_helpers
from registry.models import Role

verify_bp = Blueprint("verification", __name__)
bp = Blueprint("certificates", __name__)
verify_bp.context_processor(template_helpers)
bp.context_processor(template_helpers)

# Who manages certificates on the pages: an operator their own body's, an admin every body's.
MANAGERS = (Role.ADMIN.value, Role.BODY_OPERATOR.value)


def register(app: Flask, limiter: Limiter) -> None:
    """Register both blueprints; the verification pages get the public rate limit."""
    limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])(verify_bp)
    app.register_blueprint(verify_bp)
    app.register_blueprint(bp, url_prefix="/certificates")


# Route modules register their views on the blueprints when imported.
from app.certificates import pages, register_pages, token_pages, verify_pages  # noqa: E402, F401
