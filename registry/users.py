"""Accounts: argon2id password hashes, roles, and a body for body operators."""

from __future__ import annotations

import contextlib
import datetime as dt

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit
from registry.errors import Conflict, InvalidInput
from registry.models import Body, Role, User

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
ROLES = {r.value for r in Role}
MIN_PASSWORD_LENGTH = 12
# Verified against when the user does not exist, so the response time does not reveal it.
_DUMMY_HASH = _hasher.hash("dummy password for timing")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    *,
    actor: str,
    now: dt.datetime,
    body_code: str | None = None,
) -> User:
    """Create an account; body operators must name their body."""
    username = username.strip()
    if not username:
        raise InvalidInput("a username is required", field="username")
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {sorted(ROLES)}", field="role")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    body_id = None
    if role == Role.BODY_OPERATOR.value:
        if not body_code:
            raise InvalidInput("a body operator must belong to a body", field="body")
        body_id = session.scalar(select(Body.id).where(Body.code == body_code))
        if body_id is None:
            raise InvalidInput(f"no body with code {body_code!r}", field="body")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists", field="username")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        body_id=body_id,
        is_active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    audit.record(
        session, now=now, actor=actor, action="user:create", subject_type="user",
        subject_key=username, before=None,
        # Only body operators belong to a body: a body named for any other role is not stored,
        # so the audit trail must not claim it either.
        after={"username": username, "role": role, "body": body_code if body_id is not None else None},
    )
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """Return the active user with these credentials, else None; rehash outdated hashes."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.is_active:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        return None
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
        session.flush()
    return user
