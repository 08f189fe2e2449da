"""Verify scanned seals against the registry as it is at this moment.

Verification runs the very pipeline the offline verifier runs (``verify.verdict.verify_and_decide``
over ``verify.seal.verify_seal``); only the lookups differ: the key ring, the certificate's status
and expiry, and the body's authorization lines come from the database as they are now. So both
give the same verdict, except that only the server can say NOT_REGISTERED for sure (see
``verify.offline``).

This is the hot path of the service: every scan of every QR code lands here. So it reads plain
Core rows, never ORM objects, in one statement: the certificate with everything a verdict shows
(issuing body, holder, manufacturer), the timeline segments of the body's lines for the sealed
category and jurisdiction, and the key ring's stamp. The seal is checked first with the ring
cached for this database; the verdict stands only if that ring's stamp is the one the statement
read, otherwise the keys are read again and the seal checked again (see ``registry.keystore``).
A batch makes three statements for all its items (keys, certificates, segments).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session, aliased

from registry import keystore
from registry.bodies import registry_today
from registry.db import Reader
from registry.driver_sql import DriverRead
from registry.errors import InvalidInput
from registry.models import (
    AuthorizationTimeline,
    Body,
    Certificate,
    CertificateStatus,
    Organization,
)
from verify import seal as vseal
from verify.authority import AuthorizationFacts, AuthorizationLine, StatusPeriod, authorization_facts
from verify.claims import Claims
from verify.errors import AlgorithmNotAllowed, BadSignature, MalformedSeal, SealError
from verify.keys import KeyRing
from verify.verdict import DEFAULT_GRACE_DAYS, CertificateState, Severity, Verdict, verify_and_decide

MAX_BATCH = 1000
_CHUNK = 500  # IN-list size: well under SQLite's and PostgreSQL's parameter limits
_NOT_AUTHORIZED = AuthorizationFacts(authorized_on_issue_date=False)
# Failures no change of the key ring can turn into a genuine seal (the key id is a hash of the
# key, so a found key is the same key in any ring): unknown, revoked and expired keys are not.
_WHATEVER_THE_KEYS = (MalformedSeal, BadSignature, AlgorithmNotAllowed)
# The first bytes of every seal we sign: array(4), bstr(13) protected {1: -8, 4: bstr(8) kid}.
_OUR_PREFIX = b"\x84\x4d\xa2\x01\x27\x04\x48"

CertificateKey = tuple[str, str]
ScopeKey = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class Party:
    """An organization as a verdict shows it (``localized()`` reads name_zh / name_en).

    ``code`` is the body code for an issuing body, empty for a holder or manufacturer.
    """

    name_zh: str
    name_en: str
    credit_code: str | None
    country: str
    code: str = ""


@dataclass(frozen=True, slots=True)
class VerifiedCertificate:
    """The registry's record of a sealed certificate, as a verdict shows it (read-only facts)."""

    id: int
    body_id: int
    number: str
    body: Party
    holder: Party
    manufacturer: Party
    category: str
    jurisdiction: str
    scheme: str
    product_name: str
    models: str
    standards: str
    issue_date: dt.date
    expiry_date: dt.date
    status: str
    # The transparency log's leaf of the certificate's latest change (Certificate.log_index).
    log_index: int | None = None

    def status_on(self, day: dt.date) -> str:
        """valid / suspended / withdrawn as stored, or expired once ``day`` is past the expiry
        (the rule of ``registry.certificates.status_on``, which takes the ORM object)."""
        if self.status != CertificateStatus.WITHDRAWN.value and day > self.expiry_date:
            return CertificateStatus.EXPIRED.value
        return self.status


@dataclass(frozen=True)
class VerificationResult:
    """The answer to one scanned seal.

    ``code`` is a stable ``verify.verdict.VerdictCode`` value; ``is_warning`` is True only for
    BODY_AUTHORIZATION_ENDED within its grace period (still acceptable, shown as a warning).
    ``claims`` are None when the seal cannot be believed (FORGED, KEY_REVOKED); ``certificate``
    is the registry's record when the seal is genuine and the certificate is registered.
    """

    code: str
    severity: str
    reason_zh: str
    reason_en: str
    is_warning: bool
    detail: str
    certificate: VerifiedCertificate | None
    claims: Claims | None
    kid: str | None
    effective_date: dt.date | None
    grace_until: dt.date | None
    verdict: Verdict

    @property
    def is_valid(self) -> bool:
        """True for VALID and for a BODY_AUTHORIZATION_ENDED warning within its grace period."""
        return self.verdict.is_valid


@dataclass
class _Scan:
    """One item of a batch between the signature check and the decision."""

    outcome: Claims | SealError
    kid: bytes | None


def _check_signature(scanned: object, ring: KeyRing, now: dt.datetime) -> _Scan:
    try:
        data = vseal.parse_scanned(scanned)  # type: ignore[arg-type]  # any object: refused, not raised
        claims = vseal.verify_seal(data, ring, now)
    except SealError as error:
        return _Scan(error, error.kid)
    start = 1 if data[:1] == b"\xd2" else 0  # tag 18 is accepted on input
    kid = data[start + 7 : start + 15] if data[start : start + 7] == _OUR_PREFIX else None
    return _Scan(claims, kid)


def chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[list[Any]]:
    """``values`` in lists of at most ``size``: IN lists under every parameter limit."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


# Statements built once (building a SELECT costs more than running these); IN lists expand.
_T = AuthorizationTimeline
_BODY_ORG, _HOLDER, _MAKER = (aliased(Organization) for _ in range(3))
_PARTY_COLUMNS = [
    column
    for org in (_BODY_ORG, _HOLDER, _MAKER)
    for column in (org.name_zh, org.name_en, org.credit_code, org.country)
]
_CERTIFICATE_COLUMNS = (
    Certificate.id, Certificate.body_id, Body.code, Certificate.number, *_PARTY_COLUMNS,
    Certificate.category, Certificate.jurisdiction, Certificate.scheme, Certificate.product_name,
    Certificate.models, Certificate.standards, Certificate.issue_date, Certificate.expiry_date,
    Certificate.status, Certificate.log_index,
)  # fmt: skip
_WIDTH = len(_CERTIFICATE_COLUMNS)
_CERTIFICATE_BASE = (
    select(*_CERTIFICATE_COLUMNS)
    .join(Body, Certificate.body_id == Body.id)
    .join(_BODY_ORG, Body.organization_id == _BODY_ORG.id)
    .join(_HOLDER, Certificate.holder_id == _HOLDER.id)
    .join(_MAKER, Certificate.manufacturer_id == _MAKER.id)
)
# One seal, one round trip: the certificate with the timeline segments of its body's lines for
# the sealed category and jurisdiction (as claimed, exactly as the offline verifier reads them),
# and the key ring's stamp as of the same statement.
_ONE_CERTIFICATE = (
    _CERTIFICATE_BASE.add_columns(_T.authorization_id, _T.status, _T.starts, _T.ends, keystore.KEY_RING_STAMP)
    .outerjoin(
        _T,
        and_(
            _T.body_id == Certificate.body_id,
            _T.category == bindparam("category"),
            _T.jurisdiction == bindparam("jurisdiction"),
        ),
    )
    .where(Body.code == bindparam("code"), Certificate.number == bindparam("number"))
)
_ONE_CERTIFICATE_READ = DriverRead(_ONE_CERTIFICATE)  # every scan runs it: the driver's cursor
_CERTIFICATES = _CERTIFICATE_BASE.where(
    Body.code.in_(bindparam("codes", expanding=True)),
    Certificate.number.in_(bindparam("numbers", expanding=True)),
)
SEGMENTS = select(
    _T.authorization_id, _T.body_id, _T.category, _T.jurisdiction, _T.status, _T.starts, _T.ends
).where(
    _T.body_id.in_(bindparam("body_ids", expanding=True)),
    _T.category.in_(bindparam("categories", expanding=True)),
)

Segment = tuple[int, ScopeKey, dt.date, dt.date | None, str]  # authorization id, scope, starts, ends, status
Certificates = dict[CertificateKey, VerifiedCertificate]
Lines = dict[ScopeKey, tuple[AuthorizationLine, ...]]


def _certificate(row: Sequence[Any]) -> VerifiedCertificate:
    """A VerifiedCertificate from the first ``_WIDTH`` columns of a row of the statements above."""
    (cid, body_id, code, number, *parties), rest = row[:16], row[16:_WIDTH]
    body, holder, maker = (parties[i : i + 4] for i in (0, 4, 8))
    category, jurisdiction, scheme, product, models, standards, issued, expires, status, log_index = rest
    return VerifiedCertificate(
        id=cid,
        body_id=body_id,
        number=number,
        body=Party(body[0], body[1] or "", body[2], body[3], code),
        holder=Party(holder[0], holder[1] or "", holder[2], holder[3]),
        manufacturer=Party(maker[0], maker[1] or "", maker[2], maker[3]),
        category=category,
        jurisdiction=jurisdiction,
        scheme=scheme,
        product_name=product,
        models=models or "",
        standards=standards or "",
        issue_date=issued,
        expiry_date=expires,
        status=status,
        log_index=log_index,
    )


def lines_from_segments(segments: Iterable[Segment]) -> Lines:
    """Scope lines rebuilt from their timeline segments.

    A line's timeline holds its displayed status over time (``registry.timeline``, derived from
    its validity window and status periods by the rule ``verify.authority`` applies), so a line
    made of its segments answers ``status_on`` exactly as the line itself would.
    """
    parts: dict[int, list[tuple[dt.date, dt.date | None, str]]] = defaultdict(list)
    scope_of: dict[int, ScopeKey] = {}
    for authorization_id, scope, starts, ends, status in segments:
        scope_of[authorization_id] = scope
        parts[authorization_id].append((starts, ends, status))
    lines: dict[ScopeKey, list[AuthorizationLine]] = defaultdict(list)
    for authorization_id, pieces in parts.items():
        pieces.sort()
        scope = scope_of[authorization_id]
        lines[scope].append(
            AuthorizationLine(
                category=scope[1],
                jurisdiction=scope[2],
                scheme="",
                valid_from=pieces[0][0],
                valid_until=None,  # expiry is already a segment of the timeline
                periods=tuple(StatusPeriod(status, starts, ends) for starts, ends, status in pieces),
            )
        )
    return {scope: tuple(found) for scope, found in lines.items()}


def _lookup_one(session: Reader, claims: Claims) -> tuple[Certificates, Lines, str | None]:
    """The certificate named by ``claims``, its body's lines and the key ring's stamp (None when
    no such certificate), in one query."""
    params = {
        "code": claims.body_code,
        "number": claims.certificate_number,
        "category": claims.category,
        "jurisdiction": claims.jurisdiction,
    }
    certificates: Certificates = {}
    segments: list[Segment] = []
    stamp = None
    for row in _ONE_CERTIFICATE_READ.rows(session, params):
        if not certificates:
            certificates[claims.certificate_key] = _certificate(row)
        authorization_id, status, starts, ends, stamp = row[_WIDTH:]
        if authorization_id is not None:
            scope = (row[1], claims.category, claims.jurisdiction)  # the certificate's body_id
            segments.append((authorization_id, scope, starts, ends, status))
    return certificates, lines_from_segments(segments), stamp


def _lookup_many(session: Session, genuine: list[Claims]) -> tuple[Certificates, Lines]:
    """The certificates named by many seals, then their bodies' lines: two queries (per 500)."""
    keys = {claims.certificate_key for claims in genuine}
    connection = session.connection()
    certificates: Certificates = {}
    codes = sorted({code for code, _ in keys})
    numbers = sorted({number for _, number in keys})
    for code_chunk in chunks(codes):
        for number_chunk in chunks(numbers):
            for row in connection.execute(_CERTIFICATES, {"codes": code_chunk, "numbers": number_chunk}):
                if (row.code, row.number) in keys:
                    certificates[(row.code, row.number)] = _certificate(row)
    scopes = {
        (certificates[c.certificate_key].body_id, c.category, c.jurisdiction)
        for c in genuine
        if c.certificate_key in certificates
    }
    segments: list[Segment] = []
    body_ids = sorted({body_id for body_id, _, _ in scopes})
    categories = sorted({category for _, category, _ in scopes})
    for chunk in chunks(body_ids) if scopes else ():
        rows = connection.execute(SEGMENTS, {"body_ids": chunk, "categories": categories})
        for authorization_id, body_id, category, jurisdiction, status, starts, ends in rows:
            if (body_id, category, jurisdiction) in scopes:
                segments.append((authorization_id, (body_id, category, jurisdiction), starts, ends, status))
    return certificates, lines_from_segments(segments)


def _result(
    verdict: Verdict, certificate: VerifiedCertificate | None, kid: bytes | None
) -> VerificationResult:
    return VerificationResult(
        code=verdict.code.value,
        severity=verdict.severity.value,
        reason_zh=verdict.reason_zh,
        reason_en=verdict.reason_en,
        is_warning=verdict.severity is Severity.WARNING,
        detail=verdict.detail,
        certificate=certificate,
        claims=verdict.claims,
        kid=None if kid is None else kid.hex(),
        effective_date=verdict.effective_date,
        grace_until=verdict.grace_until,
        verdict=verdict,
    )


def _decide(
    scans: list[_Scan], certificates: Certificates, lines: Lines, *, now: dt.datetime, grace_days: int
) -> list[VerificationResult]:
    today = registry_today(now)

    def certificate_state(claims: Claims) -> CertificateState | None:
        found = certificates.get(claims.certificate_key)
        # The stored status, not status_on(): expiry is decided by verify.verdict, after
        # suspension, exactly as the offline verifier (which knows only the lists) does.
        return None if found is None else CertificateState(found.status, found.expiry_date)

    def facts(claims: Claims, day: dt.date) -> AuthorizationFacts:
        found = certificates.get(claims.certificate_key)
        if found is None:
            return _NOT_AUTHORIZED  # unused: NOT_REGISTERED is decided first
        scope = (found.body_id, claims.category, claims.jurisdiction)
        return authorization_facts(lines.get(scope, ()), claims.category, claims.jurisdiction,
                                   claims.issue_date, day)

    results = []
    for scan in scans:
        outcome = scan.outcome

        def outcome_or_raise(outcome: Claims | SealError = outcome) -> Claims:
            if isinstance(outcome, SealError):
                raise outcome
            return outcome

        verdict = verify_and_decide(
            outcome_or_raise, certificate_state, facts, now=now, grace_days=grace_days, today=today
        )
        certificate = certificates.get(verdict.claims.certificate_key) if verdict.claims else None
        results.append(_result(verdict, certificate, scan.kid))
    return results


def verify_scanned(
    session: Reader, scanned: str, *, now: dt.datetime, grace_days: int = DEFAULT_GRACE_DAYS
) -> VerificationResult:
    """The verdict for a scanned or typed seal URL, or a bare token, against the registry now.

    Any input yields a verdict (FORGED for anything that is not a genuine seal), never an
    exception. ``session`` may be a bare Connection: the seal page and the API's single check
    pass one, since a Session's bookkeeping would cost more than the lookup. The cached key
    ring counts only under the stamp read in the same statement as the certificate, so a key
    revoked and committed by another process is refused by the very next verification. Input
    that no key ring could make genuine (unreadable, a bad signature, a refused algorithm) is
    FORGED without a query: garbage costs the database nothing.
    """
    stamp, ring = keystore.cached_ring(session, "seal")
    scan = _check_signature(scanned, ring, now)
    if isinstance(scan.outcome, _WHATEVER_THE_KEYS):
        return _decide([scan], {}, {}, now=now, grace_days=grace_days)[0]
    if stamp is not None and isinstance(scan.outcome, Claims):
        certificates, lines, current = _lookup_one(session, scan.outcome)
        if current == stamp:  # the ring that verified the seal is the ring as of this statement
            return _decide([scan], certificates, lines, now=now, grace_days=grace_days)[0]
    # No ring read yet, a seal the cached ring refuses, no such certificate, or the keys changed:
    # read the keys as they are now and decide on them.
    _, ring = keystore.stamped_ring(session, "seal")
    scan = _check_signature(scanned, ring, now)
    certificates, lines = {}, {}
    if isinstance(scan.outcome, Claims):
        certificates, lines, _ = _lookup_one(session, scan.outcome)
    return _decide([scan], certificates, lines, now=now, grace_days=grace_days)[0]


def verify_many(
    session: Session,
    scanned_items: list[str],
    *,
    now: dt.datetime,
    grace_days: int = DEFAULT_GRACE_DAYS,
) -> list[VerificationResult]:
    """Verdicts for up to :data:`MAX_BATCH` scanned items, in order, with three queries for the
    whole batch. More items are refused with InvalidInput naming the limit."""
    if len(scanned_items) > MAX_BATCH:
        raise InvalidInput(
            f"at most {MAX_BATCH} seals per batch, got {len(scanned_items)}", limit=MAX_BATCH
        )
    ring = keystore.load_ring(session, "seal")
    scans = [_check_signature(item, ring, now) for item in scanned_items]
    genuine = [scan.outcome for scan in scans if isinstance(scan.outcome, Claims)]
    certificates, lines = _lookup_many(session, genuine) if genuine else ({}, {})
    return _decide(scans, certificates, lines, now=now, grace_days=grace_days)
