"""registry.customs: every check of a declaration through check_declarations, with real sealed
certificates, on SQLite and PostgreSQL; set-based for bulk (a fixed number of statements)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from registry import customs
from registry.authorizations import change_status
from registry.certificates import change_certificate_status
from registry.customs import CustomsResult, check_declarations, declaration_record, hs_table
from registry.errors import InvalidInput
from registry.seals import issue_seal, seal_url
from tests.factories import credit_code
from tests.unit.seal_support import HOST, PASSPHRASE, World, make_world, register
from verify.declaration import Declaration, Outcome

HOLDER, MAKER, STRANGER = credit_code(7001), credit_code(7002), credit_code(7999)


@dataclass
class Sealed:
    world: World
    url: str
    number: str


@pytest.fixture(autouse=True)
def fresh_hs_tables() -> Iterator[None]:
    customs.forget_hs_tables()
    yield
    customs.forget_hs_tables()


@pytest.fixture
def sealed(session: Session, now: dt.datetime) -> Sealed:
    """A mask certificate of ``world.body`` issued 2026-03-01, held by HOLDER, made by MAKER."""
    world = make_world(session, now)
    certificate = register(session, now, world, "CUS-0001")
    token = issue_seal(session, certificate, now=now, passphrase=PASSPHRASE).token
    return Sealed(world, seal_url(HOST, token), certificate.number)


def check_one(session: Session, now: dt.datetime, scanned: str, **declared: Any) -> CustomsResult:
    (result,) = check_declarations(session, [(scanned, Declaration(**declared))], now=now, grace_days=90)
    return result


def outcomes(result: CustomsResult) -> dict[str, tuple[Outcome, str]]:
    assert result.report is not None
    return {check.check: (check.outcome, check.detail) for check in result.report.checks}


def test_a_matching_declaration_matches_every_check(
    session: Session, now: dt.datetime, sealed: Sealed
) -> None:
    result = check_one(
        session, now, sealed.url, exporter_credit_code=HOLDER, manufacturer_credit_code=MAKER,
        hs_code="6307.90.0010", quantity=5000, port="Shanghai", declaration_date=dt.date(2026, 5, 1),
    )
    assert result.verification.code == "VALID" and result.skipped_en == ""
    assert outcomes(result) == {
        "holder": (Outcome.MATCH, "parties_match"),
        "hs_code": (Outcome.MATCH, "hs_listed"),
        "certificate_on_date": (Outcome.MATCH, "in_force"),
        "authorization_on_date": (Outcome.MATCH, "authorized"),
    }
    assert result.overall is Outcome.MATCH
    assert result.report is not None and result.report.checked_on == dt.date(2026, 5, 1)
    # The manufacturer declared as the exporter is still a party of the certificate.
    swapped = check_one(session, now, sealed.url, exporter_credit_code=MAKER, hs_code="630790")
    assert outcomes(swapped)["holder"] == (Outcome.MATCH, "parties_match")


def test_an_unrelated_exporter_is_a_mismatch(session: Session, now: dt.datetime, sealed: Sealed) -> None:
    result = check_one(session, now, sealed.url, exporter_credit_code=STRANGER, hs_code="630790",
                       declaration_date=dt.date(2026, 5, 1))
    assert outcomes(result)["holder"] == (Outcome.MISMATCH, "exporter_not_a_party")
    assert result.overall is Outcome.MISMATCH
    assert result.report is not None
    assert STRANGER in result.report.checks[0].reason_en and "既不是" in result.report.checks[0].reason_zh


def test_hs_codes_listed_neighbouring_and_foreign(session: Session, now: dt.datetime, sealed: Sealed) -> None:
    declared = {"exporter_credit_code": HOLDER, "declaration_date": dt.date(2026, 5, 1)}
    items = [(sealed.url, Declaration(hs_code=code, **declared)) for code in ("481850", "902000", "630799",
                                                                            "8504401400")]
    found = [outcomes(r)["hs_code"] for r in check_declarations(session, items, now=now, grace_days=90)]
    assert found == [
        (Outcome.MATCH, "hs_listed"),
        (Outcome.WARN, "hs_neighbour"),  # a known neighbouring code of masks
        (Outcome.WARN, "hs_same_heading"),  # heading 6307 like the listed 630790
        (Outcome.MISMATCH, "hs_not_listed"),
    ]
    nothing = check_one(session, now, sealed.url)
    assert outcomes(nothing)["hs_code"] == (Outcome.WARN, "hs_not_declared")
    assert outcomes(nothing)["holder"] == (Outcome.WARN, "no_party_declared")


def test_a_certificate_suspended_after_the_declaration_date_warns(
    session: Session, now: dt.datetime, sealed: Sealed
) -> None:
    change_certificate_status(session, sealed.world.body.code, sealed.number, "suspended",
                              reason="surveillance audit", actor="test", now=now)
    before = check_one(session, now, sealed.url, exporter_credit_code=HOLDER, hs_code="630790",
                       declaration_date=dt.date(2026, 5, 1))
    assert before.verification.code == "CERTIFICATE_SUSPENDED"  # the seal's verdict is about today
    assert outcomes(before)["certificate_on_date"] == (Outcome.WARN, "suspended_later")
    assert before.report is not None and "since 2026-06-15" in before.report.checks[2].reason_en
    on_the_day = check_one(session, now, sealed.url, declaration_date=dt.date(2026, 6, 15))
    assert outcomes(on_the_day)["certificate_on_date"] == (Outcome.MISMATCH, "suspended")
    later = check_one(session, now, sealed.url, declaration_date=dt.date(2029, 3, 2))
    assert outcomes(later)["certificate_on_date"] == (Outcome.MISMATCH, "suspended")  # outranks expiry
    early = check_one(session, now, sealed.url, declaration_date=dt.date(2026, 2, 1))
    assert outcomes(early)["certificate_on_date"] == (Outcome.MISMATCH, "not_yet_issued")


def test_an_authorization_ended_before_the_declaration_date_is_a_mismatch(
    session: Session, now: dt.datetime, sealed: Sealed
) -> None:
    change_status(session, sealed.world.line.id, "withdrawn", reason="scope given up", actor="test",
                  now=now, effective=dt.date(2026, 4, 1))
    after = check_one(session, now, sealed.url, declaration_date=dt.date(2026, 5, 1))
    assert after.verification.code == "BODY_AUTHORIZATION_ENDED"  # within its grace period today
    assert outcomes(after)["authorization_on_date"] == (Outcome.MISMATCH, "not_authorized")
    assert after.overall is Outcome.MISMATCH
    while_authorized = check_one(session, now, sealed.url, declaration_date=dt.date(2026, 3, 15))
    assert outcomes(while_authorized)["authorization_on_date"] == (Outcome.MATCH, "authorized")


def test_without_a_declaration_date_the_dated_checks_use_today(
    session: Session, now: dt.datetime, sealed: Sealed
) -> None:
    result = check_one(session, now, sealed.url, exporter_credit_code=HOLDER)
    assert result.report is not None and result.report.checked_on == dt.date(2026, 6, 15)
    assert "today" in result.report.checks[2].reason_en


def test_a_forged_or_unreadable_seal_skips_the_checks(
    session: Session, now: dt.datetime, sealed: Sealed
) -> None:
    token = sealed.url.rsplit("/", 1)[1]
    forged = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    items = [(text, Declaration(exporter_credit_code=HOLDER)) for text in (forged, "hello", "")]
    for result in check_declarations(session, items, now=now, grace_days=90):
        assert result.verification.code == "FORGED"
        assert result.report is None and result.overall is None
        assert "not genuine" in result.skipped_en and "不是真实" in result.skipped_zh
        assert result.declaration.exporter_credit_code == HOLDER


@contextmanager
def counted_statements(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = session.get_bind().engine

    def count(*args: Any) -> None:
        statements.append(str(args[2])[:60])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_bulk_checks_keep_the_order_with_a_fixed_number_of_statements(
    session: Session, now: dt.datetime, sealed: Sealed
) -> None:
    change_certificate_status(session, sealed.world.body.code, sealed.number, "suspended",
                              reason="audit", actor="test", now=now)
    hs_table(session)  # the table is cached: reading the categories is not part of the count
    good = Declaration(exporter_credit_code=HOLDER, hs_code="630790", declaration_date=dt.date(2026, 5, 1))
    bad = Declaration(exporter_credit_code=STRANGER, hs_code="850440", declaration_date=dt.date(2026, 5, 1))
    items = [(sealed.url, good if n % 3 else bad) if n % 7 else ("garbage", good) for n in range(2100)]
    with counted_statements(session) as statements:
        results = check_declarations(session, items, now=now, grace_days=90)
    # Three chunks of at most 1,000: per chunk the seals' 3 statements, the status dates and the
    # authorization segments; nothing per item.
    assert len(statements) <= 3 * 5, statements
    assert len(results) == len(items)
    for n, result in enumerate(results):
        if n % 7 == 0:
            assert result.report is None
        else:
            assert result.overall is (Outcome.WARN if n % 3 else Outcome.MISMATCH), n


def test_more_than_ten_thousand_are_refused(session: Session, now: dt.datetime) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_declarations(session, [("x", Declaration())] * 10_001, now=now)
    assert refused.value.details["limit"] == 10_000
    assert check_declarations(session, [], now=now) == []


def test_the_hs_table_is_cached_per_database(session: Session) -> None:
    first = hs_table(session, clock=100.0)
    assert hs_table(session, clock=150.0) is first
    assert hs_table(session, clock=100.0 + customs.HS_TABLE_TTL_SECONDS) is not first
    assert first.name("mask")[0].startswith("Masks")


def test_the_declaration_record_is_json_ready_and_leaves_out_empty_fields() -> None:
    declaration = Declaration(exporter_credit_code=HOLDER.lower(), hs_code="6307.90", quantity="12",
                              declaration_date="2026-05-01")
    assert declaration_record(declaration) == {
        "exporter_credit_code": HOLDER, "hs_code": "630790", "quantity": 12, "declaration_date": "2026-05-01",
    }


def test_the_hs_table_remembers_its_answers_within_a_bound(session: Session) -> None:
    table = hs_table(session)
    first = table.fit("mask", "6307900000")
    assert table.fit("mask", "6307900000") is first
    assert table.fit("ventilator", "6307900000") is not first  # per category
    with pytest.raises(ValueError, match="hs_code"):
        table.fit("mask", "63")  # a malformed code raises every time, and is not remembered
    for code in range(customs._RememberingHsTable.MAX_REMEMBERED + 10):
        table.fit("mask", f"{100000 + code}")
    assert table.fit("mask", "6307900000") == first  # forgotten past the bound, the same answer
