"""Settings, all read from the environment.

Nothing secret has a default: outside tests the service refuses to start without
``SECRET_KEY`` (or ``SECRET_KEY_FILE``). The embedded default database is a SQLite
file under ``instance/``; production sets ``DATABASE_URL=postgresql+psycopg://...``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from verify.checkpoint import is_valid_key_name

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
        # Submissions of the public complaint form, per client, on top of RATELIMIT_PUBLIC.
        "RATELIMIT_COMPLAINT": os.environ.get("RATELIMIT_COMPLAINT", "5 per hour"),
        "RATELIMIT_ENABLED": os.environ.get("RATELIMIT_ENABLED", "1") != "0",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "PAGE_SIZE_MAX": _int("PAGE_SIZE_MAX", 100),
        "IMPORT_DIR": str(INSTANCE_DIR / "imports"),
        # Results of bulk customs checks, kept for download (app.customs.results) for a day.
        "CUSTOMS_RESULTS_DIR": str(INSTANCE_DIR / "customs-results"),
        # Seal keys: the passphrase itself stays in the environment (SEAL_KEY_PASSPHRASE) or
        # in this secret file; registry.keystore.passphrase_from_env reads either.
        "SEAL_KEY_PASSPHRASE_FILE": os.environ.get("SEAL_KEY_PASSPHRASE_FILE") or None,
        # Host in seal URLs (HTTPS://HOST/V/TOKEN) and their QR codes.
        "PUBLIC_HOST": os.environ.get("PUBLIC_HOST", "127.0.0.1:5000"),
        # Days a certificate stays a warning after its body's authorization ended (IAF: 3 months).
        "VERIFY_GRACE_DAYS": _int("VERIFY_GRACE_DAYS", 90),
        # Scan log rows are written in batches of this many, or every this many seconds.
        "SCAN_LOG_BATCH": _int("SCAN_LOG_BATCH", 200),
        "SCAN_LOG_FLUSH_SECONDS": float(os.environ.get("SCAN_LOG_FLUSH_SECONDS", "1.0")),
        # Misuse alerts (registry.alerts): N distinct unrelated exporters declaring one certificate
        # within D days; one seal scanned at N distinct ports within H hours; N forged seals
        # naming one body within H hours. A withdrawn or revoked seal's scan alerts at once.
        "ALERT_SHARED_CERTIFICATE_EXPORTERS": _int("ALERT_SHARED_CERTIFICATE_EXPORTERS", 2),
        "ALERT_SHARED_CERTIFICATE_DAYS": _int("ALERT_SHARED_CERTIFICATE_DAYS", 30),
        "ALERT_BURST_PORTS": _int("ALERT_BURST_PORTS", 3),
        "ALERT_BURST_HOURS": _int("ALERT_BURST_HOURS", 6),
        "ALERT_FORGED_NAMING_BODY": _int("ALERT_FORGED_NAMING_BODY", 5),
        "ALERT_FORGED_HOURS": _int("ALERT_FORGED_HOURS", 24),
        # The transparency log's name: the origin line of its checkpoints and the name of its
        # note key. Empty means <PUBLIC_HOST>/registry-log, resolved by log_origin() at start-up
        # (after the app's overrides, so a test's PUBLIC_HOST counts).
        "LOG_ORIGIN": os.environ.get("LOG_ORIGIN", ""),
    }


def log_origin(settings: Mapping[str, Any]) -> str:
    """The log origin of ``settings``: ``LOG_ORIGIN``, else ``<PUBLIC_HOST>/registry-log``, else
    (no PUBLIC_HOST: seal URLs follow the request's Host) plain ``registry-log``.

    Raises :class:`ConfigError` unless it is a valid signed-note key name (no whitespace, no
    "+", no control character), since every checkpoint is signed under that name.
    """
    origin = str(settings.get("LOG_ORIGIN") or "").strip()
    if not origin:
        # Never the request's Host: the name is signed into every checkpoint and must not change.
        host = str(settings.get("PUBLIC_HOST") or "").strip()
        origin = f"{host}/registry-log" if host else "registry-log"
    # Checked here, not at the first signature: a bad name would make every checkpoint a 500.
    if not is_valid_key_name(origin) or not origin.isprintable():
        raise ConfigError(
            f"LOG_ORIGIN must be a signed-note key name (no spaces, no '+', no control characters), "
            f"got {origin!r}; set LOG_ORIGIN, e.g. registry.example.cn/registry-log"
        )
    return origin
