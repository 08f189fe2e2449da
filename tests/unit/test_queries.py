"""The read side (registry.queries): is_authorized on edge days, Python and SQL statuses agree, search."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import case, select
from sqlalchemy.orm import Session

from registry.authorizations import TRANSITIONS, change_status
from registry.models import Authorization, Body
from registry.queries import (
    STATUSES,
    BodyFilter,
    all_matching_bodies,
    authorization_status_condition,
    authorization_status_on,
    body_status_on,
    is_authorized,
    load_bodies,
    search_bodies,
)
from tests.factories import grant, make_body

D = dt.date
DAY = dt.timedelta(days=1)
TODAY = D(2026, 6, 15)


def set_status(
    session: Session, now: dt.datetime, line: Authorization, status: str, effective: dt.date
) -> None:
    change_status(session, line.id, status, reason="test", actor="test", now=now, effective=effective)


# --- is_authorized on the edge days ------------------------------------------------------


def test_is_authorized_on_the_edges_of_the_validity_window(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    grant(session, now, body, valid_from=D(2021, 1, 10), valid_until=D(2021, 12, 31))

    def authorized(day: dt.date) -> bool:
        return is_authorized(session, body.code, "mask", "CN", day)

    assert not authorized(D(2021, 1, 9))
    assert authorized(D(2021, 1, 10))
    assert authorized(D(2021, 12, 31))
    assert not authorized(D(2022, 1, 1))  # expired


def test_is_authorized_follows_suspension_restoration_withdrawal(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    line = grant(session, now, body, valid_from=D(2021, 1, 1), valid_until=None)
    set_status(session, now, line, "suspended", D(2021, 5, 1))
    set_status(session, now, line, "active", D(2021, 6, 1))
    set_status(session, now, line, "withdrawn", D(2021, 9, 1))

    def authorized(day: dt.date) -> bool:
        return is_authorized(session, body.code, "mask", "CN", day)

    assert authorized(D(2021, 4, 30))
    assert not authorized(D(2021, 5, 1))
    assert not authorized(D(2021, 5, 31))
    assert authorized(D(2021, 6, 1))
    assert authorized(D(2021, 8, 31))
    for day in (D(2021, 9, 1), D(2021, 9, 2), D(2026, 6, 15), D(2099, 1, 1)):
        assert not authorized(day), day


def test_a_future_suspension_does_not_change_today(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    line = grant(session, now, body)
    set_status(session, now, line, "suspended", TODAY + 10 * DAY)
    assert is_authorized(session, body.code, "mask", "CN", TODAY)
    assert is_authorized(session, body.code, "mask", "CN", TODAY + 9 * DAY)
    assert not is_authorized(session, body.code, "mask", "CN", TODAY + 10 * DAY)


def test_is_authorized_needs_the_right_body_category_jurisdiction(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    other = make_body(session, now)
    grant(session, now, body, category="mask", jurisdiction="CN")
    grant(session, now, other, category="ventilator", jurisdiction="EU")
    day = D(2024, 1, 1)
    assert is_authorized(session, body.code, "mask", "CN", day)
    assert not is_authorized(session, body.code, "ventilator", "CN", day)
    assert not is_authorized(session, body.code, "mask", "EU", day)
    assert not is_authorized(session, body.code, "ventilator", "EU", day)
    assert not is_authorized(session, other.code, "mask", "CN", day)
    assert not is_authorized(session, "NO-SUCH-BODY", "mask", "CN", day)


def test_one_active_line_suffices_if_another_scheme_is_suspended(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    ccc = grant(session, now, body, scheme="CCC")
    grant(session, now, body, scheme="GB 2626 voluntary")
    set_status(session, now, ccc, "suspended", D(2022, 1, 1))
    assert is_authorized(session, body.code, "mask", "CN", D(2023, 1, 1))
    assert body_status_on(body, D(2023, 1, 1)) == "active"


def test_withdrawn_beats_expired_and_expired_beats_suspended(session: Session, now: dt.datetime) -> None:
    body = make_body(session, now)
    line = grant(session, now, body, valid_from=D(2021, 1, 1), valid_until=D(2021, 12, 31))
    set_status(session, now, line, "suspended", D(2021, 6, 1))
    assert authorization_status_on(line, D(2021, 12, 31)) == "suspended"
    assert authorization_status_on(line, D(2022, 1, 1)) == "expired"
    set_status(session, now, line, "withdrawn", D(2022, 3, 1))
    assert authorization_status_on(line, D(2022, 2, 28)) == "expired"
    assert authorization_status_on(line, D(2022, 3, 1)) == "withdrawn"
    assert authorization_status_on(line, D(2020, 12, 31)) is None


# --- Python and SQL agree, for random histories -------------------------------------------

BASE = D(2026, 5, 1)


@dataclass(frozen=True)
class LinePlan:
    category: str
    jurisdiction: str
    start: int
    length: int | None
    steps: tuple[tuple[int, int], ...]  # (which allowed transition, days after the last change)


line_plans = st.builds(
    LinePlan,
    category=st.sampled_from(["mask", "ventilator"]),
    jurisdiction=st.sampled_from(["CN", "EU"]),
    start=st.integers(0, 20),
    length=st.none() | st.integers(0, 30),
    steps=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 12)), max_size=4).map(tuple),
)


def build_line(session: Session, now: dt.datetime, body: Body, scheme: str, plan: LinePlan) -> set[dt.date]:
    """Grant and evolve one line; return its boundary days."""
    valid_from = BASE + plan.start * DAY
    valid_until = None if plan.length is None else valid_from + plan.length * DAY
    line = grant(
        session,
        now,
        body,
        category=plan.category,
        jurisdiction=plan.jurisdiction,
        scheme=scheme,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    edges = {valid_from} | ({valid_until + DAY} if valid_until else set())
    effective = valid_from
    for choice, gap in plan.steps:
        targets = sorted(new for (old, new) in TRANSITIONS if old == line.status)
        effective += gap * DAY
        set_status(session, now, line, targets[choice % len(targets)], effective)
        edges.add(effective)
    return edges


def sql_line_statuses(session: Session, day: dt.date) -> dict[int, set[str]]:
    flags = [case((authorization_status_condition(s, day), 1), else_=0) for s in STATUSES]
    rows = session.execute(select(Authorization.id, *flags)).all()
    return {row[0]: {s for s, flag in zip(STATUSES, row[1:], strict=True) if flag} for row in rows}


def best(statuses: set[str | None]) -> str | None:
    """The headline status of a set of line statuses: the first of STATUSES (best first) present."""
    return next((status for status in STATUSES if status in statuses), None)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plans=st.lists(line_plans, min_size=1, max_size=3), extra_day=st.integers(-5, 120))
def test_python_and_sql_statuses_agree_on_every_edge_day(
    session: Session, now: dt.datetime, plans: list[LinePlan], extra_day: int
) -> None:
    savepoint = session.begin_nested()
    try:
        body = make_body(session, now)
        edges: set[dt.date] = {BASE + extra_day * DAY}
        for index, plan in enumerate(plans):
            edges |= build_line(session, now, body, f"S{index}", plan)
        session.flush()
        session.expire_all()
        [loaded] = load_bodies(session, [body.id])
        pairs = {(line.category, line.jurisdiction) for line in loaded.authorizations}
        days = sorted({edge + offset * DAY for edge in edges for offset in (-1, 0, 1)})
        for day in days:
            by_line = sql_line_statuses(session, day)
            python_by_line = {line.id: authorization_status_on(line, day) for line in loaded.authorizations}
            for line_id, python in python_by_line.items():
                # Exactly one SQL status once the line has started, none before.
                assert by_line[line_id] == (set() if python is None else {python}), (day, line_id)
            sql_statuses: set[str | None] = set().union(*by_line.values())
            assert body_status_on(loaded, day) == best(sql_statuses), day
            for category, jurisdiction in pairs:
                expected = any(
                    python_by_line[line.id] == "active"
                    for line in loaded.authorizations
                    if (line.category, line.jurisdiction) == (category, jurisdiction)
                )
                assert is_authorized(session, loaded.code, category, jurisdiction, day) == expected, day
            # The lists agree too, through both query paths: the per-body timeline (no line
            # filter) and the per-line timeline (a category filter).
            python_statuses = set(python_by_line.values())
            listed = search_bodies(session, BodyFilter(as_of=day), today=TODAY).items
            assert ([b.id for b in listed] == [body.id]) == (python_statuses != {None}), day
            for status in STATUSES:
                expected_ids = [body.id] if status in python_statuses else []
                whole = search_bodies(session, BodyFilter(status=status, as_of=day), today=TODAY)
                assert [b.id for b in whole.items] == expected_ids, (day, status)
                for category in {c for c, _ in pairs}:
                    in_category = {
                        python_by_line[x.id] for x in loaded.authorizations if x.category == category
                    }
                    by_line = search_bodies(
                        session, BodyFilter(status=status, category=category, as_of=day), today=TODAY
                    )
                    assert ([b.id for b in by_line.items] == [body.id]) == (status in in_category), day
        assert not is_authorized(session, loaded.code, "meltblown", "CN", BASE + 30 * DAY)
    finally:
        savepoint.rollback()


# --- search ------------------------------------------------------------------------------


@dataclass
class Catalogue:
    cqc: Body  # Beijing certification body, mask/CN active, ventilator/EU active
    smd: Body  # Shanghai lab, ventilator/CN suspended since 2026-01-01
    pct: Body  # Guangdong lab with % and _ in its names, mask/EU withdrawn since 2025-01-01
    tuv: Body  # foreign body without province, mask/EU expired 2025-12-31
    future: Body  # inspection body whose only line starts 2027-01-01
    bare: Body  # no lines at all


@pytest.fixture
def catalogue(session: Session, now: dt.datetime) -> Catalogue:
    cqc = make_body(
        session,
        now,
        code="CQC",
        name_zh="中国质量认证中心",
        name_en="China Quality Certification Centre",
        province="11",
        identifiers={"cnca": "CNCA-R-2002-001"},
    )
    grant(session, now, cqc, category="mask", jurisdiction="CN")
    grant(session, now, cqc, category="ventilator", jurisdiction="EU")
    smd = make_body(
        session,
        now,
        code="SMDTI",
        kind="testing_lab",
        name_zh="上海市医疗器械检测所",
        name_en="Shanghai Medical Device Testing Institute",
        province="31",
        identifiers={"cnas": "L0123"},
    )
    set_status(session, now, grant(session, now, smd, category="ventilator"), "suspended", D(2026, 1, 1))
    pct = make_body(
        session,
        now,
        code="PCT-1",
        kind="testing_lab",
        name_zh="广州百分之100%_检测",
        name_en="Percent_Lab 100%",
        province="44",
    )
    set_status(session, now, grant(session, now, pct, jurisdiction="EU"), "withdrawn", D(2025, 1, 1))
    tuv = make_body(
        session,
        now,
        code="NB-0123",
        name_zh="南德意志集团",
        name_en="TUV SUD Product Service",
        province=None,
        identifiers={"eu_nb": "0123"},
    )
    grant(session, now, tuv, jurisdiction="EU", valid_until=D(2025, 12, 31))
    future = make_body(session, now, code="FUT", kind="inspection_body", province="11")
    grant(session, now, future, category="ir_thermometer", valid_from=D(2027, 1, 1))
    bare = make_body(session, now, code="BARE", kind="testing_lab", province="11")
    return Catalogue(cqc, smd, pct, tuv, future, bare)


def codes(session: Session, day: dt.date = TODAY, **filters: object) -> list[str]:
    page = search_bodies(session, BodyFilter(**filters), today=day, per_page=100)  # type: ignore[arg-type]
    assert page.total == len(page.items)
    return [b.code for b in page.items]


def test_no_filter_lists_started_bodies_by_province_then_code(session: Session, catalogue: Catalogue) -> None:
    # Bodies without a province (foreign ones) come last on both databases.
    assert codes(session) == ["CQC", "SMDTI", "PCT-1", "NB-0123"]


def test_filter_by_kind(session: Session, catalogue: Catalogue) -> None:
    assert codes(session, kinds=("testing_lab",)) == ["SMDTI", "PCT-1"]
    assert codes(session, kinds=("testing_lab", "certification_body")) == ["CQC", "SMDTI", "PCT-1", "NB-0123"]
    assert codes(session, kinds=("inspection_body",)) == []
    assert codes(session, TODAY, kinds=("inspection_body",), as_of=D(2027, 1, 1)) == ["FUT"]


def test_filter_by_category_and_jurisdiction_on_the_same_line(session: Session, catalogue: Catalogue) -> None:
    assert codes(session, category="mask") == ["CQC", "PCT-1", "NB-0123"]
    assert codes(session, jurisdiction="EU") == ["CQC", "PCT-1", "NB-0123"]
    # CQC has a mask line (CN) and an EU line (ventilator) but no EU mask line.
    assert codes(session, category="mask", jurisdiction="EU") == ["PCT-1", "NB-0123"]
    assert codes(session, category="ventilator", jurisdiction="CN") == ["SMDTI"]
    assert codes(session, category="meltblown") == []


def test_filter_by_province(session: Session, catalogue: Catalogue) -> None:
    assert codes(session, province="11") == ["CQC"]
    assert codes(session, province="31") == ["SMDTI"]
    assert codes(session, province="65") == []


def test_filter_by_status(session: Session, catalogue: Catalogue) -> None:
    assert codes(session, status="active") == ["CQC"]
    assert codes(session, status="suspended") == ["SMDTI"]
    assert codes(session, status="withdrawn") == ["PCT-1"]
    assert codes(session, status="expired") == ["NB-0123"]
    assert codes(session, status="revoked") == []


def test_status_filter_combines_with_the_line_filters(session: Session, catalogue: Catalogue) -> None:
    assert codes(session, status="suspended", category="mask") == []
    assert codes(session, status="active", category="ventilator", jurisdiction="EU") == ["CQC"]
    assert codes(session, status="active", category="ventilator", jurisdiction="CN") == []


TEXT_SEARCHES: list[tuple[str, list[str]]] = [
    ("质量认证", ["CQC"]),
    ("上海", ["SMDTI"]),
    ("shanghai", ["SMDTI"]),
    ("QUALITY certification", ["CQC"]),
    ("smdti", ["SMDTI"]),
    ("nb-0123", ["NB-0123"]),
    ("l0123", ["SMDTI"]),  # CNAS L0123
    ("cnca-r-2002", ["CQC"]),
    ("  tuv sud  ", ["NB-0123"]),
    ("%", ["PCT-1"]),
    ("_", ["PCT-1"]),
    ("100%_", ["PCT-1"]),
    ("0%_检", ["PCT-1"]),
    ("t_v", []),
    ("c%c", []),
    ("\\", []),
    ("no such body", []),
]


def test_text_search(session: Session, catalogue: Catalogue) -> None:
    # One catalogue for every query (building it is the slow part); report all mismatches at once.
    found = {text: codes(session, text=text) for text, _ in TEXT_SEARCHES}
    assert found == dict(TEXT_SEARCHES)


def test_text_search_finds_the_credit_code_in_any_case(session: Session, catalogue: Catalogue) -> None:
    credit = catalogue.smd.organization.credit_code
    assert credit
    assert codes(session, text=credit) == ["SMDTI"]
    assert codes(session, text=credit[4:14].lower()) == ["SMDTI"]


def test_blank_text_does_not_filter(session: Session, catalogue: Catalogue) -> None:
    assert codes(session, text="   ") == codes(session)


def test_as_of_moves_statuses_and_starts(session: Session, catalogue: Catalogue) -> None:
    assert codes(session, status="suspended", as_of=D(2025, 12, 31)) == []
    assert codes(session, status="active", as_of=D(2025, 12, 31)) == ["CQC", "SMDTI", "NB-0123"]
    assert codes(session, status="withdrawn", as_of=D(2024, 12, 31)) == []
    assert codes(session, as_of=D(2020, 2, 29)) == []
    assert "FUT" not in codes(session)
    assert "FUT" in codes(session, as_of=D(2027, 1, 1))
    page = search_bodies(session, BodyFilter(as_of=D(2025, 6, 1)), today=TODAY)
    assert page.as_of == D(2025, 6, 1)
    assert search_bodies(session, BodyFilter(), today=TODAY).as_of == TODAY
    # Without as_of, "today" decides.
    assert codes(session, D(2027, 1, 1), kinds=("inspection_body",)) == ["FUT"]


def test_search_loads_lines_and_periods_for_display(session: Session, catalogue: Catalogue) -> None:
    session.expire_all()
    [smd] = search_bodies(session, BodyFilter(text="SMDTI"), today=TODAY).items
    assert [i.value for i in smd.identifiers] == ["CNAS L0123"]
    assert body_status_on(smd, TODAY) == "suspended"
    assert body_status_on(smd, D(2025, 12, 31)) == "active"


def test_pagination_totals_and_order(session: Session, now: dt.datetime) -> None:
    provinces = ["44", "11", None]
    for i in range(25):
        grant(session, now, make_body(session, now, code=f"P-{i:02d}", province=provinces[i % 3]))
    # Beijing (11), then Guangdong (44), then no province; by code within each.
    expected = [f"P-{i:02d}" for rest in (1, 0, 2) for i in range(25) if i % 3 == rest]
    pages = [search_bodies(session, BodyFilter(), today=TODAY, page=n, per_page=10) for n in (1, 2, 3, 4)]
    assert [p.total for p in pages] == [25] * 4
    assert [p.pages for p in pages] == [3] * 4
    assert [len(p.items) for p in pages] == [10, 10, 5, 0]
    assert [b.code for p in pages for b in p.items] == expected
    filtered = search_bodies(session, BodyFilter(province="11"), today=TODAY, page=1, per_page=3)
    assert (filtered.total, filtered.pages, len(filtered.items)) == (8, 3, 3)


def test_pages_before_the_first_are_the_first(session: Session, catalogue: Catalogue) -> None:
    first = search_bodies(session, BodyFilter(), today=TODAY, page=1, per_page=2)
    for page_number in (0, -3):
        page = search_bodies(session, BodyFilter(), today=TODAY, page=page_number, per_page=2)
        assert [b.code for b in page.items] == [b.code for b in first.items]
        assert page.page == 1
    empty = search_bodies(session, BodyFilter(text="nothing"), today=TODAY)
    assert (empty.total, empty.pages, empty.items) == (0, 1, [])


def test_all_matching_bodies_is_the_unpaged_search(session: Session, catalogue: Catalogue) -> None:
    found, day = all_matching_bodies(session, BodyFilter(jurisdiction="EU"), today=TODAY)
    assert day == TODAY
    assert [b.code for b in found] == codes(session, jurisdiction="EU")
    found, day = all_matching_bodies(session, BodyFilter(as_of=D(2027, 1, 1)), today=TODAY)
    assert day == D(2027, 1, 1)
    assert "FUT" in [b.code for b in found]
