"""Audit events: canonical JSON, one event per change, and immutability enforced by the database."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from registry import audit
from registry.authorizations import (
    AuthorizationInput,
    change_body_status,
    change_status,
    grant_authorization,
    update_authorization,
)
from registry.bodies import BodyInput, body_snapshot, create_body, get_body, update_body
from registry.models import AuditEvent
from registry.users import create_user
from tests.factories import PASSWORD, grant, make_body

CST = dt.timezone(dt.timedelta(hours=8))


# --- canonical JSON ----------------------------------------------------------------------


def test_canonical_json_sorts_keys_at_every_level_and_has_no_spaces() -> None:
    first = audit.canonical_json({"b": 1, "a": {"z": [1, 2], "y": None}, "c": "x y"})
    second = audit.canonical_json({"c": "x y", "a": {"y": None, "z": [1, 2]}, "b": 1})
    assert first == second == '{"a":{"y":null,"z":[1,2]},"b":1,"c":"x y"}'


def test_canonical_json_keeps_unicode_as_is() -> None:
    assert audit.canonical_json({"名称": "口罩 N95 ✓ 𠀋"}) == '{"名称":"口罩 N95 ✓ 𠀋"}'
    assert audit.canonical_json({"q": 'a"b\\c\n'}) == '{"q":"a\\"b\\\\c\\n"}'


def test_canonical_json_writes_dates_and_utc_timestamps_with_microseconds() -> None:
    payload = {
        "day": dt.date(2026, 2, 3),
        "utc": dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC),
        "beijing": dt.datetime(2026, 6, 15, 2, 30, 0, 5, tzinfo=CST),
    }
    assert audit.canonical_json(payload) == (
        '{"beijing":"2026-06-14T18:30:00.000005Z","day":"2026-02-03","utc":"2026-06-15T10:00:00.000000Z"}'
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        audit.canonical_json({"at": dt.datetime(2026, 6, 15, 10, 0)})
    with pytest.raises(ValueError, match="timezone-aware"):
        audit.to_utc_text(dt.datetime(2026, 6, 15, 10, 0))


@pytest.mark.parametrize("value", [{1, 2}, decimal.Decimal("1.5"), b"bytes", object()])
def test_values_without_a_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(TypeError):
        audit.canonical_json({"value": value})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=8), json_values, max_size=6), seed=st.randoms())
def test_canonical_json_is_deterministic_and_round_trips(payload: dict[str, Any], seed: Any) -> None:
    canonical = audit.canonical_json(payload)
    assert json.loads(canonical) == payload
    shuffled_keys = list(payload)
    seed.shuffle(shuffled_keys)
    assert audit.canonical_json({key: payload[key] for key in shuffled_keys}) == canonical
    assert audit.canonical_json(json.loads(canonical)) == canonical
    assert canonical.isascii() == all(
        part.isascii() for part in _strings(payload)
    )  # ensure_ascii is off: only the data's own characters may be non-ASCII


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [key, *_strings(item)]]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


# --- record ------------------------------------------------------------------------------


def test_record_stores_plain_before_after_and_the_canonical_text(session: Session) -> None:
    at = dt.datetime(2026, 6, 15, 18, 0, 0, 123456, tzinfo=CST)
    event = audit.record(
        session,
        now=at,
        actor="alice",
        action="body:test",
        subject_type="body",
        subject_key="B-1",
        before=None,
        after={"valid_from": dt.date(2020, 3, 1), "name": "口罩"},
        reason="因为",
    )
    assert event.after == {"valid_from": "2020-03-01", "name": "口罩"}
    assert event.before is None
    assert json.loads(event.canonical) == {
        "v": 1,
        "occurred_at": "2026-06-15T10:00:00.123456Z",
        "actor": "alice",
        "action": "body:test",
        "subject": {"type": "body", "key": "B-1"},
        "before": None,
        "after": {"name": "口罩", "valid_from": "2020-03-01"},
        "reason": "因为",
    }
    assert "口罩" in event.canonical and " " not in event.canonical


def test_occurred_at_is_stored_as_utc_on_every_database(session: Session) -> None:
    # SQLite keeps no offset: the stored wall time must be UTC, or a +08:00 "now" would be
    # read back eight hours off.
    at = dt.datetime(2026, 6, 15, 18, 0, tzinfo=CST)
    event = audit.record(
        session, now=at, actor="a", action="t", subject_type="t", subject_key="k", before=None, after=None
    )
    session.flush()
    session.expire(event)
    stored = event.occurred_at
    as_utc = stored.replace(tzinfo=dt.UTC) if stored.tzinfo is None else stored
    assert as_utc == at


def test_canonical_text_can_be_recomputed_from_the_stored_row(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    session.expire_all()
    event = session.scalars(select(AuditEvent).where(AuditEvent.subject_key == body.code)).one()
    occurred = event.occurred_at if event.occurred_at.tzinfo else event.occurred_at.replace(tzinfo=dt.UTC)
    recomputed = audit.canonical_json(
        {
            "v": audit.CANONICAL_VERSION,
            "occurred_at": occurred,
            "actor": event.actor,
            "action": event.action,
            "subject": {"type": event.subject_type, "key": event.subject_key},
            "before": event.before,
            "after": event.after,
            "reason": event.reason,
        }
    )
    assert recomputed == event.canonical


# --- one event per service change --------------------------------------------------------


def events(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def exactly_one_new_event(session: Session, change: Callable[[], object]) -> AuditEvent:
    seen = {e.id for e in events(session)}
    change()
    session.flush()
    new = [e for e in events(session) if e.id not in seen]
    assert len(new) == 1, [e.action for e in new]
    return new[0]


def test_every_service_change_writes_exactly_one_event(session: Session, now: dt.datetime) -> None:
    data = BodyInput(
        code="AUD-1", kind="certification_body", name_zh="审计测试中心", identifiers={"eu_nb": "0999"}
    )
    event = exactly_one_new_event(session, lambda: create_body(session, data, actor="alice", now=now))
    assert (event.action, event.subject_type, event.subject_key, event.actor) == (
        "body:create",
        "body",
        "AUD-1",
        "alice",
    )
    assert event.before is None and event.after is not None
    assert event.after["identifiers"] == {"eu_nb": "0999"} and event.after["name_zh"] == "审计测试中心"

    body = get_body(session, "AUD-1")
    edited = BodyInput(**(body_snapshot(body) | {"name_en": "Audit Test Centre"}))
    event = exactly_one_new_event(
        session, lambda: update_body(session, "AUD-1", edited, expected_version=1, actor="bob", now=now)
    )
    assert event.action == "body:update" and event.subject_key == "AUD-1"
    assert event.before is not None and event.after is not None
    assert (event.before["name_en"], event.after["name_en"]) == ("", "Audit Test Centre")

    line_data = AuthorizationInput("EU", "Regulation (EU) 2016/425", "mask", dt.date(2021, 1, 1))
    event = exactly_one_new_event(
        session,
        lambda: grant_authorization(session, "AUD-1", line_data, actor="c", now=now, reason="notified"),
    )
    line_id = int(event.subject_key.split("/")[1])
    assert (event.action, event.subject_type, event.subject_key) == (
        "body:authorization:grant",
        "authorization",
        f"AUD-1/{line_id}",
    )
    assert (
        event.after is not None and event.after["valid_from"] == "2021-01-01" and event.reason == "notified"
    )

    longer = AuthorizationInput(
        "EU", "Regulation (EU) 2016/425", "mask", dt.date(2021, 1, 1), dt.date(2026, 1, 1)
    )
    event = exactly_one_new_event(
        session,
        lambda: update_authorization(
            session, line_id, longer, expected_version=1, actor="c", now=now, reason="end date"
        ),
    )
    assert event.action == "body:authorization:update"
    assert event.before is not None and event.after is not None
    assert (event.before["valid_until"], event.after["valid_until"]) == (None, "2026-01-01")

    for new_status, verb, effective in [
        ("suspended", "suspend", dt.date(2022, 1, 1)),
        ("active", "restore", dt.date(2022, 2, 1)),
        ("withdrawn", "withdraw", dt.date(2022, 3, 1)),
    ]:
        event = exactly_one_new_event(
            session,
            lambda s=new_status, e=effective: change_status(  # type: ignore[misc]
                session, line_id, s, reason=f"to {s}", actor="d", now=now, effective=e
            ),
        )
        assert event.action == f"body:authorization:{verb}"
        assert event.after is not None and event.after["status"] == new_status
        assert event.after["effective"] == effective.isoformat()
        assert event.reason == f"to {new_status}"

    event = exactly_one_new_event(
        session, lambda: create_user(session, "auditor-1", PASSWORD, "auditor", actor="root", now=now)
    )
    assert (event.action, event.subject_type, event.subject_key) == ("user:create", "user", "auditor-1")
    assert event.after == {"username": "auditor-1", "role": "auditor", "body": None}
    assert PASSWORD not in event.canonical


def test_change_body_status_writes_one_event_per_line(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    grant(session, now, body, category="mask")
    grant(session, now, body, category="ventilator")
    before = len(events(session))
    change_body_status(session, body.code, "suspended", reason="inspection", actor="a", now=now)
    new = events(session)[before:]
    assert [e.action for e in new] == ["body:authorization:suspend"] * 2
    assert {e.subject_key for e in new} == {f"{body.code}/{a.id}" for a in body.authorizations}


def test_a_refused_change_writes_no_event(session: Session, now: dt.datetime) -> None:
    line = grant(session, now, make_body(session, now))
    before = len(events(session))
    with pytest.raises(Exception):  # noqa: B017  (which error is tested in test_bodies)
        change_status(session, line.id, "active", reason="r", actor="a", now=now)
    assert len(events(session)) == before


# --- immutability ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET actor = 'mallory'",
        "UPDATE audit_event SET canonical = '{}' WHERE id = :id",
        "DELETE FROM audit_event",
        "DELETE FROM audit_event WHERE id = :id",
    ],
)
def test_audit_events_cannot_be_updated_or_deleted(
    session: Session, now: dt.datetime, statement: str
) -> None:
    make_body(session, now)
    [event] = events(session)
    original = (event.id, event.actor, event.canonical)
    # A SAVEPOINT, so the outer test transaction survives the refused statement (PostgreSQL
    # aborts the whole transaction on an error otherwise).
    with pytest.raises(DBAPIError, match="immutable"), session.begin_nested():
        session.execute(text(statement), {"id": event.id})
    session.expire_all()
    [event] = events(session)
    assert (event.id, event.actor, event.canonical) == original


def test_orm_changes_to_an_event_are_refused_too(session: Session, now: dt.datetime) -> None:
    make_body(session, now)
    [event] = events(session)
    with pytest.raises(DBAPIError, match="immutable"), session.begin_nested():
        event.reason = "rewritten"
        session.flush()
    with pytest.raises(DBAPIError, match="immutable"), session.begin_nested():
        session.delete(event)
        session.flush()
    session.expire_all()
    assert [e.reason for e in events(session)] == [""]
