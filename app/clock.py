"""The one place the Flask layer reads the clock; tests override it with ``app.config['NOW']``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from flask import current_app


def now() -> dt.datetime:
    override: Callable[[], dt.datetime] | None = current_app.config.get("NOW")
    return override() if override else dt.datetime.now(dt.UTC)


def today() -> dt.date:
    """Today in China Standard Time, the registry's reference calendar."""
    return now().astimezone(dt.timezone(dt.timedelta(hours=8))).date()
