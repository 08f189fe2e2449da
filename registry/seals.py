"""Seals on the registry side: issue them for certificates, re-issue them after a key change.

Verifying a scanned seal against the registry is ``registry.verification``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import audit, keystore
from registry.certificates import certificate_snapshot
from registry.errors import Conflict, InvalidInput
from registry.models import Certificate, CertificateStatus, Seal
from verify import seal as vseal
from verify.claims import Claims, record_digest
from verify.errors import SealError
from verify.keys import KeyRing

# --- issuing ----------------------------------------------------------------------------------------


def certificate_claims(certificate: Certificate, issued_at: dt.datetime) -> Claims:
    """The claims a seal of ``certificate`` carries, sealed at ``issued_at``."""
    try:
        return Claims(
            body_code=certificate.body.code,
            certificate_number=certificate.number,
            holder_credit_code=certificate.holder.credit_code,
            category=certificate.category,
            jurisdiction=certificate.jurisdiction,
            issue_date=certificate.issue_date,
            expiry_date=certificate.expiry_date,
            issued_at=issued_at,
            record_digest=record_digest(certificate_snapshot(certificate)),
        )
    except ValueError as exc:
        raise InvalidInput(f"certificate {certificate.number} cannot be sealed: {exc}") from exc


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a token's canonical (uppercase) text, as stored in ``seal.token_sha256``."""
    return hashlib.sha256(token.upper().encode("ascii")).hexdigest()


def issue_seal(
    session: Session,
    certificate: Certificate,
    *,
    now: dt.datetime,
    passphrase: bytes,
    actor: str = "registry",
) -> Seal:
    """Sign a seal for ``certificate`` with the active seal key and store it (audit "seal:issue").

    A withdrawn certificate gets no new seal. Sealing the same record twice in the same second
    with the same key yields the same token (Ed25519 is deterministic): the stored seal is returned.
    """
    return issue_seals(session, [certificate], now=now, passphrase=passphrase, actor=actor)[0]


def issue_seals(
    session: Session,
    certificates: Sequence[Certificate],
    *,
    now: dt.datetime,
    passphrase: bytes,
    actor: str = "registry",
) -> list[Seal]:
    """:func:`issue_seal` for many certificates (a bulk registration): the active key read once,
    the seals already stored looked up together, one flush and one audit append for the rest."""
    for certificate in certificates:
        if certificate.status == CertificateStatus.WITHDRAWN.value:
            raise Conflict(f"certificate {certificate.number} is withdrawn: it gets no new seal")
    entry = keystore.active_entry(session, "seal", passphrase)
    ring, kid = KeyRing([entry]), entry.kid.hex()
    signed: list[tuple[Certificate, Claims, str, str]] = []
    for certificate in certificates:
        claims = certificate_claims(certificate, now)
        try:
            token = vseal.token_from_bytes(vseal.sign_seal(claims, ring))
        except SealError as exc:  # sealed before the active key existed: a clock problem
            raise keystore.KeyStoreError(f"cannot seal at {now.isoformat()}: {exc.message}") from exc
        signed.append((certificate, claims, token, token_digest(token)))
    digests = [digest for _, _, _, digest in signed]
    stored: dict[str, Seal] = {}
    for start in range(0, len(digests), 500):
        found = session.scalars(select(Seal).where(Seal.token_sha256.in_(digests[start : start + 500])))
        stored.update((seal.token_sha256, seal) for seal in found)
    new: list[tuple[Seal, Claims]] = []
    for certificate, claims, token, digest in signed:
        if digest not in stored:
            stored[digest] = Seal(
                certificate=certificate, kid=kid, token=token, token_sha256=digest, issued_at=claims.issued_at
            )
            new.append((stored[digest], claims))
    session.add_all(seal for seal, _ in new)
    session.flush()
    changes = [
        audit.Change(
            "seal:issue", "certificate", f"{claims.body_code}/{claims.certificate_number}", None,
            {
                "seal_id": seal.id,
                "kid": kid,
                "token_sha256": seal.token_sha256,
                "issued_at": claims.issued_at,
                "record_digest": claims.record_digest.hex(),
            },
        )
        for seal, claims in new
    ]  # fmt: skip
    # Logged about the certificate, but no change of its record: its log_index stays the leaf of
    # its latest registration or status change. (Keeping it here would also update the
    # certificate's row after taking the log's head, where a status change takes the row first:
    # on PostgreSQL the two could deadlock.)
    audit.record_many(session, changes, now=now, actor=actor)
    return [stored[digest] for digest in digests]


def seal_url(host: str, token: str) -> str:
    """``HTTPS://HOST/V/TOKEN`` in uppercase (QR alphanumeric mode); ValueError for a bad host."""
    return vseal.seal_url(token, host)


def latest_seal(session: Session, certificate: Certificate) -> Seal | None:
    """The most recently issued seal of ``certificate``, or None."""
    return session.scalar(
        select(Seal)
        .where(Seal.certificate_id == certificate.id)
        .order_by(Seal.issued_at.desc(), Seal.id.desc())
        .limit(1)
    )


def reissue_seals(
    session: Session, kid: str, *, now: dt.datetime, passphrase: bytes, actor: str = "registry"
) -> list[Seal]:
    """New seals, under the active key, for every certificate (not withdrawn) whose latest seal
    was signed by key ``kid`` (either form: ``keystore.kid_hex``): the step after revoking or
    retiring a key."""
    kid = keystore.kid_hex(kid)
    certificates = session.scalars(
        select(Certificate).where(
            Certificate.status != CertificateStatus.WITHDRAWN.value,
            Certificate.id.in_(select(Seal.certificate_id).where(Seal.kid == kid)),
        ).order_by(Certificate.id)
    )
    return [
        issue_seal(session, certificate, now=now, passphrase=passphrase, actor=actor)
        for certificate in certificates
        if (latest := latest_seal(session, certificate)) is not None and latest.kid == kid
    ]
