"""Key ids, the key ring's states with rotation and revocation, encrypted key files, JWKS."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization

from tests.unit.verify.support import NOW, make_claims, seeded_key
from verify.errors import JwksError, KeyFileError, KeyNoLongerValid, KeyRevoked, KeyRingError, UnknownKey
from verify.keys import (
    KeyRing,
    KeyState,
    b64url,
    b64url_decode,
    generate_passphrase,
    import_jwks,
    jwk,
    key_id,
    kid_hex,
    load_private_key,
    passphrase_from_environment,
    private_key_from_pem,
    private_key_to_pem,
    public_key_from_pem,
    public_key_to_pem,
    save_private_key,
)
from verify.seal import sign_seal, verify_seal

DAY = dt.timedelta(days=1)


def test_key_id_is_first_8_bytes_of_sha256_of_spki():
    public = seeded_key("a").public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert len(spki) == 44  # 12-byte Ed25519 SPKI prefix + 32-byte key
    assert key_id(public) == hashlib.sha256(spki).digest()[:8]
    assert kid_hex(key_id(public)) == hashlib.sha256(spki).hexdigest()[:16]
    assert key_id(public) != key_id(seeded_key("b").public_key())


def test_b64url_is_strict():
    assert b64url(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8") == b"\xfb\xff"
    for bad in ("-_8=", "+/8", "-_9", "a", "é"):
        with pytest.raises(ValueError):
            b64url_decode(bad)


def test_ring_allows_one_active_key_and_signs_with_it(ring):
    with pytest.raises(KeyRingError, match="already has an active key"):
        ring.add(seeded_key("other"), NOW)
    assert ring.signer().kid == key_id(seeded_key("signer-1").public_key())
    entry = ring.active()
    assert entry is not None and entry.state is KeyState.ACTIVE
    with pytest.raises(KeyRingError, match="at most one active"):
        KeyRing([entry, KeyRing().add(seeded_key("x"), NOW)])


def test_rotation_retires_the_old_key_which_keeps_verifying_old_seals_until_verify_until(ring):
    old_seal = sign_seal(make_claims(issued_at=NOW - 10 * DAY), ring)
    old_kid = ring.signer().kid
    verify_until = NOW + 365 * DAY
    new_entry = ring.rotate(seeded_key("signer-2"), NOW, verify_until)

    assert ring.signer().kid == new_entry.kid != old_kid
    retired = ring.get(old_kid)
    assert retired is not None and retired.state is KeyState.RETIRED
    assert (retired.retired_at, retired.verify_until) == (NOW, verify_until)
    # Old seals still verify during the window ...
    assert verify_seal(old_seal, ring, NOW + 30 * DAY).certificate_number == "CQC2026011234567"
    # ... and not after it.
    with pytest.raises(KeyNoLongerValid, match="stopped verifying"):
        verify_seal(old_seal, ring, verify_until + dt.timedelta(seconds=1))
    # New seals are signed by the new key.
    new_seal = sign_seal(make_claims(issued_at=NOW + DAY), ring)
    assert verify_seal(new_seal, ring, NOW + DAY).issued_at == NOW + DAY


def test_a_retired_key_cannot_vouch_for_a_seal_dated_after_its_retirement(ring):
    retired_ring = KeyRing(ring.entries())
    retired_ring.rotate(seeded_key("signer-2"), NOW - 5 * DAY, NOW + 365 * DAY)
    # Somebody who kept the old private key signs a new seal with it.
    stolen = KeyRing()
    stolen.add(seeded_key("signer-1"), NOW - 400 * DAY)
    late_seal = sign_seal(make_claims(issued_at=NOW - DAY), stolen)
    with pytest.raises(KeyNoLongerValid, match="after key") as caught:
        verify_seal(late_seal, retired_ring, NOW)
    assert caught.value.claims is not None and caught.value.claims.issued_at == NOW - DAY


def test_seal_dated_before_its_key_existed_is_refused(ring):
    early = sign_seal(make_claims(issued_at=NOW), ring)
    young = KeyRing()
    young.add(seeded_key("signer-1"), NOW + DAY)
    with pytest.raises(KeyNoLongerValid, match="before key"):
        verify_seal(early, young, NOW + 2 * DAY)


def test_revocation_rejects_every_seal_whatever_its_issue_time(ring):
    seals = [sign_seal(make_claims(issued_at=NOW - days * DAY), ring) for days in (300, 30, 0)]
    kid = ring.signer().kid
    revoked = ring.revoke(kid, NOW + DAY)
    assert revoked.state is KeyState.REVOKED and revoked.revoked_at == NOW + DAY
    for seal in seals:
        with pytest.raises(KeyRevoked):
            verify_seal(seal, ring, NOW + 2 * DAY)
    # Revoking the signer leaves the ring unable to sign until a new key is added.
    with pytest.raises(KeyRingError, match="no active signing key"):
        ring.signer()
    ring.add(seeded_key("signer-2"), NOW + 2 * DAY)
    assert ring.signer().kid != kid
    with pytest.raises(KeyRingError, match="already revoked"):
        ring.revoke(kid, NOW + 3 * DAY)
    with pytest.raises(KeyRingError, match="no key"):
        ring.revoke(b"\x00" * 8, NOW)


def test_revoking_a_retired_key(ring):
    seal = sign_seal(make_claims(), ring)
    old = ring.signer().kid
    ring.rotate(seeded_key("signer-2"), NOW, NOW + 100 * DAY)
    ring.revoke(old, NOW + DAY)
    with pytest.raises(KeyRevoked):
        verify_seal(seal, ring, NOW + 2 * DAY)


def test_rotation_refuses_bad_windows_and_reuse(ring):
    with pytest.raises(KeyRingError, match="after the rotation"):
        ring.rotate(seeded_key("signer-2"), NOW, NOW)
    with pytest.raises(KeyRingError, match="is the active key"):
        ring.rotate(seeded_key("signer-1"), NOW, NOW + DAY)
    assert ring.active() is not None and ring.active().state is KeyState.ACTIVE  # type: ignore[union-attr]


def test_unknown_key_and_public_only_ring(ring):
    seal = sign_seal(make_claims(), ring)
    verifier_ring = ring.public_only()
    assert all(e.private_key is None for e in verifier_ring.entries())
    assert verify_seal(seal, verifier_ring, NOW).body_code == "CNCA-R-2002-001"
    with pytest.raises(KeyRingError, match="private part"):
        verifier_ring.signer()
    with pytest.raises(UnknownKey):
        verify_seal(seal, KeyRing(), NOW)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        KeyRing().add(seeded_key("a"), dt.datetime(2026, 1, 1))


# --- encrypted key files ------------------------------------------------------------------------


def test_generated_passphrase_is_long_and_random():
    first, second = generate_passphrase(), generate_passphrase()
    assert first != second and len(first) >= 43


def test_encrypted_pem_round_trip(tmp_path):
    key, passphrase = seeded_key("file"), generate_passphrase()
    path = tmp_path / "seal-key.pem"
    save_private_key(path, key, passphrase)
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = load_private_key(path, passphrase)
    assert loaded.private_bytes_raw() == key.private_bytes_raw()
    with pytest.raises(FileExistsError):
        save_private_key(path, key, passphrase)


def test_wrong_passphrase_and_unencrypted_keys_are_refused():
    key = seeded_key("file")
    pem = private_key_to_pem(key, "a" * 43)
    with pytest.raises(KeyFileError, match="cannot decrypt"):
        private_key_from_pem(pem, "b" * 43)
    plain = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyFileError, match="not encrypted"):
        private_key_from_pem(plain, "a" * 43)
    with pytest.raises(KeyFileError, match="too short"):
        private_key_to_pem(key, "short")


def test_passphrase_from_environment(tmp_path):
    secret_file = tmp_path / "passphrase"
    secret_file.write_text("file-secret-0123456789abcdef\n")
    assert passphrase_from_environment({"SEAL_KEY_PASSPHRASE": "env-secret"}) == "env-secret"
    assert passphrase_from_environment({"SEAL_KEY_PASSPHRASE_FILE": str(secret_file)}) == (
        "file-secret-0123456789abcdef"
    )
    with pytest.raises(KeyFileError, match="set SEAL_KEY_PASSPHRASE"):
        passphrase_from_environment({})
    with pytest.raises(KeyFileError, match="cannot read"):
        passphrase_from_environment({"SEAL_KEY_PASSPHRASE_FILE": str(tmp_path / "missing")})


def test_public_key_pem_round_trip():
    public = seeded_key("root").public_key()
    assert public_key_from_pem(public_key_to_pem(public)) == public
    with pytest.raises(KeyFileError):
        public_key_from_pem(b"not a key")


# --- JWKS -------------------------------------------------------------------------------------------


def test_jwk_has_the_rfc_8037_shape():
    public = seeded_key("a").public_key()
    member = jwk(public)
    assert set(member) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert (member["kty"], member["crv"], member["use"], member["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert b64url_decode(member["x"]) == public.public_bytes_raw()
    assert b64url_decode(member["kid"]) == key_id(public)
    assert "=" not in member["x"] + member["kid"]


def test_jwks_publishes_active_and_usable_retired_keys_only(ring):
    first = ring.signer().kid
    ring.rotate(seeded_key("signer-2"), NOW, NOW + 30 * DAY)
    second = ring.signer().kid
    ring.rotate(seeded_key("signer-3"), NOW + DAY, NOW + 60 * DAY)
    ring.revoke(second, NOW + DAY)
    document = json.loads(json.dumps(ring.jwks(NOW + DAY)))
    kids = {b64url_decode(k["kid"]) for k in document["keys"]}
    assert kids == {first, ring.signer().kid}
    assert set(import_jwks(document)) == kids
    assert {b64url_decode(k["kid"]) for k in ring.jwks(NOW + 31 * DAY)["keys"]} == {ring.signer().kid}


def test_jwks_import_refuses_bad_keys():
    good = jwk(seeded_key("a").public_key())
    foreign = {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "x"}
    assert len(import_jwks({"keys": [good, foreign]})) == 1  # other key types are skipped
    for bad in (
        good | {"kid": b64url(b"\x00" * 8)},
        good | {"alg": "ES256"},
        good | {"use": "enc"},
        good | {"x": good["x"][:-2]},
        good | {"d": good["x"]},
    ):
        with pytest.raises(JwksError):
            import_jwks({"keys": [bad]})
    documents: tuple[object, ...] = ({}, {"keys": "x"}, [], {"keys": ["x"]})
    for document in documents:
        with pytest.raises(JwksError):
            import_jwks(document)
