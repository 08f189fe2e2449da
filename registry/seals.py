"""Seals on the registry side: issue them for certificates, and verify scanned ones against the DB.

Verification runs the very pipeline the offline verifier runs (``verify.verdict.verify_and_decide``
over ``verify.seal.verify_seal``); only the lookups differ: the key ring, the certificate's status
and expiry, and the body's authorization lines come from the database as they are at this moment.
So both give the same verdict, except that only the server can say NOT_REGISTERED for sure
(see ``verify.offline``).

The hot path is two small indexed queries: the key rows, and the certificate with its body and
the timeline segments of the body's lines for the sealed category and jurisdiction. A batch makes
three for all its items (keys, certificates, segments). The holder, manufacturer and test
reports of a returned certificate load when first accessed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, select
from sqlalchemy.orm import Session, lazyload

from registry import audit, keystore
from registry.bodies import registry_today
from registry.certificates import certificate_snapshot
from registry.errors import Conflict, InvalidInput
from registry.models import AuthorizationTimeline, Body, Certificate, CertificateStatus, Seal
from verify import seal as vseal
from verify.authority import AuthorizationFacts, AuthorizationLine, StatusPeriod, authorization_facts
from verify.claims import Claims, record_digest
from verify.errors import SealError
from verify.keys import KeyRing
from verify.verdict import DEFAULT_GRACE_DAYS, CertificateState, Severity, Verdict, verify_and_decide

MAX_BATCH = 1000
_CHUNK = 500  # IN-list size: well under SQLite's and PostgreSQL's parameter limits
_NOT_AUTHORIZED = AuthorizationFacts(authorized_on_issue_date=False)
# The first bytes of every seal we sign: array(4), bstr(13) protected {1: -8, 4: bstr(8) kid}.
_OUR_PREFIX = b"\x84\x4d\xa2\x01\x27\x04\x48"

CertificateKey = tuple[str, str]
ScopeKey = tuple[int, str, str]


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
    certificate: Certificate | None
    claims: Claims | None
    kid: str | None
    effective_date: dt.date | None
    grace_until: dt.date | None
    verdict: Verdict

    @property
    def is_valid(self) -> bool:
        """True for VALID and for a BODY_AUTHORIZATION_ENDED warning within its grace period."""
        return self.verdict.is_valid


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
    if certificate.status == CertificateStatus.WITHDRAWN.value:
        raise Conflict(f"certificate {certificate.number} is withdrawn: it gets no new seal")
    claims = certificate_claims(certificate, now)
    entry = keystore.active_entry(session, "seal", passphrase)
    try:
        token = vseal.token_from_bytes(vseal.sign_seal(claims, KeyRing([entry])))
    except SealError as exc:  # sealed before the active key existed: a clock problem
        raise keystore.KeyStoreError(f"cannot seal at {now.isoformat()}: {exc.message}") from exc
    digest = token_digest(token)
    existing = session.scalar(select(Seal).where(Seal.token_sha256 == digest))
    if existing is not None:
        return existing
    kid = entry.kid.hex()
    sealed = Seal(
        certificate=certificate, kid=kid, token=token, token_sha256=digest, issued_at=claims.issued_at
    )
    session.add(sealed)
    session.flush()
    audit.record(
        session, now=now, actor=actor, action="seal:issue", subject_type="certificate",
        subject_key=f"{claims.body_code}/{claims.certificate_number}", before=None,
        after={
            "seal_id": sealed.id,
            "kid": kid,
            "token_sha256": digest,
            "issued_at": claims.issued_at,
            "record_digest": claims.record_digest.hex(),
        },
    )
    return sealed


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
    was signed by key ``kid``: the step after revoking or retiring a key."""
    certificates = session.scalars(
        select(Certificate).where(
            Certificate.status != CertificateStatus.WITHDRAWN.value,
            Certificate.id.in_(select(Seal.certificate_id).where(Seal.kid == kid.strip().lower())),
        ).order_by(Certificate.id)
    )
    return [
        issue_seal(session, certificate, now=now, passphrase=passphrase, actor=actor)
        for certificate in certificates
        if (latest := latest_seal(session, certificate)) is not None and latest.kid == kid.strip().lower()
    ]


# --- verifying ----------------------------------------------------------------------------------------


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


def _chunks(values: Sequence[str] | Sequence[int], size: int = _CHUNK) -> Iterable[list]:  # type: ignore[type-arg]
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


# Statements built once (building a SELECT costs more than running these); IN lists expand.
# Only the certificate and its body are built as objects: the holder, manufacturer and reports
# load on access, so a verdict that never shows them does not pay for them.
_T = AuthorizationTimeline
_CERTIFICATE_BASE = (
    select(Certificate, Body).join(Body, Certificate.body_id == Body.id).options(lazyload("*"))
)
# One seal, one round trip: the certificate with the timeline segments of its body's lines for
# the sealed category and jurisdiction (as claimed, exactly as the offline verifier reads them).
_ONE_CERTIFICATE = (
    _CERTIFICATE_BASE.add_columns(_T.authorization_id, _T.status, _T.starts, _T.ends)
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
_CERTIFICATES = _CERTIFICATE_BASE.where(
    Body.code.in_(bindparam("codes", expanding=True)),
    Certificate.number.in_(bindparam("numbers", expanding=True)),
)
_SEGMENTS = select(
    _T.authorization_id, _T.body_id, _T.category, _T.jurisdiction, _T.status, _T.starts, _T.ends
).where(
    _T.body_id.in_(bindparam("body_ids", expanding=True)),
    _T.category.in_(bindparam("categories", expanding=True)),
)

Segment = tuple[int, ScopeKey, dt.date, dt.date | None, str]  # authorization id, scope, starts, ends, status
Certificates = dict[CertificateKey, Certificate]
Lines = dict[ScopeKey, tuple[AuthorizationLine, ...]]


def _lines_from_segments(segments: Iterable[Segment]) -> Lines:
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


def _lookup_one(session: Session, claims: Claims) -> tuple[Certificates, Lines]:
    """The certificate named by ``claims`` and its body's lines, in one query."""
    params = {
        "code": claims.body_code,
        "number": claims.certificate_number,
        "category": claims.category,
        "jurisdiction": claims.jurisdiction,
    }
    certificates: Certificates = {}
    segments: list[Segment] = []
    for certificate, _, authorization_id, status, starts, ends in session.execute(_ONE_CERTIFICATE, params):
        certificates[claims.certificate_key] = certificate
        if authorization_id is not None:
            scope = (certificate.body_id, claims.category, claims.jurisdiction)
            segments.append((authorization_id, scope, starts, ends, status))
    return certificates, _lines_from_segments(segments)


def _lookup_many(session: Session, genuine: list[Claims]) -> tuple[Certificates, Lines]:
    """The certificates named by many seals, then their bodies' lines: two queries (per 500)."""
    keys = {claims.certificate_key for claims in genuine}
    certificates: Certificates = {}
    codes = sorted({code for code, _ in keys})
    numbers = sorted({number for _, number in keys})
    for code_chunk in _chunks(codes):
        for number_chunk in _chunks(numbers):
            params = {"codes": code_chunk, "numbers": number_chunk}
            for certificate, body in session.execute(_CERTIFICATES, params):
                if (body.code, certificate.number) in keys:
                    certificates[(body.code, certificate.number)] = certificate
    scopes = {
        (certificates[c.certificate_key].body_id, c.category, c.jurisdiction)
        for c in genuine
        if c.certificate_key in certificates
    }
    segments: list[Segment] = []
    body_ids = sorted({body_id for body_id, _, _ in scopes})
    categories = sorted({category for _, category, _ in scopes})
    for chunk in _chunks(body_ids) if scopes else ():
        # Core straight on the connection: plain rows, no ORM result machinery.
        rows = session.connection().execute(_SEGMENTS, {"body_ids": chunk, "categories": categories})
        for authorization_id, body_id, category, jurisdiction, status, starts, ends in rows:
            if (body_id, category, jurisdiction) in scopes:
                segments.append((authorization_id, (body_id, category, jurisdiction), starts, ends, status))
    return certificates, _lines_from_segments(segments)


def _result(verdict: Verdict, certificate: Certificate | None, kid: bytes | None) -> VerificationResult:
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


def _decide_all(
    session: Session, scans: list[_Scan], *, now: dt.datetime, grace_days: int
) -> list[VerificationResult]:
    genuine = [scan.outcome for scan in scans if isinstance(scan.outcome, Claims)]
    if len(genuine) == 1:
        certificates, lines = _lookup_one(session, genuine[0])
    elif genuine:
        certificates, lines = _lookup_many(session, genuine)
    else:
        certificates, lines = {}, {}
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
    session: Session, scanned: str, *, now: dt.datetime, grace_days: int = DEFAULT_GRACE_DAYS
) -> VerificationResult:
    """The verdict for a scanned or typed seal URL, or a bare token, against the registry now.

    Any input yields a verdict (FORGED for anything that is not a genuine seal), never an
    exception. The key ring is read from the table on every call, so a key revoked and committed
    by another process is refused by the very next verification.
    """
    ring = keystore.load_ring(session, "seal")
    return _decide_all(session, [_check_signature(scanned, ring, now)], now=now, grace_days=grace_days)[0]


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
    return _decide_all(session, scans, now=now, grace_days=grace_days)
