"""Certificates: registration under the authorization rules, lifecycle, bulk registration.

Services flush, never commit. Every change writes an audit event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import bindparam, select, update
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
from registry.queries import active_windows

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
        "holder": party_record(certificate.holder),
        "manufacturer": party_record(certificate.manufacturer),
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


class PartyFields(Protocol):
    """An organization as stored (``Organization``) or as a verification reads it (``Party``)."""

    @property
    def name_zh(self) -> str: ...
    @property
    def name_en(self) -> str: ...
    @property
    def credit_code(self) -> str | None: ...
    @property
    def country(self) -> str: ...


def party_record(party: PartyFields) -> dict[str, Any]:
    """A holder, manufacturer or body's organization as snapshots and API answers show it."""
    return {
        "name_zh": party.name_zh,
        "name_en": party.name_en,
        "credit_code": party.credit_code,
        "country": party.country,
    }


# What follows a certificate's number in the URLs of its QR code, label and print page.
URL_SUFFIXES = frozenset({"qr.png", "qr.svg", "label.png", "print"})


def number_fits_a_url(number: str) -> bool:
    """Whether ``number`` can stand in a certificate's URLs: a "/" inside is fine (numbers such as
    ``GB20/12345``, routed as a path), but not at either end nor doubled, nor around a "." or
    ".." part, which a URL would lose or resolve away, nor before a last part that names the QR
    code, label or print page of another number."""
    if "/" not in number:
        return True
    parts = number.split("/")
    # An empty part is a "/" at an end or doubled; "." and ".." are resolved away by clients.
    if any(part in ("", ".", "..") for part in parts):
        return False
    return parts[-1] not in URL_SUFFIXES


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


def _chunks(values: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class _Batch:
    """What the checks of a batch read from the database, each in one query for all its items
    (per 500): numbers already registered, the labs named, when the body and the labs were
    authorized, the organizations named by credit code. Nothing is written while checking."""

    def __init__(self, session: Session, body: Body, items: list[CertificateInput]) -> None:
        self.body = body
        numbers = sorted({item.number.strip() for item in items} - {""})
        self.registered: set[str] = set()
        for chunk in _chunks(numbers):
            registered = select(Certificate.number).where(
                Certificate.body_id == body.id, Certificate.number.in_(chunk)
            )
            self.registered.update(session.scalars(registered))
        lab_codes = sorted({report.lab_code for item in items for report in item.test_reports})
        self.labs: dict[str, Body] = {}
        for chunk in _chunks(lab_codes):
            self.labs.update(
                (lab.code, lab) for lab in session.scalars(select(Body).where(Body.code.in_(chunk)))
            )
        self.windows = active_windows(session, [body.id, *(lab.id for lab in self.labs.values())])
        codes = sorted({
            (party.credit_code or "").strip().upper()
            for item in items for party in (item.holder, item.manufacturer)
        } - {""})  # fmt: skip
        self.organizations: dict[str, Organization] = {}
        for chunk in _chunks(codes):
            self.organizations.update(
                (org.credit_code or "", org)
                for org in session.scalars(select(Organization).where(Organization.credit_code.in_(chunk)))
            )

    def organization(self, party: PartyInput, role: str, problems: _Problems) -> Organization | None:
        """The organization ``party`` names: a registered one by credit code, else a new one
        (added to the session with the first certificate that holds it)."""
        if not party.name_zh.strip() and not party.name_en.strip():
            problems.add(f"{role}.name_zh", "a name is required")
        code = (party.credit_code or "").strip().upper() or None
        country = (party.country or "CN").strip().upper()
        names = {"name_zh": party.name_zh.strip(), "name_en": party.name_en.strip(), "country": country}
        if code is None:
            if country == "CN":
                problems.add(
                    f"{role}.credit_code", "a Chinese organization needs its unified social credit code"
                )
                return None
            return Organization(credit_code=None, **names)
        try:
            warning = check_credit_code(code).warning
        except ValueError as exc:
            problems.add(f"{role}.credit_code", str(exc))
            return None
        if code not in self.organizations:
            self.organizations[code] = Organization(credit_code=code, credit_code_warning=warning, **names)
        return self.organizations[code]

    def check(
        self, data: CertificateInput, today: dt.date, problems: _Problems
    ) -> list[tuple[Body, TestReportInput]]:
        """Every rule for one item; the labs of its test reports."""
        body = self.body
        number = data.number.strip()
        if not number or len(number) > 64:
            problems.add("number", "the certificate number is required (at most 64 characters)")
        elif not number_fits_a_url(number):
            problems.add(
                "number",
                "a certificate number cannot begin or end with '/', hold '//', '/./' or '/../', or end "
                "in '/qr.png', '/qr.svg', '/label.png' or '/print' (its web addresses would be ambiguous)",
            )
        if not data.product_name.strip():
            problems.add("product_name", "the product name is required")
        if not data.scheme.strip():
            problems.add("scheme", "the scheme or legislation is required")
        if data.expiry_date <= data.issue_date:
            problems.add("expiry_date", "the expiry date must follow the issue date")
        if data.issue_date > today:
            problems.add("issue_date", "the issue date is in the future")
        if not self.windows.authorized(body.id, data.category, data.jurisdiction, data.issue_date):
            problems.add(
                "category",
                f"body {body.code} held no active authorization for {data.category} in "
                f"{data.jurisdiction} on the issue date {data.issue_date}",
            )
        labs: list[tuple[Body, TestReportInput]] = []
        for i, report in enumerate(data.test_reports):
            lab = self.labs.get(report.lab_code)
            where = f"test_reports[{i}]"
            if lab is None or lab.kind != BodyKind.TESTING_LAB.value:
                problems.add(f"{where}.lab_code", f"{report.lab_code!r} is not a listed testing lab")
                continue
            if report.report_date > data.issue_date:
                problems.add(f"{where}.report_date", "the test report is dated after the certificate")
            if not self.windows.authorized(lab.id, data.category, None, report.report_date):
                problems.add(
                    f"{where}.lab_code",
                    f"lab {lab.code} was not listed for {data.category} "
                    f"on the report date {report.report_date}",
                )
            if not report.report_number.strip():
                problems.add(f"{where}.report_number", "the report number is required")
            labs.append((lab, report))
        if number in self.registered:  # last, as the one-by-one checks reported it
            problems.add("number", f"certificate {number} of {body.code} is already registered")
        return labs


def _new_certificate(
    body: Body, data: CertificateInput, holder: Organization, manufacturer: Organization,
    labs: list[tuple[Body, TestReportInput]], now: dt.datetime,
) -> Certificate:  # fmt: skip
    certificate = Certificate(
        body=body,
        number=data.number.strip(),
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
    return certificate


def _register(
    session: Session, body_code: str, items: list[CertificateInput], *, actor: str, now: dt.datetime,
    today: dt.date | None,
) -> tuple[list[Certificate], list[dict[str, Any]]]:  # fmt: skip
    """Check every item against the batch's reads; write them all (one flush, one audit append)
    only if none has a problem. Returns (certificates, problems with their item index)."""
    body = get_body(session, body_code)
    if body.kind != BodyKind.CERTIFICATION_BODY.value:
        raise PermissionDenied(f"{body.code} is not a certification body")
    today = today or registry_today(now)
    batch = _Batch(session, body, items)
    errors: list[dict[str, Any]] = []
    certificates: list[Certificate] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.number.strip() and item.number.strip() in seen:  # a blank one is "required" below
            errors.append({"index": index, "field": "number", "problem": "duplicate number in this batch"})
            continue
        seen.add(item.number.strip())
        problems = _Problems()
        labs = batch.check(item, today, problems)
        holder = batch.organization(item.holder, "holder", problems)
        manufacturer = batch.organization(item.manufacturer, "manufacturer", problems)
        if problems.items or holder is None or manufacturer is None:
            errors.extend({"index": index, **problem} for problem in problems.items)
        elif not errors:  # once anything failed, nothing is written: stop building
            certificates.append(_new_certificate(body, item, holder, manufacturer, labs, now))
    if errors:
        return [], errors
    session.add_all(certificates)
    session.flush()
    changes = [
        audit.Change(
            "certificate:register", "certificate", f"{body.code}/{c.number}", None, certificate_snapshot(c)
        )
        for c in certificates
    ]
    logged = audit.record_many_logged(session, changes, now=now, actor=actor)
    keep_log_leaves(session, [(c.id, index) for c, (_, index) in zip(certificates, logged, strict=True)])
    return certificates, []


def keep_log_leaves(session: Session, leaves: Sequence[tuple[int, int]]) -> None:
    """Note each (certificate id, leaf index) as the certificate's latest change in the
    transparency log (``Certificate.log_index``), for the registration or status change just
    logged. One executemany by primary key; the version is left alone (no edit of the record).
    Only for rows the transaction already holds (new, or just changed): updating another row
    after taking the log's head could deadlock with a status change, which takes them the
    other way round."""
    if leaves:
        session.execute(_SET_LOG_LEAF, [{"certificate_id": cid, "leaf": leaf} for cid, leaf in leaves])


_SET_LOG_LEAF = (
    update(Certificate.__table__)  # type: ignore[arg-type]  # the table, not the ORM: no version bump
    .where(Certificate.__table__.c.id == bindparam("certificate_id"))
    .values(log_index=bindparam("leaf"))
)


def register_certificate(
    session: Session,
    body_code: str,
    data: CertificateInput,
    *,
    actor: str,
    now: dt.datetime,
    today: dt.date | None = None,
) -> Certificate:
    """Register a certificate of ``body_code``; raise InvalidInput listing every problem."""
    certificates, errors = _register(session, body_code, [data], actor=actor, now=now, today=today)
    if errors:
        problems = [{"field": e["field"], "problem": e["problem"]} for e in errors]
        raise InvalidInput(problems[0]["problem"], errors=problems)
    return certificates[0]


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
    for each problem and nothing is written. The checks read the database a few times for the
    whole batch, not per item, and the writes are one flush and one audit append.
    """
    if len(items) > MAX_BULK:
        raise InvalidInput(f"at most {MAX_BULK} certificates per request, got {len(items)}", limit=MAX_BULK)
    certificates, errors = _register(session, body_code, items, actor=actor, now=now, today=today)
    if errors:
        raise ImportRejected(f"{len(errors)} problem(s) in the batch; nothing was registered", errors=errors)
    return certificates


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
    change = audit.Change(
        f"certificate:{verb}", "certificate", f"{body_code}/{number}", before,
        certificate_snapshot(certificate), reason,
    )  # fmt: skip
    [(_, leaf)] = audit.record_many_logged(session, [change], now=now, actor=actor)
    keep_log_leaves(session, [(certificate.id, leaf)])
    return certificate
