"""Who may do what on the admin pages, CSRF, and deny-by-default across the whole URL map."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.routing import IntegerConverter, Rule

from app.access import PUBLIC, access_of
from registry import users as users_service
from registry.models import AuditEvent, Authorization, Body
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, grant, make_body, make_user

ROLES = ("admin", "auditor", "body_operator", "customs")
# What the issue asks for, pinned per endpoint so a loosened @roles is caught, not just mirrored.
READABLE_BY_AUDITOR = {"admin.dashboard", "admin.bodies", "admin.body", "admin.audit"}
ADMIN_ONLY_PAGES = {"admin.body_new", "admin.body_edit", "admin.line_edit", "admin.users"}


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Recommended argon2 parameters cost ~0.5 s a hash; these tests need accounts, not strong hashes.
    monkeypatch.setattr(
        users_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def body_and_line(session: Session, now: dt.datetime) -> tuple[Body, Authorization]:
    body = make_body(session, now, code="CB-ACCESS")
    line = grant(session, now, body)
    session.commit()
    return body, line


@pytest.fixture
def clients(
    app: Flask, session: Session, now: dt.datetime, body_and_line: tuple[Body, Authorization]
) -> dict[str, FlaskClient]:
    """A signed-in client per role, and an anonymous one."""
    users = {
        role: make_user(session, now, role, body=body_and_line[0] if role == "body_operator" else None)
        for role in ROLES
    }
    session.commit()
    signed_in: dict[str, FlaskClient] = {"anonymous": app.test_client()}
    for role, user in users.items():
        client = app.test_client()
        login(client, user.username, PASSWORD)
        signed_in[role] = client
    return signed_in


def admin_rules(app: Flask) -> list[Rule]:
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")]
    assert len(rules) >= 12  # the walk must not silently cover nothing
    return rules


def build_url(rule: Rule, body: Body, line: Authorization) -> tuple[str, bool]:
    """A concrete URL for ``rule`` and whether every argument names a real record."""
    known = {"code": body.code, "line_id": line.id}
    values: dict[str, object] = {}
    real = True
    for name in rule.arguments:
        if name in known:
            values[name] = known[name]
        else:  # an argument of a route from another area: any well-formed value reaches the check
            real = False
            values[name] = 1 if isinstance(rule._converters[name], IntegerConverter) else "x"
    built = rule.build(values, append_unknown=False)
    assert built is not None, rule
    return built[1], real


def methods(rule: Rule) -> Iterator[str]:
    yield from sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})


def audit_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def test_every_endpoint_declares_an_access_policy(app: Flask) -> None:
    undeclared = sorted(
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if access_of(app.view_functions[rule.endpoint]) is None
    )
    assert undeclared == []


def test_admin_endpoints_are_never_public(app: Flask) -> None:
    for rule in admin_rules(app):
        assert access_of(app.view_functions[rule.endpoint]) != PUBLIC, rule.endpoint


def test_the_declared_policies_match_the_issue(app: Flask) -> None:
    policies = {r.endpoint: access_of(app.view_functions[r.endpoint]) for r in admin_rules(app)}
    assert policies["admin.dashboard"] == frozenset(ROLES)
    for endpoint in READABLE_BY_AUDITOR - {"admin.dashboard"}:
        assert policies[endpoint] == frozenset({"admin", "auditor"}), endpoint
    for endpoint in ADMIN_ONLY_PAGES:
        assert policies[endpoint] == frozenset({"admin"}), endpoint


def test_the_role_matrix_on_every_admin_route(
    app: Flask, session: Session, clients: dict[str, FlaskClient], body_and_line: tuple[Body, Authorization]
) -> None:
    body, line = body_and_line
    tokens = {who: csrf_token(client, "/login") for who, client in clients.items()}
    events_before = audit_count(session)
    checked = 0
    for rule in admin_rules(app):
        url, real = build_url(rule, body, line)
        policy = access_of(app.view_functions[rule.endpoint])
        for method in methods(rule):
            where = f"{method} {url} ({rule.endpoint})"
            for who, client in clients.items():
                if method == "GET":
                    response = client.get(url)
                else:  # a valid token, so the answer is about access, not CSRF
                    response = client.open(url, method=method, data={"csrf_token": tokens[who]})
                status = response.status_code
                checked += 1
                if who == "anonymous":
                    if method == "GET":
                        assert status == 302 and response.headers["Location"].startswith("/login"), where
                    else:
                        assert (
                            (status == 302
                            and response.headers["Location"].startswith("/login"))
                            or (400 <= status < 500)
                        ), where
                elif who == "admin":
                    assert status not in (302, 401, 403), where
                    if method == "GET" and real:
                        assert status == 200, where
                elif who == "auditor":
                    if method != "GET":
                        assert status == 403, where
                    elif "auditor" in policy:
                        assert status == 200 if real else status not in (302, 401, 403), where
                    else:
                        assert status == 403, where
                elif rule.endpoint == "admin.dashboard":  # body_operator, customs
                    assert status == 200, where
                else:
                    assert status == 403, where
    assert checked >= 12 * len(clients)
    assert audit_count(session) == events_before  # nobody but the admin got through, and they sent no data


def test_the_auditor_reads_but_sees_no_forms(clients: dict[str, FlaskClient]) -> None:
    html = clients["auditor"].get("/admin/bodies/CB-ACCESS?lang=en").get_data(as_text=True)
    assert "Scope" in html
    assert 'id="grant-form"' not in html and "/status" not in html and "/edit" not in html
    admin_html = clients["admin"].get("/admin/bodies/CB-ACCESS?lang=en").get_data(as_text=True)
    assert 'id="grant-form"' in admin_html and 'id="body-status-form"' in admin_html


def test_a_post_without_csrf_token_is_refused_and_writes_nothing(
    clients: dict[str, FlaskClient], session: Session, body_and_line: tuple[Body, Authorization]
) -> None:
    admin = clients["admin"]
    body, line = body_and_line
    events_before = audit_count(session)
    attempts = {
        "/admin/bodies/new": {"code": "NO-TOKEN", "kind": "testing_lab", "name_zh": "无令牌实验室"},
        f"/admin/lines/{line.id}/status": {
            "status": "suspended",
            "reason": "r",
            "version": str(line.version),
        },
        f"/admin/bodies/{body.code}/status": {"status": "suspended", "reason": "r"},
        "/admin/users": {"username": "sneaky", "password": "x" * 20, "role": "admin"},
    }
    for url, data in attempts.items():
        assert admin.post(url, data=data).status_code == 400, url
        assert admin.post(url, data=data | {"csrf_token": "forged"}).status_code == 400, url
    session.expire_all()
    assert session.scalar(select(Body.id).where(Body.code == "NO-TOKEN")) is None
    assert session.get(Authorization, line.id).status == "active"  # type: ignore[union-attr]
    assert audit_count(session) == events_before


def test_dashboard_counts_bodies_by_kind_and_lines_by_status(
    clients: dict[str, FlaskClient],
    session: Session,
    now: dt.datetime,
    body_and_line: tuple[Body, Authorization],
) -> None:
    lab = make_body(session, now, kind="testing_lab")
    grant(session, now, lab, category="ventilator", valid_until=dt.date(2021, 1, 1))  # expired today
    grant(session, now, lab, category="mask", valid_from=dt.date(2027, 1, 1), valid_until=None)  # not yet
    session.commit()
    for role in ("customs", "auditor"):
        html = clients[role].get("/admin/").get_data(as_text=True)
        assert 'data-kind="certification_body"><td>' in html
        assert _count(html, 'data-kind="certification_body"') == "1"
        assert _count(html, 'data-kind="testing_lab"') == "1"
        assert _count(html, 'data-status="active"') == "1"
        assert _count(html, 'data-status="expired"') == "1"
        assert _count(html, 'data-status="not_yet_valid"') == "1"
    operator_html = clients["body_operator"].get("/admin/").get_data(as_text=True)
    assert 'href="/admin/bodies"' not in operator_html  # no links to pages they cannot open
    assert 'href="/admin/bodies"' in clients["auditor"].get("/admin/").get_data(as_text=True)


def _count(html: str, row_marker: str) -> str:
    row = html.split(row_marker, 1)[1]
    return row.split('class="count">', 1)[1].split("<", 1)[0]
