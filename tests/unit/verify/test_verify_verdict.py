"""The shared decision: every verdict code, its reasons in both languages, and the precedence."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from tests.unit.verify.support import NOW, make_claims
from verify.authority import AuthorizationFacts
from verify.errors import (
    AlgorithmNotAllowed,
    BadSignature,
    KeyNoLongerValid,
    KeyRevoked,
    MalformedSeal,
    SealError,
    UnknownKey,
)
from verify.verdict import (
    REASONS,
    CertificateState,
    Severity,
    Verdict,
    VerdictCode,
    decide,
    registry_today,
    verdict_for_seal_error,
    verify_and_decide,
)

CLAIMS = make_claims()
VALID_STATE = CertificateState("valid", CLAIMS.expiry_date)
AUTHORIZED = AuthorizationFacts(authorized_on_issue_date=True)
NOT_AUTHORIZED = AuthorizationFacts(authorized_on_issue_date=False)
CJK = re.compile(r"[\u4e00-\u9fff]")


def ended(days_ago: int, status: str = "withdrawn") -> AuthorizationFacts:
    return AuthorizationFacts(True, registry_today(NOW) - dt.timedelta(days=days_ago), status)


def one_of_each() -> dict[VerdictCode, Verdict]:
    return {
        VerdictCode.VALID: decide(CLAIMS, VALID_STATE, AUTHORIZED, now=NOW),
        VerdictCode.FORGED: verdict_for_seal_error(BadSignature("x")),
        VerdictCode.KEY_REVOKED: verdict_for_seal_error(KeyRevoked("x")),
        VerdictCode.NOT_REGISTERED: decide(CLAIMS, None, AUTHORIZED, now=NOW),
        VerdictCode.BODY_NOT_AUTHORIZED: decide(CLAIMS, VALID_STATE, NOT_AUTHORIZED, now=NOW),
        VerdictCode.CERTIFICATE_WITHDRAWN: decide(
            CLAIMS, CertificateState("withdrawn", CLAIMS.expiry_date), AUTHORIZED, now=NOW
        ),
        VerdictCode.CERTIFICATE_SUSPENDED: decide(
            CLAIMS, CertificateState("suspended", CLAIMS.expiry_date), AUTHORIZED, now=NOW
        ),
        VerdictCode.CERTIFICATE_EXPIRED: decide(
            CLAIMS, CertificateState("valid", dt.date(2026, 6, 1)), AUTHORIZED, now=NOW
        ),
        VerdictCode.BODY_AUTHORIZATION_ENDED: decide(CLAIMS, VALID_STATE, ended(10), now=NOW),
    }


def test_every_code_is_reachable_with_reasons_in_both_languages():
    verdicts = one_of_each()
    assert set(verdicts) == set(VerdictCode)
    for code, verdict in verdicts.items():
        assert verdict.code is code
        assert verdict.reason_en.isascii() and len(verdict.reason_en) > 20, code
        assert CJK.search(verdict.reason_zh) and not verdict.reason_zh.isascii(), code
        assert "{" not in verdict.reason_en + verdict.reason_zh, code
    assert len({v.reason_en for v in verdicts.values()}) == len(verdicts)
    assert len({v.reason_zh for v in verdicts.values()}) == len(verdicts)
    assert all(CJK.search(zh) for _, zh in REASONS.values())


def test_severity_and_validity():
    verdicts = one_of_each()
    assert verdicts[VerdictCode.VALID].severity is Severity.OK and verdicts[VerdictCode.VALID].is_valid
    assert verdicts[VerdictCode.BODY_AUTHORIZATION_ENDED].severity is Severity.WARNING
    assert verdicts[VerdictCode.BODY_AUTHORIZATION_ENDED].is_valid
    for code in set(VerdictCode) - {VerdictCode.VALID, VerdictCode.BODY_AUTHORIZATION_ENDED}:
        assert verdicts[code].severity is Severity.INVALID and not verdicts[code].is_valid


@pytest.mark.parametrize(
    ("error", "code", "detail"),
    [
        (MalformedSeal("x"), VerdictCode.FORGED, "malformed"),
        (BadSignature("x"), VerdictCode.FORGED, "bad_signature"),
        (UnknownKey("x"), VerdictCode.FORGED, "unknown_key"),
        (AlgorithmNotAllowed("x"), VerdictCode.FORGED, "algorithm_not_allowed"),
        (KeyNoLongerValid("x"), VerdictCode.FORGED, "key_no_longer_valid"),
        (KeyRevoked("x", claims=CLAIMS), VerdictCode.KEY_REVOKED, "key_revoked"),
        (SealError("x"), VerdictCode.FORGED, "malformed"),
    ],
)
def test_seal_errors_map_to_forged_or_key_revoked(error, code, detail):
    verdict = verdict_for_seal_error(error)
    assert (verdict.code, verdict.detail, verdict.claims) == (code, detail, None)


def test_precedence_order():
    withdrawn = CertificateState("withdrawn", dt.date(2020, 1, 1))
    suspended = CertificateState("suspended", dt.date(2020, 1, 1))
    expired = CertificateState("valid", dt.date(2020, 1, 1))
    assert decide(CLAIMS, None, NOT_AUTHORIZED, now=NOW).code is VerdictCode.NOT_REGISTERED
    assert decide(CLAIMS, withdrawn, NOT_AUTHORIZED, now=NOW).code is VerdictCode.BODY_NOT_AUTHORIZED
    assert decide(CLAIMS, withdrawn, ended(400), now=NOW).code is VerdictCode.CERTIFICATE_WITHDRAWN
    assert decide(CLAIMS, suspended, ended(400), now=NOW).code is VerdictCode.CERTIFICATE_SUSPENDED
    assert decide(CLAIMS, expired, ended(400), now=NOW).code is VerdictCode.CERTIFICATE_EXPIRED
    assert decide(CLAIMS, VALID_STATE, ended(400), now=NOW).code is VerdictCode.BODY_AUTHORIZATION_ENDED


def test_expiry_is_inclusive_and_uses_china_standard_time():
    state = CertificateState("valid", dt.date(2031, 1, 11))
    last_day = dt.datetime(2031, 1, 11, 15, 59, tzinfo=dt.UTC)  # 23:59 in Beijing
    assert decide(CLAIMS, state, AUTHORIZED, now=last_day).code is VerdictCode.VALID
    next_day = dt.datetime(2031, 1, 11, 16, 0, tzinfo=dt.UTC)  # 00:00 on the 12th in Beijing
    verdict = decide(CLAIMS, state, AUTHORIZED, now=next_day)
    assert verdict.code is VerdictCode.CERTIFICATE_EXPIRED and verdict.effective_date == dt.date(2031, 1, 11)
    assert "2031-01-11" in verdict.reason_en and "2031-01-11" in verdict.reason_zh
    with pytest.raises(ValueError, match="timezone-aware"):
        registry_today(dt.datetime(2031, 1, 1))


@pytest.mark.parametrize(
    ("days_ago", "grace", "severity"),
    [
        (0, 90, Severity.WARNING),
        (89, 90, Severity.WARNING),
        (90, 90, Severity.WARNING),
        (91, 90, Severity.INVALID),
        (31, 30, Severity.INVALID),
        (200, 365, Severity.WARNING),
    ],
)
def test_body_authorization_ended_grace_period(days_ago, grace, severity):
    facts = ended(days_ago, "suspended")
    verdict = decide(CLAIMS, VALID_STATE, facts, now=NOW, grace_days=grace)
    assert verdict.code is VerdictCode.BODY_AUTHORIZATION_ENDED and verdict.severity is severity
    assert verdict.detail == "suspended"
    assert verdict.grace_until == facts.ended_on + dt.timedelta(days=grace)  # type: ignore[operator]
    assert str(verdict.grace_until) in verdict.reason_en and str(verdict.grace_until) in verdict.reason_zh
    warning = severity is Severity.WARNING
    assert (
        verdict.reason_en.startswith("Warning") is warning and verdict.reason_zh.startswith("警告") is warning
    )


def test_default_grace_is_90_days():
    assert decide(CLAIMS, VALID_STATE, ended(90), now=NOW).severity is Severity.WARNING
    assert decide(CLAIMS, VALID_STATE, ended(91), now=NOW).severity is Severity.INVALID


def test_certificate_state_validation():
    with pytest.raises(ValueError):
        CertificateState("expired", dt.date(2030, 1, 1))


def test_verify_and_decide_runs_the_lookups_only_for_genuine_seals():
    calls: list[str] = []

    def certificate(claims):
        calls.append("certificate")
        return VALID_STATE

    def authorization(claims, today):
        calls.append(f"authorization {today}")
        return AUTHORIZED

    def fail():
        raise KeyRevoked("revoked", claims=CLAIMS)

    assert verify_and_decide(fail, certificate, authorization, now=NOW).code is VerdictCode.KEY_REVOKED
    assert calls == []
    verdict = verify_and_decide(lambda: CLAIMS, certificate, authorization, now=NOW)
    assert verdict.code is VerdictCode.VALID and verdict.claims == CLAIMS
    assert calls == ["certificate", "authorization 2026-06-15"]


def test_verdicts_are_frozen():
    verdict = one_of_each()[VerdictCode.VALID]
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.code = VerdictCode.FORGED  # type: ignore[misc]
