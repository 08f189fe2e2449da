"""Settings, all read from the environment.

Nothing secret has a default: outside tests the service refuses to start without
``SECRET_KEY`` (or ``SECRET_KEY_FILE``). The embedded default database is a SQLite
file under ``instance/``; production sets ``DATABASE_URL=postgresql+psycopg://...``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_DIR", BASE_DIR / "instance"))


class ConfigError(RuntimeError):
    """Raised when a required setting is missing or malformed."""


def _read_secret(name: str) -> str | None:
    """Return ``NAME`` from the environment, or the content of the file named by ``NAME_FILE``."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return None


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'registry.sqlite3'}"


def from_environment() -> dict[str, Any]:
    """Build the Flask config mapping from environment variables."""
    return {
        "SECRET_KEY": _read_secret("SECRET_KEY"),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or default_database_url(),
        # Uploads (official spreadsheet imports) are refused above this size with a 413.
        "MAX_CONTENT_LENGTH": _int("MAX_UPLOAD_BYTES", 5 * 1024 * 1024),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_PUBLIC": os.environ.get("RATELIMIT_PUBLIC", "300 per minute"),
        "RATELIMIT_LOGIN": os.environ.get("RATELIMIT_LOGIN", "10 per minute"),
        "RATELIMIT_ENABLED": os.environ.get("RATELIMIT_ENABLED", "1") != "0",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "PAGE_SIZE_MAX": _int("PAGE_SIZE_MAX", 100),
        "IMPORT_DIR": str(INSTANCE_DIR / "imports"),
        # Seal keys: the passphrase itself stays in the environment (SEAL_KEY_PASSPHRASE) or
        # in this secret file; registry.keystore.passphrase_from_env reads either.
        "SEAL_KEY_PASSPHRASE_FILE": os.environ.get("SEAL_KEY_PASSPHRASE_FILE") or None,
        # Host in seal URLs (HTTPS://HOST/V/TOKEN) and their QR codes.
        "PUBLIC_HOST": os.environ.get("PUBLIC_HOST", "127.0.0.1:5000"),
        # Days a certificate stays a warning after its body's authorization ended (IAF: 3 months).
        "VERIFY_GRACE_DAYS": _int("VERIFY_GRACE_DAYS", 90),
    }
