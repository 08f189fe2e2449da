"""Authorization facts, computed the same way from database rows and from a trust bundle."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from tests.unit.verify.support import active_line
from verify.authority import AuthorizationFacts, StatusPeriod, authorization_facts, lines_from_rows

D = dt.date
ISSUE = D(2026, 1, 12)
TODAY = D(2026, 6, 15)


def periods(*changes: tuple[str, dt.date]) -> tuple[StatusPeriod, ...]:
    """Consecutive periods: each runs until the next change."""
    out = []
    for index, (status, start) in enumerate(changes):
        until = changes[index + 1][1] if index + 1 < len(changes) else None
        out.append(StatusPeriod(status, start, until))
    return tuple(out)


def facts(*lines, category="mask", jurisdiction="CN", issue=ISSUE, today=TODAY) -> AuthorizationFacts:
    return authorization_facts(lines, category, jurisdiction, issue, today)


def test_status_on_follows_the_registry_rules():
    line = active_line(
        valid_from=D(2020, 1, 1),
        valid_until=D(2025, 12, 31),
        periods=periods(("active", D(2020, 1, 1)), ("suspended", D(2023, 1, 1)), ("active", D(2023, 2, 1))),
    )
    assert line.status_on(D(2019, 12, 31)) is None
    assert line.status_on(D(2020, 1, 1)) == "active"
    assert line.status_on(D(2023, 1, 15)) == "suspended"
    assert line.status_on(D(2023, 2, 1)) == "active"
    assert line.status_on(D(2026, 1, 1)) == "expired"
    withdrawn = active_line(periods=periods(("active", D(2020, 1, 1)), ("withdrawn", D(2024, 1, 1))))
    assert withdrawn.status_on(D(2030, 1, 1)) == "withdrawn"


def test_authorized_and_still_active():
    assert facts(active_line()) == AuthorizationFacts(True)


def test_not_authorized_cases():
    assert facts() == AuthorizationFacts(False)
    assert facts(active_line(category="ventilator")) == AuthorizationFacts(False)
    assert facts(active_line(jurisdiction="EU")) == AuthorizationFacts(False)
    assert facts(active_line(valid_from=D(2026, 2, 1))) == AuthorizationFacts(False)
    suspended_then = active_line(
        periods=periods(("active", D(2020, 1, 1)), ("suspended", D(2026, 1, 1)), ("active", D(2026, 2, 1)))
    )
    assert facts(suspended_then) == AuthorizationFacts(False)


def test_authorization_ended_by_suspension_withdrawal_or_expiry():
    suspended = active_line(periods=periods(("active", D(2020, 1, 1)), ("suspended", D(2026, 4, 1))))
    assert facts(suspended) == AuthorizationFacts(True, D(2026, 4, 1), "suspended")
    withdrawn = active_line(
        periods=periods(("active", D(2020, 1, 1)), ("suspended", D(2026, 3, 1)), ("withdrawn", D(2026, 4, 1)))
    )
    assert facts(withdrawn) == AuthorizationFacts(True, D(2026, 3, 1), "suspended")
    expired = active_line(valid_until=D(2026, 5, 31))
    assert facts(expired) == AuthorizationFacts(True, D(2026, 6, 1), "expired")


def test_restored_authorization_has_not_ended():
    restored = active_line(
        periods=periods(("active", D(2020, 1, 1)), ("suspended", D(2026, 3, 1)), ("active", D(2026, 4, 1)))
    )
    assert facts(restored) == AuthorizationFacts(True)


def test_a_future_end_has_not_happened_yet():
    scheduled = active_line(periods=periods(("active", D(2020, 1, 1)), ("withdrawn", D(2026, 7, 1))))
    assert facts(scheduled) == AuthorizationFacts(True)
    assert facts(scheduled, today=D(2026, 7, 1)) == AuthorizationFacts(True, D(2026, 7, 1), "withdrawn")


def test_two_lines_the_latest_end_counts_and_one_active_line_is_enough():
    early = active_line(scheme="A", periods=periods(("active", D(2020, 1, 1)), ("withdrawn", D(2026, 2, 1))))
    late = active_line(scheme="B", periods=periods(("active", D(2021, 1, 1)), ("suspended", D(2026, 5, 1))))
    assert facts(early, late) == AuthorizationFacts(True, D(2026, 5, 1), "suspended")
    assert facts(early, active_line(scheme="C")) == AuthorizationFacts(True)


def test_lines_from_orm_like_rows():
    row = SimpleNamespace(
        category="mask",
        jurisdiction="CN",
        scheme="CCC",
        valid_from=D(2020, 1, 1),
        valid_until=None,
        periods=[
            SimpleNamespace(id=2, status="suspended", effective_from=D(2026, 4, 1), effective_until=None),
            SimpleNamespace(
                id=1, status="active", effective_from=D(2020, 1, 1), effective_until=D(2026, 4, 1)
            ),
        ],
    )
    (line,) = lines_from_rows([row])
    assert [p.status for p in line.periods] == ["active", "suspended"]
    assert facts(line) == AuthorizationFacts(True, D(2026, 4, 1), "suspended")
