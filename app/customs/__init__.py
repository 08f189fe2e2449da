"""Customs checks on the pages (customs officers and admins), under ``/customs``.

- ``/customs/check``: scan or paste a seal (a handheld scanner types into the focused field and
  sends Enter, which submits the form with the declaration filled beside it), get the seal's
  verdict and the declaration's checks;
- ``/customs/bulk``: upload a CSV or XLSX of declarations with their scanned seals, read the
  results and download them as CSV or XLSX (``app.customs.results`` keeps them).

The checks themselves are ``registry.customs``; every check is logged on the customs channel.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from app.certificates.labels import certificate_status_label
from app.i18n import N_, current_language, gettext
from registry.models import Role

bp = Blueprint("customs", __name__)

CUSTOMS_ROLES = (Role.CUSTOMS.value, Role.ADMIN.value)
CHECK_LABELS = {
    "holder": N_("Exporter or manufacturer"),
    "hs_code": N_("HS code"),
    "certificate_on_date": N_("Certificate on the date"),
    "authorization_on_date": N_("Body's authorization on the date"),
}
OUTCOME_LABELS = {
    "MATCH": N_("Match"),
    "WARN": N_("To verify"),
    "MISMATCH": N_("Mismatch"),
    "NOT_CHECKED": N_("Not checked"),
    "INVALID_ROW": N_("Invalid row"),
}


def check_label(check: str) -> str:
    """A check id in words, in the current language."""
    return gettext(CHECK_LABELS[check]) if check in CHECK_LABELS else check


def outcome_label(outcome: str) -> str:
    """MATCH / WARN / MISMATCH (and the bulk results' row states) in words."""
    return gettext(OUTCOME_LABELS[outcome]) if outcome in OUTCOME_LABELS else outcome


def in_language(zh: str, en: str) -> str:
    """The text of a bilingual pair in the reader's language."""
    return zh if current_language() == "zh" else en


@bp.context_processor
def customs_helpers() -> dict[str, Any]:
    """Context of the customs templates."""
    return {
        "check_label": check_label,
        "outcome_label": outcome_label,
        "in_language": in_language,
        "certificate_status_label": certificate_status_label,
    }


# Route modules register their views on the blueprint when imported.
from app.customs import bulk, pages  # noqa: E402, F401
