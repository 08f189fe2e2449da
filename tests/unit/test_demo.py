"""The demo registry: varied, realistic, with a history, written through the audited services."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from registry import demo
from registry.identifiers import check_credit_code, normalize_identifier
from registry.models import (
    AuditEvent,
    Authorization,
    Body,
    BodyIdentifier,
    Organization,
    StatusPeriod,
)
from registry.queries import authorization_status_condition, body_status_on
from registry.reference import category_rows


def _count(session: Session, column: InstrumentedAttribute[int]) -> int:
    return session.scalar(select(func.count(column))) or 0


def test_demo_registry_is_varied_and_idempotent(session: Session, now: dt.datetime) -> None:
    summary = demo.load_demo(session, now)

    assert summary.created
    assert summary.bodies_by_kind == {"certification_body": 30, "testing_lab": 25, "inspection_body": 5}
    kinds = Counter(session.scalars(select(Body.kind)))
    assert kinds == Counter(summary.bodies_by_kind)
    assert _count(session, Authorization.id) == summary.authorizations > 150

    foreign = session.execute(
        select(Organization.country, Organization.province).where(Organization.country != "CN")
    ).all()
    assert sorted(c for c, _ in foreign) == ["DE", "FR", "GB", "IT", "US"]
    assert all(province is None for _, province in foreign)
    provinces = set(session.scalars(select(Organization.province).where(Organization.country == "CN")))
    assert len(provinces) >= 15

    # Every identifier scheme appears and each value is in its canonical form.
    identifiers = session.execute(select(BodyIdentifier.scheme, BodyIdentifier.value)).all()
    assert {scheme for scheme, _ in identifiers} >= {"cnca", "cnas", "cma", "eu_nb", "niosh"}
    assert all(normalize_identifier(scheme, value) == value for scheme, value in identifiers)

    lines = session.execute(select(Authorization.category, Authorization.jurisdiction)).all()
    assert {c for c, _ in lines} == {row["category"] for row in category_rows()}
    assert {j for _, j in lines} >= {"CN", "EU", "US", "UK"}

    again = demo.load_demo(session, now)
    assert not again.created
    assert "already" in again.message
    assert _count(session, Body.id) == summary.bodies
    assert _count(session, AuditEvent.id) == summary.audit_events


def test_demo_history_statuses_warning_and_audit(session: Session, now: dt.datetime) -> None:
    events_before = _count(session, AuditEvent.id)
    summary = demo.load_demo(session, now)
    today = now.date()

    for status in ("active", "suspended", "withdrawn", "expired"):
        matching = session.scalar(
            select(func.count(Authorization.id)).where(authorization_status_condition(status, today))
        )
        assert matching, f"no scope line is {status} on {today}"
    assert session.scalar(select(func.count(Authorization.id)).where(Authorization.valid_until < today))

    histories = [
        [p.status for p in a.periods] for a in session.scalars(select(Authorization))
    ]
    assert ["active", "suspended", "active"] in histories  # a restored line
    withdrawn_body = session.scalar(select(Body).where(Body.code == demo.WITHDRAWN_BODY))
    assert withdrawn_body is not None
    assert body_status_on(withdrawn_body, today) == "withdrawn"
    assert all(a.status == "withdrawn" for a in withdrawn_body.authorizations)
    assert body_status_on(withdrawn_body, today - dt.timedelta(days=60)) == "active"
    assert all(p.reason for p in session.scalars(select(StatusPeriod)))

    warned = list(session.scalars(select(Organization).where(Organization.credit_code_warning.is_not(None))))
    assert len(warned) == summary.credit_code_warnings == 1
    assert check_credit_code(warned[0].credit_code or "").warning == warned[0].credit_code_warning
    clean_codes = session.scalars(
        select(Organization.credit_code).where(
            Organization.credit_code.is_not(None), Organization.credit_code_warning.is_(None)
        )
    )
    assert all(check_credit_code(code).warning is None for code in clean_codes if code)

    actions = Counter(session.scalars(select(AuditEvent.action).where(AuditEvent.actor == demo.ACTOR)))
    assert actions["body:create"] == summary.bodies
    assert actions["body:authorization:grant"] == summary.authorizations
    assert actions["body:authorization:suspend"] > 0 and actions["body:authorization:restore"] > 0
    assert actions["body:authorization:withdraw"] > 0
    assert summary.audit_events == _count(session, AuditEvent.id) - events_before == sum(actions.values())
    assert summary.status_changes == sum(
        n for action, n in actions.items() if action.split(":")[-1] in ("suspend", "withdraw", "restore")
    )


def test_demo_plan_is_deterministic() -> None:
    def plan() -> list[tuple[str, str, str | None, list[tuple[str, str, dt.date]]]]:
        rng = random.Random(demo.SEED)
        plans = demo._domestic_plans(rng) + demo._foreign_plans(rng)
        demo._assign_fates(rng, plans, dt.date(2026, 6, 15))
        return [
            (p.data.code, p.data.name_zh, p.data.credit_code,
             [(line.data.category, line.fate, line.data.valid_from) for line in p.lines])
            for p in plans
        ]

    first = plan()
    assert first == plan()
    assert len({name for _, name, _, _ in first}) == len(first)  # no two bodies share a name
