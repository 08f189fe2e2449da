"""The trust bundle for offline scanners, built from the database and signed by the root key.

It holds what ``verify.offline`` needs to reach the server's verdict: every certification body
with its authorization lines and status periods (the same ``verify.authority`` records the
server's rule reads), the seal keys with their states and validity windows, and the ids of the
withdrawn and suspended certificates; optionally the ids of every registered certificate, which
lets the offline verifier say NOT_REGISTERED for seals older than the bundle.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from registry import keystore
from registry.models import AuditEvent, Authorization, Body, BodyKind, Certificate, CertificateStatus
from verify import bundle as vbundle
from verify.authority import AuthorizationLine, lines_from_rows

__all__ = ["build_trust_bundle", "bundle_sequence", "root_public_jwks"]

root_public_jwks = keystore.root_public_jwks
CertificateId = tuple[str, str]


def bundle_sequence(session: Session) -> int:
    """The default sequence number: the id of the latest audit event. Every change to what a
    bundle holds writes one, so a newer registry state never gets a smaller number."""
    return int(session.scalar(select(func.max(AuditEvent.id))) or 0)


def _bodies(session: Session) -> dict[str, tuple[AuthorizationLine, ...]]:
    rows = session.execute(
        select(Body.code, Authorization)
        .join(Authorization, Authorization.body_id == Body.id)
        .where(Body.kind == BodyKind.CERTIFICATION_BODY.value)
        .options(selectinload(Authorization.periods))
        .order_by(Body.code, Authorization.id)
    )
    grouped: dict[str, list[Authorization]] = defaultdict(list)
    for code, authorization in rows:
        grouped[code].append(authorization)
    return {code: lines_from_rows(lines) for code, lines in grouped.items()}


def _certificate_ids(session: Session, status: str | None) -> list[CertificateId]:
    query = select(Body.code, Certificate.number).join(Body, Certificate.body_id == Body.id)
    if status is not None:
        query = query.where(Certificate.status == status)
    return [(code, number) for code, number in session.execute(query)]


def build_trust_bundle(
    session: Session,
    *,
    now: dt.datetime,
    passphrase: bytes,
    sequence: int | None = None,
    valid_for: dt.timedelta = vbundle.DEFAULT_VALIDITY,
    include_registered: bool = False,
) -> bytes:
    """The signed bundle file (COSE_Sign1 by the active root key), issued at ``now``.

    ``sequence`` defaults to :func:`bundle_sequence`. With ``include_registered`` the bundle
    also lists every registered certificate (larger, but NOT_REGISTERED becomes decidable offline).
    Raises ``keystore.KeyStoreError`` without an active root key or with a wrong passphrase.
    """
    _, root_key = keystore.active_signer(session, "root", passphrase)
    bundle = vbundle.build_bundle(
        sequence=bundle_sequence(session) if sequence is None else sequence,
        now=now,
        bodies=_bodies(session),
        keys=keystore.load_ring(session, "seal"),
        withdrawn=_certificate_ids(session, CertificateStatus.WITHDRAWN.value),
        suspended=_certificate_ids(session, CertificateStatus.SUSPENDED.value),
        registered=_certificate_ids(session, None) if include_registered else None,
        valid_for=valid_for,
    )
    return vbundle.sign_bundle(bundle, root_key)
