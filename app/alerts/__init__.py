"""Misuse alerts in the web layer: the rules after each scan log write, and the pages.

:func:`register` (the one call in ``create_app``) hooks ``registry.alerts.evaluate`` on the
app's scan log (``app.alerts.watch``) and registers the ``alerts`` blueprint:

- ``/admin/alerts``: every alert, for admins and auditors; admins acknowledge and close them;
- ``/certificates/alerts``: a body operator's view, the alerts filed under their own body (about
  its certificates and seals, or forgeries naming it); an admin sees every body's there too.

The endpoints are neither ``admin.*`` nor ``certificates.*``, whose access tests pin their own
role sets; ``tests/functional/test_alerts_pages.py`` pins these.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask

from app.admin import admin_template_globals
from app.i18n import N_, gettext
from registry.models import Role

bp = Blueprint("alerts", __name__)
bp.context_processor(admin_template_globals)  # the admin navigation on these pages too

READERS = (Role.ADMIN.value, Role.AUDITOR.value)  # every alert, read-only for auditors
ADMINS = (Role.ADMIN.value,)  # acknowledge and close
BODY_VIEWERS = (Role.ADMIN.value, Role.BODY_OPERATOR.value)  # an operator: their own body's

KIND_LABELS = {
    "shared_certificate": N_("Certificate declared by unrelated exporters"),
    "scanned_after_withdrawal": N_("Seal scanned after withdrawal or key revocation"),
    "scan_burst": N_("Seal scanned at many ports in a short time"),
    "forgeries_naming_body": N_("Repeated forged seals naming a body"),
}
STATUS_LABELS = {
    "open": N_("Open"),
    "acknowledged": N_("Acknowledged"),
    "closed": N_("Closed"),
}
VERDICT_LABELS = {
    "VALID": N_("Valid seal"),
    "FORGED": N_("Forged"),
    "KEY_REVOKED": N_("Key revoked"),
    "NOT_REGISTERED": N_("Not registered"),
    "BODY_NOT_AUTHORIZED": N_("Body not authorized"),
    "CERTIFICATE_WITHDRAWN": N_("Certificate withdrawn"),
    "CERTIFICATE_SUSPENDED": N_("Certificate suspended"),
    "CERTIFICATE_EXPIRED": N_("Certificate expired"),
    "BODY_AUTHORIZATION_ENDED": N_("Body's authorization ended"),
}
CHANNEL_LABELS = {"page": N_("Scan page"), "api": N_("API"), "customs": N_("Customs check")}
# The entries of an alert's detail (registry.alert_rules), in words.
DETAIL_LABELS = {
    "exporters": N_("Unrelated exporters (declarations)"),
    "related": N_("Holder and manufacturer (not counted)"),
    "window_days": N_("Window (days)"),
    "window_hours": N_("Window (hours)"),
    "ports": N_("Ports (scans)"),
    "body": N_("Body named"),
    "number": N_("Certificate number named"),
    "kid": N_("Signing key"),
    "verdicts": N_("Verdicts (scans)"),
    "channels": N_("Channels (scans)"),
    "numbers": N_("Certificate numbers named (scans)"),
    "scans_in_window": N_("Forged scans in the window"),
}


def _label(table: dict[str, str], code: str | None) -> str:
    # An unknown code (a rule added later) is shown as stored rather than hidden.
    if code is None:
        return ""
    return gettext(table[code]) if code in table else code


def alert_helpers() -> dict[str, Any]:
    """Context of the alert templates: stored codes in words."""
    return {
        "alert_kind_label": lambda code: _label(KIND_LABELS, code),
        "alert_status_label": lambda code: _label(STATUS_LABELS, code),
        "verdict_label": lambda code: _label(VERDICT_LABELS, code),
        "channel_label": lambda code: _label(CHANNEL_LABELS, code),
        "detail_label": lambda code: _label(DETAIL_LABELS, code),
    }


bp.context_processor(alert_helpers)


def register(app: Flask) -> None:
    """Run the alert rules after every scan log write, and register the pages."""
    from app.alerts.watch import watch_scans

    watch_scans(app)
    app.register_blueprint(bp)


# Route modules register their views on the blueprint when imported.
from app.alerts import pages  # noqa: E402, F401  isort: skip
