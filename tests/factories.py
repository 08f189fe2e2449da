"""Factories that build registry data through the real services (so audit events exist too)."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.orm import Session

from registry.authorizations import AuthorizationInput, grant_authorization
from registry.bodies import BodyInput, create_body
from registry.identifiers import USCC_ALPHABET, uscc_check_character
from registry.models import Authorization, Body, User
from registry.users import create_user

_counter = itertools.count(1)
PASSWORD = "correct horse battery staple"


def credit_code(seed: int) -> str:
    """A valid GB 32100 code derived from ``seed``."""
    # Base-31 digits of the seed, so distinct seeds (below 31**9) give distinct codes.
    body = "91" + "110000" + "".join(USCC_ALPHABET[(seed // 31**i) % 31] for i in range(9))
    return body + uscc_check_character(body)


def make_body(
    session: Session,
    now: dt.datetime,
    *,
    code: str | None = None,
    kind: str = "certification_body",
    name_zh: str | None = None,
    name_en: str | None = None,
    province: str | None = "11",
    identifiers: dict[str, str] | None = None,
) -> Body:
    n = next(_counter)
    return create_body(
        session,
        BodyInput(
            code=code or f"T-{n:05d}",
            kind=kind,
            name_zh=name_zh or f"测试认证中心{n}",
            name_en=name_en or f"Test Certification Centre {n}",
            credit_code=credit_code(n),
            province=province,
            identifiers=identifiers or {},
        ),
        actor="test",
        now=now,
    )


def grant(
    session: Session,
    now: dt.datetime,
    body: Body,
    *,
    category: str = "mask",
    jurisdiction: str = "CN",
    scheme: str = "CCC",
    valid_from: dt.date = dt.date(2020, 3, 1),
    valid_until: dt.date | None = dt.date(2030, 3, 1),
) -> Authorization:
    return grant_authorization(
        session,
        body.code,
        AuthorizationInput(
            jurisdiction=jurisdiction,
            scheme=scheme,
            category=category,
            valid_from=valid_from,
            valid_until=valid_until,
            standards="GB 2626-2019",
        ),
        actor="test",
        now=now,
        reason="designated by CNCA",
    )


def make_user(
    session: Session,
    now: dt.datetime,
    role: str = "admin",
    *,
    body: Body | None = None,
    username: str | None = None,
) -> User:
    return create_user(
        session,
        username or f"{role}-{next(_counter)}",
        PASSWORD,
        role,
        actor="test",
        now=now,
        body_code=body.code if body else None,
    )
