"""Admin users page and the audit trail."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.admin.trail import action_choices, changes
from registry import users as users_service
from registry.bodies import BodyInput, update_body
from registry.models import AuditEvent, Body, User
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, grant, make_body, make_user


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Recommended argon2 parameters cost ~0.5 s a hash; these tests need accounts, not strong hashes.
    monkeypatch.setattr(
        users_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def admin(session: Session, now: dt.datetime) -> User:
    user = make_user(session, now, "admin", username="root-admin")
    session.commit()
    return user


@pytest.fixture
def admin_client(client: FlaskClient, admin: User) -> FlaskClient:
    login(client, admin.username, PASSWORD)
    client.get("/admin/?lang=en")
    return client


def create_user_form(client: FlaskClient, **data: str) -> tuple[int, str]:
    form = {"username": "", "password": "", "role": "auditor", "body": ""} | data
    form["csrf_token"] = csrf_token(client, "/admin/users")
    response = client.post("/admin/users", data=form)
    return response.status_code, response.get_data(as_text=True)


def user_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(User)) or 0


def test_create_a_user_who_can_then_sign_in(
    app: Flask, admin_client: FlaskClient, session: Session, now: dt.datetime
) -> None:
    body = make_body(session, now, code="CB-USERS")
    session.commit()
    status, _ = create_user_form(
        admin_client, username="op-huace", password="twelve chars!", role="body_operator", body="CB-USERS"
    )
    assert status == 302
    session.expire_all()
    user = session.scalars(select(User).where(User.username == "op-huace")).one()
    assert (user.role, user.body_id) == ("body_operator", body.id)
    assert "twelve chars!" not in user.password_hash
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "user:create")
        .where(AuditEvent.subject_key == "op-huace")
    ).one()
    assert event.actor == "root-admin"
    assert "twelve chars!" not in event.canonical

    listing = admin_client.get("/admin/users").get_data(as_text=True)
    assert "op-huace" in listing and "CB-USERS" in listing and "Body operator" in listing
    operator = app.test_client()
    login(operator, "op-huace", "twelve chars!")
    assert operator.get("/admin/").status_code == 200
    assert operator.get("/admin/users").status_code == 403


@pytest.mark.parametrize(
    ("data", "status", "field"),
    [
        ({"username": "short-pw", "password": "eleven char"}, 422, "password"),
        ({"username": "", "password": "long enough password"}, 422, "username"),
        ({"username": "op", "password": "long enough password", "role": "body_operator"}, 422, "body"),
        (
            {"username": "op", "password": "long enough password", "role": "body_operator", "body": "NOPE"},
            422,
            "body",
        ),
        ({"username": "x", "password": "long enough password", "role": "superuser"}, 422, "role"),
        ({"username": "root-admin", "password": "long enough password"}, 409, "username"),
    ],
)
def test_refused_accounts_are_not_created(
    admin_client: FlaskClient, session: Session, data: dict[str, str], status: int, field: str
) -> None:
    before = user_count(session)
    code, html = create_user_form(admin_client, **data)
    assert code == status
    assert re.search(rf'id="user-{field}"[^>]*aria-invalid="true"', html)
    assert data["password"] not in html  # a password is never echoed back
    assert user_count(session) == before


def test_the_audit_trail_lists_events_newest_first_with_a_diff(
    admin_client: FlaskClient, session: Session, now: dt.datetime
) -> None:
    body = make_body(session, now, code="CB-AUDIT", name_en="Before Name")
    later = now + dt.timedelta(hours=1)
    update_body(
        session,
        body.code,
        BodyInput(
            code=body.code,
            kind=body.kind,
            name_zh=body.organization.name_zh,
            name_en="After Name",
            credit_code=body.organization.credit_code,
            province="11",
        ),
        expected_version=None,
        actor="editor-7",
        now=later,
    )
    grant(session, now + dt.timedelta(hours=2), body)
    session.commit()

    html = admin_client.get("/admin/audit?subject=CB-AUDIT").get_data(as_text=True)
    actions = re.findall(r'data-action="([^"]+)"', html)
    assert actions == ["body:authorization:grant", "body:update", "body:create"]
    update_row = html.split('data-action="body:update"', 1)[1].split('<tr id="event-', 1)[0]
    assert "editor-7" in update_row
    assert re.search(
        r'data-field="name_en"><td>name_en</td><td class="before"><del>Before Name</del></td>'
        r'<td class="after"><ins>After Name</ins></td>',
        update_row,
    )
    assert 'data-field="code"' not in update_row  # unchanged fields are not listed
    assert "designated by CNCA" in html  # the grant's reason


def test_the_audit_trail_filters_by_action_tag_and_pages(
    admin_client: FlaskClient, session: Session, now: dt.datetime
) -> None:
    for n in range(3):
        grant(session, now, make_body(session, now, code=f"CB-PAGE-{n}"))
    session.commit()
    only_grants = admin_client.get("/admin/audit?action=body:authorization").get_data(as_text=True)
    assert set(re.findall(r'data-action="([^"]+)"', only_grants)) == {"body:authorization:grant"}
    exact = admin_client.get("/admin/audit?action=body:create").get_data(as_text=True)
    assert set(re.findall(r'data-action="([^"]+)"', exact)) == {"body:create"}
    # "body:auth" is not a tag: a prefix only matches whole segments.
    assert (
        re.findall(r'data-action="', admin_client.get("/admin/audit?action=body:auth").get_data(as_text=True))
        == []
    )

    total = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    for n in range(50 - total + 1):  # one event more than a page
        make_body(session, now, code=f"CB-FILL-{n}")
    session.commit()
    first = admin_client.get("/admin/audit").get_data(as_text=True)
    second = admin_client.get("/admin/audit?page=2").get_data(as_text=True)
    assert len(re.findall(r'data-action="', first)) == 50
    assert len(re.findall(r'data-action="', second)) == 1
    assert 'rel="next"' in first and 'rel="prev"' in second
    assert admin_client.get("/admin/audit?page=-1").status_code == 422
    assert admin_client.get("/admin/audit?actor=x").status_code == 422


def test_the_auditor_reads_the_audit_trail(app: Flask, session: Session, now: dt.datetime) -> None:
    auditor = make_user(session, now, "auditor", username="auditor-1")
    session.commit()
    client = app.test_client()
    login(client, auditor.username, PASSWORD)
    html = client.get("/admin/audit").get_data(as_text=True)
    assert 'data-action="user:create"' in html and "auditor-1" in html


def test_changes_and_action_choices() -> None:
    assert changes(None, {"a": 1}) == [("a", None, 1)]
    assert changes({"a": 1, "b": {"x": "1"}}, {"a": 1, "b": {"x": "2"}}) == [("b", {"x": "1"}, {"x": "2"})]
    assert changes({"a": 1}, None) == [("a", 1, None)]
    assert changes(None, {"a": "", "b": {}, "c": "x"}) == [("c", None, "x")]
    assert action_choices(["body:authorization:grant", "user:create"]) == [
        "body",
        "body:authorization",
        "body:authorization:grant",
        "user",
        "user:create",
    ]


def test_body_page_links_to_its_audit_events(
    admin_client: FlaskClient, session: Session, now: dt.datetime
) -> None:
    body: Body = make_body(session, now, code="CB-LINK")
    session.commit()
    html = admin_client.get("/admin/bodies/CB-LINK").get_data(as_text=True)
    assert 'href="/admin/audit?subject=CB-LINK"' in html
    assert body.code in admin_client.get("/admin/audit?subject=CB-LINK").get_data(as_text=True)
