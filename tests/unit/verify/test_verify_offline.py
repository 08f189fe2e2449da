"""Offline verification against a trust bundle gives the verdict the server would give."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.unit.verify.support import BODY, HOST, NOW, active_line, make_claims, seeded_key
from verify import qr
from verify.authority import StatusPeriod, authorization_facts
from verify.bundle import TrustBundle, sign_bundle
from verify.claims import Claims
from verify.errors import BundleExpired, QrImageError
from verify.keys import KeyRing
from verify.offline import OfflineVerifier
from verify.seal import issue_token, seal_url, token_to_bytes, verify_seal
from verify.verdict import CertificateState, Severity, Verdict, VerdictCode, verify_and_decide

ROOT = seeded_key("registry-root")
DAY = dt.timedelta(days=1)
HOURS = dt.timedelta(hours=1)


def server_verdict(token: str, ring: KeyRing, registry: dict, lines: dict, now: dt.datetime) -> Verdict:
    """What the server does: same pipeline, lookups from its own (here: in-memory) records."""
    return verify_and_decide(
        lambda: verify_seal(token_to_bytes(token), ring, now),
        lambda claims: registry.get(claims.certificate_key),
        lambda claims, today: authorization_facts(
            lines.get(claims.body_code, ()), claims.category, claims.jurisdiction, claims.issue_date, today
        ),
        now=now,
    )


def test_offline_verification_of_a_qr_image_file(ring, bundle_for, tmp_path):
    token = issue_token(make_claims(), ring)
    image = tmp_path / "seal.png"
    image.write_bytes(qr.render_label_png(seal_url(token, HOST), "CQC2026011234567"))
    bundle_file = tmp_path / "bundle.cose"
    bundle_file.write_bytes(sign_bundle(bundle_for(), ROOT))

    verifier = OfflineVerifier.from_file(bundle_file, ROOT.public_key(), NOW)
    result = verifier.verify_image(image, NOW)
    assert result.verdict.code is VerdictCode.VALID
    assert result.verdict.claims == make_claims()
    assert result.bundle_sequence == 7 and result.bundle_age == dt.timedelta(hours=2)
    assert result.age_text == ("2 h 0 min", "2小时0分钟")
    assert not result.registration_confirmed and "inferred" in result.note[0] and "推定" in result.note[1]
    # The same token typed by hand, in lower case, or as a bare token gives the same verdict.
    assert verifier.verify_scanned(seal_url(token, HOST).lower(), NOW).verdict == result.verdict
    assert verifier.verify_token(token, NOW).verdict == result.verdict


def test_images_without_a_seal(ring, bundle_for, tmp_path):
    verifier = OfflineVerifier(bundle_for())
    other_qr = qr.render_png("HELLO WORLD")
    result = verifier.verify_image(other_qr, NOW)
    assert (result.verdict.code, result.verdict.detail) == (VerdictCode.FORGED, "malformed")
    with pytest.raises(QrImageError):
        verifier.verify_image(b"garbage", NOW)


def test_lists_and_states_from_the_bundle(ring, bundle_for):
    tokens = {
        number: issue_token(make_claims(certificate_number=number), ring)
        for number in ("OK-1", "W-1", "S-1", "GONE-1")
    }
    bundle = bundle_for(
        withdrawn=[(BODY, "W-1")],
        suspended=[(BODY, "S-1")],
        registered=[(BODY, "OK-1"), (BODY, "W-1"), (BODY, "S-1")],
        now=NOW - DAY / 48,  # after the seals were issued
    )
    verifier = OfflineVerifier(bundle)
    codes = {number: verifier.verify_token(token, NOW).verdict.code for number, token in tokens.items()}
    assert codes == {
        "OK-1": VerdictCode.VALID,
        "W-1": VerdictCode.CERTIFICATE_WITHDRAWN,
        "S-1": VerdictCode.CERTIFICATE_SUSPENDED,
        "GONE-1": VerdictCode.NOT_REGISTERED,
    }
    assert verifier.verify_token(tokens["OK-1"], NOW).registration_confirmed
    assert verifier.verify_token(tokens["GONE-1"], NOW).registration_confirmed


def test_seal_newer_than_the_bundle_is_not_called_unregistered(ring, bundle_for):
    bundle = bundle_for(registered=[], now=NOW - 3 * DAY)
    token = issue_token(make_claims(issued_at=NOW - DAY), ring)
    result = OfflineVerifier(bundle).verify_token(token, NOW)
    assert result.verdict.code is VerdictCode.VALID and not result.registration_confirmed


def test_key_states_from_the_bundle(ring, bundle_for):
    old_token = issue_token(make_claims(issued_at=NOW - 100 * DAY), ring)
    ring.rotate(seeded_key("signer-2"), NOW - 50 * DAY, NOW + 300 * DAY)
    new_token = issue_token(make_claims(issued_at=NOW - 10 * DAY), ring)
    ring.revoke(ring.signer().kid, NOW - 3 * HOURS)
    verifier = OfflineVerifier(bundle_for())
    assert verifier.verify_token(old_token, NOW).verdict.code is VerdictCode.VALID  # retired, in window
    assert verifier.verify_token(new_token, NOW).verdict.code is VerdictCode.KEY_REVOKED
    stranger = KeyRing()
    stranger.add(seeded_key("stranger"), NOW - 400 * DAY)
    forged = verifier.verify_token(issue_token(make_claims(), stranger), NOW).verdict
    assert (forged.code, forged.detail) == (VerdictCode.FORGED, "unknown_key")


def test_body_authorization_ended_warning_offline(ring, bundle_for):
    ended_on = dt.date(2026, 5, 1)
    line = active_line(
        periods=(StatusPeriod("active", dt.date(2020, 1, 1), ended_on), StatusPeriod("withdrawn", ended_on))
    )
    token = issue_token(make_claims(), ring)
    warning = OfflineVerifier(bundle_for(bodies={BODY: [line]})).verify_token(token, NOW).verdict
    assert warning.code is VerdictCode.BODY_AUTHORIZATION_ENDED and warning.severity is Severity.WARNING
    later = NOW + 60 * DAY
    invalid = OfflineVerifier(bundle_for(bodies={BODY: [line]}, now=later)).verify_token(token, later).verdict
    assert invalid.code is VerdictCode.BODY_AUTHORIZATION_ENDED and invalid.severity is Severity.INVALID
    unknown_body = OfflineVerifier(bundle_for(bodies={})).verify_token(token, NOW).verdict
    assert unknown_body.code is VerdictCode.BODY_NOT_AUTHORIZED


def test_expired_bundle_is_never_used_silently(ring, bundle_for):
    verifier = OfflineVerifier(bundle_for(valid_for=DAY))
    token = issue_token(make_claims(), ring)
    with pytest.raises(BundleExpired):
        verifier.verify_token(token, NOW + 2 * DAY)
    with pytest.raises(BundleExpired):
        verifier.verify_many([token], NOW + 2 * DAY)


def scenario_tokens(ring: KeyRing) -> dict[str, str]:
    variants: dict[str, Claims] = {
        "valid": make_claims(certificate_number="V"),
        "withdrawn": make_claims(certificate_number="W"),
        "suspended": make_claims(certificate_number="S"),
        "expired": make_claims(certificate_number="E", expiry_date=dt.date(2026, 6, 1)),
        "other-category": make_claims(certificate_number="C", category="ventilator"),
        "other-jurisdiction": make_claims(certificate_number="J", jurisdiction="EU"),
    }
    tokens = {name: issue_token(claims, ring) for name, claims in variants.items()}
    tokens["damaged"] = tokens["valid"][:-8] + "AAAAAAAA"
    tokens["garbage"] = "NOT A TOKEN"
    return tokens


def test_offline_and_server_give_the_same_verdicts(ring, bundle_for):
    tokens = scenario_tokens(ring)
    registry = {
        (BODY, "V"): CertificateState("valid", dt.date(2031, 1, 11)),
        (BODY, "W"): CertificateState("withdrawn", dt.date(2031, 1, 11)),
        (BODY, "S"): CertificateState("suspended", dt.date(2031, 1, 11)),
        (BODY, "E"): CertificateState("valid", dt.date(2026, 6, 1)),
        (BODY, "C"): CertificateState("valid", dt.date(2031, 1, 11)),
        (BODY, "J"): CertificateState("valid", dt.date(2031, 1, 11)),
    }
    lines = {BODY: (active_line(),)}
    bundle: TrustBundle = bundle_for(
        withdrawn=[(BODY, "W")],
        suspended=[(BODY, "S")],
        bodies={BODY: lines[BODY]},
        registered=list(registry),
    )
    verifier = OfflineVerifier(bundle)
    offline = dict(zip(tokens, verifier.verify_many(tokens.values(), NOW), strict=True))
    server = {name: server_verdict(token, ring, registry, lines, NOW) for name, token in tokens.items()}
    assert offline == server
    assert {name: v.code for name, v in offline.items()} == {
        "valid": VerdictCode.VALID,
        "withdrawn": VerdictCode.CERTIFICATE_WITHDRAWN,
        "suspended": VerdictCode.CERTIFICATE_SUSPENDED,
        "expired": VerdictCode.CERTIFICATE_EXPIRED,
        "other-category": VerdictCode.BODY_NOT_AUTHORIZED,
        "other-jurisdiction": VerdictCode.BODY_NOT_AUTHORIZED,
        "damaged": VerdictCode.FORGED,
        "garbage": VerdictCode.FORGED,
    }
