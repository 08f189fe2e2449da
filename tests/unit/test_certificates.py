"""Certificate registration rules, lifecycle and bulk registration, without Flask."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from registry.authorizations import change_status
from registry.certificates import (
    MAX_BULK,
    CertificateInput,
    PartyInput,
    TestReportInput,
    change_certificate_status,
    get_certificate,
    register_bulk,
    register_certificate,
    status_on,
)
from registry.errors import Conflict, ImportRejected, InvalidInput, PermissionDenied
from registry.models import AuditEvent, Certificate
from tests.factories import credit_code, grant, make_body

ISSUE = dt.date(2026, 3, 1)


@pytest.fixture
def cb(session, now):
    body = make_body(session, now, code="CB-1")
    grant(session, now, body, category="mask", jurisdiction="CN", valid_from=dt.date(2021, 1, 1))
    return body


@pytest.fixture
def lab(session, now):
    body = make_body(session, now, code="LAB-1", kind="testing_lab")
    grant(session, now, body, category="mask", jurisdiction="CN", valid_from=dt.date(2021, 1, 1))
    return body


def cert(number="CQC2026000001", **overrides):
    data = {
        "number": number,
        "holder": PartyInput(name_zh="某某防护用品有限公司", credit_code=credit_code(901)),
        "manufacturer": PartyInput(name_zh="某某制造有限公司", credit_code=credit_code(902)),
        "category": "mask",
        "jurisdiction": "CN",
        "scheme": "CCC",
        "product_name": "KN95 respirator",
        "issue_date": ISSUE,
        "expiry_date": dt.date(2029, 3, 1),
        "test_reports": [TestReportInput("LAB-1", "R-2026-001", dt.date(2026, 2, 1))],
    }
    data.update(overrides)
    return CertificateInput(**data)


def test_register_writes_certificate_and_audit(session, now, cb, lab):
    certificate = register_certificate(session, "CB-1", cert(), actor="op", now=now)
    assert certificate.status == "valid"
    assert certificate.test_reports[0].lab.code == "LAB-1"
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "certificate:register")).one()
    assert event.subject_key == "CB-1/CQC2026000001"
    assert event.after["holder"]["credit_code"] == credit_code(901)


def test_body_must_be_authorized_on_issue_date(session, now, cb, lab):
    with pytest.raises(InvalidInput) as err:
        register_certificate(
            session, "CB-1", cert(category="ventilator", test_reports=[]), actor="op", now=now
        )
    assert err.value.details["errors"][0]["field"] == "category"
    with pytest.raises(InvalidInput):
        register_certificate(
            session, "CB-1", cert(issue_date=dt.date(2020, 6, 1), test_reports=[]), actor="op", now=now
        )


def test_suspended_body_cannot_register(session, now, cb, lab):
    change_status(
        session,
        cb.authorizations[0].id,
        "suspended",
        reason="audit findings",
        actor="a",
        now=now,
        effective=dt.date(2026, 1, 1),
    )
    with pytest.raises(InvalidInput, match="no active authorization"):
        register_certificate(session, "CB-1", cert(), actor="op", now=now)


def test_lab_must_be_listed_on_report_date(session, now, cb, lab):
    with pytest.raises(InvalidInput) as err:
        register_certificate(
            session,
            "CB-1",
            cert(test_reports=[TestReportInput("LAB-1", "R1", dt.date(2020, 5, 1))]),
            actor="op",
            now=now,
        )
    assert any("not listed" in e["problem"] for e in err.value.details["errors"])
    with pytest.raises(InvalidInput, match="not a listed testing lab"):
        register_certificate(
            session,
            "CB-1",
            cert(test_reports=[TestReportInput("CB-1", "R1", dt.date(2026, 1, 1))]),
            actor="op",
            now=now,
        )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"expiry_date": ISSUE}, "expiry_date"),
        ({"issue_date": dt.date(2027, 1, 1), "expiry_date": dt.date(2030, 1, 1)}, "issue_date"),
        ({"number": " "}, "number"),
        ({"holder": PartyInput(name_zh="x", credit_code="123")}, "holder.credit_code"),
        ({"holder": PartyInput(name_zh="x", credit_code=None)}, "holder.credit_code"),
    ],
)
def test_incoherent_input_refused(session, now, cb, lab, overrides, field):
    with pytest.raises(InvalidInput) as err:
        register_certificate(session, "CB-1", cert(**overrides), actor="op", now=now)
    assert field in {e["field"] for e in err.value.details["errors"]}
    assert session.scalar(select(func.count()).select_from(Certificate)) == 0


def test_number_unique_per_body_and_labs_cannot_certify(session, now, cb, lab):
    register_certificate(session, "CB-1", cert(), actor="op", now=now)
    with pytest.raises(InvalidInput, match="already registered"):
        register_certificate(session, "CB-1", cert(), actor="op", now=now)
    with pytest.raises(PermissionDenied):
        register_certificate(session, "LAB-1", cert(number="X"), actor="op", now=now)


def test_foreign_holder_without_credit_code(session, now, cb, lab):
    data = cert(holder=PartyInput(name_zh="", name_en="Acme GmbH", credit_code=None, country="DE"))
    certificate = register_certificate(session, "CB-1", data, actor="op", now=now)
    assert certificate.holder.credit_code is None and certificate.holder.country == "DE"


def test_lifecycle(session, now, cb, lab):
    register_certificate(session, "CB-1", cert(), actor="op", now=now)
    c = change_certificate_status(
        session, "CB-1", "CQC2026000001", "suspended", reason="complaint", actor="a", now=now
    )
    assert c.status == "suspended"
    with pytest.raises(Conflict):
        change_certificate_status(
            session, "CB-1", "CQC2026000001", "suspended", reason="again", actor="a", now=now
        )
    with pytest.raises(InvalidInput):
        change_certificate_status(session, "CB-1", "CQC2026000001", "valid", reason=" ", actor="a", now=now)
    change_certificate_status(session, "CB-1", "CQC2026000001", "valid", reason="cleared", actor="a", now=now)
    change_certificate_status(
        session, "CB-1", "CQC2026000001", "withdrawn", reason="fraud", actor="a", now=now
    )
    c = get_certificate(session, "CB-1", "CQC2026000001")
    assert [s.status for s in c.status_changes] == ["suspended", "valid", "withdrawn"]
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.subject_type == "certificate")).all()
    assert actions == [
        "certificate:register",
        "certificate:suspend",
        "certificate:restore",
        "certificate:withdraw",
    ]
    assert status_on(c, dt.date(2030, 1, 1)) == "withdrawn"


def test_expired_follows_from_date(session, now, cb, lab):
    c = register_certificate(session, "CB-1", cert(), actor="op", now=now)
    assert status_on(c, dt.date(2029, 3, 1)) == "valid"
    assert status_on(c, dt.date(2029, 3, 2)) == "expired"


def test_bulk_all_or_nothing(session, now, cb, lab):
    items = [cert(number=f"N{i}", test_reports=[]) for i in range(5)]
    items[3] = cert(number="N3", category="ventilator", test_reports=[])
    items.append(cert(number="N1", test_reports=[]))
    audit_events = session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(ImportRejected) as err:
        register_bulk(session, "CB-1", items, actor="op", now=now)
    indexes = {e["index"] for e in err.value.details["errors"]}
    assert indexes == {3, 5}
    session.flush()
    assert session.scalar(select(func.count()).select_from(Certificate)) == 0  # nothing was written
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == audit_events


def test_bulk_ok_and_limit(session, now, cb, lab):
    registered = register_bulk(
        session, "CB-1", [cert(number=f"B{i}", test_reports=[]) for i in range(20)], actor="op", now=now
    )
    assert len(registered) == 20
    assert len({c.holder_id for c in registered}) == 1  # one organization, reused
    with pytest.raises(InvalidInput, match=str(MAX_BULK)):
        register_bulk(session, "CB-1", [cert()] * (MAX_BULK + 1), actor="op", now=now)


def test_bulk_reports_what_one_by_one_would(session, now, cb, lab):
    """The batch's reads change no message and no order: a registered number is named after
    the other problems, and a blank number is "required", not a duplicate of another blank."""
    register_certificate(session, "CB-1", cert(number="X1", test_reports=[]), actor="op", now=now)
    with pytest.raises(InvalidInput) as single:
        register_certificate(session, "CB-1", cert(number="X1", category="ventilator", test_reports=[]),
                             actor="op", now=now)
    assert single.value.message.startswith("body CB-1 held no active authorization")
    items = [cert(number=" ", test_reports=[]), cert(number="", test_reports=[])]
    with pytest.raises(ImportRejected) as bulk:
        register_bulk(session, "CB-1", items, actor="op", now=now)
    assert [(e["index"], e["field"]) for e in bulk.value.details["errors"]] == [(0, "number"), (1, "number")]
    assert all("required" in e["problem"] for e in bulk.value.details["errors"])
