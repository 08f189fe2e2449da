"""Trust bundle: build, sign with the root key, load and verify, expiry, tampering, rollback."""

from __future__ import annotations

import datetime as dt

import cbor2
import pytest

from tests.unit.verify.support import BODY, NOW, active_line, seeded_key
from verify import cose
from verify.bundle import (
    CONTENT_TYPE,
    bundle_payload,
    describe_age,
    load_and_verify,
    sign_bundle,
)
from verify.errors import (
    BundleExpired,
    BundleMalformed,
    BundleNotYetValid,
    BundleRollback,
    BundleSignatureInvalid,
)
from verify.keys import KeyState, key_id
from verify.seal import sign_seal

ROOT = seeded_key("registry-root")
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def full_bundle(ring, bundle_for):
    ring.rotate(seeded_key("signer-2"), NOW - 30 * 24 * HOUR, NOW + 335 * 24 * HOUR)
    ring.revoke(ring.signer().kid, NOW - 3 * HOUR)
    ring.add(seeded_key("signer-3"), NOW - 3 * HOUR)
    return bundle_for(
        withdrawn=[(BODY, "W-1"), (BODY, "W-2")],
        suspended=[(BODY, "S-1")],
        registered=[(BODY, "CQC2026011234567"), (BODY, "W-1")],
        bodies={BODY: [active_line(), active_line("ventilator", "EU")], "OTHER": []},
    )


def test_round_trip_keeps_everything(full_bundle):
    signed = sign_bundle(full_bundle, ROOT)
    loaded = load_and_verify(signed, ROOT.public_key(), NOW)
    assert loaded == full_bundle
    assert [e.state for e in loaded.keys] == [KeyState.RETIRED, KeyState.REVOKED, KeyState.ACTIVE]
    retired = loaded.keys[0]
    assert retired.verify_until == NOW + 335 * 24 * HOUR and retired.retired_at == NOW - 30 * 24 * HOUR
    assert all(e.private_key is None for e in loaded.keys)
    assert loaded.ring.active() is not None
    assert loaded.sequence == 7 and loaded.expires_at - loaded.issued_at == dt.timedelta(days=7)


def test_bundle_is_a_cose_sign1_with_content_type_signed_by_the_root_key(full_bundle):
    signed = sign_bundle(full_bundle, ROOT)
    message = cose.parse_sign1(signed, content_type=CONTENT_TYPE)
    assert message.kid == key_id(ROOT.public_key())
    assert cbor2.loads(message.protected) == {1: -8, 3: CONTENT_TYPE, 4: message.kid}
    assert message.payload == bundle_payload(full_bundle)
    document = cbor2.loads(message.payload)
    assert document["withdrawn"] == [[BODY, "W-1"], [BODY, "W-2"]] and document["suspended"] == [
        [BODY, "S-1"]
    ]


def test_age_reporting(full_bundle):
    assert full_bundle.age(NOW) == 2 * HOUR
    assert describe_age(2 * HOUR + dt.timedelta(minutes=5)) == ("2 h 5 min", "2小时5分钟")
    assert describe_age(dt.timedelta(days=3, hours=4)) == ("3 days 4 h", "3天4小时")
    assert describe_age(dt.timedelta(days=1)) == ("1 day 0 h", "1天0小时")
    assert describe_age(dt.timedelta(seconds=30)) == ("0 min", "0分钟")


def test_expiry_and_clock_skew(bundle_for):
    signed = sign_bundle(bundle_for(valid_for=dt.timedelta(days=1)), ROOT)
    issued = NOW - 2 * HOUR
    assert load_and_verify(signed, ROOT.public_key(), issued + dt.timedelta(days=1)).sequence == 7
    with pytest.raises(BundleExpired, match="expired"):
        load_and_verify(signed, ROOT.public_key(), issued + dt.timedelta(days=1, seconds=1))
    with pytest.raises(BundleNotYetValid):
        load_and_verify(signed, ROOT.public_key(), issued - dt.timedelta(minutes=6))
    assert load_and_verify(signed, ROOT.public_key(), issued - dt.timedelta(minutes=4)).sequence == 7


def test_rollback_is_refused(bundle_for):
    signed = sign_bundle(bundle_for(sequence=5), ROOT)
    assert load_and_verify(signed, ROOT.public_key(), NOW, min_sequence=5).sequence == 5
    with pytest.raises(BundleRollback):
        load_and_verify(signed, ROOT.public_key(), NOW, min_sequence=6)


def test_tampering_and_wrong_keys_are_refused(full_bundle, ring):
    signed = sign_bundle(full_bundle, ROOT)
    message = cose.parse_sign1(signed, content_type=CONTENT_TYPE)
    document = cbor2.loads(message.payload)
    document["withdrawn"] = []
    forged_payload = cbor2.dumps(document, canonical=True)
    forged = cose.encode_sign1(message.protected, forged_payload, message.signature)
    with pytest.raises(BundleSignatureInvalid, match="does not verify"):
        load_and_verify(forged, ROOT.public_key(), NOW)
    with pytest.raises(BundleSignatureInvalid, match="another key"):
        load_and_verify(signed, seeded_key("impostor").public_key(), NOW)
    # A seal key cannot sign bundles: wrong key id for the root.
    signer = ring.signer()
    assert signer.private_key is not None
    with pytest.raises(BundleSignatureInvalid):
        load_and_verify(sign_bundle(full_bundle, signer.private_key), ROOT.public_key(), NOW)


def test_every_single_byte_change_is_refused(bundle_for):
    signed = sign_bundle(bundle_for(), ROOT)
    for index in range(0, len(signed), 7):
        damaged = bytearray(signed)
        damaged[index] ^= 0x04
        with pytest.raises((BundleMalformed, BundleSignatureInvalid)):
            load_and_verify(bytes(damaged), ROOT.public_key(), NOW)


def test_a_seal_is_not_a_bundle(ring, claims):
    with pytest.raises(BundleMalformed, match="not a signed trust bundle"):
        load_and_verify(sign_seal(claims, ring), ROOT.public_key(), NOW)
    for junk in (b"", b"\x00", b"junk" * 10):
        with pytest.raises(BundleMalformed):
            load_and_verify(junk, ROOT.public_key(), NOW)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d | {"format": "other/1"},
        lambda d: {k: v for k, v in d.items() if k != "keys"},
        lambda d: d | {"sequence": "7"},
        lambda d: d | {"issued_at": "yesterday"},
        lambda d: d | {"withdrawn": [["only-one"]]},
        lambda d: d | {"keys": [d["keys"][0] | {"kid": b"\x00" * 8}]},
        lambda d: d | {"keys": [d["keys"][0] | {"state": "sleeping"}]},
        lambda d: d | {"keys": [d["keys"][0], d["keys"][0]]},
        lambda d: d | {"bodies": [{"code": "X", "authorizations": [{"category": "mask"}]}]},
        lambda d: d | {"bodies": [{"code": "X", "authorizations": "none"}]},
        lambda d: [d],
    ],
)
def test_signed_but_malformed_payloads_are_refused(bundle_for, change):
    document = cbor2.loads(bundle_payload(bundle_for()))
    payload = cbor2.dumps(change(document), canonical=True)
    signed = cose.sign1(ROOT, key_id(ROOT.public_key()), payload, content_type=CONTENT_TYPE)
    with pytest.raises(BundleMalformed):
        load_and_verify(signed, ROOT.public_key(), NOW)


def test_trailing_bytes_inside_the_signed_payload_are_refused(bundle_for):
    payload = bundle_payload(bundle_for()) + b"\x00"
    signed = cose.sign1(ROOT, key_id(ROOT.public_key()), payload, content_type=CONTENT_TYPE)
    with pytest.raises(BundleMalformed, match="deterministically"):
        load_and_verify(signed, ROOT.public_key(), NOW)


def test_build_refuses_bad_parameters(bundle_for):
    with pytest.raises(ValueError):
        bundle_for(sequence=-1)
    with pytest.raises(ValueError):
        bundle_for(valid_for=dt.timedelta(0))
    with pytest.raises(ValueError):
        bundle_for(now=dt.datetime(2026, 1, 1))
