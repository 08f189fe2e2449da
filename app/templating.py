"""Jinja helpers shared by every template."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from sqlalchemy import select

from app.database import get_session
from app.i18n import localized
from registry.models import Category
from registry.reference import provinces


def _categories() -> dict[str, Category]:
    if "categories" not in g:
        g.categories = {c.code: c for c in get_session().scalars(select(Category))}
    return g.categories  # type: ignore[no-any-return]


def category_name(code: str) -> str:
    category = _categories().get(code)
    return localized(category) if category is not None else code


def combine(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """``base`` with ``changes`` applied; used to build pager links that keep the filters."""
    return {**base, **changes}


def init_app(app: Flask) -> None:
    app.jinja_env.filters["category_name"] = category_name
    app.jinja_env.filters["combine"] = combine
    app.jinja_env.globals["province_names"] = provinces()
