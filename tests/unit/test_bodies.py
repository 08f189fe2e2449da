"""Services that change bodies and scope lines (registry.bodies, registry.authorizations), without Flask."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.authorizations import (
    TRANSITIONS,
    AuthorizationInput,
    change_body_status,
    change_status,
    grant_authorization,
    update_authorization,
)
from registry.bodies import BodyInput, body_snapshot, create_body, get_body, update_body
from registry.errors import Conflict, InvalidInput, NotFound, StaleEdit
from registry.models import AuditEvent, Authorization, Body, Organization
from tests.factories import credit_code, grant, make_body

D = dt.date
_codes = itertools.count(1)


def body_input(**overrides: Any) -> BodyInput:
    values: dict[str, Any] = {
        "code": f"U-{next(_codes):04d}",
        "kind": "testing_lab",
        "name_zh": "国家劳动保护用品质量检验检测中心",
        "name_en": "National Centre for Quality Inspection of PPE",
        "credit_code": credit_code(9000 + next(_codes)),
        "province": "31",
        "identifiers": {},
    }
    values.update(overrides)
    return BodyInput(**values)


def input_from(body: Body, **changes: Any) -> BodyInput:
    """What an edit form would post back for ``body``, with ``changes`` applied."""
    snapshot = body_snapshot(body)
    return dataclasses.replace(BodyInput(**snapshot), **changes)


def line_input(**overrides: Any) -> AuthorizationInput:
    values: dict[str, Any] = {
        "jurisdiction": "CN",
        "scheme": "CCC",
        "category": "mask",
        "valid_from": D(2020, 3, 1),
        "valid_until": D(2030, 3, 1),
    }
    values.update(overrides)
    return AuthorizationInput(**values)


def audit_count(session: Session, action: str | None = None) -> int:
    query = select(func.count()).select_from(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
    return session.scalar(query) or 0


# --- create ------------------------------------------------------------------------------


def test_create_body_normalizes_and_records(session: Session, now: dt.datetime) -> None:
    data = body_input(
        code="  LAB-001 ",
        credit_code=" 91110108551385082q ",
        country="cn",
        identifiers={"cnas": "cnas l1234", "eu_nb": " 2797 ", "other": "   "},
    )
    body = create_body(session, data, actor="alice", now=now)
    assert body.code == "LAB-001"
    assert body.version == 1
    assert body.created_at == now and body.updated_at == now
    assert body.organization.credit_code == "91110108551385082Q"
    assert body.organization.credit_code_warning is None
    assert body.organization.country == "CN"
    # A blank identifier is dropped, the others normalized.
    assert {i.scheme: i.value for i in body.identifiers} == {"cnas": "CNAS L1234", "eu_nb": "2797"}
    assert get_body(session, "LAB-001") is body


def test_wrong_check_character_is_stored_with_a_warning(session: Session, now: dt.datetime) -> None:
    body = create_body(session, body_input(credit_code="91110108551385082A"), actor="a", now=now)
    assert body.organization.credit_code == "91110108551385082A"
    assert "expects Q" in (body.organization.credit_code_warning or "")


def test_organization_is_reused_by_credit_code(session: Session, now: dt.datetime) -> None:
    first = create_body(session, body_input(credit_code="91110000600037341L"), actor="a", now=now)
    second = create_body(
        session, body_input(credit_code="91110000600037341l", kind="certification_body"), actor="a", now=now
    )
    assert second.organization_id == first.organization_id
    count = session.scalar(
        select(func.count()).select_from(Organization).where(Organization.credit_code == "91110000600037341L")
    )
    assert count == 1


def test_bodies_without_credit_code_get_their_own_organization(session: Session, now: dt.datetime) -> None:
    first = create_body(
        session, body_input(credit_code=None, country="DE", province=None), actor="a", now=now
    )
    second = create_body(session, body_input(credit_code="", country="DE", province=None), actor="a", now=now)
    assert first.organization_id != second.organization_id
    assert first.organization.credit_code is None and second.organization.credit_code is None


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"code": "   "}, "code"),
        ({"code": "X" * 41}, "code"),
        ({"code": "CNCA/R-1"}, "code"),  # its page and its certificates' audit subjects split on "/"
        ({"code": "new"}, "code"),  # /bodies/new is the admin's form
        ({"code": "export.csv"}, "code"),  # /bodies/export.<format> is the list's export
        ({"code": " export.pdf "}, "code"),
        ({"kind": "laboratory"}, "kind"),
        ({"name_zh": " "}, "name_zh"),
        ({"province": "99"}, "province"),
        ({"country": "CHN"}, "country"),
        ({"country": "C1"}, "country"),
        ({"credit_code": "91110108551385082"}, "credit_code"),
        ({"credit_code": "9111010855138508IQ"}, "credit_code"),
        ({"identifiers": {"eu_nb": "12345"}}, "identifiers.eu_nb"),
        ({"identifiers": {"fax": "123"}}, "identifiers.fax"),
    ],
)
def test_create_refuses_invalid_input_naming_the_field(
    session: Session, now: dt.datetime, overrides: dict[str, Any], field: str
) -> None:
    before = audit_count(session)
    with pytest.raises(InvalidInput) as excinfo:
        create_body(session, body_input(**overrides), actor="a", now=now)
    assert excinfo.value.details["field"] == field
    assert audit_count(session) == before
    assert session.scalar(select(func.count()).select_from(Body)) == 0


def test_duplicate_code_is_a_conflict(session: Session, now: dt.datetime) -> None:
    create_body(session, body_input(code="DUP-1"), actor="a", now=now)
    with pytest.raises(Conflict) as excinfo:
        create_body(session, body_input(code=" DUP-1 ", identifiers={}), actor="a", now=now)
    assert excinfo.value.details["field"] == "code"
    assert session.scalar(select(func.count()).select_from(Body)) == 1


def test_duplicate_identifier_on_another_body_is_a_conflict_and_writes_nothing(
    session: Session, now: dt.datetime
) -> None:
    create_body(session, body_input(identifiers={"cnas": "L0001"}), actor="a", now=now)
    events = audit_count(session)
    with pytest.raises(Conflict) as excinfo:
        create_body(
            session, body_input(code="SECOND", identifiers={"cnas": "cnas l0001"}), actor="a", now=now
        )
    assert excinfo.value.details["field"] == "identifiers.cnas"
    session.flush()
    assert session.scalar(select(Body.id).where(Body.code == "SECOND")) is None
    assert audit_count(session) == events


def test_the_same_identifier_value_under_another_scheme_is_fine(session: Session, now: dt.datetime) -> None:
    create_body(session, body_input(identifiers={"other": "1234"}), actor="a", now=now)
    body = create_body(session, body_input(identifiers={"eu_nb": "1234"}), actor="a", now=now)
    assert [i.value for i in body.identifiers] == ["1234"]


# --- update ------------------------------------------------------------------------------


def test_update_changes_fields_identifiers_and_version(session: Session, now: dt.datetime) -> None:
    body = create_body(
        session, body_input(identifiers={"cnas": "L1111", "eu_nb": "0001"}), actor="a", now=now
    )
    later = now + dt.timedelta(hours=1)
    updated = update_body(
        session,
        body.code,
        input_from(body, name_en="Renamed", identifiers={"cnas": "L2222", "niosh": "TC-84A-0001"}),
        expected_version=1,
        actor="bob",
        now=later,
    )
    assert updated.organization.name_en == "Renamed"
    assert {i.scheme: i.value for i in updated.identifiers} == {"cnas": "CNAS L2222", "niosh": "TC-84A-0001"}
    assert updated.version == 2
    assert updated.updated_at == later
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "body:update")).one()
    assert event.actor == "bob"
    assert event.before is not None and event.after is not None
    assert event.before["name_en"] != "Renamed" and event.after["name_en"] == "Renamed"
    assert event.after["identifiers"] == {"cnas": "CNAS L2222", "niosh": "TC-84A-0001"}


def test_update_of_organization_fields_alone_bumps_the_version(session: Session, now: dt.datetime) -> None:
    # Only organization columns change and the clock reads the same: the body's version must
    # still move on, or a second editor holding the old version would silently overwrite.
    body = create_body(session, body_input(), actor="a", now=now)
    update_body(
        session, body.code, input_from(body, address="上海市"), expected_version=1, actor="a", now=now
    )
    assert body.version == 2
    with pytest.raises(StaleEdit):
        update_body(
            session, body.code, input_from(body, address="北京市"), expected_version=1, actor="b", now=now
        )


def test_update_of_identifiers_alone_bumps_the_version(session: Session, now: dt.datetime) -> None:
    body = create_body(session, body_input(identifiers={}), actor="a", now=now)
    update_body(
        session,
        body.code,
        input_from(body, identifiers={"eu_nb": "0042"}),
        expected_version=1,
        actor="a",
        now=now,
    )
    assert body.version == 2


def test_stale_update_raises_and_changes_nothing(session: Session, now: dt.datetime) -> None:
    body = create_body(session, body_input(), actor="a", now=now)
    update_body(
        session,
        body.code,
        input_from(body, website="https://a.example"),
        expected_version=1,
        actor="a",
        now=now + dt.timedelta(minutes=1),
    )
    before, events = body_snapshot(body), audit_count(session)
    with pytest.raises(StaleEdit) as excinfo:
        update_body(
            session,
            body.code,
            input_from(body, website="https://b.example", name_en="Other"),
            expected_version=1,
            actor="b",
            now=now + dt.timedelta(minutes=2),
        )
    assert excinfo.value.details["current_version"] == 2
    session.flush()
    session.expire_all()
    assert body_snapshot(get_body(session, body.code)) == before
    assert audit_count(session) == events


def test_update_without_change_writes_no_event_and_keeps_the_version(
    session: Session, now: dt.datetime
) -> None:
    body = create_body(session, body_input(identifiers={"cnas": "L1234"}), actor="a", now=now)
    events = audit_count(session)
    later = now + dt.timedelta(days=1)
    # Same values, typed differently (spaces, lower case): still no change.
    same = input_from(
        body,
        name_en=f"  {body.organization.name_en} ",
        credit_code=(body.organization.credit_code or "").lower(),
        identifiers={"cnas": "l1234"},
    )
    update_body(session, body.code, same, expected_version=1, actor="a", now=later)
    session.flush()
    assert audit_count(session) == events
    assert body.version == 1
    assert body.updated_at == now


@pytest.mark.parametrize(
    ("change", "field"), [({"kind": "certification_body"}, "kind"), ({"code": "NEW"}, "code")]
)
def test_kind_and_code_are_immutable(
    session: Session, now: dt.datetime, change: dict[str, Any], field: str
) -> None:
    body = create_body(session, body_input(), actor="a", now=now)
    with pytest.raises(InvalidInput) as excinfo:
        update_body(session, body.code, input_from(body, **change), expected_version=None, actor="a", now=now)
    assert excinfo.value.details["field"] == field


def test_update_to_an_identifier_of_another_body_is_a_conflict_and_changes_nothing(
    session: Session, now: dt.datetime
) -> None:
    create_body(session, body_input(identifiers={"eu_nb": "0001"}), actor="a", now=now)
    body = create_body(session, body_input(identifiers={"eu_nb": "0002"}), actor="a", now=now)
    before = body_snapshot(body)
    with pytest.raises(Conflict):
        update_body(
            session,
            body.code,
            input_from(body, name_en="Half written?", identifiers={"eu_nb": "0001"}),
            expected_version=1,
            actor="a",
            now=now,
        )
    # Nothing was changed in memory either, so a caller that carries on cannot commit half an edit.
    assert body_snapshot(body) == before
    session.flush()
    session.expire_all()
    assert body_snapshot(get_body(session, body.code)) == before


def test_update_unknown_body_is_not_found(session: Session, now: dt.datetime) -> None:
    with pytest.raises(NotFound):
        update_body(session, "NOPE", body_input(code="NOPE"), expected_version=None, actor="a", now=now)


# --- grant and update of scope lines -----------------------------------------------------


def test_grant_creates_an_active_line_with_one_open_period(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    line = grant_authorization(
        session,
        body.code,
        line_input(scheme="  CCC ", standards=" GB 2626-2019 "),
        actor="alice",
        now=now,
        reason="  designated  ",
    )
    assert (line.status, line.scheme, line.standards, line.version) == ("active", "CCC", "GB 2626-2019", 1)
    [period] = line.periods
    assert (period.status, period.effective_from, period.effective_until) == ("active", D(2020, 3, 1), None)
    assert (period.reason, period.actor, period.recorded_at) == ("designated", "alice", now)


def test_grant_duplicate_line_is_a_conflict(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    first = grant(session, now, body)
    with pytest.raises(Conflict) as excinfo:
        grant_authorization(
            session, body.code, line_input(valid_from=D(2021, 1, 1)), actor="a", now=now, reason="r"
        )
    assert excinfo.value.details["authorization_id"] == first.id
    # Another scheme, jurisdiction or category is another line.
    grant(session, now, body, scheme="GB 2626")
    grant(session, now, body, jurisdiction="EU")
    grant(session, now, body, category="ventilator")
    assert len(body.authorizations) == 4


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"category": "soap"}, "category"),
        ({"jurisdiction": "XX"}, "jurisdiction"),
        ({"scheme": "   "}, "scheme"),
        ({"valid_from": D(2021, 1, 2), "valid_until": D(2021, 1, 1)}, "valid_until"),
    ],
)
def test_grant_refuses_invalid_input(
    session: Session, now: dt.datetime, overrides: dict[str, Any], field: str
) -> None:
    body = make_body(session, now)
    with pytest.raises(InvalidInput) as excinfo:
        grant_authorization(session, body.code, line_input(**overrides), actor="a", now=now, reason="r")
    assert excinfo.value.details["field"] == field
    assert session.scalar(select(func.count()).select_from(Authorization)) == 0


@pytest.mark.parametrize("reason", ["", "   \n"])
def test_grant_requires_a_reason(session: Session, now: dt.datetime, reason: str) -> None:
    body = make_body(session, now)
    with pytest.raises(InvalidInput) as excinfo:
        grant_authorization(session, body.code, line_input(), actor="a", now=now, reason=reason)
    assert excinfo.value.details["field"] == "reason"


def test_grant_of_a_one_day_line_and_an_open_ended_line(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    one_day = grant(session, now, body, valid_from=D(2021, 1, 1), valid_until=D(2021, 1, 1))
    open_ended = grant(session, now, body, category="ventilator", valid_until=None)
    assert one_day.valid_until == one_day.valid_from
    assert open_ended.valid_until is None


def test_grant_to_unknown_body_is_not_found(session: Session, now: dt.datetime) -> None:
    with pytest.raises(NotFound):
        grant_authorization(session, "NOPE", line_input(), actor="a", now=now, reason="r")


def test_update_authorization_moves_the_first_period_with_valid_from(
    session: Session, now: dt.datetime
) -> None:
    line = grant(session, now, make_body(session, now))
    update_authorization(
        session,
        line.id,
        line_input(valid_from=D(2020, 1, 1), tests="GB 2626 5.3"),
        expected_version=1,
        actor="a",
        now=now,
        reason="corrected",
    )
    assert line.valid_from == D(2020, 1, 1) == line.periods[0].effective_from
    assert line.tests == "GB 2626 5.3"
    assert line.version == 2
    assert audit_count(session, "body:authorization:update") == 1
    with pytest.raises(StaleEdit):
        update_authorization(
            session, line.id, line_input(), expected_version=1, actor="a", now=now, reason="r"
        )


def test_update_authorization_without_change_writes_nothing(session: Session, now: dt.datetime) -> None:
    line = grant(session, now, make_body(session, now))
    update_authorization(
        session,
        line.id,
        line_input(standards="GB 2626-2019"),
        expected_version=1,
        actor="a",
        now=now,
        reason="r",
    )
    assert audit_count(session, "body:authorization:update") == 0
    assert line.version == 1


def test_update_authorization_cannot_change_identity_or_cross_a_status_change(
    session: Session, now: dt.datetime
) -> None:
    line = grant(session, now, make_body(session, now))
    with pytest.raises(InvalidInput):
        update_authorization(
            session,
            line.id,
            line_input(category="ventilator"),
            expected_version=None,
            actor="a",
            now=now,
            reason="r",
        )
    change_status(session, line.id, "suspended", reason="r", actor="a", now=now, effective=D(2021, 1, 1))
    with pytest.raises(InvalidInput) as excinfo:
        update_authorization(
            session,
            line.id,
            line_input(valid_from=D(2021, 1, 1)),
            expected_version=None,
            actor="a",
            now=now,
            reason="r",
        )
    assert excinfo.value.details["field"] == "valid_from"


# --- status changes ----------------------------------------------------------------------

ALLOWED = sorted(TRANSITIONS)
STORED = ("active", "suspended", "withdrawn")
REFUSED = sorted({(a, b) for a in STORED for b in STORED} - set(TRANSITIONS))


def line_in_status(session: Session, now: dt.datetime, status: str) -> Authorization:
    line = grant(session, now, make_body(session, now))
    if status != "active":
        change_status(session, line.id, status, reason="setup", actor="a", now=now, effective=D(2021, 1, 1))
    return line


def test_the_transition_table_is_what_the_rules_say() -> None:
    assert TRANSITIONS == {
        ("active", "suspended"): "suspend",
        ("active", "withdrawn"): "withdraw",
        ("suspended", "withdrawn"): "withdraw",
        ("suspended", "active"): "restore",
        ("withdrawn", "active"): "restore",
    }


@pytest.mark.parametrize(("old", "new"), ALLOWED)
def test_allowed_transitions(session: Session, now: dt.datetime, old: str, new: str) -> None:
    line = line_in_status(session, now, old)
    version = line.version
    change_status(
        session,
        line.id,
        new,
        reason=" why ",
        actor="bob",
        now=now,
        effective=D(2022, 2, 2),
        expected_version=version,
    )
    assert line.status == new
    assert line.version == version + 1
    assert line.periods[-1].status == new and line.periods[-1].reason == "why"
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert event.action == f"body:authorization:{TRANSITIONS[(old, new)]}"
    assert event.before is not None and event.after is not None
    assert (event.before["status"], event.after["status"], event.after["effective"]) == (
        old,
        new,
        "2022-02-02",
    )


@pytest.mark.parametrize(("old", "new"), REFUSED)
def test_refused_transitions(session: Session, now: dt.datetime, old: str, new: str) -> None:
    line = line_in_status(session, now, old)
    periods, events = len(line.periods), audit_count(session)
    with pytest.raises(Conflict):
        change_status(session, line.id, new, reason="r", actor="a", now=now, effective=D(2022, 2, 2))
    assert (line.status, len(line.periods), audit_count(session)) == (old, periods, events)


@pytest.mark.parametrize("status", ["expired", "revoked", ""])
def test_only_stored_statuses_can_be_set(session: Session, now: dt.datetime, status: str) -> None:
    line = line_in_status(session, now, "active")
    with pytest.raises(InvalidInput):
        change_status(session, line.id, status, reason="r", actor="a", now=now)


def test_status_change_needs_a_reason_and_an_existing_line(session: Session, now: dt.datetime) -> None:
    line = line_in_status(session, now, "active")
    with pytest.raises(InvalidInput):
        change_status(session, line.id, "suspended", reason="  ", actor="a", now=now)
    with pytest.raises(NotFound):
        change_status(session, 987654, "suspended", reason="r", actor="a", now=now)


def test_stale_status_change_is_refused(session: Session, now: dt.datetime) -> None:
    line = line_in_status(session, now, "suspended")
    with pytest.raises(StaleEdit):
        change_status(session, line.id, "active", reason="r", actor="a", now=now, expected_version=1)
    assert line.status == "suspended"


def test_effective_date_before_the_last_change_is_refused(session: Session, now: dt.datetime) -> None:
    line = line_in_status(session, now, "suspended")  # suspended from 2021-01-01
    with pytest.raises(InvalidInput) as excinfo:
        change_status(session, line.id, "active", reason="r", actor="a", now=now, effective=D(2020, 12, 31))
    assert excinfo.value.details["field"] == "effective"
    # The same day as the last change is allowed (a same-day correction).
    change_status(session, line.id, "active", reason="r", actor="a", now=now, effective=D(2021, 1, 1))
    assert [p.status for p in line.periods] == ["active", "suspended", "active"]


def test_effective_date_before_valid_from_is_refused(session: Session, now: dt.datetime) -> None:
    line = line_in_status(session, now, "active")
    with pytest.raises(InvalidInput):
        change_status(session, line.id, "withdrawn", reason="r", actor="a", now=now, effective=D(2020, 2, 29))


def test_effective_date_at_most_a_year_ahead(session: Session, now: dt.datetime) -> None:
    line = line_in_status(session, now, "active")
    today = now.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    for too_far in (
        today + dt.timedelta(days=400),
        today.replace(year=today.year + 1) + dt.timedelta(days=1),
    ):
        with pytest.raises(InvalidInput) as excinfo:
            change_status(session, line.id, "suspended", reason="r", actor="a", now=now, effective=too_far)
        assert excinfo.value.details["field"] == "effective"
    one_year = today.replace(year=today.year + 1)
    change_status(session, line.id, "suspended", reason="r", actor="a", now=now, effective=one_year)
    assert line.periods[-1].effective_from == one_year


@pytest.mark.parametrize(
    ("utc", "china_day"),
    [
        (dt.datetime(2026, 6, 15, 15, 59, tzinfo=dt.UTC), D(2026, 6, 15)),
        (dt.datetime(2026, 6, 15, 16, 0, tzinfo=dt.UTC), D(2026, 6, 16)),
        (dt.datetime(2026, 6, 16, 1, 30, tzinfo=dt.timezone(dt.timedelta(hours=9))), D(2026, 6, 16)),
    ],
)
def test_default_effective_date_is_today_in_china(
    session: Session, now: dt.datetime, utc: dt.datetime, china_day: dt.date
) -> None:
    # The registry's calendar is China Standard Time (app.clock.today); a suspension "from today"
    # entered at 02:00 in Beijing must not take effect on the previous Chinese day.
    line = line_in_status(session, now, "active")
    change_status(session, line.id, "suspended", reason="r", actor="a", now=utc)
    assert line.periods[-1].effective_from == china_day


def test_periods_chain_without_gaps_or_overlaps(session: Session, now: dt.datetime) -> None:
    line = line_in_status(session, now, "active")
    steps = [
        ("suspended", D(2021, 5, 1)),
        ("active", D(2021, 6, 1)),
        ("withdrawn", D(2022, 1, 1)),
        ("active", D(2022, 1, 1)),
        ("suspended", D(2026, 7, 1)),
    ]
    for status, effective in steps:
        change_status(session, line.id, status, reason="r", actor="a", now=now, effective=effective)
    session.flush()
    session.expire_all()
    periods = session.get(Authorization, line.id).periods  # type: ignore[union-attr]
    assert [(p.status, p.effective_from) for p in periods] == [
        ("active", D(2020, 3, 1)),
        ("suspended", D(2021, 5, 1)),
        ("active", D(2021, 6, 1)),
        ("withdrawn", D(2022, 1, 1)),
        ("active", D(2022, 1, 1)),
        ("suspended", D(2026, 7, 1)),
    ]
    for previous, following in itertools.pairwise(periods):
        assert previous.effective_until == following.effective_from
    assert periods[-1].effective_until is None


def test_change_body_status_applies_to_every_line_that_can_take_it(
    session: Session, now: dt.datetime
) -> None:
    body = make_body(session, now)
    active = grant(session, now, body, category="mask")
    suspended = grant(session, now, body, category="ventilator")
    withdrawn = grant(session, now, body, category="ir_thermometer")
    change_status(session, suspended.id, "suspended", reason="r", actor="a", now=now, effective=D(2021, 1, 1))
    change_status(session, withdrawn.id, "withdrawn", reason="r", actor="a", now=now, effective=D(2021, 1, 1))
    events = audit_count(session)

    changed = change_body_status(
        session, body.code, "withdrawn", reason="licence revoked", actor="a", now=now, effective=D(2026, 6, 1)
    )
    assert {a.id for a in changed} == {active.id, suspended.id}
    assert {a.status for a in body.authorizations} == {"withdrawn"}
    assert audit_count(session) == events + 2
    assert audit_count(session, "body:authorization:withdraw") == 3

    with pytest.raises(Conflict):
        change_body_status(session, body.code, "suspended", reason="r", actor="a", now=now)
    restored = change_body_status(session, body.code, "active", reason="r", actor="a", now=now)
    assert len(restored) == 3


def test_change_body_status_of_unknown_body_is_not_found(session: Session, now: dt.datetime) -> None:
    with pytest.raises(NotFound):
        change_body_status(session, "NOPE", "suspended", reason="r", actor="a", now=now)


# --- organizations shared through a credit code ------------------------------------------


def test_full_width_credit_code_is_stored_in_ascii_and_finds_the_organization(
    session: Session, now: dt.datetime
) -> None:
    first = create_body(session, body_input(credit_code="91110000600037341L"), actor="a", now=now)
    second = create_body(
        session, body_input(credit_code="９１１１００００６０００３７３４１ｌ"), actor="a", now=now
    )
    assert second.organization.credit_code == "91110000600037341L"
    assert second.organization_id == first.organization_id


def test_clearing_the_credit_code_of_a_shared_organization_leaves_the_other_body_alone(
    session: Session, now: dt.datetime
) -> None:
    first = create_body(session, body_input(credit_code="91110000600037341L"), actor="a", now=now)
    second = create_body(session, body_input(credit_code="91110000600037341L"), actor="a", now=now)
    update_body(
        session, second.code, input_from(second, credit_code=None), expected_version=1, actor="a", now=now
    )
    assert second.organization.credit_code is None
    assert second.organization_id != first.organization_id
    assert first.organization.credit_code == "91110000600037341L"


def test_a_new_credit_code_moves_the_body_to_its_own_organization(session: Session, now: dt.datetime) -> None:
    first = create_body(session, body_input(credit_code="91110000600037341L"), actor="a", now=now)
    second = create_body(session, body_input(credit_code="91110000600037341L"), actor="a", now=now)
    update_body(
        session,
        second.code,
        input_from(second, credit_code="91110108551385082Q", name_zh="另一家公司"),
        expected_version=1,
        actor="a",
        now=now,
    )
    assert second.organization.credit_code == "91110108551385082Q"
    assert (first.organization.credit_code, first.organization.name_zh) == (
        "91110000600037341L",
        "国家劳动保护用品质量检验检测中心",
    )


def test_change_body_status_is_all_or_nothing(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    first = grant(session, now, body, category="ir_thermometer")  # sorted before "mask"
    second = grant(session, now, body, category="mask")
    change_status(session, second.id, "suspended", reason="r", actor="a", now=now, effective=D(2026, 6, 1))
    events = audit_count(session)
    with pytest.raises(InvalidInput) as excinfo:
        change_body_status(
            session, body.code, "withdrawn", reason="r", actor="a", now=now, effective=D(2026, 5, 1)
        )
    assert excinfo.value.details["field"] == "effective"
    assert (first.status, len(first.periods), first.periods[0].effective_until) == ("active", 1, None)
    assert audit_count(session) == events
