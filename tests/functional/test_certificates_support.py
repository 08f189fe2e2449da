"""Shared fixtures of the certificate and verification tests (imported by those modules).

The world: two certification bodies (CB-A, CB-B) authorized for masks in CN, a listed lab, the
seal and root keys, a user per role, API tokens of both bodies and a revoked one, and sealed
certificates. Everything goes through the real services, then is committed (to the test's
savepoint), so the app sees it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import keystore
from registry import users as users_service
from registry.certificates import CertificateInput, PartyInput, TestReportInput, register_certificate
from registry.models import AuditEvent, Certificate, Seal
from registry.seals import issue_seal
from registry.tokens import issue_token, revoke_token
from tests.conftest import login
from tests.factories import PASSWORD, credit_code, grant, make_body, make_user

PASSPHRASE = "test-only-passphrase-0123456789abcdef"
HOST = "VERIFY.EXAMPLE.CN"
ISSUE = dt.date(2026, 3, 1)
EXPIRY = dt.date(2029, 3, 1)
ROLES = ("admin", "op_a", "op_b", "customs", "auditor")
TOKENS = ("token_a", "token_b", "revoked")
PRINCIPALS = ("anonymous", *ROLES, *TOKENS)


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        users_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture(autouse=True)
def passphrase(monkeypatch: pytest.MonkeyPatch) -> bytes:
    monkeypatch.setenv("SEAL_KEY_PASSPHRASE", PASSPHRASE)
    monkeypatch.delenv("SEAL_KEY_PASSPHRASE_FILE", raising=False)
    return PASSPHRASE.encode()


@pytest.fixture
def app_config(app_config: dict[str, object]) -> dict[str, object]:
    return app_config | {"PUBLIC_HOST": HOST, "VERIFY_GRACE_DAYS": 90}


def certificate_input(number: str, **overrides: Any) -> CertificateInput:
    data: dict[str, Any] = {
        "number": number,
        "holder": PartyInput(
            name_zh="某某防护用品有限公司", name_en="Some Protective Co.", credit_code=credit_code(901)
        ),
        "manufacturer": PartyInput(name_zh="某某制造有限公司", credit_code=credit_code(902)),
        "category": "mask",
        "jurisdiction": "CN",
        "scheme": "CCC",
        "product_name": "KN95 respirator",
        "models": "KN95-01",
        "issue_date": ISSUE,
        "expiry_date": EXPIRY,
        "test_reports": [TestReportInput("LAB-1", "R-2026-001", dt.date(2026, 2, 1))],
    }
    data.update(overrides)
    return CertificateInput(**data)


def certificate_json(number: str, **overrides: Any) -> dict[str, Any]:
    """The API form of :func:`certificate_input`."""
    data: dict[str, Any] = {
        "number": number,
        "holder": {
            "name_zh": "某某防护用品有限公司",
            "name_en": "Some Protective Co.",
            "credit_code": credit_code(901),
        },
        "manufacturer": {"name_zh": "某某制造有限公司", "credit_code": credit_code(902)},
        "category": "mask",
        "scheme": "CCC",
        "product_name": "KN95 respirator",
        "issue_date": ISSUE.isoformat(),
        "expiry_date": EXPIRY.isoformat(),
        "test_reports": [{"lab_code": "LAB-1", "report_number": "R-2026-001", "report_date": "2026-02-01"}],
    }
    data.update(overrides)
    return data


def sealed(
    session: Session, now: dt.datetime, body_code: str, number: str, **overrides: Any
) -> tuple[Certificate, Seal]:
    certificate = register_certificate(
        session, body_code, certificate_input(number, **overrides), actor="test", now=now
    )
    return certificate, issue_seal(session, certificate, now=now, passphrase=PASSPHRASE.encode())


@dataclass
class World:
    clients: dict[str, FlaskClient]
    headers: dict[str, dict[str, str]]
    secrets: dict[str, str]
    certificate: Certificate
    seal: Seal
    extra: dict[str, Any] = field(default_factory=dict)

    def call(self, who: str, method: str, url: str, **kwargs: Any) -> Any:
        """A request as ``who`` (a signed-in client, or a bearer token on an anonymous client)."""
        client = self.clients.get(who, self.clients["anonymous"])
        headers = {**self.headers.get(who, {}), **kwargs.pop("headers", {})}
        return client.open(url, method=method, headers=headers, **kwargs)


def audit_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def certificate_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Certificate)) or 0


@pytest.fixture
def keys(session: Session, now: dt.datetime, passphrase: bytes) -> dict[str, str]:
    seal_key = keystore.generate_key(session, "seal", passphrase, actor="test", now=now)
    root_key = keystore.generate_key(session, "root", passphrase, actor="test", now=now)
    return {"seal": seal_key.kid, "root": root_key.kid}


@pytest.fixture
def world(app: Flask, session: Session, now: dt.datetime, keys: dict[str, str]) -> World:
    body_a = make_body(session, now, code="CB-A", name_zh="甲认证中心", name_en="Alpha Certification")
    body_b = make_body(session, now, code="CB-B", name_zh="乙认证中心", name_en="Beta Certification")
    lab = make_body(session, now, code="LAB-1", kind="testing_lab")
    for body in (body_a, body_b, lab):
        grant(session, now, body, category="mask", valid_from=dt.date(2020, 3, 1))
    users = {
        "admin": make_user(session, now, "admin"),
        "op_a": make_user(session, now, "body_operator", body=body_a),
        "op_b": make_user(session, now, "body_operator", body=body_b),
        "customs": make_user(session, now, "customs"),
        "auditor": make_user(session, now, "auditor"),
    }
    secrets = {
        "token_a": issue_token(session, "CB-A", "ERP", actor="test", now=now)[1],
        "token_b": issue_token(session, "CB-B", "ERP", actor="test", now=now)[1],
    }
    revoked, secrets["revoked"] = issue_token(session, "CB-A", "old", actor="test", now=now)
    revoke_token(session, revoked.id, actor="test", now=now)
    certificate, seal = sealed(session, now, "CB-A", "A-0001")
    session.commit()
    clients = {"anonymous": app.test_client()}
    for role, user in users.items():
        clients[role] = app.test_client()
        login(clients[role], user.username, PASSWORD)
    headers = {who: {"Authorization": f"Bearer {secret}"} for who, secret in secrets.items()}
    return World(clients, headers, secrets, certificate, seal)
