"""Accounts (registry.users): argon2id hashes, authentication, and the rules of create_user."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import users
from registry.errors import Conflict, InvalidInput
from registry.models import AuditEvent, User
from registry.users import MIN_PASSWORD_LENGTH, authenticate, create_user, hash_password
from tests.factories import PASSWORD, make_body, make_user

PRODUCTION_HASHER = users._hasher


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with tiny costs: the production costs take ~0.1-0.5 s per hash."""
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def test_hashes_are_salted_argon2id_with_strong_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "_hasher", PRODUCTION_HASHER)
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("$argon2id$") and second.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert PASSWORD not in first
    assert PasswordHasher().verify(first, PASSWORD)
    # At least OWASP's argon2id minimum (19 MiB, 2 iterations).
    params = dict(part.split("=") for part in first.split("$")[3].split(","))
    assert int(params["m"]) >= 19 * 1024 and int(params["t"]) >= 2


def test_create_user_stores_a_hash_never_the_password(session: Session, now: dt.datetime) -> None:
    user = create_user(session, "  alice ", PASSWORD, "admin", actor="root", now=now)
    assert user.username == "alice"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert (user.role, user.body_id, user.is_active, user.created_at) == ("admin", None, True, now)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "user:create")).one()
    assert PASSWORD not in event.canonical and "argon2" not in event.canonical


def test_authenticate_with_the_right_password(session: Session, now: dt.datetime) -> None:
    user = make_user(session, now, username="bob")
    assert authenticate(session, "bob", PASSWORD) is user
    assert authenticate(session, " bob ", PASSWORD) is user


@pytest.mark.parametrize("password", ["", "correct horse battery stapl", PASSWORD.upper(), PASSWORD + " "])
def test_authenticate_with_a_wrong_password(session: Session, now: dt.datetime, password: str) -> None:
    make_user(session, now, username="carol")
    assert authenticate(session, "carol", password) is None


def test_authenticate_unknown_user(session: Session, now: dt.datetime) -> None:
    make_user(session, now, username="dave")
    assert authenticate(session, "nobody", PASSWORD) is None
    assert authenticate(session, "DAVE", PASSWORD) is None  # usernames are exact


def test_authenticate_inactive_user(session: Session, now: dt.datetime) -> None:
    user = make_user(session, now, username="erin")
    user.is_active = False
    session.flush()
    assert authenticate(session, "erin", PASSWORD) is None


def test_a_corrupt_stored_hash_fails_closed(session: Session, now: dt.datetime) -> None:
    user = make_user(session, now, username="frank")
    user.password_hash = "not an argon2 hash"
    session.flush()
    assert authenticate(session, "frank", PASSWORD) is None


def test_an_outdated_hash_is_upgraded_on_login(
    session: Session, now: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users, "_hasher", PRODUCTION_HASHER)
    user = make_user(session, now, username="grace")
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    user.password_hash = weak
    session.flush()
    assert authenticate(session, "grace", PASSWORD) is user
    assert user.password_hash != weak and user.password_hash.startswith("$argon2id$")
    assert not PasswordHasher().check_needs_rehash(user.password_hash)
    assert authenticate(session, "grace", PASSWORD) is user


def test_short_passwords_are_refused(session: Session, now: dt.datetime) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        create_user(session, "heidi", "x" * (MIN_PASSWORD_LENGTH - 1), "auditor", actor="root", now=now)
    assert excinfo.value.details["field"] == "password"
    assert session.scalar(select(User.id).where(User.username == "heidi")) is None
    # Exactly the minimum is enough; length counts characters, not bytes.
    assert create_user(session, "heidi", "密" * MIN_PASSWORD_LENGTH, "auditor", actor="root", now=now)


@pytest.mark.parametrize(
    ("username", "role", "field"), [("   ", "admin", "username"), ("ivan", "root", "role")]
)
def test_invalid_username_or_role(
    session: Session, now: dt.datetime, username: str, role: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        create_user(session, username, PASSWORD, role, actor="root", now=now)
    assert excinfo.value.details["field"] == field


def test_duplicate_username_is_a_conflict(session: Session, now: dt.datetime) -> None:
    make_user(session, now, username="judy")
    with pytest.raises(Conflict):
        create_user(session, " judy", PASSWORD, "customs", actor="root", now=now)


def test_a_body_operator_needs_an_existing_body(session: Session, now: dt.datetime) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        create_user(session, "op1", PASSWORD, "body_operator", actor="root", now=now)
    assert excinfo.value.details["field"] == "body"
    with pytest.raises(InvalidInput) as excinfo:
        create_user(session, "op1", PASSWORD, "body_operator", actor="root", now=now, body_code="NOPE")
    assert excinfo.value.details["field"] == "body"
    body = make_body(session, now)
    user = make_user(session, now, "body_operator", body=body, username="op1")
    assert user.body_id == body.id
    event = session.scalars(select(AuditEvent).where(AuditEvent.subject_key == "op1")).one()
    assert event.after == {"username": "op1", "role": "body_operator", "body": body.code}


def test_other_roles_belong_to_no_body_and_the_audit_says_so(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    user = create_user(session, "kim", PASSWORD, "customs", actor="root", now=now, body_code=body.code)
    assert user.body_id is None
    event = session.scalars(select(AuditEvent).where(AuditEvent.subject_key == "kim")).one()
    assert event.after == {"username": "kim", "role": "customs", "body": None}
