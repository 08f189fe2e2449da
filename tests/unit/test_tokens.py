"""API tokens: shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from registry.errors import Conflict, InvalidInput, NotFound
from registry.models import ApiToken
from registry.tokens import authenticate_token, issue_token, revoke_token
from tests.factories import make_body


def test_issue_authenticate_revoke(session, now):
    body = make_body(session, now, code="CB-T")
    token, secret = issue_token(session, "CB-T", "ERP integration", actor="admin", now=now)
    stored = session.scalars(select(ApiToken)).one()
    assert secret not in (stored.secret_hash, stored.prefix)
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert authenticate_token(session, secret, now=now).body_id == body.id
    assert authenticate_token(session, secret + "x", now=now) is None
    assert authenticate_token(session, "nonsense", now=now) is None
    other = make_body(session, now, code="CB-U")
    with pytest.raises(NotFound):
        revoke_token(session, token.id, actor="op", now=now, body_id=other.id)
    revoke_token(session, token.id, actor="admin", now=now)
    assert authenticate_token(session, secret, now=now) is None
    with pytest.raises(Conflict):
        revoke_token(session, token.id, actor="admin", now=now)


def test_only_certification_bodies_get_tokens(session, now):
    make_body(session, now, code="LAB-T", kind="testing_lab")
    with pytest.raises(InvalidInput):
        issue_token(session, "LAB-T", "x", actor="admin", now=now)
    make_body(session, now, code="CB-V")
    with pytest.raises(InvalidInput):
        issue_token(session, "CB-V", " ", actor="admin", now=now)
