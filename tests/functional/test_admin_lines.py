"""Admin scope-line actions: grant, edit, suspend / withdraw / restore, with reasons and dates."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from argon2 import PasswordHasher
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry import users as users_service
from registry.authorizations import get_authorization
from registry.bodies import get_body
from registry.models import AuditEvent, Authorization, Body, User
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
    user = make_user(session, now, "admin")
    session.commit()
    return user


@pytest.fixture
def admin_client(client: FlaskClient, admin: User) -> FlaskClient:
    login(client, admin.username, PASSWORD)
    client.get("/admin/?lang=en")  # English messages, remembered by the cookie
    return client


@pytest.fixture
def body(session: Session, now: dt.datetime) -> Body:
    created = make_body(session, now, code="CB-LINES")
    session.commit()
    return created


@pytest.fixture
def line(session: Session, now: dt.datetime, body: Body) -> Authorization:
    granted = grant(session, now, body)
    session.commit()
    return granted


def audit_events(session: Session, action: str | None = None) -> list[AuditEvent]:
    session.expire_all()
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(session.scalars(query))


def fresh(session: Session, line_id: int) -> Authorization:
    session.expire_all()
    return get_authorization(session, line_id)


def post(client: FlaskClient, url: str, **data: object) -> tuple[int, str]:
    data.setdefault("csrf_token", csrf_token(client, "/admin/"))
    response = client.post(url, data=data)
    return response.status_code, response.get_data(as_text=True)


def test_grant_a_line_with_a_reason(
    admin_client: FlaskClient, session: Session, body: Body, admin: User
) -> None:
    status, _html = post(
        admin_client,
        f"/admin/bodies/{body.code}/lines",
        jurisdiction="EU",
        scheme="Regulation (EU) 2016/425",
        category="mask",
        standards="EN 149:2001+A1:2009",
        tests="",
        valid_from="2020-04-01",
        valid_until="",
        reason="notified under the PPE Regulation",
    )
    assert status == 302
    session.expire_all()
    lines = get_body(session, body.code).authorizations
    assert [(a.jurisdiction, a.category, a.status, a.valid_until) for a in lines] == [
        ("EU", "mask", "active", None)
    ]
    assert lines[0].periods[0].reason == "notified under the PPE Regulation"
    event = audit_events(session, "body:authorization:grant")[-1]
    assert event.actor == admin.username
    assert event.reason == "notified under the PPE Regulation"
    assert (
        event.before is None
        and event.after is not None
        and event.after["scheme"] == "Regulation (EU) 2016/425"
    )


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"reason": ""}, 422, "reason"),
        ({"valid_from": ""}, 422, "valid_from"),
        ({"valid_from": "2020-02-30"}, 422, "valid_from"),
        ({"valid_until": "2019-01-01"}, 422, "valid_until"),
        ({"category": "bananas"}, 422, "category"),
        ({"scheme": ""}, 422, "scheme"),
    ],
)
def test_a_refused_grant_writes_nothing(
    admin_client: FlaskClient, session: Session, body: Body, changes: dict[str, str], status: int, field: str
) -> None:
    form = {
        "jurisdiction": "CN",
        "scheme": "CCC",
        "category": "mask",
        "standards": "",
        "tests": "",
        "valid_from": "2020-03-01",
        "valid_until": "",
        "reason": "designated",
    } | changes
    events_before = len(audit_events(session))
    code, html = post(admin_client, f"/admin/bodies/{body.code}/lines", **form)
    assert code == status
    assert 'id="grant-error"' in html
    assert re.search(rf'id="grant-{field}"[^>]*aria-invalid="true"', html)
    session.expire_all()
    assert get_body(session, body.code).authorizations == []
    assert len(audit_events(session)) == events_before


def test_granting_the_same_line_twice_is_a_conflict(
    admin_client: FlaskClient, session: Session, line
) -> None:  # type: ignore[no-untyped-def]
    code, html = post(
        admin_client,
        "/admin/bodies/CB-LINES/lines",
        jurisdiction="CN",
        scheme="CCC",
        category="mask",
        valid_from="2021-01-01",
        reason="again",
    )
    assert code == 409
    assert "already has a mask line" in html


def test_suspend_withdraw_restore_with_reasons_and_dates(
    admin_client: FlaskClient, session: Session, line: Authorization, admin: User
) -> None:
    steps = [
        ("suspended", "2026-05-01", "failed surveillance audit"),
        ("withdrawn", "2026-06-01", "did not correct the findings"),
        ("active", "2026-06-15", "re-designated after a new assessment"),
    ]
    for new_status, effective, reason in steps:
        version = fresh(session, line.id).version
        code, html = post(
            admin_client,
            f"/admin/lines/{line.id}/status",
            status=new_status,
            reason=reason,
            effective=effective,
            version=str(version),
        )
        assert code == 302, html
        current = fresh(session, line.id)
        assert current.status == new_status
        assert (current.periods[-1].effective_from.isoformat(), current.periods[-1].reason) == (
            effective,
            reason,
        )

    verbs = [
        e.action.rsplit(":", 1)[1] for e in audit_events(session) if e.subject_key == f"CB-LINES/{line.id}"
    ]
    assert verbs == ["grant", "suspend", "withdraw", "restore"]
    suspend = audit_events(session, "body:authorization:suspend")[-1]
    assert suspend.actor == admin.username and suspend.reason == "failed surveillance audit"
    assert suspend.before is not None and suspend.after is not None
    assert (suspend.before["status"], suspend.after["status"]) == ("active", "suspended")
    assert suspend.after["effective"] == "2026-05-01"
    page = admin_client.get("/admin/bodies/CB-LINES").get_data(as_text=True)
    assert "re-designated after a new assessment" in page


def test_a_status_change_without_reason_is_refused(
    admin_client: FlaskClient, session: Session, line: Authorization
) -> None:
    events_before = len(audit_events(session))
    code, html = post(
        admin_client,
        f"/admin/lines/{line.id}/status",
        status="suspended",
        reason="   ",
        effective="",
        version=str(line.version),
    )
    assert code == 422
    assert "a reason is required" in html
    assert re.search(rf'id="line-{line.id}-reason"[^>]*aria-invalid="true"', html)
    assert fresh(session, line.id).status == "active"
    assert len(fresh(session, line.id).periods) == 1
    assert len(audit_events(session)) == events_before


def test_an_illegal_transition_is_refused(
    admin_client: FlaskClient, session: Session, line: Authorization
) -> None:
    code, _html = post(
        admin_client,
        f"/admin/lines/{line.id}/status",
        status="withdrawn",
        reason="fraud",
        version=str(line.version),
    )
    assert code == 302
    events_before = len(audit_events(session))
    code, html = post(
        admin_client,
        f"/admin/lines/{line.id}/status",
        status="suspended",
        reason="oops",
        version=str(fresh(session, line.id).version),
    )
    assert code == 409
    assert "cannot change an authorization from withdrawn to suspended" in html
    assert fresh(session, line.id).status == "withdrawn"
    assert len(audit_events(session)) == events_before


def test_an_effective_date_before_the_last_change_is_refused(
    admin_client: FlaskClient, session: Session, line: Authorization
) -> None:
    code, html = post(
        admin_client,
        f"/admin/lines/{line.id}/status",
        status="suspended",
        reason="late paperwork",
        effective="2019-01-01",
        version=str(line.version),
    )
    assert code == 422
    assert re.search(rf'id="line-{line.id}-effective"[^>]*aria-invalid="true"', html)
    assert fresh(session, line.id).status == "active"


def test_a_status_change_from_a_stale_page_is_refused(
    app,
    session: Session,
    now: dt.datetime,  # type: ignore[no-untyped-def]
    line: Authorization,
) -> None:
    other = make_user(session, now, "admin")
    session.commit()
    loaded_version = line.version
    colleague = app.test_client()
    login(colleague, other.username, PASSWORD)
    assert (
        post(
            colleague,
            f"/admin/lines/{line.id}/status",
            status="suspended",
            reason="audit",
            version=str(loaded_version),
        )[0]
        == 302
    )

    me = make_user(session, now, "admin")
    session.commit()
    client = app.test_client()
    login(client, me.username, PASSWORD)
    code, html = post(
        client,
        f"/admin/lines/{line.id}/status?lang=en",
        status="withdrawn",
        reason="I had not seen the suspension",
        version=str(loaded_version),
    )
    assert code == 409
    assert "changed by someone else" in html
    assert fresh(session, line.id).status == "suspended"


def test_edit_a_line_and_refuse_a_stale_edit(
    admin_client: FlaskClient, session: Session, line: Authorization
) -> None:
    html = admin_client.get(f"/admin/lines/{line.id}/edit").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', html)
    assert version
    form = {
        "standards": "GB 2626-2019; GB 19083-2010",
        "tests": "",
        "valid_from": "2020-03-01",
        "valid_until": "2031-03-01",
        "reason": "scope extended",
        "version": version.group(1),
    }
    code, _ = post(admin_client, f"/admin/lines/{line.id}/edit", **form)
    assert code == 302
    saved = fresh(session, line.id)
    assert (saved.standards, saved.valid_until) == ("GB 2626-2019; GB 19083-2010", dt.date(2031, 3, 1))
    event = audit_events(session, "body:authorization:update")[-1]
    assert event.before is not None and event.after is not None
    assert (event.before["valid_until"], event.after["valid_until"]) == ("2030-03-01", "2031-03-01")
    assert event.reason == "scope extended"

    # The same (now stale) form saved again with other values: refused, nothing changes.
    code, html = post(admin_client, f"/admin/lines/{line.id}/edit", **(form | {"standards": "GB 2626-2006"}))
    assert code == 409
    assert "GB 2626-2006" in html  # the input is shown again
    assert fresh(session, line.id).standards == "GB 2626-2019; GB 19083-2010"

    # A missing reason is refused too.
    current = str(fresh(session, line.id).version)
    code, _ = post(
        admin_client, f"/admin/lines/{line.id}/edit", **(form | {"reason": "", "version": current})
    )
    assert code == 422


def test_body_wide_suspend_and_restore(
    admin_client: FlaskClient, session: Session, now: dt.datetime, body: Body
) -> None:
    mask = grant(session, now, body, category="mask")
    gown = grant(session, now, body, category="protective_clothing")
    session.commit()
    code, _ = post(
        admin_client,
        f"/admin/bodies/{body.code}/status",
        status="suspended",
        reason="certificate fraud under investigation",
        effective="2026-06-10",
    )
    assert code == 302
    assert {fresh(session, mask.id).status, fresh(session, gown.id).status} == {"suspended"}
    assert len(audit_events(session, "body:authorization:suspend")) == 2

    code, html = post(
        admin_client, f"/admin/bodies/{body.code}/status", status="suspended", reason="again", effective=""
    )
    assert code == 409  # nothing left that can be suspended
    assert 'id="body-status-error"' in html

    code, _ = post(admin_client, f"/admin/bodies/{body.code}/status", status="active", reason="cleared")
    assert code == 302
    assert {fresh(session, mask.id).status, fresh(session, gown.id).status} == {"active"}


def test_a_body_wide_change_without_reason_writes_nothing(
    admin_client: FlaskClient, session: Session, line: Authorization
) -> None:
    events_before = len(audit_events(session))
    code, _ = post(admin_client, "/admin/bodies/CB-LINES/status", status="withdrawn", reason="")
    assert code == 422
    assert fresh(session, line.id).status == "active"
    assert len(audit_events(session)) == events_before
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == events_before
