"""The seal: claims encoding, COSE_Sign1 signing and strict verification, tokens and URLs."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import cbor2
import pytest

from tests.unit.verify.support import HOST, NOW, make_claims, seeded_key
from verify import cose
from verify.claims import (
    CATEGORY_NUMBERS,
    canonical_record_json,
    decode_claims,
    encode_claims,
    pack_credit_code,
    record_digest,
    unpack_credit_code,
)
from verify.errors import AlgorithmNotAllowed, BadSignature, MalformedSeal, SealError, UnknownKey
from verify.keys import KeyRing, key_id
from verify.seal import (
    issue_token,
    parse_scanned,
    seal_url,
    sign_seal,
    token_from_bytes,
    token_to_bytes,
    verify_scanned,
    verify_seal,
    verify_token,
)

CATEGORIES_CSV = Path(__file__).resolve().parents[3] / "registry" / "data" / "categories.csv"


def resign(ring: KeyRing, payload: bytes, protected: bytes | None = None) -> bytes:
    """A COSE_Sign1 with a genuine signature by the ring's signer over arbitrary bytes."""
    signer = ring.signer()
    assert signer.private_key is not None
    protected = protected if protected is not None else cose.protected_header(signer.kid)
    signature = signer.private_key.sign(cose.sig_structure(protected, payload))
    return cose.encode_sign1(protected, payload, signature)


def test_sign_and_verify_round_trip(ring, claims):
    seal = sign_seal(claims, ring)
    assert verify_seal(seal, ring, NOW) == claims
    assert verify_token(token_from_bytes(seal), ring, NOW) == claims
    message = cose.parse_sign1(seal)
    assert message.kid == ring.signer().kid
    assert cbor2.loads(message.protected) == {1: -8, 4: ring.signer().kid}
    assert cbor2.loads(seal)[1] == {}  # empty unprotected header
    # The Sig_structure is exactly RFC 9052 §4.4 with an empty external_aad.
    assert cbor2.loads(message.to_be_signed) == ["Signature1", message.protected, b"", message.payload]


def test_typical_seal_is_compact(ring, claims):
    seal = sign_seal(claims, ring)
    token = token_from_bytes(seal)
    url = seal_url(token, HOST)
    assert len(seal) == 172 and len(token) == 276 and len(url) == 304
    assert url == url.upper() and url.startswith("HTTPS://VERIFY.EXAMPLE.CN/V/")


def test_claims_cbor_uses_small_keys_and_compact_values(claims):
    items = cbor2.loads(encode_claims(claims))
    assert list(items) == list(range(1, 10))
    assert items[3] == pack_credit_code("91110000600037341L") and len(items[3]) == 12
    assert items[4] == CATEGORY_NUMBERS["mask"]
    assert items[6] == (dt.date(2026, 1, 12) - dt.date(1970, 1, 1)).days
    assert items[8] == int((NOW - dt.timedelta(hours=1)).timestamp())
    assert decode_claims(encode_claims(claims)) == claims


def test_category_table_covers_the_six_categories_in_csv_order():
    with CATEGORIES_CSV.open(encoding="utf-8") as fh:
        codes = [row["category"] for row in csv.DictReader(fh)]
    assert list(CATEGORY_NUMBERS) == codes and list(CATEGORY_NUMBERS.values()) == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("code", ["91110000600037341L", "91110108551385082Q", "000000000000000000", "Y" * 18])
def test_credit_code_packing_round_trips(code):
    packed = pack_credit_code(code)
    assert packed is not None and len(packed) == 12
    assert unpack_credit_code(packed) == code


def test_credit_code_packing_refuses_other_identifiers():
    for other in ("91110000600037341", "91110000600037341l", "9111000060003734IO", "DE-HRB-12345"):
        assert pack_credit_code(other) is None
    with pytest.raises(ValueError):
        unpack_credit_code(b"\xff" * 12)  # above 31**18


def test_claims_validation():
    with pytest.raises(ValueError, match="category"):
        make_claims(category="gloves")
    with pytest.raises(ValueError, match="expiry"):
        make_claims(expiry_date=dt.date(2025, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        make_claims(issued_at=dt.datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="body_code"):
        make_claims(body_code="")
    with pytest.raises(ValueError, match="certificate_number"):
        make_claims(certificate_number="CQC\n1")
    with pytest.raises(ValueError, match="record_digest"):
        make_claims(record_digest=b"short")
    with pytest.raises(ValueError, match="dates"):
        make_claims(issue_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    local = dt.datetime(2026, 6, 15, 18, 0, 0, 999, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert make_claims(issued_at=local).issued_at == dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


def test_record_digest_is_canonical_and_truncated():
    record = {"b": [1, "二"], "a": dt.date(2026, 1, 2), "c": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)}
    assert canonical_record_json(record) == (
        '{"a":"2026-01-02","b":[1,"二"],"c":"2026-01-02T03:04:05.000000Z"}'.encode()
    )
    assert record_digest(record) == record_digest(dict(reversed(list(record.items()))))
    assert len(record_digest(record)) == 16
    assert record_digest(record) != record_digest(record | {"b": [1, "三"]})
    for bad in ({"x": 1.5}, {"x": dt.datetime(2026, 1, 1)}, {"x": object()}, {"x": {1: "a"}}):
        with pytest.raises((TypeError, ValueError)):
            record_digest(bad)  # type: ignore[arg-type]


def test_sign_refuses_a_seal_dated_before_the_signing_key(ring):
    with pytest.raises(SealError):
        sign_seal(make_claims(issued_at=NOW - dt.timedelta(days=500)), ring)


# --- strict verification --------------------------------------------------------------------------------


def test_tampered_payload_fails_the_signature(ring, claims):
    seal = bytearray(sign_seal(claims, ring))
    seal[40] ^= 0x20
    with pytest.raises(BadSignature):
        verify_seal(bytes(seal), ring, NOW)


def test_claims_swapped_between_two_genuine_seals_fail(ring, claims):
    first = cose.parse_sign1(sign_seal(claims, ring))
    second = cose.parse_sign1(sign_seal(make_claims(certificate_number="OTHER-1"), ring))
    chimera = cose.encode_sign1(first.protected, second.payload, first.signature)
    with pytest.raises(BadSignature):
        verify_seal(chimera, ring, NOW)


def test_unknown_key(ring, claims):
    other = KeyRing()
    other.add(seeded_key("stranger"), NOW - dt.timedelta(days=400))
    with pytest.raises(UnknownKey) as caught:
        verify_seal(sign_seal(claims, other), ring, NOW)
    assert caught.value.kid == other.signer().kid


@pytest.mark.parametrize("alg", [-7, -35, -257, 0, "EdDSA", -9])
def test_only_eddsa_is_allowed(ring, claims, alg):
    protected = cbor2.dumps({1: alg, 4: ring.signer().kid}, canonical=True)
    with pytest.raises(AlgorithmNotAllowed):
        verify_seal(resign(ring, encode_claims(claims), protected), ring, NOW)


@pytest.mark.parametrize(
    "header",
    [
        {4: b"12345678"},  # no algorithm
        {1: -8},  # no key id
        {1: -8, 4: b"1234567"},  # short key id
        {1: -8, 2: [4], 4: b"12345678"},  # crit
        {1: -8, 3: "text/plain", 4: b"12345678"},  # unexpected content type
        {1: -8, 4: b"12345678", 33: b"x5chain"},  # unexpected header
        {True: -8, 4: b"12345678"},  # boolean label equal to 1
        {1.0: -8, 4: b"12345678"},  # float label equal to 1
    ],
)
def test_protected_header_is_strict(ring, claims, header):
    if 4 in header and len(header[4]) == 8:
        header[4] = ring.signer().kid
    protected = cbor2.dumps(header, canonical=True)
    with pytest.raises(MalformedSeal):
        verify_seal(resign(ring, encode_claims(claims), protected), ring, NOW)


def test_structure_is_strict(ring, claims):
    seal = sign_seal(claims, ring)
    items = cbor2.loads(seal)
    kid = ring.signer().kid
    bad_structures = [
        seal + b"\x00",
        seal[:-1],
        cbor2.dumps(items[:3]),
        cbor2.dumps([*items, b""]),
        cbor2.dumps([items[0], {4: kid}, items[2], items[3]]),
        cbor2.dumps([items[0], {}, items[2], items[3][:63]]),
        cbor2.dumps([items[0], [], items[2], items[3]]),
        cbor2.dumps(cbor2.CBORTag(98, items)),
        cbor2.dumps({"seal": items}),
        b"\x9f" + seal[1:] + b"\xff",  # indefinite-length array
        b"",
    ]
    for bad in bad_structures:
        with pytest.raises(MalformedSeal):
            verify_seal(bad, ring, NOW)
    assert verify_seal(cbor2.dumps(cbor2.CBORTag(18, items)), ring, NOW) == claims


@pytest.mark.parametrize(
    "payload",
    [
        lambda c: cbor2.dumps(cbor2.loads(encode_claims(c)) | {10: 1}),  # unknown claim
        lambda c: cbor2.dumps({k: v for k, v in cbor2.loads(encode_claims(c)).items() if k != 9}),  # missing
        lambda c: cbor2.dumps(dict(sorted(cbor2.loads(encode_claims(c)).items(), reverse=True))),  # unsorted
        lambda c: cbor2.dumps(cbor2.loads(encode_claims(c)) | {4: 99}),  # unknown category
        lambda c: cbor2.dumps(cbor2.loads(encode_claims(c)) | {6: -1}),  # negative day
        lambda c: cbor2.dumps(cbor2.loads(encode_claims(c)) | {7: 1}),  # expiry before issue
        lambda c: cbor2.dumps(cbor2.loads(encode_claims(c)) | {8: 1.5}),  # float
        lambda c: cbor2.dumps(cbor2.loads(encode_claims(c)) | {9: b"short"}),
        lambda c: cbor2.dumps(cbor2.loads(encode_claims(c)) | {1: b"CNCA"}),  # bytes for text
        lambda c: cbor2.dumps(cbor2.loads(encode_claims(c)) | {3: "91110000600037341L"}),  # unpacked
        lambda c: cbor2.dumps(cbor2.loads(encode_claims(c)) | {3: b"\xff" * 12}),  # impossible code
        lambda c: cbor2.dumps(cbor2.loads(encode_claims(c)) | {5: None}),
        lambda c: encode_claims(c) + b"\x00",  # trailing byte
        lambda c: b"\xa9\x01\x78\x0f" + encode_claims(c)[3:],  # over-long text head
        lambda c: b"\xa9\x18\x01" + encode_claims(c)[2:],  # over-long key
        lambda c: cbor2.dumps(
            {True: "x"} | {k: v for k, v in cbor2.loads(encode_claims(c)).items() if k > 1}
        ),
        lambda c: cbor2.dumps(
            {(float(k) if k == 2 else k): v for k, v in cbor2.loads(encode_claims(c)).items()}
        ),
        lambda c: cbor2.dumps(list(cbor2.loads(encode_claims(c)).values())),
        lambda c: encode_claims(c).replace(b"CNCA", b"\xff\xfeCA"),  # bad UTF-8
    ],
)
def test_claims_decoding_is_strict_even_under_a_genuine_signature(ring, claims, payload):
    with pytest.raises(MalformedSeal):
        verify_seal(resign(ring, payload(claims)), ring, NOW)


def test_other_holder_identifiers_and_no_holder(ring):
    for holder in ("DE-HRB-12345", None):
        claims = make_claims(holder_credit_code=holder)
        assert verify_seal(sign_seal(claims, ring), ring, NOW).holder_credit_code == holder


def test_verify_refuses_non_bytes(ring):
    with pytest.raises(MalformedSeal):
        verify_seal("not bytes", ring, NOW)  # type: ignore[arg-type]


# --- tokens, URLs, scanned text --------------------------------------------------------------------------


def test_token_is_unpadded_uppercase_base32_and_strict(ring, claims):
    seal = sign_seal(claims, ring)
    token = issue_token(claims, ring)
    assert token == token_from_bytes(seal) and "=" not in token and token == token.upper()
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert token_to_bytes(token) == seal == token_to_bytes(token.lower())
    for bad in (
        "",
        "A",
        "ABC",
        token + "=",
        token[:-1] + "1",
        token[:-1] + "Z",
        " " + token,
        "-" + token[1:],
    ):
        with pytest.raises(MalformedSeal):
            token_to_bytes(bad)


def test_seal_url_and_host_rules():
    assert seal_url("abc", "verify.example.cn:8443") == "HTTPS://VERIFY.EXAMPLE.CN:8443/V/ABC"
    for host in ("bad host", "例子.cn", "x/y", ""):
        with pytest.raises(ValueError):
            seal_url("ABC", host)


@pytest.mark.parametrize(
    "shape",
    [
        "HTTPS://VERIFY.EXAMPLE.CN/V/{t}",
        "https://verify.example.cn/v/{lt}",
        "http://localhost:5000/V/{t}/",
        "  HTTPS://OTHER.HOST/v/{t}\n",
        "{t}",
        "{lt}\r\n",
        "HtTpS://Verify.Example.CN/V/{t}/ ",
    ],
)
def test_parse_scanned_accepts_url_and_token_shapes(ring, claims, shape):
    seal = sign_seal(claims, ring)
    token = token_from_bytes(seal)
    text = shape.format(t=token, lt=token.lower())
    assert parse_scanned(text) == seal
    assert verify_scanned(text, ring, NOW) == claims


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "ftp://x/V/AAAA",
        "https://x/W/AAAA",
        "https:///V/AAAA",
        "https://x/V/AAAA?x=1",
        "https://x/V/AA AA",
        "https://x/V/",
        "A" * 5000,
        "ＡＢＣＤ",
        "https://x/V/\u00c5",
        None,
        b"AAAA",
    ],
)
def test_parse_scanned_refuses_everything_else_with_malformed_seal(text):
    with pytest.raises(MalformedSeal):
        parse_scanned(text)  # type: ignore[arg-type]


def test_kid_in_protected_header_matches_key_id(ring, claims):
    seal = sign_seal(claims, ring)
    assert cose.parse_sign1(seal).kid == key_id(seeded_key("signer-1").public_key())
