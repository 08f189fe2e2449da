"""Checking a certificate against a customs declaration: parsing, HS codes, parties and dates."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.declaration import (
    DECLARATION_FIELDS,
    CertificateFacts,
    CheckResult,
    Declaration,
    DeclarationError,
    DeclarationReport,
    HsTable,
    Outcome,
    check_declaration,
    parse_declaration,
)

CATEGORIES_CSV = Path(__file__).resolve().parents[3] / "registry" / "data" / "categories.csv"
HOLDER = "91110000600037341L"
MAKER = "91320500MA1MXYQ21K"
STRANGER = "91440300MA5FUX2P8C"
ISSUED, EXPIRES = dt.date(2026, 1, 12), dt.date(2031, 1, 11)
TODAY = dt.date(2026, 6, 15)


@pytest.fixture(scope="module")
def table() -> HsTable:
    return HsTable.from_csv(CATEGORIES_CSV)


def facts(**changes: Any) -> CertificateFacts:
    """A valid mask certificate held by HOLDER, made by MAKER, its body always authorized."""
    values: dict[str, Any] = {
        "holder_credit_code": HOLDER,
        "manufacturer_credit_code": MAKER,
        "category": "mask",
        "status": "valid",
        "issue_date": ISSUED,
        "expiry_date": EXPIRES,
        "authorized_on": lambda day: True,
    }
    values.update(changes)
    return CertificateFacts(**values)


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def check(report: DeclarationReport, name: str) -> CheckResult:
    """The named check of the report, after asserting every reason is bilingual."""
    for result in report.checks:
        assert result.reason_en and result.reason_en.isascii(), result
        assert has_chinese(result.reason_zh), result
    [result] = [r for r in report.checks if r.check == name]
    return result


def run(table: HsTable, declaration: Declaration | None = None, **fact_changes: Any) -> DeclarationReport:
    return check_declaration(declaration or Declaration(), facts(**fact_changes), table, today=TODAY)


# --- parsing ---------------------------------------------------------------------------------------


def test_parse_normalizes_every_field():
    declaration = parse_declaration(
        {
            "exporter_credit_code": " 91110000600037341l ",
            "manufacturer_credit_code": MAKER.lower(),
            "hs_code": "6307.90.1000",
            "product_description": "  医用外科口罩，50只/盒 ",
            "quantity": " 12000 ",
            "port": "Shanghai Pudong ",
            "declaration_date": "2026-03-02",
        }
    )
    assert declaration == Declaration(
        exporter_credit_code=HOLDER,
        manufacturer_credit_code=MAKER,
        hs_code="6307901000",
        product_description="医用外科口罩，50只/盒",  # full-width punctuation kept
        quantity=12000,
        port="Shanghai Pudong",
        declaration_date=dt.date(2026, 3, 2),
    )


def test_parse_treats_missing_none_and_empty_as_not_declared():
    assert parse_declaration({}) == Declaration()
    blank = parse_declaration(dict.fromkeys(DECLARATION_FIELDS, ""))
    nulls = parse_declaration(dict.fromkeys(DECLARATION_FIELDS))
    assert blank == nulls == Declaration()
    assert blank.hs_code is None and blank.quantity is None and blank.port == ""


def test_parse_reports_every_bad_field_at_once():
    with pytest.raises(DeclarationError) as caught:
        parse_declaration(
            {
                "exporter_credit_code": "9111000060003734",  # 16 characters
                "manufacturer_credit_code": "91110000600037341O",  # O is not in the alphabet
                "hs_code": "63079",
                "product_description": "ok",
                "quantity": "0",
                "port": "ok",
                "declaration_date": "2026-02-30",
                "consignee": "someone",
            }
        )
    problems = caught.value.problems
    assert set(problems) == {
        "exporter_credit_code",
        "manufacturer_credit_code",
        "hs_code",
        "quantity",
        "declaration_date",
        "consignee",
    }
    assert problems["consignee"] == "unknown field"
    assert "6 to 10 digits" in problems["hs_code"]
    assert "greater than 0" in problems["quantity"]
    # The message names each field, so one line in a log is enough.
    for name in problems:
        assert f"{name}:" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_an_unknown_key_alone_is_refused():
    with pytest.raises(DeclarationError) as caught:
        parse_declaration({"hs_code": "630790", "hs code": "630790"})
    assert caught.value.problems == {"hs code": "unknown field"}


def test_surplus_csv_cells_are_an_unknown_field():
    rows = csv.DictReader(io.StringIO("hs_code,port\n630790,Ningbo,surplus\n"))
    with pytest.raises(DeclarationError) as caught:
        parse_declaration(next(rows))
    assert caught.value.problems == {"None": "unknown field"}


@pytest.mark.parametrize("quantity", ["0", "-5", "1.5", "1e3", "twelve", "1 000", "٣", "9" * 16])
def test_bad_quantities_are_refused(quantity: str):
    with pytest.raises(DeclarationError) as caught:
        parse_declaration({"quantity": quantity})
    assert set(caught.value.problems) == {"quantity"}


@pytest.mark.parametrize(
    "hs_code",
    ["63079", "630790100012", "63079010001", "6307AB", "HS630790", "6307-90", "六三零七九零", "٦٣٠٧٩٠"],
)
def test_bad_hs_codes_are_refused(hs_code: str):
    with pytest.raises(DeclarationError) as caught:
        parse_declaration({"hs_code": hs_code})
    assert set(caught.value.problems) == {"hs_code"}


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("630790", "630790"),
        ("6307.90", "630790"),
        ("6307 90 10 00", "6307901000"),
        ("６３０７９０", "630790"),
    ],
)
def test_hs_codes_are_reduced_to_their_digits(raw: str, digits: str):
    assert parse_declaration({"hs_code": raw}).hs_code == digits


def test_a_wrong_check_character_is_accepted_but_a_wrong_shape_is_not():
    wrong_check = HOLDER[:17] + "X"
    assert parse_declaration({"exporter_credit_code": wrong_check}).exporter_credit_code == wrong_check
    for bad in (HOLDER[:17], HOLDER + "0", HOLDER[:17] + "I", HOLDER[:17] + "Z", "9111-0000600037341"):
        with pytest.raises(DeclarationError) as caught:
            parse_declaration({"exporter_credit_code": bad})
        assert set(caught.value.problems) == {"exporter_credit_code"}


@pytest.mark.parametrize(
    "date", ["2026/03/02", "20260302", "2026-W10-1", "02-03-2026", "2026-3-2", "tomorrow"]
)
def test_dates_must_be_iso_calendar_dates(date: str):
    with pytest.raises(DeclarationError) as caught:
        parse_declaration({"declaration_date": date})
    assert set(caught.value.problems) == {"declaration_date"}


def test_non_string_values_are_refused_except_json_numbers_for_quantity():
    assert parse_declaration({"quantity": 500}).quantity == 500
    with pytest.raises(DeclarationError) as caught:
        parse_declaration({"hs_code": 630790, "quantity": True, "port": ["x"]})
    assert set(caught.value.problems) == {"hs_code", "quantity", "port"}


def test_declaration_validates_on_construction():
    assert Declaration(hs_code="6307.90.1000").hs_code == "6307901000"
    assert Declaration(exporter_credit_code=HOLDER.lower()).exporter_credit_code == HOLDER
    with pytest.raises(DeclarationError) as caught:
        Declaration(hs_code="630", quantity=0, declaration_date=dt.datetime(2026, 3, 2, 9, 0))
    assert set(caught.value.problems) == {"hs_code", "quantity", "declaration_date"}


field_keys = st.one_of(st.sampled_from(DECLARATION_FIELDS), st.text(max_size=30))


@given(st.dictionaries(field_keys, st.one_of(st.none(), st.text(max_size=40)), max_size=9))
def test_parse_declaration_raises_only_declaration_error(mapping: dict[str, str | None]):
    try:
        declaration = parse_declaration(mapping)
    except DeclarationError as error:
        assert error.problems
    else:
        # Whatever parsed is already normal: constructing it again changes nothing.
        assert Declaration(**{name: getattr(declaration, name) for name in DECLARATION_FIELDS}) == declaration


@given(st.text(alphabet="0123456789 .", max_size=16))
def test_hs_codes_of_digits_dots_and_spaces_parse_exactly_when_6_to_10_digits(raw: str):
    digits = "".join(ch for ch in raw if ch.isdigit())
    if 6 <= len(digits) <= 10 or not digits:
        assert parse_declaration({"hs_code": raw}).hs_code == (digits or None)
    else:
        with pytest.raises(DeclarationError):
            parse_declaration({"hs_code": raw})


# --- HS codes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "hs_code", "outcome", "detail"),
    [
        ("mask", "630790", Outcome.MATCH, "hs_listed"),
        ("mask", "481850", Outcome.MATCH, "hs_listed"),
        ("mask", "6307900010", Outcome.MATCH, "hs_listed"),
        ("mask", "6307.90.1000", Outcome.MATCH, "hs_listed"),
        ("mask", "902000", Outcome.WARN, "hs_neighbour"),
        ("mask", "630710", Outcome.WARN, "hs_same_heading"),
        ("mask", "481890", Outcome.WARN, "hs_same_heading"),
        ("mask", "851712", Outcome.MISMATCH, "hs_not_listed"),
        ("mask", "630900", Outcome.MISMATCH, "hs_not_listed"),  # chapter 63 but heading 6309
        ("mask", "621010", Outcome.MISMATCH, "hs_not_listed"),
        ("test_reagent", "382200", Outcome.MATCH, "hs_listed"),  # HS 2017
        ("test_reagent", "382219", Outcome.MATCH, "hs_listed"),  # HS 2022
        ("test_reagent", "382290", Outcome.WARN, "hs_same_heading"),
        ("test_reagent", "300290", Outcome.WARN, "hs_neighbour"),
        ("ventilator", "901920", Outcome.MATCH, "hs_listed"),
        ("ventilator", "901890", Outcome.WARN, "hs_neighbour"),
        ("meltblown", "560392", Outcome.WARN, "hs_neighbour"),
        ("meltblown", "630790", Outcome.MISMATCH, "hs_not_listed"),
    ],
)
def test_fit_against_the_real_categories(
    table: HsTable, category: str, hs_code: str, outcome: Outcome, detail: str
):
    result = table.fit(category, hs_code)
    assert (result.check, result.outcome, result.detail) == ("hs_code", outcome, detail)
    assert hs_code.replace(".", "")[:6] in result.reason_en
    assert hs_code.replace(".", "")[:6] in result.reason_zh
    assert has_chinese(result.reason_zh)


def test_every_listed_code_of_the_csv_matches_its_own_category(table: HsTable):
    with open(CATEGORIES_CSV, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    for row in rows:
        for code in row["hs6_codes"].split(";"):
            assert table.fit(row["category"], code).outcome is Outcome.MATCH, (row["category"], code)
        for code in filter(None, row["hs6_neighbours"].split(";")):
            assert table.fit(row["category"], code).outcome is Outcome.WARN, (row["category"], code)


def test_fit_reasons_name_what_was_compared(table: HsTable):
    listed = table.fit("mask", "630790")
    assert listed.reason_en.startswith("declared HS 630790 is listed for Masks")
    assert listed.reason_zh == "申报的HS编码630790属于口罩的常用编码"
    ten_digits = table.fit("mask", "6307900010")
    assert "6307900010 (subheading 630790)" in ten_digits.reason_en
    assert "6307900010（子目630790）" in ten_digits.reason_zh
    heading = table.fit("mask", "630710")
    assert "6307" in heading.reason_en and "630790" in heading.reason_en and "品目6307" in heading.reason_zh
    elsewhere = table.fit("mask", "621010")
    assert "Protective clothing" in elsewhere.reason_en and "防护服" in elsewhere.reason_zh
    unrelated = table.fit("mask", "851712")
    assert "630790, 481850" in unrelated.reason_en and "listed for Protective" not in unrelated.reason_en


def test_a_category_without_codes_warns():
    table = HsTable([("mask", "630790", ""), ("new_category", "", "")])
    for category in ("new_category", "not_in_the_table"):
        result = table.fit(category, "630790")
        assert (result.outcome, result.detail) == (Outcome.WARN, "hs_no_codes_known")
        assert "no HS codes known for this category" in result.reason_en
    assert table.name("mask") == ("mask", "mask")  # no names given: the code stands in


def test_fit_refuses_a_malformed_code(table: HsTable):
    for bad in ("63079", "", "6307X0"):
        with pytest.raises(DeclarationError) as caught:
            table.fit("mask", bad)
        assert set(caught.value.problems) == {"hs_code"}


def test_table_refuses_bad_rows():
    with pytest.raises(ValueError, match="6-digit"):
        HsTable([("mask", "63079", "")])
    with pytest.raises(ValueError, match="twice"):
        HsTable([("mask", "630790", ""), ("mask", "481850", "")])


# --- holder -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exporter", "maker", "expected"),
    [
        (HOLDER, None, "declared exporter 91110000600037341L is the certificate holder"),
        (MAKER, None, "declared exporter 91320500MA1MXYQ21K is the certificate's manufacturer"),
        (None, MAKER, "declared manufacturer 91320500MA1MXYQ21K is the certificate's manufacturer"),
        (None, HOLDER, "declared manufacturer 91110000600037341L is the certificate holder"),
        (
            HOLDER,
            MAKER,
            "declared exporter 91110000600037341L is the certificate holder; declared manufacturer",
        ),
    ],
)
def test_declared_parties_of_the_certificate_match(
    table: HsTable, exporter: str | None, maker: str | None, expected: str
):
    declaration = Declaration(exporter_credit_code=exporter, manufacturer_credit_code=maker)
    result = check(run(table, declaration), "holder")
    assert (result.outcome, result.detail) == (Outcome.MATCH, "parties_match")
    assert result.reason_en.startswith(expected)


@pytest.mark.parametrize(
    ("exporter", "maker", "detail"),
    [
        (STRANGER, None, "exporter_not_a_party"),
        (None, STRANGER, "manufacturer_not_a_party"),
        (HOLDER, STRANGER, "manufacturer_not_a_party"),
        (STRANGER, MAKER, "exporter_not_a_party"),
        (STRANGER, STRANGER, "exporter_and_manufacturer_not_a_party"),
    ],
)
def test_a_declared_stranger_is_a_mismatch_naming_the_party(
    table: HsTable, exporter: str | None, maker: str | None, detail: str
):
    declaration = Declaration(exporter_credit_code=exporter, manufacturer_credit_code=maker)
    result = check(run(table, declaration), "holder")
    assert (result.outcome, result.detail) == (Outcome.MISMATCH, detail)
    assert f"{STRANGER} is neither the certificate holder nor manufacturer" in result.reason_en
    assert f"{STRANGER}既不是证书持有人也不是证书记载的生产企业" in result.reason_zh


def test_holder_warns_when_there_is_nothing_to_compare(table: HsTable):
    nothing_declared = check(run(table, Declaration(hs_code="630790")), "holder")
    assert (nothing_declared.outcome, nothing_declared.detail) == (Outcome.WARN, "no_party_declared")
    assert "nothing to compare" in nothing_declared.reason_en
    foreign = run(
        table,
        Declaration(exporter_credit_code=HOLDER),
        holder_credit_code=None,
        manufacturer_credit_code=None,
    )
    assert (check(foreign, "holder").outcome, check(foreign, "holder").detail) == (
        Outcome.WARN,
        "no_party_known",
    )


def test_stored_codes_are_compared_case_insensitively(table: HsTable):
    report = run(table, Declaration(exporter_credit_code=HOLDER), holder_credit_code=HOLDER.lower())
    assert check(report, "holder").outcome is Outcome.MATCH


# --- hs_code within the report ---------------------------------------------------------------------


def test_hs_check_uses_the_certificate_category(table: HsTable):
    assert (
        check(run(table, Declaration(hs_code="382219"), category="test_reagent"), "hs_code").outcome
        is Outcome.MATCH
    )
    assert check(run(table, Declaration(hs_code="382219")), "hs_code").outcome is Outcome.MISMATCH
    missing = check(run(table, Declaration()), "hs_code")
    assert (missing.outcome, missing.detail) == (Outcome.WARN, "hs_not_declared")
    assert "Masks" in missing.reason_en and "口罩" in missing.reason_zh


# --- certificate_on_date ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "outcome", "detail"),
    [
        (ISSUED - dt.timedelta(days=1), Outcome.MISMATCH, "not_yet_issued"),
        (ISSUED, Outcome.MATCH, "in_force"),
        (EXPIRES, Outcome.MATCH, "in_force"),
        (EXPIRES + dt.timedelta(days=1), Outcome.MISMATCH, "expired"),
    ],
)
def test_certificate_validity_at_the_boundaries(table: HsTable, day: dt.date, outcome: Outcome, detail: str):
    report = run(table, Declaration(declaration_date=day))
    result = check(report, "certificate_on_date")
    assert (result.outcome, result.detail) == (outcome, detail)
    assert f"on the declaration date {day}" in result.reason_en
    assert f"在申报日期{day}" in result.reason_zh
    assert report.checked_on == day


@pytest.mark.parametrize("status", ["suspended", "withdrawn"])
@pytest.mark.parametrize(
    ("effective", "outcome", "detail"),
    [
        (dt.date(2026, 3, 1), Outcome.MISMATCH, "{status}"),  # before the declaration date
        (dt.date(2026, 3, 2), Outcome.MISMATCH, "{status}"),  # on it
        (None, Outcome.MISMATCH, "{status}"),  # unknown: assume it already applied
        (dt.date(2026, 3, 3), Outcome.WARN, "{status}_later"),  # after it
    ],
)
def test_a_suspension_or_withdrawal_counts_from_its_effective_date(
    table: HsTable, status: str, effective: dt.date | None, outcome: Outcome, detail: str
):
    declaration = Declaration(declaration_date=dt.date(2026, 3, 2))
    result = check(run(table, declaration, status=status, status_effective=effective), "certificate_on_date")
    assert (result.outcome, result.detail) == (outcome, detail.format(status=status))
    assert status in result.reason_en
    assert {"suspended": "暂停", "withdrawn": "撤销"}[status] in result.reason_zh
    if effective is not None:
        assert f"since {effective}" in result.reason_en and f"自{effective}起" in result.reason_zh


def test_expiry_outranks_a_later_suspension(table: HsTable):
    late = EXPIRES + dt.timedelta(days=10)
    report = run(
        table, Declaration(declaration_date=late), status="suspended", status_effective=late + dt.timedelta(1)
    )
    assert check(report, "certificate_on_date").detail == "expired"


def test_without_a_declaration_date_today_is_used_and_said(table: HsTable):
    calls: list[dt.date] = []

    def authorized_on(day: dt.date) -> bool:
        calls.append(day)
        return True

    report = run(table, Declaration(hs_code="630790"), authorized_on=authorized_on)
    assert report.checked_on == TODAY and calls == [TODAY]
    for name in ("certificate_on_date", "authorization_on_date"):
        result = check(report, name)
        assert f"on {TODAY} (today: no declaration date given)" in result.reason_en
        assert "未申报日期" in result.reason_zh


# --- authorization_on_date -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "outcome", "detail"),
    [
        (True, Outcome.MATCH, "authorized"),
        (False, Outcome.MISMATCH, "not_authorized"),
        (None, Outcome.WARN, "authorization_unknown"),
    ],
)
def test_authorization_on_the_declaration_date(
    table: HsTable, answer: bool | None, outcome: Outcome, detail: str
):
    calls: list[dt.date] = []

    def lookup(day: dt.date) -> bool | None:
        calls.append(day)
        return answer

    day = dt.date(2026, 4, 1)
    result = check(
        run(table, Declaration(declaration_date=day), authorized_on=lookup), "authorization_on_date"
    )
    assert (result.outcome, result.detail) == (outcome, detail)
    assert calls == [day]
    assert "Masks" in result.reason_en and "口罩" in result.reason_zh


# --- the report -------------------------------------------------------------------------------------


def test_overall_is_the_worst_outcome(table: HsTable):
    clean = Declaration(exporter_credit_code=HOLDER, hs_code="630790", declaration_date=dt.date(2026, 3, 2))
    assert run(table, clean).overall is Outcome.MATCH
    assert run(table, clean, authorized_on=lambda day: None).overall is Outcome.WARN
    worst = run(table, clean, authorized_on=lambda day: None, category="ventilator")
    assert [r.outcome for r in worst.checks] == [Outcome.MATCH, Outcome.MISMATCH, Outcome.MATCH, Outcome.WARN]
    assert worst.overall is Outcome.MISMATCH


def test_report_as_dict_is_json_ready(table: HsTable):
    report = run(table, Declaration(exporter_credit_code=STRANGER, hs_code="902000"))
    data = json.loads(json.dumps(report.as_dict(), ensure_ascii=False))
    assert data["overall"] == "MISMATCH"
    assert data["checked_on"] == TODAY.isoformat()
    assert [c["check"] for c in data["checks"]] == [
        "holder",
        "hs_code",
        "certificate_on_date",
        "authorization_on_date",
    ]
    assert data["checks"][1] == {
        "check": "hs_code",
        "outcome": "WARN",
        "reason_zh": "申报的HS编码902000不属于口罩的常用编码，但属于已知的相近编码，请核实归类",
        "reason_en": "declared HS 902000 is not listed for Masks (medical masks and respirators) "
        "but is a known neighbouring code: check the classification",
        "detail": "hs_neighbour",
    }


def test_certificate_facts_refuse_an_unknown_status_or_reversed_dates():
    with pytest.raises(ValueError, match="status"):
        facts(status="expired")
    with pytest.raises(ValueError, match="expiry"):
        facts(issue_date=EXPIRES, expiry_date=ISSUED)
