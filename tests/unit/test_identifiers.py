"""GB 32100-2015 credit codes and body identifier schemes (pure functions, no database)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.identifiers import (
    IDENTIFIER_SCHEMES,
    USCC_ALPHABET,
    USCC_WEIGHTS,
    check_credit_code,
    normalize_identifier,
    uscc_check_character,
)

# Straight from /work/shared/reference/identifiers.md, written out so the test does not reuse
# the code under test to compute its own expectations.
SPEC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
SPEC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
REAL_CODES = ["91110000600037341L", "91110108551385082Q"]
FAST = settings(max_examples=60, deadline=None)


def reference_check_character(first17: str) -> str:
    total = sum(SPEC_ALPHABET.index(ch) * weight for ch, weight in zip(first17, SPEC_WEIGHTS, strict=True))
    return SPEC_ALPHABET[(31 - total % 31) % 31]


def test_alphabet_and_weights_follow_the_standard() -> None:
    assert USCC_ALPHABET == SPEC_ALPHABET
    assert USCC_WEIGHTS == SPEC_WEIGHTS
    assert not set("IOSVZ") & set(USCC_ALPHABET)


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_pass_without_warning(code: str) -> None:
    result = check_credit_code(code)
    assert result.normalized == code
    assert result.warning is None
    assert uscc_check_character(code[:17]) == code[17]


@pytest.mark.parametrize("code", REAL_CODES)
def test_every_other_check_character_warns_but_is_accepted(code: str) -> None:
    for wrong in USCC_ALPHABET.replace(code[17], ""):
        result = check_credit_code(code[:17] + wrong)
        assert result.normalized == code[:17] + wrong
        assert result.warning is not None
        assert wrong in result.warning and code[17] in result.warning


def test_lower_case_and_surrounding_spaces_are_normalized() -> None:
    result = check_credit_code("  91110108551385082q \n")
    assert result.normalized == "91110108551385082Q"
    assert result.warning is None


def test_full_width_credit_code_is_folded_to_ascii() -> None:
    result = check_credit_code("９１１１００００６０００３７３４１ｌ")
    assert result.normalized == "91110000600037341L"
    assert result.warning is None


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "91110000600037341",  # 17 characters
        "91110000600037341LL",  # 19 characters
        "9111 0000600037341L",  # inner space
        "91110000600037341-",
        "٩١١١٠٠٠٠٦٠٠٠٣٧٣٤١L",  # Arabic-Indic digits must not pass as 0-9
    ],
)
def test_wrong_shape_raises_value_error(raw: str) -> None:
    with pytest.raises(ValueError, match="18 characters"):
        check_credit_code(raw)


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_forbidden_letters_raise_value_error(letter: str) -> None:
    for position in (0, 8, 17):
        code = list(REAL_CODES[0])
        code[position] = letter
        with pytest.raises(ValueError):
            check_credit_code("".join(code))
        with pytest.raises(ValueError):
            check_credit_code("".join(code).lower())


@pytest.mark.parametrize("department", ["Y", "A", "N", "1", "5"])
def test_codes_starting_with_a_letter_or_any_department_are_accepted(department: str) -> None:
    # python-stdnum's cn.uscc requires 8 leading digits and would reject these; we must not.
    first17 = department + "1" + "110108" + "MA01XY7P" + "3"
    code = first17 + reference_check_character(first17)
    assert check_credit_code(code).warning is None
    assert check_credit_code(code.lower()).normalized == code


uscc_first17 = st.text(alphabet=SPEC_ALPHABET, min_size=17, max_size=17)


@FAST
@given(first17=uscc_first17)
def test_check_character_matches_the_reference_for_any_code(first17: str) -> None:
    expected = reference_check_character(first17)
    assert uscc_check_character(first17) == expected
    assert check_credit_code(first17.lower() + expected.lower()).warning is None


@FAST
@given(first17=uscc_first17, wrong=st.sampled_from(SPEC_ALPHABET))
def test_any_wrong_check_character_warns(first17: str, wrong: str) -> None:
    expected = reference_check_character(first17)
    result = check_credit_code(first17 + wrong)
    assert (result.warning is None) == (wrong == expected)


@FAST
@given(first17=uscc_first17, position=st.integers(0, 16), replacement=st.sampled_from(SPEC_ALPHABET))
def test_any_single_substitution_is_detected(first17: str, position: int, replacement: str) -> None:
    # The mod-31 check with weights coprime to 31 catches every single-character error.
    code = first17 + reference_check_character(first17)
    changed = code[:position] + replacement + code[position + 1 :]
    assert (check_credit_code(changed).warning is None) == (changed == code)


# --- body identifier schemes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "raw", "normalized"),
    [
        ("cnca", "CNCA-R-2002-001", "CNCA-R-2002-001"),
        ("cnca", " cnca-l-2017-123 ", "CNCA-L-2017-123"),
        ("cnca", "CNCA-RF-2020-0456", "CNCA-RF-2020-0456"),
        ("cnas", "L1234", "CNAS L1234"),
        ("cnas", "l12345", "CNAS L12345"),
        ("cnas", "CNAS L1234", "CNAS L1234"),
        ("cnas", "cnas   l1234", "CNAS L1234"),
        ("cnas", "CNASL1234", "CNAS L1234"),
        ("cnas", "C012-P", "CNAS C012-P"),
        ("cnas", "cnas c123-m", "CNAS C123-M"),
        ("cma", "160012345678", "160012345678"),
        ("eu_nb", "0123", "0123"),
        ("eu_nb", " 2797 ", "2797"),
        ("niosh", "TC-84A-1234", "TC-84A-1234"),
        ("niosh", "tc-84a-0007", "TC-84A-0007"),
        ("niosh", "TC-21C-0999", "TC-21C-0999"),
        ("other", "  FDA  EUA   201234 ", "FDA EUA 201234"),
    ],
)
def test_valid_identifiers_are_normalized(scheme: str, raw: str, normalized: str) -> None:
    assert normalize_identifier(scheme, raw) == normalized
    # Normalizing twice changes nothing.
    assert normalize_identifier(scheme, normalized) == normalized


@pytest.mark.parametrize(
    ("scheme", "raw"),
    [
        ("cnca", "CNCA-2002-001"),
        ("cnca", "CNAS-R-2002-001"),
        ("cnca", "CNCA-R-02-001"),
        ("cnas", "L123"),
        ("cnas", "L123456"),
        ("cnas", "C12-P"),
        ("cnas", "C012-X"),
        ("cnas", "C012P"),
        ("cnas", ""),
        ("cma", "16001234567"),
        ("cma", "16001234567X"),
        ("eu_nb", "123"),
        ("eu_nb", "01234"),
        ("eu_nb", "NB 0123"),
        ("eu_nb", "012a"),
        ("eu_nb", "٠١٢٣"),  # Arabic-Indic digits are not NANDO numbers
        ("niosh", "TC-84A-123"),
        ("niosh", "TC-84B-1234"),
        ("niosh", "84A-1234"),
        ("other", ""),
        ("other", "   "),
        ("other", "x" * 65),
    ],
)
def test_invalid_identifiers_raise_value_error_naming_the_scheme(scheme: str, raw: str) -> None:
    with pytest.raises(ValueError, match=scheme):
        normalize_identifier(scheme, raw)


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown identifier scheme"):
        normalize_identifier("iso", "0123")


def test_full_width_input_from_a_chinese_keyboard_is_folded_to_ascii() -> None:
    assert normalize_identifier("eu_nb", "０１２３") == "0123"
    assert normalize_identifier("niosh", "ＴＣ－８４Ａ－１２３４") == "TC-84A-1234"
    assert normalize_identifier("cnas", "Ｌ１２３４") == "CNAS L1234"


def test_every_scheme_has_a_pattern_and_is_tested() -> None:
    assert set(IDENTIFIER_SCHEMES) == {"cnca", "cnas", "cma", "eu_nb", "niosh", "other"}


@FAST
@given(number=st.integers(0, 9999))
def test_any_four_digit_notified_body_number_round_trips(number: int) -> None:
    assert normalize_identifier("eu_nb", f"{number:04d}") == f"{number:04d}"


@FAST
@given(number=st.integers(0, 9999), prefix=st.sampled_from(["84A", "21C", "84a", "21c"]))
def test_any_niosh_approval_round_trips(number: int, prefix: str) -> None:
    assert normalize_identifier("niosh", f"tc-{prefix}-{number:04d}") == f"TC-{prefix.upper()}-{number:04d}"
