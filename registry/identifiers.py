"""Validation of identifiers: the GB 32100-2015 unified social credit code and body numbers."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_USCC_SHAPE = re.compile(rf"^[{USCC_ALPHABET}]{{18}}$")


@dataclass(frozen=True)
class CreditCodeCheck:
    """Outcome of checking a credit code: ``normalized`` is upper-cased, ``warning`` is None if clean."""

    normalized: str
    warning: str | None


def uscc_check_character(first17: str) -> str:
    """Return the GB 32100-2015 check character for the first 17 characters."""
    total = sum(USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def check_credit_code(raw: str) -> CreditCodeCheck:
    """Validate a unified social credit code.

    A wrong shape (length, characters outside the alphabet) raises ``ValueError``. A wrong
    check character only warns: some early pilot-region codes fail the check yet are real.
    """
    code = _fold(raw).strip().upper()
    if not _USCC_SHAPE.fullmatch(code):
        raise ValueError(
            "a unified social credit code has 18 characters from 0-9 and A-Y without I, O, S, V, Z"
        )
    expected = uscc_check_character(code[:17])
    if code[17] != expected:
        return CreditCodeCheck(
            code, f"check character is {code[17]}, GB 32100-2015 expects {expected}"
        )
    return CreditCodeCheck(code, None)


def _fold(raw: str) -> str:
    """Fold full-width letters, digits and hyphens (typed with a Chinese IME) to ASCII."""
    return unicodedata.normalize("NFKC", raw)


# re.ASCII: without it \d also matches Arabic-Indic and other non-ASCII digits.
IDENTIFIER_SCHEMES: dict[str, re.Pattern[str]] = {
    # CNCA approval numbers look like CNCA-R-2002-001 / CNCA-L-2017-123.
    "cnca": re.compile(r"^CNCA-[A-Z]{1,2}-\d{4}-\d{2,4}$", re.ASCII),
    "cnas": re.compile(r"^CNAS (L\d{4,5}|C\d{3}-[PM])$", re.ASCII),
    "cma": re.compile(r"^\d{12}$", re.ASCII),
    "eu_nb": re.compile(r"^\d{4}$", re.ASCII),
    "niosh": re.compile(r"^TC-(84A|21C)-\d{4}$", re.ASCII),
    "other": re.compile(r"^.{1,64}$", re.ASCII),
}


def normalize_identifier(scheme: str, raw: str) -> str:
    """Normalize and validate a body identifier; raise ``ValueError`` naming the expected form."""
    if scheme not in IDENTIFIER_SCHEMES:
        raise ValueError(f"unknown identifier scheme {scheme!r}")
    value = " ".join(_fold(raw).split())
    if scheme in ("cnca", "niosh"):
        value = value.upper()
    if scheme == "cnas":
        value = value.upper()
        if not value.startswith("CNAS "):
            value = "CNAS " + value.removeprefix("CNAS").strip()
    if not IDENTIFIER_SCHEMES[scheme].fullmatch(value):
        raise ValueError(f"{value!r} is not a valid {scheme} identifier")
    return value
