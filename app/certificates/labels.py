"""Words for the certificate codes the pages show (English keys; Chinese in app/catalog/certificates.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.i18n import N_, gettext

CERTIFICATE_STATUS_LABELS = {
    "valid": N_("In force"),
    "suspended": N_("Suspended"),
    "withdrawn": N_("Withdrawn"),
    "expired": N_("Expired"),
}
# The status change a button asks for, and the stored status it leads to.
ACTIONS = {
    "suspend": ("suspended", N_("Suspend")),
    "withdraw": ("withdrawn", N_("Withdraw")),
    "restore": ("valid", N_("Restore")),
}
# Which actions a stored status allows (registry.certificates.TRANSITIONS, by verb).
ACTIONS_FROM = {
    "valid": ("suspend", "withdraw"),
    "suspended": ("restore", "withdraw"),
    "withdrawn": ("restore",),
}


def certificate_status_label(code: str | None, translate: Callable[[str], str] = gettext) -> str:
    """``suspended`` -> "Suspended" / "暂停" (unknown codes as stored); ``translate`` defaults to
    the request's language (the seal page passes the one it already decided)."""
    if code is None:
        return ""
    return translate(CERTIFICATE_STATUS_LABELS[code]) if code in CERTIFICATE_STATUS_LABELS else code


def template_helpers() -> dict[str, Any]:
    """Context of the certificate templates."""
    return {
        "certificate_status_label": certificate_status_label,
        "certificate_actions": ACTIONS,
        "actions_from": ACTIONS_FROM,
    }
