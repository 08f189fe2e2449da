"""Per-body API tokens: random, shown once, stored as SHA-256, revocable."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit
from registry.bodies import get_body
from registry.errors import Conflict, InvalidInput, NotFound
from registry.models import ApiToken, BodyKind

TOKEN_PREFIX = "ecr_"  # noqa: S105  (a public prefix, recognizable in logs and secret scanners)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_token(
    session: Session, body_code: str, name: str, *, actor: str, now: dt.datetime
) -> tuple[ApiToken, str]:
    """Create a token for a certification body; return the row and the secret (shown once)."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("a token name is required (at most 100 characters)", field="name")
    body = get_body(session, body_code)
    if body.kind != BodyKind.CERTIFICATION_BODY.value:
        raise InvalidInput(f"{body.code} is not a certification body", field="body")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        body=body,
        name=name,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        secret_hash=_digest(secret),
        created_at=now,
        created_by=actor,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="body:token:issue",
        subject_type="api_token",
        subject_key=f"{body.code}/{token.id}",
        before=None,
        after={"body": body.code, "name": name, "prefix": token.prefix},
    )
    return token, secret


def authenticate_token(session: Session, secret: str, *, now: dt.datetime) -> ApiToken | None:
    """The live token with this secret, else None. One indexed lookup on the digest."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    digest = _digest(secret)
    token = session.scalar(select(ApiToken).where(ApiToken.secret_hash == digest))
    # compare_digest: the index lookup already matched, this guards against collation surprises.
    if token is None or token.revoked_at is not None or not hmac.compare_digest(token.secret_hash, digest):
        return None
    token.last_used_at = now
    return token


def revoke_token(
    session: Session, token_id: int, *, actor: str, now: dt.datetime, body_id: int | None = None
) -> ApiToken:
    """Revoke a token; with ``body_id``, only a token of that body (operators revoke their own)."""
    token = session.get(ApiToken, token_id)
    if token is None or (body_id is not None and token.body_id != body_id):
        raise NotFound(f"no token {token_id}")
    if token.revoked_at is not None:
        raise Conflict("the token is already revoked")
    token.revoked_at = now
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="body:token:revoke",
        subject_type="api_token",
        subject_key=f"{token.body.code}/{token.id}",
        before={"revoked": False},
        after={"revoked": True},
    )
    return token
