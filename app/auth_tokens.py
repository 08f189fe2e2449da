"""Who is calling a write route of the JSON API: a body's API token, or a signed-in user.

The pattern (every /api/v1 route is ``@public`` so that the OpenAPI test can see it; routes that
change data then decide here, inside the view, who may go on):

    @bp.post("/certificates")
    @public
    @json_write          # CSRF-exempt, but only JSON bodies (a cross-site form cannot send them)
    def register() -> ...:
        caller = current_caller()          # 401 problem+json without valid credentials
        body = caller.body_for(requested)  # 403 unless the caller acts for that body

``Authorization: Bearer ecr_...`` is looked up with :func:`registry.tokens.authenticate_token`;
a token acts for its own certification body only. Without a token, a signed-in ``admin`` acts for
any body and a ``body_operator`` for their own (``current_user.body_id``); other roles get 403.
A presented but unknown or revoked token is a 401 even when a session cookie is present too, so
a client learns at once that its token stopped working.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, g, request
from flask_login import current_user
from marshmallow import ValidationError
from werkzeug.exceptions import Forbidden, Unauthorized, UnsupportedMediaType

from app import clock
from app.database import get_session
from registry.bodies import get_body
from registry.models import ApiToken, Body, Role
from registry.tokens import authenticate_token

F = TypeVar("F", bound=Callable[..., Any])
BEARER = "bearer"
# Session roles that may write through the API; everyone else reads only.
WRITER_ROLES = (Role.ADMIN.value, Role.BODY_OPERATOR.value)


class TokenRequired(Unauthorized):
    """401 without credentials: problem+json with code ``unauthorized``."""

    description = "send an API token (Authorization: Bearer ecr_...) or sign in"

    def __init__(self) -> None:
        super().__init__(www_authenticate=None)

    def get_headers(self, environ: Any = None, scope: Any = None) -> list[tuple[str, str]]:
        return [*super().get_headers(environ, scope), ("WWW-Authenticate", 'Bearer realm="api"')]


class InvalidToken(TokenRequired):
    """401 for a token that is unknown, malformed or revoked: code ``invalid_token``."""

    name = "Invalid token"
    description = "the API token is unknown or revoked"

    def get_headers(self, environ: Any = None, scope: Any = None) -> list[tuple[str, str]]:
        headers = [h for h in Unauthorized.get_headers(self, environ, scope) if h[0] != "WWW-Authenticate"]
        return [*headers, ("WWW-Authenticate", 'Bearer realm="api", error="invalid_token"')]


class WrongBody(Forbidden):
    """403 for a caller acting on another body's records: code ``wrong_body``."""

    name = "Wrong body"


@dataclass(frozen=True)
class Caller:
    """An authenticated writer: ``body_id`` is None only for an admin (who acts for any body)."""

    actor: str
    body_id: int | None
    via: str  # "token" or "session"
    token: ApiToken | None = None

    @property
    def is_admin(self) -> bool:
        return self.via == "session" and self.body_id is None

    def may_act_for(self, body: Body) -> bool:
        return self.is_admin or self.body_id == body.id

    def check_body(self, body: Body) -> None:
        """Raise 403 unless the caller may change ``body``'s records."""
        if not self.may_act_for(body):
            raise WrongBody(f"this caller acts for its own body only, not for {body.code}")

    def body_for(self, code: str | None) -> Body:
        """The body a write applies to: ``code`` if given (checked), else the caller's own body."""
        session = get_session()
        if code:
            body = get_body(session, code)
            self.check_body(body)
            return body
        if self.body_id is None:
            raise ValidationError({"body": ["an administrator must name the body (its code)"]})
        found = session.get(Body, self.body_id)
        assert found is not None  # body_id is a foreign key
        return found


def bearer_secret() -> str | None:
    """The secret of an ``Authorization: Bearer`` header; None without the header.

    A header of another scheme, or a bearer header without a secret, is refused as an invalid token.
    """
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, secret = header.strip().partition(" ")
    if scheme.lower() != BEARER or not secret.strip():
        raise InvalidToken()
    return secret.strip()


def _token_caller(secret: str, now: dt.datetime) -> Caller:
    token = authenticate_token(get_session(), secret, now=now)
    if token is None:
        raise InvalidToken()
    return Caller(
        actor=f"api-token:{token.body.code}/{token.id}", body_id=token.body_id, via="token", token=token
    )


def current_caller() -> Caller:
    """The caller of a write route, or a 401/403 problem. Memoized for the request."""
    if "api_caller" in g:
        return g.api_caller  # type: ignore[no-any-return]
    secret = bearer_secret()
    if secret is not None:
        caller = _token_caller(secret, clock.now())
    elif not current_user.is_authenticated:
        raise TokenRequired()
    elif current_user.role not in WRITER_ROLES:
        raise Forbidden(f"the role {current_user.role} cannot change certificates")
    elif current_user.role == Role.ADMIN.value:
        caller = Caller(actor=current_user.username, body_id=None, via="session")
    else:
        if current_user.body_id is None:  # an operator account without a body acts for nobody
            raise Forbidden("this body operator account is not attached to a body")
        caller = Caller(actor=current_user.username, body_id=current_user.body_id, via="session")
    g.api_caller = caller
    return caller


def current_body_from_token() -> Body | None:
    """The certification body of the request's valid API token; None without a token (401 if bad)."""
    secret = bearer_secret()
    if secret is None:
        return None
    caller = _token_caller(secret, clock.now())
    assert caller.token is not None
    return caller.token.body


def json_write(view: F) -> F:
    """Wrap an API write route: exempt from the form CSRF check, and taking JSON bodies only (415).

    Cookies ride along on cross-site form posts, but a cross-site page cannot send
    ``Content-Type: application/json`` without a CORS preflight this app never grants, so
    requiring JSON closes the hole that exempting CSRF would open for session callers.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not request.is_json:
            raise UnsupportedMediaType("send the request body as application/json")
        return view(*args, **kwargs)

    wrapper.json_write = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def exempt_json_writes(bp: Blueprint) -> None:
    """Exempt the blueprint's ``@json_write`` views from CSRF when the app registers it.

    Call it after the routes are declared (the callback runs after them, in recording order).
    """

    def exempt(state: Any) -> None:
        csrf = state.app.extensions["csrf"]
        for endpoint, view in state.app.view_functions.items():
            if endpoint.startswith(f"{bp.name}.") and getattr(view, "json_write", False):
                csrf.exempt(view)

    bp.record_once(exempt)
