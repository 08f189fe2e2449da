"""Certificates: registration under the authorization rules, lifecycle, bulk registration.

Services flush, never commit. Every change writes an audit event. What a registration submits
and the checks on it live in ``registry.certificate_input``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from registry import audit
from registry.bodies import get_body, registry_today
from registry.certificate_input import (  # noqa: F401  (re-exported: the limit and inputs of registration)
    MAX_BULK,
    Batch,
    CertificateInput,
    PartyInput,
    Problems,
    TestReportInput,
)
from registry.errors import Conflict, ImportRejected, InvalidInput, NotFound, PermissionDenied, StaleEdit
from registry.models import (
    Body,
    BodyKind,
    Certificate,
    CertificateStatus,
    CertificateStatusChange,
    Organization,
    TestReport,
)

TRANSITIONS = {
    ("valid", "suspended"): "suspend",
    ("valid", "withdrawn"): "withdraw",
    ("suspended", "withdrawn"): "withdraw",
    ("suspended", "valid"): "restore",
    ("withdrawn", "valid"): "restore",
}


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
    batch = Batch(session, body, items)
    errors: list[dict[str, Any]] = []
    certificates: list[Certificate] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.number.strip() and item.number.strip() in seen:  # a blank one is "required" below
            errors.append({"index": index, "field": "number", "problem": "duplicate number in this batch"})
            continue
        seen.add(item.number.strip())
        problems = Problems()
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
