"""Who may do what with certificates: every API route and every page, for every kind of caller.

Callers: anonymous, admin, an operator of body A, an operator of body B, customs, auditor, an API
token of A, a token of B, and a revoked token of A. The certificates belong to body A.
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from registry.models import Certificate
from tests.conftest import csrf_token
from tests.functional import test_certificates_support as support
from tests.functional.test_certificates_support import (
    PRINCIPALS,
    World,
    audit_count,
    certificate_count,
    certificate_json,
    sealed,
)

# The shared fixtures, made visible to pytest in this module.
app_config, cheap_password_hashing, keys, passphrase, world = (
    support.app_config,
    support.cheap_password_hashing,
    support.keys,
    support.passphrase,
    support.world,
)

# Who may write body A's certificates, and what the others get.
WRITE_EXPECTED = {
    "anonymous": 401,
    "admin": 200,
    "op_a": 200,
    "op_b": 403,
    "customs": 403,
    "auditor": 403,
    "token_a": 200,
    "token_b": 403,
    "revoked": 401,
}
READ_ROUTES = ("", "/qr.png", "/qr.svg", "/label.png")


def test_reads_are_public_for_every_caller(world: World) -> None:
    base = "/api/v1/certificates/CB-A/A-0001"
    for who in PRINCIPALS:
        assert world.call(who, "GET", "/api/v1/certificates?body=CB-A").status_code == 200, who
        for suffix in READ_ROUTES:
            assert world.call(who, "GET", base + suffix).status_code == 200, (who, suffix)


def test_registering_for_body_a(world: World, session: Session) -> None:
    for who in PRINCIPALS:
        before_events, before_count = audit_count(session), certificate_count(session)
        response = world.call(
            who, "POST", "/api/v1/certificates", json=certificate_json(f"M-{who}", body="CB-A")
        )
        expected = WRITE_EXPECTED[who]
        assert response.status_code == (201 if expected == 200 else expected), (who, response.get_json())
        assert response.mimetype == ("application/json" if expected == 200 else "application/problem+json")
        if expected == 200:
            assert certificate_count(session) == before_count + 1
            assert response.get_json()["items"][0]["seal"]["token"]
        else:
            assert (audit_count(session), certificate_count(session)) == (before_events, before_count), who
    problem = world.call("revoked", "POST", "/api/v1/certificates", json=certificate_json("X", body="CB-A"))
    assert problem.get_json()["code"] == "invalid_token"
    assert 'error="invalid_token"' in problem.headers["WWW-Authenticate"]
    assert (
        world.call("anonymous", "POST", "/api/v1/certificates", json={}).get_json()["code"] == "unauthorized"
    )
    assert (
        world.call(
            "op_b", "POST", "/api/v1/certificates", json=certificate_json("Y", body="CB-A")
        ).get_json()["code"]
        == "wrong_body"
    )


def test_a_token_or_operator_registers_for_its_own_body_without_naming_it(
    world: World, session: Session
) -> None:
    for who, body in (("token_b", "CB-B"), ("op_b", "CB-B"), ("token_a", "CB-A")):
        response = world.call(who, "POST", "/api/v1/certificates", json=certificate_json(f"OWN-{who}"))
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["items"][0]["body"] == body
    # An admin acts for every body, so must say which one.
    refused = world.call("admin", "POST", "/api/v1/certificates", json=certificate_json("NO-BODY"))
    assert refused.status_code == 422 and "body" in refused.get_json()["errors"]


@pytest.fixture
def per_caller(session: Session, now: dt.datetime, world: World) -> dict[str, Certificate]:
    """One certificate of body A per caller, so each walks the lifecycle from "valid"."""
    found = {who: sealed(session, now, "CB-A", f"L-{who}")[0] for who in PRINCIPALS}
    session.commit()
    return found


def test_status_changes_of_body_a_certificates(
    world: World, session: Session, per_caller: dict[str, Certificate]
) -> None:
    steps = (("suspend", "suspended"), ("restore", "valid"), ("withdraw", "withdrawn"))
    for who in PRINCIPALS:
        before = audit_count(session)
        for verb, status in steps:
            response = world.call(
                who, "POST", f"/api/v1/certificates/CB-A/L-{who}/{verb}", json={"reason": f"{verb} by {who}"}
            )
            assert response.status_code == WRITE_EXPECTED[who], (who, verb, response.get_json())
            if response.status_code == 200:
                assert response.get_json()["stored_status"] == status
        session.expire_all()
        stored = session.get(Certificate, per_caller[who].id)
        assert stored is not None
        if WRITE_EXPECTED[who] == 200:
            assert stored.status == "withdrawn" and audit_count(session) == before + 3
        else:
            assert stored.status == "valid" and audit_count(session) == before, who


def test_a_session_write_needs_json_so_a_cross_site_form_cannot_forge_it(
    world: World, session: Session
) -> None:
    before = audit_count(session)
    form = world.call("op_a", "POST", "/api/v1/certificates/CB-A/A-0001/suspend", data={"reason": "csrf"})
    assert form.status_code == 415 and form.get_json()["code"] == "unsupported_media_type"
    assert audit_count(session) == before
    # The same with JSON works without a CSRF token: no cross-site page can send it.
    ok = world.call("op_a", "POST", "/api/v1/certificates/CB-A/A-0001/suspend", json={"reason": "audit"})
    assert ok.status_code == 200


def test_the_token_authenticates_even_without_a_session_and_a_bad_one_wins_over_a_session(
    world: World,
) -> None:
    url = "/api/v1/certificates/CB-A/A-0001/suspend"
    # An operator of A signed in, but sending a revoked token: the token is judged, and refused.
    response = world.call("op_a", "POST", url, json={"reason": "r"}, headers=world.headers["revoked"])
    assert response.status_code == 401
    for header in ("Basic abc", "Bearer", "Bearer not-a-token", "Token ecr_x"):
        refused = world.call(
            "anonymous", "POST", url, json={"reason": "r"}, headers={"Authorization": header}
        )
        assert refused.status_code == 401, header


def test_tokens_record_their_last_use(world: World, session: Session) -> None:
    from registry.models import ApiToken

    world.call("token_a", "POST", "/api/v1/certificates/CB-A/A-0001/suspend", json={"reason": "r"})
    session.expire_all()
    used = [t for t in session.query(ApiToken).all() if t.last_used_at is not None]
    assert [t.body.code for t in used] == ["CB-A"]


# ---- pages -----------------------------------------------------------------------------------


def page_urls(world: World) -> list[tuple[str, str, dict[str, str]]]:
    base = "/certificates/CB-A/A-0001"
    return [
        ("GET", "/certificates/", {}),
        ("GET", "/certificates/new", {}),
        ("GET", "/certificates/upload", {}),
        ("GET", "/certificates/tokens", {}),
        ("GET", base, {}),
        ("GET", base + "/print", {}),
        (
            "POST",
            base + "/status",
            {"action": "suspend", "reason": "r", "version": str(world.certificate.version)},
        ),
        ("POST", "/certificates/tokens", {"name": "x", "body": "CB-A"}),
    ]


def test_the_page_matrix(app: Flask, world: World, session: Session) -> None:
    own_body_pages = {
        "/certificates/CB-A/A-0001",
        "/certificates/CB-A/A-0001/print",
        "/certificates/CB-A/A-0001/status",
    }
    checked = 0
    for who in ("anonymous", "admin", "op_a", "op_b", "customs", "auditor"):
        client = world.clients[who]
        token = csrf_token(client, "/login")
        for method, url, data in page_urls(world):
            before = audit_count(session)
            if url.endswith("/status"):  # each successful caller toggles it, so each asks for a legal change
                current = session.get(Certificate, world.certificate.id)
                assert current is not None
                data = {
                    "action": "suspend" if current.status == "valid" else "restore",
                    "reason": "r",
                    "version": str(current.version),
                }
            response = client.open(url, method=method, data=data | {"csrf_token": token})
            status = response.status_code
            where = f"{who} {method} {url}"
            checked += 1
            if who == "anonymous":
                assert status == 302 and response.headers["Location"].startswith("/login"), where
            elif who in ("customs", "auditor") or (who == "op_b" and url in own_body_pages):
                assert status == 403, where
            elif who == "op_b" and url == "/certificates/tokens" and method == "POST":
                assert status == 403, where  # names body A: an operator of B cannot issue its tokens
            else:
                assert status in (200, 201, 302), (where, response.get_data(as_text=True)[:300])
            if status >= 400 or who == "anonymous":
                assert audit_count(session) == before, where
    assert checked == 6 * len(page_urls(world))
    # Every certificates.* endpoint is covered by the walk above.
    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("certificates.")}
    assert len(endpoints) == 11  # index, new/create, upload x2, tokens x2, revoke, detail, status, print


def test_certificate_pages_are_never_public(app: Flask) -> None:
    from app.access import PUBLIC, access_of

    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("certificates."):
            assert access_of(app.view_functions[rule.endpoint]) == frozenset({"admin", "body_operator"})
        if rule.endpoint.startswith("verification."):
            assert access_of(app.view_functions[rule.endpoint]) == PUBLIC


def test_an_operator_revokes_only_their_own_bodys_tokens(world: World, session: Session) -> None:
    from sqlalchemy import select

    from registry.models import ApiToken

    token_b = session.scalars(select(ApiToken).join(ApiToken.body).where(ApiToken.revoked_at.is_(None))).all()
    b_id = next(t.id for t in token_b if t.body.code == "CB-B")
    client = world.clients["op_a"]
    response = client.post(
        f"/certificates/tokens/{b_id}/revoke", data={"csrf_token": csrf_token(client, "/certificates/tokens")}
    )
    assert response.status_code == 404
    assert (
        world.call("token_b", "POST", "/api/v1/certificates", json=certificate_json("STILL")).status_code
        == 201
    )
