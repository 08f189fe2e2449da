"""Admin body pages: create, edit, optimistic locking, refusals shown on the form."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import users as users_service
from registry.bodies import get_body
from registry.identifiers import USCC_ALPHABET
from registry.models import AuditEvent, Body, User
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, credit_code, make_body, make_user

VERSION_RE = re.compile(r'name="version" value="(\d+)"')


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Recommended argon2 parameters cost ~0.5 s a hash; these tests need accounts, not strong hashes.
    monkeypatch.setattr(
        users_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def admin(session: Session, now) -> User:  # type: ignore[no-untyped-def]
    user = make_user(session, now, "admin")
    session.commit()
    return user


@pytest.fixture
def admin_client(client: FlaskClient, admin: User) -> FlaskClient:
    login(client, admin.username, PASSWORD)
    return client


def body_form(**changes: str) -> dict[str, str]:
    """A complete create form as a browser sends it (every input, empty ones included)."""
    data = {
        "code": "CNCA-R-2020-901",
        "kind": "certification_body",
        "name_zh": "华测口罩认证有限公司",
        "name_en": "Huace Mask Certification Co., Ltd.",
        "credit_code": credit_code(901),
        "country": "CN",
        "province": "44",
        "address": "深圳市南山区",
        "website": "https://cert.example.cn",
        "contact_name": "王工",
        "contact_email": "cert@example.cn",
        "contact_phone": "+86 755 0000 0000",
        "identifiers.cnca": "CNCA-R-2020-901",
        "identifiers.cnas": "C123-P",
        "identifiers.cma": "",
        "identifiers.eu_nb": "",
        "identifiers.niosh": "",
        "identifiers.other": "",
    }
    data.update(changes)
    return data


def audit_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def body_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Body)) or 0


def edit_form(client: FlaskClient, code: str) -> dict[str, str]:
    """The edit form's current values as loaded from the page (hidden version included)."""
    html = client.get(f"/admin/bodies/{code}/edit?lang=en").get_data(as_text=True)
    values = dict(re.findall(r'<input id="body-[^"]+" name="([^"]+)" type="[^"]+" value="([^"]*)"', html))
    version = VERSION_RE.search(html)
    assert version, "no version in the edit form"
    values["version"] = version.group(1)
    values["province"] = re.search(r'name="province".*?<option value="(\d\d)" selected', html, re.S).group(1)  # type: ignore[union-attr]
    values["csrf_token"] = csrf_token(client, f"/admin/bodies/{code}/edit")
    return values


def test_create_body_writes_the_record_and_an_audit_event(
    admin_client: FlaskClient, session: Session, admin: User
) -> None:
    token = csrf_token(admin_client, "/admin/bodies/new?lang=en")  # the cookie keeps English
    response = admin_client.post("/admin/bodies/new", data=body_form(csrf_token=token))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/bodies/CNCA-R-2020-901")

    session.expire_all()
    body = get_body(session, "CNCA-R-2020-901")
    assert body.organization.name_zh == "华测口罩认证有限公司"
    assert body.organization.province == "44"
    assert body.contact_email == "cert@example.cn"
    assert {i.scheme: i.value for i in body.identifiers} == {"cnca": "CNCA-R-2020-901", "cnas": "CNAS C123-P"}
    event = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "body:create")
        .where(AuditEvent.subject_key == body.code)
    ).one()
    assert event.actor == admin.username
    assert event.before is None
    assert event.after is not None and event.after["name_en"] == "Huace Mask Certification Co., Ltd."

    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Body CNCA-R-2020-901 created." in page
    assert "CNAS C123-P" in page


def test_a_failed_check_character_is_saved_with_a_warning(
    admin_client: FlaskClient, session: Session
) -> None:
    good = credit_code(902)
    wrong = good[:17] + next(c for c in USCC_ALPHABET if c != good[17])
    token = csrf_token(admin_client, "/admin/bodies/new")
    response = admin_client.post(
        "/admin/bodies/new?lang=en",
        data=body_form(credit_code=wrong, csrf_token=token),
        follow_redirects=True,
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Saved, but the credit code looks wrong" in html
    assert 'id="credit-code-warning"' in html
    session.expire_all()
    assert get_body(session, "CNCA-R-2020-901").organization.credit_code == wrong


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"name_zh": ""}, 422, "name_zh"),
        ({"identifiers.cnas": "not a number"}, 422, "identifiers.cnas"),
        ({"credit_code": "TOO-SHORT"}, 422, "credit_code"),
        ({"website": "javascript:alert(1)"}, 422, "website"),
        ({"contact_email": "not an e-mail"}, 422, "contact_email"),
        ({"country": "China"}, 422, "country"),
        ({"kind": "hospital"}, 422, "kind"),
    ],
)
def test_refused_input_reshows_the_form_with_the_field_marked(
    admin_client: FlaskClient, session: Session, changes: dict[str, str], status: int, field: str
) -> None:
    before = (body_count(session), audit_count(session))
    token = csrf_token(admin_client, "/admin/bodies/new")
    response = admin_client.post("/admin/bodies/new", data=body_form(csrf_token=token, **changes))
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert f'name="{field}"' in html
    assert f'data-field="{field}"' in html  # the message sits next to the field
    assert re.search(rf'name="{re.escape(field)}"[^>]*aria-invalid="true"', html)
    assert 'value="华测口罩认证有限公司"' in html or field == "name_zh"  # the user's input is kept
    assert (body_count(session), audit_count(session)) == before


def test_a_duplicate_code_is_a_conflict(admin_client: FlaskClient, session: Session, now) -> None:  # type: ignore[no-untyped-def]
    existing = make_body(session, now)
    session.commit()
    token = csrf_token(admin_client, "/admin/bodies/new")
    response = admin_client.post("/admin/bodies/new", data=body_form(code=existing.code, csrf_token=token))
    assert response.status_code == 409
    assert "already exists" in response.get_data(as_text=True)


def test_an_unknown_form_field_is_refused(admin_client: FlaskClient, session: Session) -> None:
    token = csrf_token(admin_client, "/admin/bodies/new")
    response = admin_client.post("/admin/bodies/new", data=body_form(csrf_token=token, is_admin="1"))
    assert response.status_code == 422
    assert "is_admin: Unknown field." in response.get_data(as_text=True)  # said above the form
    assert body_count(session) == 0


def test_edit_body_records_before_and_after(
    admin_client: FlaskClient, session: Session, now, admin: User
) -> None:  # type: ignore[no-untyped-def]
    body = make_body(session, now, name_en="Old Name")
    session.commit()
    form = edit_form(admin_client, body.code)
    assert form["name_en"] == "Old Name"
    form["name_en"] = "New Name"
    form["identifiers.eu_nb"] = "2163"
    response = admin_client.post(f"/admin/bodies/{body.code}/edit", data=form)
    assert response.status_code == 302

    session.expire_all()
    saved = get_body(session, body.code)
    assert saved.organization.name_en == "New Name"
    assert saved.version > int(form["version"])
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "body:update")).one()
    assert event.actor == admin.username
    assert event.before is not None and event.after is not None
    assert (event.before["name_en"], event.after["name_en"]) == ("Old Name", "New Name")
    assert event.after["identifiers"] == {"eu_nb": "2163"}


def test_a_stale_save_is_refused_and_changes_nothing(app, session: Session, now) -> None:  # type: ignore[no-untyped-def]
    body = make_body(session, now, name_en="Original")
    first, second = make_user(session, now, "admin"), make_user(session, now, "admin")
    session.commit()
    alice, bob = app.test_client(), app.test_client()
    login(alice, first.username, PASSWORD)
    login(bob, second.username, PASSWORD)

    alice_form = edit_form(alice, body.code)  # Alice opens the form...
    bob_form = edit_form(bob, body.code)
    bob_form["name_en"] = "Bob's name"
    assert bob.post(f"/admin/bodies/{body.code}/edit", data=bob_form).status_code == 302  # ...Bob saves first
    events_after_bob = audit_count(session)

    alice_form["name_en"] = "Alice's name"
    response = alice.post(f"/admin/bodies/{body.code}/edit?lang=en", data=alice_form)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "changed by someone else" in html
    assert "Alice&#39;s name" in html  # her input is shown again, not lost
    assert "Load the current version" in html
    session.expire_all()
    assert get_body(session, body.code).organization.name_en == "Bob's name"
    assert audit_count(session) == events_after_bob


def test_code_and_kind_cannot_be_posted_to_the_edit_form(
    admin_client: FlaskClient, session: Session, now
) -> None:  # type: ignore[no-untyped-def]
    body = make_body(session, now)
    session.commit()
    form = edit_form(admin_client, body.code) | {"code": "HIJACKED"}
    assert admin_client.post(f"/admin/bodies/{body.code}/edit", data=form).status_code == 422
    session.expire_all()
    assert get_body(session, body.code).code == body.code


def test_body_list_filters_by_text_and_shows_bodies_without_lines(
    admin_client: FlaskClient, session: Session, now
) -> None:  # type: ignore[no-untyped-def]
    make_body(session, now, name_en="Shenzhen Mask Centre")
    make_body(session, now, name_en="Tianjin Ventilator Lab", kind="testing_lab")
    session.commit()
    everything = admin_client.get("/admin/bodies?lang=en").get_data(as_text=True)
    assert "Shenzhen Mask Centre" in everything and "Tianjin Ventilator Lab" in everything
    assert "no lines" in everything
    filtered = admin_client.get("/admin/bodies?q=ventilator&lang=en").get_data(as_text=True)
    assert "Tianjin Ventilator Lab" in filtered
    assert "Shenzhen Mask Centre" not in filtered
    assert admin_client.get("/admin/bodies?page=0").status_code == 422
    assert admin_client.get("/admin/bodies?sort=evil").status_code == 422


def test_unknown_body_is_404(admin_client: FlaskClient) -> None:
    assert admin_client.get("/admin/bodies/NO-SUCH/edit").status_code == 404
    assert admin_client.get("/admin/bodies/NO-SUCH").status_code == 404
