"""Shared set-up of the seal, bundle and demo-certificate tests: a body, a lab, keys, certificates.

Keys are created at the test clock's ``now``; certificates are issued on ISSUE (before ``now``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from registry import keystore
from registry.certificates import CertificateInput, PartyInput, TestReportInput, register_certificate
from registry.models import Authorization, Body, Certificate
from tests.factories import credit_code, grant, make_body

PASSPHRASE = b"seal-test-passphrase-0123456789ab"
ISSUE = dt.date(2026, 3, 1)
HOST = "verify.example.cn"


@dataclass
class World:
    body: Body
    line: Authorization
    lab: Body


def make_world(session: Session, now: dt.datetime, *, keys: bool = True) -> World:
    """A certification body and a lab, both listed for masks in China since 2021; seal and
    root keys (unless ``keys`` is False)."""
    body = make_body(session, now)
    line = grant(session, now, body, category="mask", jurisdiction="CN", valid_from=dt.date(2021, 1, 1))
    lab = make_body(session, now, kind="testing_lab")
    grant(session, now, lab, category="mask", jurisdiction="CN", valid_from=dt.date(2021, 1, 1))
    if keys:
        keystore.generate_key(session, "seal", PASSPHRASE, actor="test", now=now)
        keystore.generate_key(session, "root", PASSPHRASE, actor="test", now=now)
    return World(body, line, lab)


def register(session: Session, now: dt.datetime, world: World, number: str, **overrides: Any) -> Certificate:
    data: dict[str, Any] = {
        "number": number,
        "holder": PartyInput(name_zh="某某防护用品有限公司", credit_code=credit_code(7001)),
        "manufacturer": PartyInput(name_zh="某某制造有限公司", credit_code=credit_code(7002)),
        "category": "mask",
        "jurisdiction": "CN",
        "scheme": "CCC",
        "product_name": "KN95 respirator",
        "issue_date": ISSUE,
        "expiry_date": dt.date(2029, 3, 1),
        "test_reports": [TestReportInput(world.lab.code, "R-2026-001", dt.date(2026, 2, 1))],
    }
    data.update(overrides)
    return register_certificate(session, world.body.code, CertificateInput(**data), actor="op", now=now)
