"""POST /api/v1/verify, the published keys and the trust bundle; any input gets a verdict or a 4xx."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from registry import keystore, translog
from registry.certificates import change_certificate_status
from tests.functional import test_certificates_support as support
from tests.functional.test_certificates_support import (
    HOST,
    World,
    sealed,
)
from verify.bundle import load_and_verify
from verify.keys import b64url, import_jwks, key_id
from verify.log_proof import LogProof, WrongSubject, check_log_proof
from verify.offline import OfflineVerifier

# The shared fixtures, made visible to pytest in this module.
app_config, cheap_password_hashing, keys, passphrase, world = (
    support.app_config,
    support.cheap_password_hashing,
    support.keys,
    support.passphrase,
    support.world,
)

VERIFY = "/api/v1/verify"


def verify(world: World, payload: Any) -> Any:
    # Serialized here: the test client's json= sends no body at all for None.
    return world.call("anonymous", "POST", VERIFY, data=json.dumps(payload), content_type="application/json")


def test_a_token_and_a_scanned_url_are_valid(world: World) -> None:
    token = world.seal.token
    for payload in (
        {"token": token},
        {"token": token.lower()},
        {"qr": f"HTTPS://{HOST}/V/{token}"},
        {"qr": f"  https://{HOST.lower()}/v/{token.lower()}/ \n"},
    ):
        response = verify(world, payload)
        assert response.status_code == 200, payload
        answer = response.get_json()
        assert answer["verdict"] == "VALID" and answer["warning"] is False and answer["valid"] is True
        assert answer["reason"]["zh"] and answer["reason"]["en"].startswith("Genuine seal")
        assert answer["certificate"]["number"] == "A-0001" and answer["certificate"]["body"] == "CB-A"
        assert answer["checked_at"].startswith("2026-06-15T10:00:00")
        assert response.headers["Cache-Control"] == "no-store"


def test_the_certificate_url_follows_the_request_host(world: World) -> None:
    """Certificate URLs are kept per certificate (app.certificates.present), and per host,
    scheme and script root: another host never gets the first one's URL."""
    for base in ("http://localhost", "https://verify.example.cn", "http://localhost", "http://localhost/root"):
        response = world.call(
            "anonymous", "POST", VERIFY, json={"token": world.seal.token}, base_url=base
        )
        assert response.get_json()["certificate"]["url"] == f"{base}/api/v1/certificates/CB-A/A-0001"


def test_forgeries_and_garbage_are_forged_not_errors(world: World) -> None:
    token = world.seal.token
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    for text in (flipped, "hello", "", "HTTPS://EVIL.EXAMPLE/V/" + "A" * 10, "😀" * 50, "A" * 5000):
        answer = verify(world, {"qr": text}).get_json()
        assert answer["verdict"] == "FORGED", text[:20]
        assert answer["certificate"] is None and answer["valid"] is False


def test_a_batch_answers_each_item_in_order(world: World) -> None:
    token = world.seal.token
    items = [{"token": token}, "garbage", {"qr": f"HTTPS://{HOST}/V/{token}"}, token.lower()]
    response = verify(world, {"items": items})
    assert response.status_code == 200
    answers = response.get_json()
    assert answers["count"] == 4
    assert [a["verdict"] for a in answers["items"]] == ["VALID", "FORGED", "VALID", "VALID"]


def test_batches_are_limited_to_1000_naming_the_limit(world: World) -> None:
    assert verify(world, {"items": ["x"] * 1000}).status_code == 200
    response = verify(world, {"items": ["x"] * 1001})
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["code"] == "batch_too_large" and problem["limit"] == 1000 and "1000" in problem["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "token",
        42,
        None,
        {},
        {"token": 5},
        {"token": "A", "qr": "B"},
        {"tokn": "A"},
        {"items": "A"},
        {"items": [5]},
        {"items": [{"token": None}]},
        {"items": []},
        {"items": [{}], "x": 1},
    ],
)
def test_wrong_shapes_are_422_naming_the_problem(world: World, payload: Any) -> None:
    response = verify(world, payload)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"]


def test_not_json_is_refused(world: World) -> None:
    client = world.clients["anonymous"]
    assert client.post(VERIFY, data="token=x").status_code == 415
    assert client.post(VERIFY, data=b"{nope", content_type="application/json").status_code == 400
    deep = b"[" * 200_000 + b"]" * 200_000
    assert client.post(VERIFY, data=deep, content_type="application/json").status_code == 400


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["token", "qr", "items", "x"]) | st.text(max_size=5), children, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=JSON)
def test_any_json_gets_a_verdict_or_a_clear_4xx(world: World, payload: Any) -> None:
    response = verify(world, payload)
    assert response.status_code in (200, 422), (payload, response.status_code)
    body = response.get_json()
    if response.status_code == 200:
        verdicts = [body] if "verdict" in body else body["items"]
        assert all(v["verdict"] in ("VALID", "FORGED") for v in verdicts)
    else:
        assert body["code"] in ("invalid_input", "batch_too_large")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=400))
def test_any_string_is_forged_unless_it_is_the_seal(world: World, text: str) -> None:
    for payload in ({"qr": text}, {"token": text}):
        response = verify(world, payload)
        assert response.status_code == 200
        assert response.get_json()["verdict"] == (
            "VALID" if text.strip().upper() == world.seal.token else "FORGED"
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200))
def test_any_bytes_as_body_are_answered(world: World, raw: bytes) -> None:
    response = world.clients["anonymous"].post(VERIFY, data=raw, content_type="application/json")
    assert response.status_code in (200, 400, 422)


def test_revocations_are_seen_by_the_very_next_verification(
    world: World, session: Session, now: dt.datetime, keys: dict[str, str]
) -> None:
    _other, other_seal = sealed(session, now, "CB-A", "A-0002")
    session.commit()
    assert verify(world, {"token": other_seal.token}).get_json()["verdict"] == "VALID"
    change_certificate_status(session, "CB-A", "A-0002", "withdrawn", reason="fraud", actor="t", now=now)
    session.commit()
    assert verify(world, {"token": other_seal.token}).get_json()["verdict"] == "CERTIFICATE_WITHDRAWN"
    assert verify(world, {"token": world.seal.token}).get_json()["verdict"] == "VALID"
    keystore.revoke_key(session, keys["seal"], "stolen", actor="t", now=now)
    session.commit()
    assert verify(world, {"token": world.seal.token}).get_json()["verdict"] == "KEY_REVOKED"


def test_jwks_publishes_the_seal_key_as_rfc_8037(world: World, keys: dict[str, str]) -> None:
    response = world.call("anonymous", "GET", "/.well-known/jwks.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    (member,) = document["keys"]
    assert {member["kty"], member["crv"], member["alg"], member["use"]} == {"OKP", "Ed25519", "EdDSA", "sig"}
    (public_key,) = import_jwks(document).values()
    assert key_id(public_key).hex() == keys["seal"]
    detail = world.call("anonymous", "GET", "/api/v1/certificates/CB-A/A-0001").get_json()
    assert detail["seal"]["kid"] == member["kid"] == b64url(bytes.fromhex(keys["seal"]))


def test_the_trust_bundle_verifies_offline_to_the_same_verdicts(
    world: World, session: Session, now: dt.datetime, keys: dict[str, str]
) -> None:
    _, suspended_seal = sealed(session, now, "CB-A", "A-SUSP")
    change_certificate_status(session, "CB-A", "A-SUSP", "suspended", reason="r", actor="t", now=now)
    session.commit()
    response = world.call("anonymous", "GET", "/api/v1/trust-bundle")
    assert response.status_code == 200 and response.mimetype == "application/cbor"
    root = import_jwks(world.call("anonymous", "GET", "/.well-known/trust-root.json").get_json())
    (root_key,) = root.values()
    assert response.headers["X-Root-Key-Id"] == b64url(key_id(root_key))
    assert key_id(root_key).hex() == keys["root"]
    offline = OfflineVerifier(load_and_verify(response.data, root_key, now))
    for token in (world.seal.token, suspended_seal.token, "garbage"):
        server = verify(world, {"token": token}).get_json()["verdict"]
        assert offline.verify_scanned(token, now).verdict.code.value == server
    assert world.call("anonymous", "GET", "/api/v1/trust-bundle?registered=true").status_code == 200
    assert world.call("anonymous", "GET", "/api/v1/trust-bundle?registered=maybe").status_code == 422


def test_ping_is_trivial(world: World) -> None:
    response = world.call("anonymous", "GET", "/api/v1/ping")
    assert response.status_code == 200 and json.loads(response.data) == {"ok": True}


def test_jwks_follows_rotation_and_revocation(
    world: World, session: Session, now: dt.datetime, keys: dict[str, str], passphrase: bytes
) -> None:
    new = keystore.rotate_key(session, "seal", passphrase, actor="t", now=now)
    session.commit()
    kids = {m["kid"] for m in world.call("anonymous", "GET", "/.well-known/jwks.json").get_json()["keys"]}
    assert kids == {b64url(bytes.fromhex(keys["seal"])), b64url(bytes.fromhex(new.kid))}
    # The old key still verifies the seals it made before the rotation.
    assert verify(world, {"token": world.seal.token}).get_json()["verdict"] == "VALID"
    keystore.revoke_key(session, keys["seal"], "leaked", actor="t", now=now)
    session.commit()
    kids = {m["kid"] for m in world.call("anonymous", "GET", "/.well-known/jwks.json").get_json()["keys"]}
    assert kids == {b64url(bytes.fromhex(new.kid))}
    assert verify(world, {"token": world.seal.token}).get_json()["verdict"] == "KEY_REVOKED"


def test_without_a_root_key_the_bundle_is_a_503(
    world: World, session: Session, now: dt.datetime, keys: dict[str, str]
) -> None:
    keystore.revoke_key(session, keys["root"], "retired", actor="t", now=now)
    session.commit()
    response = world.call("anonymous", "GET", "/api/v1/trust-bundle")
    assert response.status_code == 503 and response.get_json()["code"] == "signing_unavailable"


def test_the_answer_places_the_certificate_in_the_log_with_a_proof_on_request(
    world: World, session: Session, now: dt.datetime, passphrase: bytes
) -> None:
    keystore.generate_key(session, "log", passphrase, actor="test", now=now)
    change_certificate_status(session, "CB-A", "A-0001", "suspended", reason="audit", actor="t", now=now)
    session.flush()
    plain = verify(world, {"token": world.seal.token}).get_json()
    index = plain["log"]["index"]
    # The latest change of this certificate (the key added before it is another subject).
    assert translog.entries(session, index, index + 1)[0][1].action == "certificate:suspend"
    assert index == translog.head(session).size - 1 and set(plain["log"]) == {"index"}

    answer = verify(world, {"token": world.seal.token, "log_proof": True}).get_json()
    assert answer["verdict"] == "CERTIFICATE_SUSPENDED" and answer["log"]["index"] == index
    proof = LogProof.from_json(answer["log"])
    verifier = translog.log_verifier(session, f"{HOST}/registry-log", now)
    checkpoint = check_log_proof(proof, verifier, body_code="CB-A", number="A-0001")
    assert checkpoint.size == translog.head(session).size
    with pytest.raises(WrongSubject):
        check_log_proof(proof, verifier, body_code="CB-A", number="A-0002")
    # Asking for a proof without a log key is a 503 naming the problem, not a 500.
    log_key = keystore.active_record(session, "log")
    assert log_key is not None
    keystore.revoke_key(session, log_key.kid, "test", actor="t", now=now)
    session.flush()
    refused = verify(world, {"token": world.seal.token, "log_proof": True})
    assert refused.status_code == 503 and "checkpoint" in refused.get_json()["detail"]
