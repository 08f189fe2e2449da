"""Complaints in the web layer: the public report form and the admin ledger.

Two blueprints, registered by :func:`register` (the one call in ``create_app``):

- ``complaints`` (public): ``/report``, in both languages, with its own strict rate limit on
  submissions (``RATELIMIT_COMPLAINT``) on top of the public one, and its own request size cap;
- ``complaint_ledger`` (``/admin/complaints``): admins follow complaints up and record credit
  records, auditors read; nobody else gets in.

The labels of stored codes are Jinja filters for every template, since the public body page
shows credit records too.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app
from flask_limiter import Limiter

from app.admin import admin_template_globals
from app.i18n import N_, gettext
from registry.models import Role

bp = Blueprint("complaints", __name__)
ledger_bp = Blueprint("complaint_ledger", __name__)
ledger_bp.context_processor(admin_template_globals)  # the admin navigation on the ledger pages

# Reading the ledger: admins and auditors; changing it: admins.
READERS = (Role.ADMIN.value, Role.AUDITOR.value)
ADMINS = (Role.ADMIN.value,)

STATUS_LABELS = {
    "received": N_("Received"),
    "triaged": N_("Triaged"),
    "investigating": N_("Investigating"),
    "substantiated": N_("Substantiated"),
    "closed": N_("Closed"),
}
SUBJECT_LABELS = {
    "certificate": N_("A certificate"),
    "seal": N_("A seal (QR code)"),
    "body": N_("A certification body"),
    "lab": N_("A testing lab"),
    "other": N_("Something else"),
}
CREDIT_LABELS = {
    "warning": N_("Warning"),
    "suspension": N_("Suspension"),
    "withdrawal": N_("Withdrawal"),
}


def _label(table: dict[str, str], code: str | None) -> str:
    # An unknown code is shown as stored rather than hidden.
    if code is None:
        return ""
    return gettext(table[code]) if code in table else code


def complaint_status_label(code: str | None) -> str:
    """``triaged`` -> "Triaged" / "已初审"."""
    return _label(STATUS_LABELS, code)


def subject_kind_label(code: str | None) -> str:
    """``seal`` -> "A seal (QR code)" / "防伪印章（二维码）"."""
    return _label(SUBJECT_LABELS, code)


def credit_kind_label(code: str | None) -> str:
    """``suspension`` -> "Suspension" / "暂停"."""
    return _label(CREDIT_LABELS, code)


def register(app: Flask, limiter: Limiter) -> None:
    """Register both blueprints; the report form gets the public limit and, on POST, its own."""
    limiter.limit(lambda: current_app.config["RATELIMIT_PUBLIC"])(bp)
    limiter.limit(lambda: current_app.config["RATELIMIT_COMPLAINT"], methods=["POST"])(bp)
    app.register_blueprint(bp)
    app.register_blueprint(ledger_bp, url_prefix="/admin/complaints")
    app.jinja_env.filters.update(
        complaint_status_label=complaint_status_label,
        subject_kind_label=subject_kind_label,
        credit_kind_label=credit_kind_label,
    )


# Route modules register their views on the blueprints when imported.
from app.complaints import ledger, report  # noqa: E402, F401  isort: skip
from app.complaints import credit  # noqa: E402, F401  isort: skip  (after ledger, which it uses)
