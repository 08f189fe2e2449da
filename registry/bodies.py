"""Services that change bodies: create, edit, identifiers and organization. They flush, never commit.

Their scope lines (authorizations) and status changes are ``registry.authorizations``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from registry import audit, timeline
from registry.errors import Conflict, InvalidInput, NotFound, StaleEdit
from registry.identifiers import check_credit_code, normalize_identifier
from registry.models import (
    Body,
    BodyIdentifier,
    BodyKind,
    Organization,
)
from registry.reference import provinces

KINDS = {k.value for k in BodyKind}
_ROUTE_WORDS = frozenset({"new"})  # /bodies/new: the admin's form; /bodies/export.<format>: below
# The registry's reference calendar is China Standard Time (as app.clock.today): a change "from
# today" entered at 02:00 in Beijing belongs to that Chinese day, not to the previous UTC one.
REGISTRY_TIMEZONE = dt.timezone(dt.timedelta(hours=8), "CST")


def registry_today(now: dt.datetime) -> dt.date:
    """The registry's calendar day (China Standard Time) at the instant ``now``."""
    return now.astimezone(REGISTRY_TIMEZONE).date()


@dataclass
class BodyInput:
    """Everything an admin or an import supplies about a body and its organization."""

    code: str
    kind: str
    name_zh: str
    name_en: str = ""
    credit_code: str | None = None
    country: str = "CN"
    province: str | None = None
    address: str = ""
    website: str = ""
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    identifiers: dict[str, str] = field(default_factory=dict)


def body_snapshot(body: Body) -> dict[str, Any]:
    """The body's own fields, as shown in audit events and exports."""
    org = body.organization
    return {
        "code": body.code,
        "kind": body.kind,
        "name_zh": org.name_zh,
        "name_en": org.name_en,
        "credit_code": org.credit_code,
        "country": org.country,
        "province": org.province,
        "address": org.address,
        "website": org.website,
        "contact_name": body.contact_name,
        "contact_email": body.contact_email,
        "contact_phone": body.contact_phone,
        "identifiers": {i.scheme: i.value for i in body.identifiers},
    }


def search_text_of(body: Body) -> str:
    """What free-text search matches: names, code, credit code and identifiers, lower-cased."""
    org = body.organization
    parts = [org.name_zh, org.name_en, body.code, org.credit_code or ""]
    parts.extend(i.value for i in body.identifiers)
    return "\n".join(p for p in parts if p).lower()


def _refresh_derived(session: Session, body: Body) -> None:
    # Set before anything flushes, so the edit is one UPDATE and one version step.
    body.search_text = search_text_of(body)
    body.list_key = timeline.list_key(body.organization.province, body.code)
    session.flush()
    # Bodies can share an organization (one company, a certification body and a lab), and
    # editing one changes the names and province the others are found and listed by.
    for each in session.scalars(select(Body).where(Body.organization_id == body.organization.id)):
        each.search_text = search_text_of(each)
        each.list_key = timeline.list_key(each.organization.province, each.code)
        timeline.refresh_body(session, each)


def get_body(session: Session, code: str) -> Body:
    body = session.scalar(select(Body).where(Body.code == code))
    if body is None:
        raise NotFound(f"no body with code {code!r}", code_value=code)
    return body


def _clean(data: BodyInput) -> BodyInput:
    """Validate and normalize a BodyInput; raise InvalidInput naming the field."""
    code = data.code.strip()
    if not code or len(code) > 40:
        raise InvalidInput("the body code is required (at most 40 characters)", field="code")
    if "/" in code or code in _ROUTE_WORDS or code.startswith("export."):
        # The code is one segment of the body's page address (/bodies/<code>), and the first
        # part of its certificates' audit subjects ("<code>/<number>"): such a code would name
        # another page (the list's exports, the admin's new-body form) or split ambiguously.
        raise InvalidInput(
            "the body code cannot contain '/', be 'new' or start with 'export.'", field="code"
        )
    if data.kind not in KINDS:
        raise InvalidInput(f"kind must be one of {sorted(KINDS)}", field="kind")
    if not data.name_zh.strip():
        raise InvalidInput("the Chinese legal name is required", field="name_zh")
    if data.province is not None and data.province not in provinces():
        raise InvalidInput(f"unknown province code {data.province!r}", field="province")
    country = (data.country or "CN").strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise InvalidInput("country must be an ISO 3166 alpha-2 code", field="country")
    credit_code = None
    if data.credit_code and data.credit_code.strip():
        try:
            # Normalized here (upper case, full-width folded) so lookups and storage agree.
            credit_code = check_credit_code(data.credit_code).normalized
        except ValueError as exc:
            raise InvalidInput(str(exc), field="credit_code") from exc
    identifiers: dict[str, str] = {}
    for scheme, raw in data.identifiers.items():
        if not raw or not raw.strip():
            continue
        try:
            identifiers[scheme] = normalize_identifier(scheme, raw)
        except ValueError as exc:
            raise InvalidInput(str(exc), field=f"identifiers.{scheme}") from exc
    return BodyInput(
        code=code,
        kind=data.kind,
        name_zh=data.name_zh.strip(),
        name_en=data.name_en.strip(),
        credit_code=credit_code,
        country=country,
        province=data.province,
        address=data.address.strip(),
        website=data.website.strip(),
        contact_name=data.contact_name.strip(),
        contact_email=data.contact_email.strip(),
        contact_phone=data.contact_phone.strip(),
        identifiers=identifiers,
    )


def _apply_organization(session: Session, body: Body | None, data: BodyInput) -> Organization:
    warning = None
    if data.credit_code:
        warning = check_credit_code(data.credit_code).warning  # the shape was checked by _clean
        org = session.scalar(select(Organization).where(Organization.credit_code == data.credit_code))
        if org is None:
            org = body.organization if body is not None and body.organization.credit_code is None else None
        if org is None:
            org = Organization(credit_code=data.credit_code)
            session.add(org)
    else:
        # Without a credit code a body keeps (or gets) an organization of its own: clearing the
        # code must not strip it from an organization that other bodies share.
        if body is not None and body.organization.credit_code is None:
            org = body.organization
        else:
            org = Organization(credit_code=None)
        session.add(org)
    org.credit_code = data.credit_code
    org.credit_code_warning = warning
    org.name_zh = data.name_zh
    org.name_en = data.name_en
    org.country = data.country
    org.province = data.province
    org.address = data.address
    org.website = data.website
    return org


def _check_identifier_clashes(session: Session, body_id: int | None, identifiers: dict[str, str]) -> None:
    # Checked before anything is changed, so a Conflict leaves the session exactly as it was.
    for scheme, value in identifiers.items():
        clash = session.scalar(
            select(BodyIdentifier).where(BodyIdentifier.scheme == scheme, BodyIdentifier.value == value)
        )
        if clash is not None and clash.body_id != body_id:
            raise Conflict(
                f"{scheme} identifier {value} already belongs to body {clash.body.code}",
                field=f"identifiers.{scheme}",
            )


def _apply_identifiers(body: Body, identifiers: dict[str, str]) -> None:
    current = {i.scheme: i for i in body.identifiers}
    for scheme, ident in current.items():
        if scheme not in identifiers:
            body.identifiers.remove(ident)
    for scheme, value in identifiers.items():
        if scheme in current:
            current[scheme].value = value
        else:
            body.identifiers.append(BodyIdentifier(scheme=scheme, value=value))


def create_body(session: Session, data: BodyInput, *, actor: str, now: dt.datetime) -> Body:
    """Add a body (and its organization, found by credit code or created)."""
    data = _clean(data)
    if session.scalar(select(Body.id).where(Body.code == data.code)) is not None:
        raise Conflict(f"a body with code {data.code!r} already exists", field="code")
    _check_identifier_clashes(session, None, data.identifiers)
    org = _apply_organization(session, None, data)
    body = Body(
        code=data.code,
        kind=data.kind,
        organization=org,
        contact_name=data.contact_name,
        contact_email=data.contact_email,
        contact_phone=data.contact_phone,
        created_at=now,
        updated_at=now,
    )
    session.add(body)
    _apply_identifiers(body, data.identifiers)
    body.search_text = search_text_of(body)
    body.list_key = timeline.list_key(org.province, body.code)
    session.flush()
    audit.record(
        session, now=now, actor=actor, action="body:create", subject_type="body",
        subject_key=body.code, before=None, after=body_snapshot(body),
    )
    return body


def update_body(
    session: Session,
    code: str,
    data: BodyInput,
    *,
    expected_version: int | None,
    actor: str,
    now: dt.datetime,
) -> Body:
    """Edit a body. ``expected_version`` is the version the editor loaded; a mismatch is a StaleEdit.

    Returns the body unchanged (no audit event) when nothing differs.
    """
    body = get_body(session, code)
    if expected_version is not None and body.version != expected_version:
        raise StaleEdit(
            f"body {code} was changed by someone else after you opened it "
            f"(your version {expected_version}, now {body.version}); reload and edit again",
            current_version=body.version,
        )
    data = _clean(data)
    if data.code != body.code:
        raise InvalidInput("a body's code cannot change", field="code")
    if data.kind != body.kind:
        raise InvalidInput("a body's kind cannot change; withdraw it and add a new one", field="kind")
    _check_identifier_clashes(session, body.id, data.identifiers)
    before = body_snapshot(body)
    body.organization = _apply_organization(session, body, data)
    body.contact_name = data.contact_name
    body.contact_email = data.contact_email
    body.contact_phone = data.contact_phone
    _apply_identifiers(body, data.identifiers)
    after = body_snapshot(body)
    if after == before:
        session.expire(body.organization)
        return body
    body.updated_at = now
    # Always UPDATE the body row, so its version moves on even when only organization or
    # identifier rows changed and the clock reads the same instant as the last edit.
    flag_modified(body, "updated_at")
    _refresh_derived(session, body)
    session.flush()
    audit.record(
        session, now=now, actor=actor, action="body:update", subject_type="body",
        subject_key=body.code, before=before, after=after,
    )
    return body


