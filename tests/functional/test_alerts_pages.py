"""Misuse alerts through the real verification endpoints (the tests write each scan at once), and
their pages: who sees which alert, and the admins' acknowledge and close forms."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import config
from app import create_app
from app.access import access_of
from registry import alerts
from registry.certificates import change_certificate_status
from registry.models import AuditEvent, Body
from registry.oversight_models import MisuseAlert, ScanEvent
from tests.conftest import csrf_token
from tests.functional import test_certificates_support as support
from tests.functional.test_certificates_support import World

# The shared fixtures, made visible to pytest in this module.
app_config, cheap_password_hashing, keys, passphrase, world = (
    support.app_config,
    support.cheap_password_hashing,
    support.keys,
    support.passphrase,
    support.world,
)

VERSION_RE = re.compile(r'name="version" value="(\d+)"')


def withdraw(session: Session, now: dt.datetime) -> None:
    change_certificate_status(session, "CB-A", "A-0001", "withdrawn", reason="fraud", actor="test", now=now)
    session.commit()


def tampered(world: World) -> str:
    """A seal whose signature is broken but whose claims still name CB-A / A-0001."""
    token = world.seal.token
    return token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")


def all_alerts(session: Session) -> list[MisuseAlert]:
    session.expire_all()
    return list(session.scalars(select(MisuseAlert).order_by(MisuseAlert.id)))


def alert_audits(session: Session) -> list[tuple[str, str]]:
    session.expire_all()
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.actor)
        .where(AuditEvent.subject_type == alerts.SUBJECT_TYPE)
        .order_by(AuditEvent.id)
    )
    return [(action, actor) for action, actor in rows]


def html(world: World, who: str, url: str) -> str:
    response = world.call(who, "GET", url)
    assert response.status_code == 200, (who, url, response.status_code)
    return str(response.get_data(as_text=True))


@pytest.fixture
def withdrawn_alert(world: World, session: Session, now: dt.datetime) -> MisuseAlert:
    """Body A's certificate withdrawn, then its seal scanned on the public page: one alert."""
    withdraw(session, now)
    page = world.call("anonymous", "GET", f"/V/{world.seal.token}")
    assert page.status_code == 200
    [alert] = all_alerts(session)
    return alert


def test_scanning_a_withdrawn_certificate_alerts_admins_and_its_own_body_only(
    world: World, session: Session, withdrawn_alert: MisuseAlert
) -> None:
    alert = withdrawn_alert
    body_a = session.scalar(select(Body).where(Body.code == "CB-A"))
    assert body_a is not None
    assert (alert.kind, alert.status, alert.occurrences) == ("scanned_after_withdrawal", "open", 1)
    assert (alert.body_id, alert.certificate_id) == (body_a.id, world.certificate.id)
    assert alert.subject_key == "CB-A/A-0001"
    assert alert_audits(session) == [("alert:open", alerts.ALERT_ACTOR)]
    marker = f'data-alert="{alert.id}"'
    assert marker in html(world, "admin", "/admin/alerts?lang=en")
    assert marker in html(world, "auditor", "/admin/alerts?lang=en")
    own = html(world, "op_a", "/certificates/alerts?lang=en")
    assert marker in own and "Seal scanned after withdrawal" in own
    assert marker not in html(world, "op_b", "/certificates/alerts?lang=en")
    detail = html(world, "op_a", f"/certificates/alerts/{alert.id}?lang=en")
    assert 'data-verdict="CERTIFICATE_WITHDRAWN" data-channel="page"' in detail
    assert 'id="acknowledge-form"' not in detail  # operators read, admins act
    assert world.call("op_b", "GET", f"/certificates/alerts/{alert.id}").status_code == 403
    # A second scan (the API this time) adds to the same alert, with no new audit event.
    assert (
        world.call("anonymous", "POST", "/api/v1/verify", json={"token": world.seal.token}).status_code == 200
    )
    [again] = all_alerts(session)
    assert again.id == alert.id and again.occurrences == 2
    assert again.detail["channels"] == {"page": 1, "api": 1}
    assert len(alert_audits(session)) == 1


def test_forged_seals_naming_a_body_alert_it_at_the_threshold(world: World, session: Session) -> None:
    forged = tampered(world)
    response = world.call("anonymous", "POST", "/api/v1/verify", json={"items": [forged] * 4})
    assert [item["verdict"] for item in response.get_json()["items"]] == ["FORGED"] * 4
    assert all_alerts(session) == []  # four, below the default five
    world.call("anonymous", "GET", f"/V/{forged}")
    [alert] = all_alerts(session)
    assert (alert.kind, alert.subject_key, alert.occurrences) == ("forgeries_naming_body", "CB-A", 5)
    assert f'data-alert="{alert.id}"' in html(world, "op_a", "/certificates/alerts")
    assert f'data-alert="{alert.id}"' not in html(world, "op_b", "/certificates/alerts")
    detail = html(world, "admin", f"/admin/alerts/{alert.id}?lang=en")
    assert detail.count('data-verdict="FORGED"') == 5


def test_thresholds_come_from_the_app_configuration(
    app_config: dict[str, Any], world: World, session: Session
) -> None:
    strict = create_app(app_config | {"ALERT_FORGED_NAMING_BODY": 2}).test_client()
    strict.post("/api/v1/verify", json={"items": [tampered(world)] * 2})
    assert [a.kind for a in all_alerts(session)] == ["forgeries_naming_body"]
    with pytest.raises(config.ConfigError, match="burst_ports"):
        create_app(app_config | {"ALERT_BURST_PORTS": 0})


def test_a_failing_rule_never_loses_the_scan(
    world: World, session: Session, now: dt.datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = alerts.evaluate

    def opens_then_fails(*args: Any, **kwargs: Any) -> list[MisuseAlert]:
        real(*args, **kwargs)  # the alert is made, then undone with the failure
        raise RuntimeError("rule bug")

    monkeypatch.setattr(alerts, "evaluate", opens_then_fails)
    withdraw(session, now)
    assert world.call("anonymous", "GET", f"/V/{world.seal.token}").status_code == 200
    session.expire_all()
    verdicts = session.scalars(select(ScanEvent.verdict)).all()
    assert list(verdicts) == ["CERTIFICATE_WITHDRAWN"]
    assert all_alerts(session) == [] and alert_audits(session) == []


# --- access ---------------------------------------------------------------------------------------

CALLERS = ("anonymous", "admin", "auditor", "op_a", "op_b", "customs")
PAGES = {  # url template -> expected status per caller, in CALLERS' order (302: to the sign-in page)
    "/admin/alerts": (302, 200, 200, 403, 403, 403),
    "/admin/alerts/{id}": (302, 200, 200, 403, 403, 403),
    "/certificates/alerts": (302, 200, 403, 200, 200, 403),
    "/certificates/alerts/{id}": (302, 200, 403, 200, 403, 403),
}


def test_the_role_matrix(world: World, session: Session, withdrawn_alert: MisuseAlert) -> None:
    alert_id = withdrawn_alert.id
    for template, expected in PAGES.items():
        url = template.format(id=alert_id)
        for who, status in zip(CALLERS, expected, strict=True):
            response = world.call(who, "GET", url)
            assert response.status_code == status, (who, url)
            if status == 302:
                assert response.headers["Location"].startswith("/login"), (who, url)
    assert 'id="acknowledge-form"' not in html(world, "auditor", f"/admin/alerts/{alert_id}")
    assert 'id="acknowledge-form"' in html(world, "admin", f"/admin/alerts/{alert_id}")
    # Only admins act: everyone else is refused, with a valid token and version, and nothing changes.
    for who in ("anonymous", "auditor", "op_a", "op_b", "customs"):
        for verb in ("acknowledge", "close"):
            data = {"csrf_token": csrf_token(world.clients[who]), "version": "1", "note": "n"}
            response = world.call(who, "POST", f"/admin/alerts/{alert_id}/{verb}", data=data)
            assert response.status_code == (302 if who == "anonymous" else 403), (who, verb)
    assert [a.status for a in all_alerts(session)] == ["open"]
    assert len(alert_audits(session)) == 1


def test_the_declared_policies(app: Flask) -> None:
    readers, admins = frozenset({"admin", "auditor"}), frozenset({"admin"})
    operators = frozenset({"admin", "body_operator"})
    expected = {
        "alerts.index": readers,
        "alerts.detail": readers,
        "alerts.acknowledge": admins,
        "alerts.close": admins,
        "alerts.body_index": operators,
        "alerts.body_detail": operators,
    }
    declared = {
        rule.endpoint: access_of(app.view_functions[rule.endpoint])
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("alerts.")
    }
    assert declared == expected


def test_the_navigation_links_where_each_may_go(world: World) -> None:
    assert 'href="/admin/alerts"' in html(world, "auditor", "/admin/")
    operator = html(world, "op_a", "/admin/")
    assert 'href="/certificates/alerts"' in operator and 'href="/admin/alerts"' not in operator
    customs = html(world, "customs", "/admin/")
    assert "/alerts" not in customs


# --- acknowledge and close ------------------------------------------------------------------------


def _form(world: World, alert_id: int) -> tuple[str, str]:
    """The CSRF token and the version the admin's alert page carries."""
    page = html(world, "admin", f"/admin/alerts/{alert_id}")
    match = VERSION_RE.search(page)
    assert match
    return csrf_token(world.clients["admin"], f"/admin/alerts/{alert_id}"), match.group(1)


def _post(world: World, alert_id: int, verb: str, data: dict[str, str]) -> Any:
    return world.call("admin", "POST", f"/admin/alerts/{alert_id}/{verb}", data=data)


def test_acknowledge_then_close(world: World, session: Session, withdrawn_alert: MisuseAlert) -> None:
    alert_id = withdrawn_alert.id
    token, version = _form(world, alert_id)
    assert _post(world, alert_id, "acknowledge", {"version": version}).status_code == 400  # no CSRF token
    assert _post(world, alert_id, "acknowledge", {"csrf_token": token, "version": "x"}).status_code == 422
    assert all_alerts(session)[0].status == "open"
    response = _post(
        world, alert_id, "acknowledge", {"csrf_token": token, "version": version, "note": "on it"}
    )
    assert response.status_code == 302 and response.headers["Location"] == f"/admin/alerts/{alert_id}"
    assert all_alerts(session)[0].status == "acknowledged"
    token, version = _form(world, alert_id)
    refused = _post(world, alert_id, "close", {"csrf_token": token, "version": version, "note": " "})
    assert refused.status_code == 422 and 'data-field="note"' in refused.get_data(as_text=True)
    done = _post(
        world, alert_id, "close", {"csrf_token": token, "version": version, "note": "label recalled"}
    )
    assert done.status_code == 302
    assert all_alerts(session)[0].status == "closed"
    assert _post(world, alert_id, "close", {"csrf_token": token, "version": str(int(version) + 1),
                                            "note": "again"}).status_code == 409  # fmt: skip
    audits = alert_audits(session)
    assert [action for action, _ in audits] == ["alert:open", "alert:acknowledge", "alert:close"]
    assert audits[1][1] == audits[2][1] != alerts.ALERT_ACTOR  # the admin's name
    reasons = session.scalars(
        select(AuditEvent.reason)
        .where(AuditEvent.subject_type == alerts.SUBJECT_TYPE)
        .order_by(AuditEvent.id)
    ).all()
    assert list(reasons) == ["", "on it", "label recalled"]
    # Closed, so the next scan opens a new alert.
    world.call("anonymous", "GET", f"/V/{world.seal.token}")
    assert [a.status for a in all_alerts(session)] == ["closed", "open"]


def test_a_stale_version_is_refused_with_409(
    world: World, session: Session, withdrawn_alert: MisuseAlert
) -> None:
    alert_id = withdrawn_alert.id
    token, loaded = _form(world, alert_id)
    world.call("anonymous", "GET", f"/V/{world.seal.token}")  # a new scan updates the alert meanwhile
    response = _post(world, alert_id, "acknowledge", {"csrf_token": token, "version": loaded})
    assert response.status_code == 409
    assert 'class="stale-hint"' in response.get_data(as_text=True)
    [alert] = all_alerts(session)
    assert alert.status == "open" and alert.occurrences == 2
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "alert:acknowledge")) == 0  # fmt: skip


def test_the_list_filters_and_refuses_bad_arguments(world: World, withdrawn_alert: MisuseAlert) -> None:
    marker = f'data-alert="{withdrawn_alert.id}"'
    assert marker in html(world, "admin", "/admin/alerts?status=open&kind=scanned_after_withdrawal")
    assert marker not in html(world, "admin", "/admin/alerts?status=closed")
    assert marker not in html(world, "admin", "/admin/alerts?kind=scan_burst")
    bad = world.call("admin", "GET", "/admin/alerts?kind=nonsense")
    assert bad.status_code == 422 and 'id="filter-problems"' in bad.get_data(as_text=True)
    assert "滥用预警" in html(world, "admin", "/admin/alerts")  # Chinese by default
