"""What the certificate API and pages share: register with seals, the list query, settings.

Everything here runs inside a request and only flushes; the request commits (or rolls back, for
any response >= 400) in ``app.database``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from flask import current_app, request
from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session, aliased
from werkzeug.exceptions import BadRequest, ServiceUnavailable

from app.signing import key_passphrase
from registry.certificates import CertificateInput, register_bulk, register_certificate
from registry.keystore import KeyStoreError
from registry.models import Body, Certificate, Organization, Seal
from registry.seals import issue_seals, seal_url
from verify.verdict import DEFAULT_GRACE_DAYS


class SigningUnavailable(ServiceUnavailable):
    """503: no usable seal key (none generated, or the passphrase is missing or wrong)."""

    name = "Signing unavailable"


def seal_passphrase() -> bytes:
    """The key passphrase from the environment, or a 503 naming the problem."""
    try:
        return key_passphrase(current_app)  # type: ignore[arg-type]
    except KeyStoreError as exc:
        raise SigningUnavailable(f"seals cannot be signed now: {exc.message}") from exc


def public_host() -> str:
    """The host printed in seal URLs: ``PUBLIC_HOST``, else the host this request came to.

    The Host header is the client's to choose, so one that cannot be printed in a seal URL
    (an underscore, an IPv6 literal) is a 400, not a 500.
    """
    host = str(current_app.config.get("PUBLIC_HOST") or request.host)
    try:
        seal_url(host, "A")
    except ValueError:
        raise BadRequest(f"{host[:100]!r} cannot be printed in a seal URL; set PUBLIC_HOST") from None
    return host


def seal_url_for(seal: Seal) -> str:
    """The URL the seal's QR code holds: ``HTTPS://PUBLIC_HOST/V/TOKEN``."""
    return seal_url(public_host(), seal.token)


def log_origin() -> str:
    """The transparency log's origin line (and note key name), resolved at start-up."""
    return str(current_app.config["LOG_ORIGIN"])


def grace_days() -> int:
    """Days a certificate stays a warning after its body's authorization ended."""
    return int(current_app.config.get("VERIFY_GRACE_DAYS") or DEFAULT_GRACE_DAYS)


def seal_all(session: Session, certificates: Sequence[Certificate], now: dt.datetime) -> list[Seal]:
    """Issue a seal for each certificate (all or nothing: a key problem is a 503 and rolls back)."""
    passphrase = seal_passphrase()
    try:
        return issue_seals(session, certificates, now=now, passphrase=passphrase)
    except KeyStoreError as exc:
        raise SigningUnavailable(f"seals cannot be signed now: {exc.message}") from exc


def register_with_seals(
    session: Session, body_code: str, items: list[CertificateInput], *, actor: str, now: dt.datetime
) -> list[tuple[Certificate, Seal]]:
    """Register one certificate (errors name fields) or a batch (errors name items), then seal each.

    One item goes through ``register_certificate`` so its errors read ``{"field", "problem"}``;
    a batch through ``register_bulk``, all or nothing, with ``{"index", "field", "problem"}``.
    """
    if len(items) == 1:
        certificates = [register_certificate(session, body_code, items[0], actor=actor, now=now)]
    else:
        certificates = register_bulk(session, body_code, items, actor=actor, now=now)
    return list(zip(certificates, seal_all(session, certificates, now), strict=True))


def latest_seals(session: Session, certificate_ids: Iterable[int]) -> dict[int, Seal]:
    """The newest seal of each certificate, in one query."""
    ids = list(certificate_ids)
    if not ids:
        return {}
    latest: dict[int, Seal] = {}
    for seal in session.scalars(
        select(Seal)
        .where(Seal.certificate_id.in_(ids))
        .order_by(Seal.certificate_id, Seal.issued_at, Seal.id)
    ):
        latest[seal.certificate_id] = seal  # ordered oldest first: the last one wins
    return latest


@dataclass(frozen=True)
class CertificateFilter:
    """Filters of the certificate lists (API and pages); None means "any"."""

    body_code: str | None = None
    body_id: int | None = None
    holder_credit_code: str | None = None
    category: str | None = None
    status: str | None = None


def _status_condition(status: str, today: dt.date) -> object:
    # "expired" is derived (see registry.certificates.status_on): withdrawn stays withdrawn.
    live = Certificate.expiry_date >= today
    if status == "expired":
        return and_(Certificate.status != "withdrawn", Certificate.expiry_date < today)
    if status == "withdrawn":
        return Certificate.status == "withdrawn"
    return and_(Certificate.status == status, live)


def _filtered(query: Select, filters: CertificateFilter, today: dt.date) -> Select:  # type: ignore[type-arg]
    if filters.body_code is not None:
        query = query.where(Body.code == filters.body_code)
    if filters.body_id is not None:
        query = query.where(Certificate.body_id == filters.body_id)
    if filters.holder_credit_code is not None:
        holder = aliased(Organization)
        query = query.join(holder, Certificate.holder_id == holder.id).where(
            holder.credit_code == filters.holder_credit_code.strip().upper()
        )
    if filters.category is not None:
        query = query.where(Certificate.category == filters.category)
    if filters.status is not None:
        query = query.where(_status_condition(filters.status, today))  # type: ignore[arg-type]
    return query


@dataclass(frozen=True)
class CertificatePage:
    items: list[Certificate]
    seals: dict[int, Seal]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def search_certificates(
    session: Session, filters: CertificateFilter, *, today: dt.date, page: int, per_page: int
) -> CertificatePage:
    """One page of certificates matching ``filters``, by body code then number, with their seals."""
    base = select(Certificate).join(Body, Certificate.body_id == Body.id)
    counted = _filtered(
        select(func.count(Certificate.id)).join(Body, Certificate.body_id == Body.id), filters, today
    )
    total = session.scalar(counted) or 0
    rows = list(
        session.scalars(
            _filtered(base, filters, today)
            .order_by(Body.code, Certificate.number)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).unique()
    )
    return CertificatePage(rows, latest_seals(session, (c.id for c in rows)), total, page, per_page)
