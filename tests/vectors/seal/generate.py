"""Generate the seal test vectors in this folder (one JSON file per vector).

Run from the repository root:  .venv/bin/python tests/vectors/seal/generate.py

Keys come from fixed seeds and Ed25519 signatures are deterministic, so the output is identical
on every run; tests/unit/verify/test_verify_vectors.py checks both the vectors and that this
script still reproduces them. Negative vectors that need a *valid signature over bad content*
are assembled by hand (raw CBOR bytes), signed with the real Sig_structure.

Vector fields:
  description   what it tests
  keys          the verifier's key ring: seed (hex, 32 bytes), public key, kid, state and times
  now           the verifier's clock
  token         RFC 4648 base32 of the COSE bytes, uppercase, unpadded (what the QR carries)
  cose_hex      the COSE_Sign1 bytes, for readers who want to decode them with another tool
  expected      {"valid": true, "claims": {...}} or {"valid": false, "error": "<SealError class>"}
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cbor2  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from verify import cose  # noqa: E402
from verify.claims import Claims, encode_claims, record_digest  # noqa: E402
from verify.keys import key_id  # noqa: E402

HERE = Path(__file__).resolve().parent
NOW = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
ISSUED = dt.datetime(2026, 3, 2, 8, 30, 15, tzinfo=dt.UTC)
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def seed(name: str) -> bytes:
    return hashlib.sha256(f"epi-cert seal vector key {name}".encode()).digest()


def private_key(name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(seed(name))


def key_record(name: str, state: str = "active", **times: dt.datetime) -> dict[str, Any]:
    public = private_key(name).public_key()
    record: dict[str, Any] = {
        "seed_hex": seed(name).hex(),
        "public_hex": public.public_bytes_raw().hex(),
        "kid_hex": key_id(public).hex(),
        "state": state,
        "not_before": dt.datetime(2025, 1, 1, tzinfo=dt.UTC).strftime(STAMP),
    }
    for field, moment in times.items():
        record[field] = moment.strftime(STAMP)
    return record


RECORD = {
    "body": "CNCA-R-2002-001",
    "number": "CQC2026011234567",
    "holder": {"credit_code": "91110000600037341L", "name_zh": "示例医疗用品有限公司"},
    "category": "mask",
    "jurisdiction": "CN",
    "product": "KN95 respirator",
    "models": ["A-100", "A-200"],
    "standards": ["GB 2626-2019"],
    "issue_date": "2026-01-12",
    "expiry_date": "2031-01-11",
}


def typical_claims(**changes: Any) -> Claims:
    values: dict[str, Any] = {
        "body_code": "CNCA-R-2002-001",
        "certificate_number": "CQC2026011234567",
        "holder_credit_code": "91110000600037341L",
        "category": "mask",
        "jurisdiction": "CN",
        "issue_date": dt.date(2026, 1, 12),
        "expiry_date": dt.date(2031, 1, 11),
        "issued_at": ISSUED,
        "record_digest": record_digest(RECORD),
    }
    values.update(changes)
    return Claims(**values)


def claims_json(claims: Claims) -> dict[str, Any]:
    return {
        "body_code": claims.body_code,
        "certificate_number": claims.certificate_number,
        "holder_credit_code": claims.holder_credit_code,
        "category": claims.category,
        "jurisdiction": claims.jurisdiction,
        "issue_date": claims.issue_date.isoformat(),
        "expiry_date": claims.expiry_date.isoformat(),
        "issued_at": claims.issued_at.strftime(STAMP),
        "record_digest_hex": claims.record_digest.hex(),
    }


def signed(payload: bytes, key: str = "A", protected: bytes | None = None) -> bytes:
    """A COSE_Sign1 with a valid signature over exactly these (possibly bad) bytes."""
    if protected is None:
        protected = cose.protected_header(key_id(private_key(key).public_key()))
    signature = private_key(key).sign(cose.sig_structure(protected, payload))
    return cose.encode_sign1(protected, payload, signature)


def claims_map() -> dict[int, Any]:
    """The typical claims as a CBOR-ready map, for hand-made bad payloads."""
    return dict(cbor2.loads(encode_claims(typical_claims())))


def vector(
    description: str, keys: list[dict[str, Any]], data: bytes, expected: dict[str, Any]
) -> dict[str, Any]:
    return {
        "description": description,
        "keys": keys,
        "now": NOW.strftime(STAMP),
        "token": base64.b32encode(data).decode("ascii").rstrip("="),
        "cose_hex": data.hex(),
        "expected": expected,
    }


def valid(claims: Claims) -> dict[str, Any]:
    return {"valid": True, "claims": claims_json(claims)}


def error(name: str) -> dict[str, Any]:
    return {"valid": False, "error": name}


def build_vectors() -> dict[str, dict[str, Any]]:
    """File name -> vector."""
    ring = [key_record("A")]
    typical = typical_claims()
    good = signed(encode_claims(typical))
    kid_a = key_id(private_key("A").public_key())
    retired = {
        "retired_at": dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
        "verify_until": dt.datetime(2027, 4, 1, tzinfo=dt.UTC),
    }
    other_holder = typical_claims(holder_credit_code="DE-HRB-12345", category="ventilator", jurisdiction="EU")
    no_holder = typical_claims(holder_credit_code=None, category="test_reagent")
    bad_signature = bytearray(good)
    bad_signature[-1] ^= 0x01
    vectors = {
        "valid-typical": vector(
            "A typical certificate, signed by the active key.", ring, good, valid(typical)
        ),
        "valid-tagged": vector("The same seal wrapped in COSE tag 18.", ring, b"\xd2" + good, valid(typical)),
        "valid-other-holder-id": vector(
            "Holder without a GB 32100 code: the identifier is carried as text.",
            ring,
            signed(encode_claims(other_holder)),
            valid(other_holder),
        ),
        "valid-no-holder": vector(
            "No holder claim at all.", ring, signed(encode_claims(no_holder)), valid(no_holder)
        ),
        "valid-retired-key-in-window": vector(
            "Seal issued before its key was retired, verified before verify_until.",
            [key_record("A", "retired", **retired), key_record("B")],
            good,
            valid(typical),
        ),
        "bad-signature": vector(
            "Last signature bit flipped.", ring, bytes(bad_signature), error("BadSignature")
        ),
        "unknown-key": vector(
            "Signed by a key the verifier does not know.",
            ring,
            signed(encode_claims(typical), key="X"),
            error("UnknownKey"),
        ),
        "alg-es256": vector(
            "Protected header claims ES256 (-7) while signed with Ed25519.",
            ring,
            signed(encode_claims(typical), protected=cbor2.dumps({1: -7, 4: kid_a}, canonical=True)),
            error("AlgorithmNotAllowed"),
        ),
        "alg-missing": vector(
            "Protected header without an algorithm.",
            ring,
            signed(encode_claims(typical), protected=cbor2.dumps({4: kid_a}, canonical=True)),
            error("MalformedSeal"),
        ),
        "crit-header": vector(
            "Protected header with a critical header we do not understand.",
            ring,
            signed(
                encode_claims(typical),
                protected=cbor2.dumps({1: -8, 2: [99], 4: kid_a, 99: 1}, canonical=True),
            ),
            error("MalformedSeal"),
        ),
        "protected-unsorted": vector(
            "Protected header with keys out of deterministic order.",
            ring,
            signed(encode_claims(typical), protected=b"\xa2\x04\x48" + kid_a + b"\x01\x27"),
            error("MalformedSeal"),
        ),
        "trailing-bytes": vector(
            "One byte after the COSE_Sign1.", ring, good + b"\x00", error("MalformedSeal")
        ),
        "array-of-3": vector(
            "COSE_Sign1 array with 3 elements.",
            ring,
            b"\x83" + good[1 : len(good) - 66],
            error("MalformedSeal"),
        ),
        "unprotected-not-empty": vector(
            "Key id moved to the unprotected header.",
            ring,
            b"\x84\x43\xa1\x01\x27\xa1\x04\x48" + kid_a + good[16:],
            error("MalformedSeal"),
        ),
        "payload-long-head": vector(
            "Payload length written in 2 bytes instead of 1 (non-minimal head).",
            ring,
            good[:16] + b"\x59\x00" + good[17:],
            error("MalformedSeal"),
        ),
        "claims-duplicate-key": vector(
            "Signed claims with claim 2 twice.",
            ring,
            signed(_duplicate_key_payload(typical)),
            error("MalformedSeal"),
        ),
        "claims-unknown-key": vector(
            "Signed claims with an extra claim 10.",
            ring,
            signed(cbor2.dumps(claims_map() | {10: "extra"})),
            error("MalformedSeal"),
        ),
        "claims-wrong-type": vector(
            "Signed claims with the category as text.",
            ring,
            signed(cbor2.dumps(claims_map() | {4: "mask"})),
            error("MalformedSeal"),
        ),
        "claims-unsorted": vector(
            "Signed claims in descending key order.",
            ring,
            signed(cbor2.dumps(dict(sorted(claims_map().items(), reverse=True)))),
            error("MalformedSeal"),
        ),
        "claims-unpacked-credit-code": vector(
            "Signed claims with a GB 32100 holder code as text instead of packed.",
            ring,
            signed(cbor2.dumps(claims_map() | {3: "91110000600037341L"})),
            error("MalformedSeal"),
        ),
        "claims-indefinite-map": vector(
            "Signed claims as an indefinite-length map.",
            ring,
            signed(b"\xbf" + encode_claims(typical)[1:] + b"\xff"),
            error("MalformedSeal"),
        ),
        "key-revoked": vector(
            "Genuine seal, but its key was revoked.",
            [key_record("A", "revoked", revoked_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC)), key_record("B")],
            good,
            error("KeyRevoked"),
        ),
        "retired-key-past-verify-until": vector(
            "Genuine seal from a retired key whose verify_until has passed.",
            [
                key_record(
                    "A",
                    "retired",
                    retired_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
                    verify_until=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
                ),
                key_record("B"),
            ],
            good,
            error("KeyNoLongerValid"),
        ),
        "issued-after-retirement": vector(
            "Seal dated after its key was retired (a retired key must not sign).",
            [
                key_record(
                    "A",
                    "retired",
                    retired_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
                    verify_until=dt.datetime(2027, 3, 1, tzinfo=dt.UTC),
                ),
                key_record("B"),
            ],
            good,
            error("KeyNoLongerValid"),
        ),
    }
    return {f"{name}.json": body for name, body in vectors.items()}


def _duplicate_key_payload(claims: Claims) -> bytes:
    encoded = encode_claims(claims)
    # Map of 9 -> map of 10 with claim 2 repeated right after the original claim 2.
    number = cbor2.dumps(claims.certificate_number)
    claim_2 = b"\x02" + number
    index = encoded.index(claim_2)
    return b"\xaa" + encoded[1 : index + len(claim_2)] + claim_2 + encoded[index + len(claim_2) :]


def render(vector_body: dict[str, Any]) -> str:
    return json.dumps(vector_body, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def main() -> None:
    for name, body in build_vectors().items():
        (HERE / name).write_text(render(body), encoding="utf-8")
    print(f"wrote {len(build_vectors())} vectors to {HERE}")


if __name__ == "__main__":
    main()
