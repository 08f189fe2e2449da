"""Services that change bodies and their authorizations. They flush, never commit."""

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
    Authorization,
    AuthorizationStatus,
    Body,
    BodyIdentifier,
    BodyKind,
    Category,
    Jurisdiction,
    Organization,
    StatusPeriod,
)
from registry.reference import provinces

KINDS = {k.value for k in BodyKind}
_ROUTE_WORDS = frozenset({"new"})  # /bodies/new: the admin's form; /bodies/export.<format>: below
STORED_STATUSES = (
    AuthorizationStatus.ACTIVE.value,
    AuthorizationStatus.SUSPENDED.value,
    AuthorizationStatus.WITHDRAWN.value,
)
# (from, to) -> audit verb. Anything else is refused.
TRANSITIONS = {
    ("active", "suspended"): "suspend",
    ("active", "withdrawn"): "withdraw",
    ("suspended", "withdrawn"): "withdraw",
    ("suspended", "active"): "restore",
    ("withdrawn", "active"): "restore",
}
# The registry's reference calendar is China Standard Time (as app.clock.today): a change "from
# today" entered at 02:00 in Beijing belongs to that Chinese day, not to the previous UTC one.
REGISTRY_TIMEZONE = dt.timezone(dt.timedelta(hours=8), "CST")


def registry_today(now: dt.datetime) -> dt.date:
    """The registry's calendar day (China Standard Time) at the instant ``now``."""
    return now.astimezone(REGISTRY_TIMEZONE).date()


def latest_effective_date(today: dt.date) -> dt.date:
    """The furthest a status change may be scheduled: one calendar year after ``today``."""
    try:
        return today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year + 1, day=28)


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


@dataclass
class AuthorizationInput:
    jurisdiction: str
    scheme: str
    category: str
    valid_from: dt.date
    valid_until: dt.date | None = None
    standards: str = ""
    tests: str = ""


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


def authorization_snapshot(authorization: Authorization) -> dict[str, Any]:
    return {
        "id": authorization.id,
        "body": authorization.body.code,
        "jurisdiction": authorization.jurisdiction,
        "scheme": authorization.scheme,
        "category": authorization.category,
        "standards": authorization.standards,
        "tests": authorization.tests,
        "valid_from": authorization.valid_from,
        "valid_until": authorization.valid_until,
        "status": authorization.status,
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


def get_authorization(session: Session, authorization_id: int) -> Authorization:
    authorization = session.get(Authorization, authorization_id)
    if authorization is None:
        raise NotFound(f"no authorization {authorization_id}")
    return authorization


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


def _check_authorization_input(session: Session, data: AuthorizationInput) -> AuthorizationInput:
    if session.get(Jurisdiction, data.jurisdiction) is None:
        raise InvalidInput(f"unknown jurisdiction {data.jurisdiction!r}", field="jurisdiction")
    if session.get(Category, data.category) is None:
        raise InvalidInput(f"unknown product category {data.category!r}", field="category")
    scheme = data.scheme.strip()
    if not scheme:
        raise InvalidInput("the scheme or legislation is required", field="scheme")
    if data.valid_until is not None and data.valid_until < data.valid_from:
        raise InvalidInput("valid_until is before valid_from", field="valid_until")
    return AuthorizationInput(
        jurisdiction=data.jurisdiction,
        scheme=scheme,
        category=data.category,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        standards=data.standards.strip(),
        tests=data.tests.strip(),
    )


def grant_authorization(
    session: Session,
    body_code: str,
    data: AuthorizationInput,
    *,
    actor: str,
    now: dt.datetime,
    reason: str,
) -> Authorization:
    """Add a scope line, active from ``valid_from``."""
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    body = get_body(session, body_code)
    data = _check_authorization_input(session, data)
    duplicate = session.scalar(
        select(Authorization.id).where(
            Authorization.body_id == body.id,
            Authorization.jurisdiction == data.jurisdiction,
            Authorization.scheme == data.scheme,
            Authorization.category == data.category,
        )
    )
    if duplicate is not None:
        raise Conflict(
            f"body {body.code} already has a {data.category} line under {data.scheme} "
            f"in {data.jurisdiction}; edit or restore it instead",
            authorization_id=duplicate,
        )
    authorization = Authorization(
        body=body,
        jurisdiction=data.jurisdiction,
        scheme=data.scheme,
        category=data.category,
        standards=data.standards,
        tests=data.tests,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        status=AuthorizationStatus.ACTIVE.value,
    )
    authorization.periods.append(
        StatusPeriod(
            status=AuthorizationStatus.ACTIVE.value,
            effective_from=data.valid_from,
            effective_until=None,
            reason=reason.strip(),
            recorded_at=now,
            actor=actor,
        )
    )
    session.add(authorization)
    session.flush()
    timeline.refresh(session, authorization)
    audit.record(
        session, now=now, actor=actor, action="body:authorization:grant",
        subject_type="authorization", subject_key=f"{body.code}/{authorization.id}",
        before=None, after=authorization_snapshot(authorization), reason=reason.strip(),
    )
    return authorization


def update_authorization(
    session: Session,
    authorization_id: int,
    data: AuthorizationInput,
    *,
    expected_version: int | None,
    actor: str,
    now: dt.datetime,
    reason: str,
) -> Authorization:
    """Edit a scope line's standards, tests and validity window (not its identity)."""
    if not reason.strip():
        raise InvalidInput("a reason is required", field="reason")
    authorization = get_authorization(session, authorization_id)
    if expected_version is not None and authorization.version != expected_version:
        raise StaleEdit(
            "this authorization was changed by someone else after you opened it; reload and edit again",
            current_version=authorization.version,
        )
    data = _check_authorization_input(session, data)
    identity = (data.jurisdiction, data.scheme, data.category)
    if identity != (authorization.jurisdiction, authorization.scheme, authorization.category):
        raise InvalidInput("jurisdiction, scheme and category identify a line and cannot change")
    first = authorization.periods[0]
    before = authorization_snapshot(authorization)
    authorization.standards = data.standards
    authorization.tests = data.tests
    authorization.valid_until = data.valid_until
    if data.valid_from != authorization.valid_from:
        if len(authorization.periods) > 1 and data.valid_from >= authorization.periods[1].effective_from:
            raise InvalidInput("valid_from must precede the first status change", field="valid_from")
        authorization.valid_from = data.valid_from
        first.effective_from = data.valid_from
    after = authorization_snapshot(authorization)
    if after == before:
        return authorization
    session.flush()
    timeline.refresh(session, authorization)
    audit.record(
        session, now=now, actor=actor, action="body:authorization:update",
        subject_type="authorization", subject_key=f"{authorization.body.code}/{authorization.id}",
        before=before, after=after, reason=reason.strip(),
    )
    return authorization


def change_status(
    session: Session,
    authorization_id: int,
    new_status: str,
    *,
    reason: str,
    actor: str,
    now: dt.datetime,
    effective: dt.date | None = None,
    expected_version: int | None = None,
) -> Authorization:
    """Suspend, withdraw or restore a scope line from ``effective`` (default: today in China).

    History is append-only: the effective date may not precede the last recorded change.
    """
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a reason is required", field="reason")
    if new_status not in STORED_STATUSES:
        raise InvalidInput(f"status must be one of {list(STORED_STATUSES)}", field="status")
    authorization = get_authorization(session, authorization_id)
    if expected_version is not None and authorization.version != expected_version:
        raise StaleEdit(
            "this authorization was changed by someone else after you opened it; reload and try again",
            current_version=authorization.version,
        )
    verb = TRANSITIONS.get((authorization.status, new_status))
    if verb is None:
        raise Conflict(
            f"cannot change an authorization from {authorization.status} to {new_status}",
            field="status",
        )
    today = registry_today(now)
    effective = effective or today
    last = authorization.periods[-1]
    if effective < last.effective_from:
        raise InvalidInput(
            f"the effective date cannot precede the last recorded change ({last.effective_from})",
            field="effective",
        )
    if effective > latest_effective_date(today):
        raise InvalidInput("the effective date is more than a year ahead", field="effective")
    before = authorization_snapshot(authorization)
    last.effective_until = effective
    authorization.periods.append(
        StatusPeriod(
            status=new_status,
            effective_from=effective,
            effective_until=None,
            reason=reason,
            recorded_at=now,
            actor=actor,
        )
    )
    authorization.status = new_status
    session.flush()
    timeline.refresh(session, authorization)
    after = authorization_snapshot(authorization) | {"effective": effective}
    audit.record(
        session, now=now, actor=actor, action=f"body:authorization:{verb}",
        subject_type="authorization", subject_key=f"{authorization.body.code}/{authorization.id}",
        before=before, after=after, reason=reason,
    )
    return authorization


def change_body_status(
    session: Session,
    code: str,
    new_status: str,
    *,
    reason: str,
    actor: str,
    now: dt.datetime,
    effective: dt.date | None = None,
) -> list[Authorization]:
    """Apply a status to every scope line of a body that can take it; return the lines changed.

    All or nothing: every line is checked before the first one changes.
    """
    body = get_body(session, code)
    lines = [a for a in body.authorizations if (a.status, new_status) in TRANSITIONS]
    day = effective or registry_today(now)
    for line in lines:
        if day < line.periods[-1].effective_from:
            raise InvalidInput(
                f"the effective date cannot precede the last recorded change of line {line.id} "
                f"({line.periods[-1].effective_from})",
                field="effective",
            )
    changed = [
        change_status(session, a.id, new_status, reason=reason, actor=actor, now=now, effective=effective)
        for a in lines
    ]
    if not changed:
        raise Conflict(f"no authorization of body {code} can become {new_status}", field="status")
    return changed
