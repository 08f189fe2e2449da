"""Certificates: registration under the authorization rules, lifecycle, bulk registration.

Services flush, never commit. Every change writes an audit event.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit
from registry.bodies import get_body, registry_today
from registry.errors import Conflict, ImportRejected, InvalidInput, NotFound, PermissionDenied, StaleEdit
from registry.identifiers import check_credit_code
from registry.models import (
    Body,
    BodyKind,
    Certificate,
    CertificateStatus,
    CertificateStatusChange,
    Organization,
    TestReport,
)
from registry.queries import is_authorized

MAX_BULK = 10_000
TRANSITIONS = {
    ("valid", "suspended"): "suspend",
    ("valid", "withdrawn"): "withdraw",
    ("suspended", "withdrawn"): "withdraw",
    ("suspended", "valid"): "restore",
    ("withdrawn", "valid"): "restore",
}


@dataclass
class PartyInput:
    """Holder or manufacturer: an organization identified by its credit code (foreign: none)."""

    name_zh: str
    name_en: str = ""
    credit_code: str | None = None
    country: str = "CN"


@dataclass
class TestReportInput:
    __test__ = False  # not a pytest test class, despite the name

    lab_code: str
    report_number: str
    report_date: dt.date


@dataclass
class CertificateInput:
    number: str
    holder: PartyInput
    manufacturer: PartyInput
    category: str
    jurisdiction: str
    scheme: str
    product_name: str
    issue_date: dt.date
    expiry_date: dt.date
    models: str = ""
    standards: str = ""
    test_reports: list[TestReportInput] = field(default_factory=list)


def certificate_snapshot(certificate: Certificate) -> dict[str, Any]:
    """The full record: audit events show it, and the seal carries a digest of it."""
    return {
        "body": certificate.body.code,
        "number": certificate.number,
        "holder": _party(certificate.holder),
        "manufacturer": _party(certificate.manufacturer),
        "category": certificate.category,
        "jurisdiction": certificate.jurisdiction,
        "scheme": certificate.scheme,
        "product_name": certificate.product_name,
        "models": certificate.models,
        "standards": certificate.standards,
        "issue_date": certificate.issue_date,
        "expiry_date": certificate.expiry_date,
        "test_reports": [
            {"lab": r.lab.code, "report_number": r.report_number, "report_date": r.report_date}
            for r in certificate.test_reports
        ],
        "status": certificate.status,
    }


def _party(org: Organization) -> dict[str, Any]:
    return {
        "name_zh": org.name_zh,
        "name_en": org.name_en,
        "credit_code": org.credit_code,
        "country": org.country,
    }


def status_on(certificate: Certificate, day: dt.date) -> str:
    """valid / suspended / withdrawn as stored, or expired once ``day`` is past the expiry date."""
    if certificate.status == CertificateStatus.WITHDRAWN.value:
        return certificate.status
    if day > certificate.expiry_date:
        return CertificateStatus.EXPIRED.value
    return certificate.status


def get_certificate(session: Session, body_code: str, number: str) -> Certificate:
    certificate = session.scalar(
        select(Certificate)
        .join(Body, Certificate.body_id == Body.id)
        .where(Body.code == body_code, Certificate.number == number)
    )
    if certificate is None:
        raise NotFound(f"no certificate {number!r} of body {body_code!r}")
    return certificate


class _Problems:
    """Collects (field, problem) pairs so one item reports all its errors at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field_name: str, problem: str) -> None:
        self.items.append({"field": field_name, "problem": problem})


def _organization(
    session: Session, party: PartyInput, role: str, problems: _Problems, cache: dict[str, Organization]
) -> Organization | None:
    if not party.name_zh.strip() and not party.name_en.strip():
        problems.add(f"{role}.name_zh", "a name is required")
    code = (party.credit_code or "").strip().upper() or None
    country = (party.country or "CN").strip().upper()
    if code is None:
        if country == "CN":
            problems.add(f"{role}.credit_code", "a Chinese organization needs its unified social credit code")
            return None
        org = Organization(
            credit_code=None, name_zh=party.name_zh.strip(), name_en=party.name_en.strip(), country=country
        )
        session.add(org)
        return org
    try:
        warning = check_credit_code(code).warning
    except ValueError as exc:
        problems.add(f"{role}.credit_code", str(exc))
        return None
    if code in cache:
        return cache[code]
    found = session.scalar(select(Organization).where(Organization.credit_code == code))
    if found is not None:
        org = found
    else:
        org = Organization(
            credit_code=code,
            credit_code_warning=warning,
            name_zh=party.name_zh.strip(),
            name_en=party.name_en.strip(),
            country=country,
        )
        session.add(org)
    cache[code] = org
    return org


def _check(
    session: Session, body: Body, data: CertificateInput, today: dt.date, problems: _Problems
) -> list[tuple[Body, TestReportInput]]:
    if not data.number.strip() or len(data.number.strip()) > 64:
        problems.add("number", "the certificate number is required (at most 64 characters)")
    if not data.product_name.strip():
        problems.add("product_name", "the product name is required")
    if not data.scheme.strip():
        problems.add("scheme", "the scheme or legislation is required")
    if data.expiry_date <= data.issue_date:
        problems.add("expiry_date", "the expiry date must follow the issue date")
    if data.issue_date > today:
        problems.add("issue_date", "the issue date is in the future")
    if not is_authorized(session, body.code, data.category, data.jurisdiction, data.issue_date):
        problems.add(
            "category",
            f"body {body.code} held no active authorization for {data.category} in "
            f"{data.jurisdiction} on the issue date {data.issue_date}",
        )
    labs: list[tuple[Body, TestReportInput]] = []
    for i, report in enumerate(data.test_reports):
        lab = session.scalar(select(Body).where(Body.code == report.lab_code))
        where = f"test_reports[{i}]"
        if lab is None or lab.kind != BodyKind.TESTING_LAB.value:
            problems.add(f"{where}.lab_code", f"{report.lab_code!r} is not a listed testing lab")
            continue
        if report.report_date > data.issue_date:
            problems.add(f"{where}.report_date", "the test report is dated after the certificate")
        if not _lab_listed(session, lab, data.category, report.report_date):
            problems.add(
                f"{where}.lab_code",
                f"lab {lab.code} was not listed for {data.category} on the report date {report.report_date}",
            )
        if not report.report_number.strip():
            problems.add(f"{where}.report_number", "the report number is required")
        labs.append((lab, report))
    return labs


def _lab_listed(session: Session, lab: Body, category: str, day: dt.date) -> bool:
    return any(
        is_authorized(session, lab.code, category, jurisdiction, day)
        for jurisdiction in {a.jurisdiction for a in lab.authorizations if a.category == category}
    )


def register_certificate(
    session: Session,
    body_code: str,
    data: CertificateInput,
    *,
    actor: str,
    now: dt.datetime,
    today: dt.date | None = None,
    _org_cache: dict[str, Organization] | None = None,
) -> Certificate:
    """Register a certificate of ``body_code``; raise InvalidInput listing every problem."""
    body = get_body(session, body_code)
    if body.kind != BodyKind.CERTIFICATION_BODY.value:
        raise PermissionDenied(f"{body.code} is not a certification body")
    today = today or registry_today(now)
    problems = _Problems()
    labs = _check(session, body, data, today, problems)
    number = data.number.strip()
    if (
        number
        and session.scalar(
            select(Certificate.id).where(Certificate.body_id == body.id, Certificate.number == number)
        )
        is not None
    ):
        problems.add("number", f"certificate {number} of {body.code} is already registered")
    cache = _org_cache if _org_cache is not None else {}
    holder = _organization(session, data.holder, "holder", problems, cache)
    manufacturer = _organization(session, data.manufacturer, "manufacturer", problems, cache)
    if problems.items or holder is None or manufacturer is None:
        raise InvalidInput(problems.items[0]["problem"], errors=problems.items)
    certificate = Certificate(
        body=body,
        number=number,
        holder=holder,
        manufacturer=manufacturer,
        category=data.category,
        jurisdiction=data.jurisdiction,
        scheme=data.scheme.strip(),
        product_name=data.product_name.strip(),
        models=data.models.strip(),
        standards=data.standards.strip(),
        issue_date=data.issue_date,
        expiry_date=data.expiry_date,
        status=CertificateStatus.VALID.value,
        created_at=now,
        updated_at=now,
    )
    certificate.test_reports = [
        TestReport(lab=lab, report_number=r.report_number.strip(), report_date=r.report_date)
        for lab, r in labs
    ]
    session.add(certificate)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="certificate:register",
        subject_type="certificate",
        subject_key=f"{body.code}/{number}",
        before=None,
        after=certificate_snapshot(certificate),
    )
    return certificate


def register_bulk(
    session: Session,
    body_code: str,
    items: list[CertificateInput],
    *,
    actor: str,
    now: dt.datetime,
    today: dt.date | None = None,
) -> list[Certificate]:
    """Register up to MAX_BULK certificates, all or nothing.

    Every item is checked; if any fails, ImportRejected lists ``{"index", "field", "problem"}``
    for each problem and the caller rolls back.
    """
    if len(items) > MAX_BULK:
        raise InvalidInput(f"at most {MAX_BULK} certificates per request, got {len(items)}", limit=MAX_BULK)
    errors: list[dict[str, Any]] = []
    registered: list[Certificate] = []
    seen: set[str] = set()
    cache: dict[str, Organization] = {}
    for index, item in enumerate(items):
        if item.number.strip() in seen:
            errors.append({"index": index, "field": "number", "problem": "duplicate number in this batch"})
            continue
        seen.add(item.number.strip())
        try:
            with session.begin_nested():
                registered.append(
                    register_certificate(
                        session, body_code, item, actor=actor, now=now, today=today, _org_cache=cache
                    )
                )
        except InvalidInput as exc:
            cache.clear()  # the savepoint rollback may have discarded organizations it held
            errors.extend(
                {"index": index, **e}
                for e in exc.details.get("errors", [{"field": "", "problem": exc.message}])
            )
    if errors:
        raise ImportRejected(f"{len(errors)} problem(s) in the batch; nothing was registered", errors=errors)
    return registered


def change_certificate_status(
    session: Session,
    body_code: str,
    number: str,
    new_status: str,
    *,
    reason: str,
    actor: str,
    now: dt.datetime,
    expected_version: int | None = None,
) -> Certificate:
    """Suspend, withdraw or restore a certificate, with a mandatory reason."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput("a reason is required", field="reason")
    certificate = get_certificate(session, body_code, number)
    if expected_version is not None and certificate.version != expected_version:
        raise StaleEdit("the certificate was changed by someone else meanwhile; reload and try again")
    verb = TRANSITIONS.get((certificate.status, new_status))
    if verb is None:
        raise Conflict(
            f"cannot change a certificate from {certificate.status} to {new_status}", field="status"
        )
    before = certificate_snapshot(certificate)
    certificate.status = new_status
    certificate.updated_at = now
    certificate.status_changes.append(
        CertificateStatusChange(status=new_status, reason=reason, recorded_at=now, actor=actor)
    )
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action=f"certificate:{verb}",
        subject_type="certificate",
        subject_key=f"{body_code}/{number}",
        before=before,
        after=certificate_snapshot(certificate),
        reason=reason,
    )
    return certificate
