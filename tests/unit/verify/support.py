"""Helpers of the verification-core tests: fixed keys, a clock, typical claims, lines.

Nothing here touches the database: ``verify`` is framework-free and takes ``now`` explicitly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verify.authority import AuthorizationLine, StatusPeriod
from verify.claims import Claims, record_digest

NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
HOST = "VERIFY.EXAMPLE.CN"
BODY = "CNCA-R-2002-001"


def seeded_key(name: str) -> Ed25519PrivateKey:
    """A private key derived from ``name``: the same on every run."""
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"verify-test-key {name}".encode()).digest())


def make_claims(**changes: Any) -> Claims:
    """A typical certificate's claims, issued (sealed) one hour before NOW."""
    values: dict[str, Any] = {
        "body_code": BODY,
        "certificate_number": "CQC2026011234567",
        "holder_credit_code": "91110000600037341L",
        "category": "mask",
        "jurisdiction": "CN",
        "issue_date": dt.date(2026, 1, 12),
        "expiry_date": dt.date(2031, 1, 11),
        "issued_at": NOW - dt.timedelta(hours=1),
        "record_digest": record_digest({"number": "CQC2026011234567"}),
    }
    values.update(changes)
    return Claims(**values)


def active_line(category: str = "mask", jurisdiction: str = "CN", **changes: Any) -> AuthorizationLine:
    """An authorization line active since 2020 with no later change."""
    values: dict[str, Any] = {
        "category": category,
        "jurisdiction": jurisdiction,
        "scheme": "CCC",
        "valid_from": dt.date(2020, 1, 1),
        "valid_until": None,
        "periods": (StatusPeriod("active", dt.date(2020, 1, 1)),),
    }
    values.update(changes)
    return AuthorizationLine(**values)
