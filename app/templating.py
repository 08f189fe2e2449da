"""Jinja helpers shared by every template: reference names and translated labels of stored codes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from flask import Flask

from app.database import get_lookup_reader
from app.i18n import N_, current_language, gettext, localized
from registry.reference import provinces, reference_snapshot

# Stored codes (kinds, statuses, identifier schemes, audit actions) are not words: these tables give
# the English label, which is also the catalog key for the Chinese.
KIND_LABELS = {
    "certification_body": N_("Certification body"),
    "testing_lab": N_("Testing lab"),
    "inspection_body": N_("Inspection body"),
}
STATUS_LABELS = {
    "active": N_("Active"),
    "suspended": N_("Suspended"),
    "withdrawn": N_("Withdrawn"),
    "expired": N_("Expired"),
}
IDENTIFIER_LABELS = {
    "cnca": N_("CNCA approval number"),
    "cnas": N_("CNAS accreditation number"),
    "cma": N_("CMA accreditation number"),
    "eu_nb": N_("EU notified body number"),
    "niosh": N_("NIOSH approval number"),
    "other": N_("Other identifier"),
}
ACTION_LABELS = {
    "body:create": N_("Body added"),
    "body:update": N_("Body details changed"),
    "body:authorization:grant": N_("Scope granted"),
    "body:authorization:update": N_("Scope changed"),
    "body:authorization:suspend": N_("Scope suspended"),
    "body:authorization:withdraw": N_("Scope withdrawn"),
    "body:authorization:restore": N_("Scope restored"),
    "body:token:issue": N_("API token issued"),
    "body:token:revoke": N_("API token revoked"),
    "certificate:register": N_("Certificate registered"),
    "certificate:suspend": N_("Certificate suspended"),
    "certificate:withdraw": N_("Certificate withdrawn"),
    "certificate:restore": N_("Certificate restored"),
    "seal:issue": N_("Seal issued"),
    "key:add": N_("Signing key added"),
    "key:rotate": N_("Signing key rotated"),
    "key:revoke": N_("Signing key revoked"),
    "registry:import": N_("Official list imported"),
    "user:create": N_("User created"),
    "alert:open": N_("Misuse alert opened"),
    "alert:acknowledge": N_("Misuse alert acknowledged"),
    "alert:close": N_("Misuse alert closed"),
    "complaint:submit": N_("Complaint received"),
    "complaint:triage": N_("Complaint triaged"),
    "complaint:investigate": N_("Complaint under investigation"),
    "complaint:substantiate": N_("Complaint substantiated"),
    "complaint:close": N_("Complaint closed"),
    "complaint:assign": N_("Complaint assigned"),
    "complaint:link": N_("Complaint linked"),
    "complaint:unlink": N_("Complaint unlinked"),
    "complaint:note": N_("Note added to a complaint"),
    "credit:record": N_("Credit record entered"),
}


def _label(table: dict[str, str], code: str | None) -> str:
    # An unknown code (added later by another area) is shown as stored rather than hidden.
    if code is None:
        return ""
    return gettext(table[code]) if code in table else code


def kind_label(code: str | None) -> str:
    """``certification_body`` -> "Certification body" / "认证机构"."""
    return _label(KIND_LABELS, code)


def status_label(code: str | None) -> str:
    """``suspended`` -> "Suspended" / "暂停"."""
    return _label(STATUS_LABELS, code)


def identifier_label(scheme: str | None) -> str:
    """``cnas`` -> "CNAS accreditation number" / "CNAS 认可号"."""
    return _label(IDENTIFIER_LABELS, scheme)


def action_label(action: str | None) -> str:
    """An audit action tag such as ``body:authorization:suspend`` in words."""
    return _label(ACTION_LABELS, action)


def _names(attribute: Literal["categories", "jurisdictions"], language: str | None) -> Mapping[str, str]:
    """Code -> name in ``language`` (the request's by default), kept with the cached reference
    snapshot."""
    return reference_snapshot(get_lookup_reader()).names(attribute, language or current_language())


def category_name(code: str, language: str | None = None) -> str:
    """The category's name in ``language`` or the current one (the code if it is unknown)."""
    return _names("categories", language).get(code, code)


def jurisdiction_name(code: str, language: str | None = None) -> str:
    """The jurisdiction's name in ``language`` or the current one (the code if it is unknown)."""
    return _names("jurisdictions", language).get(code, code)


def scope_summary(lines: Iterable[Any], day: dt.date) -> list[tuple[str, str, list[str]]]:
    """(jurisdiction code, its name, names of its categories) for the lines started by ``day``."""
    by_jurisdiction: dict[str, list[str]] = {}
    for line in lines:
        if line.valid_from <= day:
            names = by_jurisdiction.setdefault(line.jurisdiction, [])
            name = category_name(line.category)
            if name not in names:
                names.append(name)
    return [(code, jurisdiction_name(code), names) for code, names in sorted(by_jurisdiction.items())]


def place_name(province: str | None, country: str) -> str:
    """A Chinese body's province, or a foreign body's country code."""
    found = provinces().get(province or "")
    return localized(found) if found is not None else country


def utc_time(moment: dt.datetime) -> str:
    """``YYYY-MM-DD HH:MM`` in UTC; SQLite hands back naive datetimes, which are stored in UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def combine(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``base`` with ``changes`` applied; used to build pager links that keep the filters."""
    return {**base, **changes}


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        category_name=category_name,
        jurisdiction_name=jurisdiction_name,
        kind_label=kind_label,
        status_label=status_label,
        identifier_label=identifier_label,
        action_label=action_label,
        combine=combine,
        utc_time=utc_time,
    )
    app.jinja_env.globals.update(
        province_names=provinces(), place_name=place_name, scope_summary=scope_summary
    )
