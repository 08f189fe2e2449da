"""The scan log: one row per verification (page, API, customs), whatever the verdict.

Rows are built on the hot path (:func:`scan_record`, no database work) and written in batches
(:func:`write_scans`, one multi-row INSERT): the web layer buffers them per process
(``app.scanlog``), so logging costs a verification almost nothing. A scan log row is an
observation, not a change of the registry, so it is not an audit event (and not in the
transparency log); misuse alerts raised from it are (``registry.alerts``).

Privacy: the client's address is kept only as a keyed hash (the key never leaves the server),
enough to tell one scanner from many; nothing else about the person is stored.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from registry.driver_sql import DriverInsert
from registry.oversight_models import ScanChannel, ScanEvent
from registry.seals import token_digest
from registry.verification import VerificationResult
from verify import cose
from verify import seal as vseal
from verify.claims import decode_claims
from verify.errors import SealError


class ScanRecord(NamedTuple):
    """One verification as the scan log keeps it: the columns of ``scan_event``, in its order.

    A named tuple, not a frozen dataclass: one is built on every scan, and a tuple is already
    the row the driver writes (a frozen dataclass sets each field through object.__setattr__)."""

    scanned_at: dt.datetime
    channel: str
    verdict: str
    detail: str = ""
    token_sha256: str | None = None
    kid: str | None = None
    certificate_id: int | None = None
    claimed_body: str | None = None
    claimed_number: str | None = None
    port: str = ""
    exporter_credit_code: str | None = None
    declared_hs_code: str | None = None
    declaration_outcome: str | None = None
    declaration: dict[str, Any] | None = None
    client_hash: str | None = None


def client_hash(secret: bytes, address: str | None) -> str | None:
    """Keyed SHA-256 of a client address (None without one); the key is derived from ``secret``."""
    if not address:
        return None
    return _client_hash(secret, address)


# The same scanners come back (a customs post, a phone): an HMAC through OpenSSL costs several
# times a cache lookup, on every scan.
@functools.lru_cache(maxsize=4096)
def _client_hash(secret: bytes, address: str) -> str:
    return hmac.digest(_client_key(secret), address.encode("utf-8", "replace"), "sha256").hex()


@functools.lru_cache(maxsize=8)
def _client_key(secret: bytes) -> bytes:
    return hashlib.sha256(b"scan-log client address\x00" + secret).digest()


def _names(scanned: object, result: VerificationResult) -> tuple[str | None, str | None, str | None]:
    """(token digest, body code, certificate number) a scanned text names.

    A genuine seal's claims are certain. Otherwise they are read WITHOUT trusting them, only to
    attribute a forged or unreadable seal in the log ("forgeries naming body X"), never for a
    verdict, which decodes claims only after the signature holds.
    """
    try:
        token = vseal.scanned_token(scanned)  # type: ignore[arg-type]  # any object: refused, not raised
        if result.claims is not None:  # genuine: the verification decoded this text already
            return token_digest(token), result.claims.body_code, result.claims.certificate_number
        data = vseal.token_to_bytes(token)  # strict: a token that decodes is canonical, any case
    except SealError:
        return None, None, None
    digest = token_digest(token)  # as registry.seals stores it, without encoding the bytes again
    try:
        claims = decode_claims(cose.parse_sign1(data).payload)
    except ValueError:  # cose format errors, claims that do not decode
        return digest, None, None
    return digest, claims.body_code[:40], claims.certificate_number[:64]


def scan_record(
    result: VerificationResult,
    scanned: object,
    *,
    channel: ScanChannel | str,
    now: dt.datetime,
    port: str = "",
    client: str | None = None,
    declaration: dict[str, Any] | None = None,
    declaration_outcome: str | None = None,
) -> ScanRecord:
    """The log row of one verification (``client`` is already hashed: :func:`client_hash`)."""
    digest, body, number = _names(scanned, result)
    exporter = (declaration or {}).get("exporter_credit_code")
    hs_code = (declaration or {}).get("hs_code")
    return ScanRecord(
        scanned_at=now.astimezone(dt.UTC),
        channel=str(channel),
        verdict=result.code,
        detail=result.detail[:64],
        token_sha256=digest,
        kid=result.kid,
        certificate_id=result.certificate.id if result.certificate is not None else None,
        claimed_body=body,
        claimed_number=number,
        port=port.strip()[:100],
        exporter_credit_code=str(exporter)[:18] if exporter else None,
        declared_hs_code=str(hs_code)[:10] if hs_code else None,
        declaration_outcome=declaration_outcome,
        declaration=declaration,
        client_hash=client,
    )


_COLUMNS = ScanRecord._fields  # every column but the id
# Every scan is written: through the driver's executemany (registry.driver_sql), not Core.
_INSERT = DriverInsert(ScanEvent.__table__, _COLUMNS)  # type: ignore[arg-type]


def write_scans(session: Session, records: Sequence[ScanRecord]) -> None:
    """Insert ``records`` in one executemany (the caller commits)."""
    _INSERT.insert(session, records)  # each record is its row
