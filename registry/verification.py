"""Verify scanned seals against the registry as it is at this moment.

Verification runs the very pipeline the offline verifier runs (``verify.verdict.verify_and_decide``
over ``verify.seal.verify_seal``); only the lookups differ: the key ring, the certificate's status
and expiry, and the body's authorization lines come from the database as they are now. So both
give the same verdict, except that only the server can say NOT_REGISTERED for sure (see
``verify.offline``).

This is the hot path of the service: every scan of every QR code lands here. A single seal is
read in one statement (``registry.seal_lookup``): the certificate with everything a verdict
shows, the timeline segments of its body's lines for the sealed category and jurisdiction, and
the key ring's stamp; outside a transaction, in a statement of two stamps only while nothing
that statement reads has changed (the verdict stamp, migration 0013). The seal is checked
first with the ring cached for this database; the verdict stands only if that ring's stamp
is the one the statement read, otherwise the keys are read again and the seal checked again
(see ``registry.keystore``). A batch makes three statements for all its items (keys,
certificates, segments).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from registry import keystore
from registry.bodies import registry_today
from registry.db import Reader
from registry.errors import InvalidInput
from registry.seal_lookup import (  # noqa: F401  # Party and the rest: re-exported, as before the split
    SEGMENTS,
    Certificates,
    Lines,
    Party,
    VerifiedCertificate,
    chunks,
    lines_from_segments,
    lookup_many,
    lookup_one,
)
from verify import seal as vseal
from verify.authority import AuthorizationFacts, authorization_facts
from verify.claims import Claims
from verify.errors import AlgorithmNotAllowed, BadSignature, MalformedSeal, SealError
from verify.keys import KeyRing
from verify.verdict import DEFAULT_GRACE_DAYS, CertificateState, Severity, Verdict, verify_and_decide

MAX_BATCH = 1000
_NOT_AUTHORIZED = AuthorizationFacts(authorized_on_issue_date=False)
# Failures no change of the key ring can turn into a genuine seal (the key id is a hash of the
# key, so a found key is the same key in any ring): unknown, revoked and expired keys are not.
_WHATEVER_THE_KEYS = (MalformedSeal, BadSignature, AlgorithmNotAllowed)
# The first bytes of every seal we sign: array(4), bstr(13) protected {1: -8, 4: bstr(8) kid}.
_OUR_PREFIX = b"\x84\x4d\xa2\x01\x27\x04\x48"


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
        certificates, lines, current = lookup_one(session, scan.outcome)
        if current == stamp:  # the ring that verified the seal is the ring as of this statement
            return _decide([scan], certificates, lines, now=now, grace_days=grace_days)[0]
    # No ring read yet, a seal the cached ring refuses, no such certificate, or the keys changed:
    # read the keys as they are now and decide on them.
    _, ring = keystore.stamped_ring(session, "seal")
    scan = _check_signature(scanned, ring, now)
    certificates, lines = {}, {}
    if isinstance(scan.outcome, Claims):
        certificates, lines, _ = lookup_one(session, scan.outcome)
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
    certificates, lines = lookup_many(session, genuine) if genuine else ({}, {})
    return _decide(scans, certificates, lines, now=now, grace_days=grace_days)
