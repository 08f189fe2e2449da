"""Deny by default: every endpoint declares who may call it, or nobody can.

``@public`` opens a view to everyone; ``@roles("admin", ...)`` to signed-in users with one of
those roles. A view with neither is refused with 403 for everyone, and a test walks the URL
map to make sure no route is left undeclared.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"


def public(view: F) -> F:
    view.access = PUBLIC  # type: ignore[attr-defined]
    return view


def roles(*allowed: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        view.access = frozenset(allowed)  # type: ignore[attr-defined]
        return view

    return decorate


def access_of(view: Callable[..., Any]) -> Any:
    return getattr(view, "access", None)


def wants_json() -> bool:
    """API paths, and clients that prefer JSON over HTML, get problem+json."""
    if request.path.startswith(("/api/", "/.well-known/", "/log/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


def init_app(app: Flask) -> None:
    public(app.view_functions["static"])

    @app.before_request
    def enforce_access() -> Any:
        if request.endpoint is None:
            return None  # no route: let the 404 handler answer
        policy = access_of(app.view_functions[request.endpoint])
        if policy == PUBLIC:
            return None
        if policy is None:
            abort(403)
        if not current_user.is_authenticated:
            if wants_json():
                abort(401)
            return redirect(url_for("auth.login", next=request.full_path))
        if current_user.role not in policy:
            abort(403)
        return None
