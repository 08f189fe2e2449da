"""Golden vectors in tests/vectors/seal/*.json: every file verifies (or fails) as it says, and the
generator still reproduces them byte for byte (Ed25519 signatures are deterministic)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verify import cose, errors
from verify.claims import Claims
from verify.keys import KeyEntry, KeyRing, KeyState, key_id
from verify.seal import issue_token, token_to_bytes, verify_token

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "seal"
FILES = sorted(VECTORS.glob("*.json"))


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("seal_vector_generator", VECTORS / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stamp(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


def ring_of(keys: list[dict[str, Any]]) -> KeyRing:
    entries = []
    for record in keys:
        private = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(record["seed_hex"]))
        public = private.public_key()
        assert public.public_bytes_raw().hex() == record["public_hex"]
        assert key_id(public).hex() == record["kid_hex"]
        entries.append(
            KeyEntry(
                public,
                KeyState(record["state"]),
                stamp(record["not_before"]),  # type: ignore[arg-type]
                retired_at=stamp(record.get("retired_at")),
                verify_until=stamp(record.get("verify_until")),
                revoked_at=stamp(record.get("revoked_at")),
                private_key=private if record["state"] == "active" else None,
            )
        )
    return KeyRing(entries)


def claims_of(data: dict[str, Any]) -> Claims:
    return Claims(
        body_code=data["body_code"],
        certificate_number=data["certificate_number"],
        holder_credit_code=data["holder_credit_code"],
        category=data["category"],
        jurisdiction=data["jurisdiction"],
        issue_date=dt.date.fromisoformat(data["issue_date"]),
        expiry_date=dt.date.fromisoformat(data["expiry_date"]),
        issued_at=stamp(data["issued_at"]),  # type: ignore[arg-type]
        record_digest=bytes.fromhex(data["record_digest_hex"]),
    )


def test_there_are_positive_and_negative_vectors():
    outcomes = [json.loads(f.read_text(encoding="utf-8"))["expected"]["valid"] for f in FILES]
    assert outcomes.count(True) >= 5 and outcomes.count(False) >= 15


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_vector(path: Path):
    vector = json.loads(path.read_text(encoding="utf-8"))
    ring = ring_of(vector["keys"])
    now = stamp(vector["now"])
    assert token_to_bytes(vector["token"]).hex() == vector["cose_hex"]
    expected = vector["expected"]
    if expected["valid"]:
        claims = claims_of(expected["claims"])
        assert verify_token(vector["token"], ring, now) == claims  # type: ignore[arg-type]
        if vector["cose_hex"].startswith("84"):  # untagged: our own encoding
            # Re-signing the expected claims with the seal's key reproduces the token exactly.
            kid = cose.parse_sign1(token_to_bytes(vector["token"])).kid
            record = next(k for k in vector["keys"] if k["kid_hex"] == kid.hex())
            signer = KeyRing()
            signer.add(
                Ed25519PrivateKey.from_private_bytes(bytes.fromhex(record["seed_hex"])), claims.issued_at
            )
            assert issue_token(claims, signer) == vector["token"]
    else:
        error_class = getattr(errors, expected["error"])
        assert issubclass(error_class, errors.SealError)
        with pytest.raises(error_class) as caught:
            verify_token(vector["token"], ring, now)  # type: ignore[arg-type]
        assert type(caught.value) is error_class


def test_generator_reproduces_the_committed_vectors():
    generator = load_generator()
    generated = generator.build_vectors()
    assert sorted(generated) == [f.name for f in FILES]
    for name, body in generated.items():
        assert generator.render(body) == (VECTORS / name).read_text(encoding="utf-8"), name
