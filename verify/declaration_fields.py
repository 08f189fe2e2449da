"""The declaration a customs officer submits with a scan: its fields, read and normalized.

:func:`parse_declaration` turns plain strings (a JSON object, a CSV row) into a
:class:`Declaration`, or raises :class:`DeclarationError` naming every bad field at once.
Checking it against a certificate is :mod:`verify.declaration`'s work.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from verify.claims import USCC_ALPHABET

# re.ASCII everywhere: without it \d also matches Arabic-Indic and other non-ASCII digits.
_CREDIT_CODE = re.compile(rf"[{USCC_ALPHABET}]{{18}}", re.ASCII)
_HS_CODE = re.compile(r"\d{6,10}", re.ASCII)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_QUANTITY = re.compile(r"\d{1,15}", re.ASCII)  # more than 10**15 units is a typing error


class DeclarationError(ValueError):
    """A declaration that cannot be checked. ``problems`` maps every bad field to its message."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems: dict[str, str] = dict(problems)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.problems.items()))


class FieldProblem(Exception):
    """Raised by the field normalizers; collected into one DeclarationError (and by
    :func:`hs_code_digits`, which the HS table uses on its own)."""


def fold(raw: str) -> str:
    """Fold full-width digits and letters (typed with a Chinese IME) to ASCII."""
    return unicodedata.normalize("NFKC", raw)


def _string(value: object) -> str:
    """The trimmed text, "" for None. Not folded: free text keeps its full-width punctuation."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldProblem("must be a string")
    return value.strip()


def _credit_code(value: object) -> str | None:
    code = fold(_string(value)).strip().upper()
    if not code:
        return None
    # Format only: a wrong check character is real for some early pilot-region codes, and the
    # registry already warns about it where the organization is recorded.
    if not _CREDIT_CODE.fullmatch(code):
        raise FieldProblem(f"must be 18 characters from 0-9 and A-Y without I, O, S, V, Z, not {code!r}")
    return code


def hs_code_digits(value: object) -> str | None:
    """The digits of a declared HS code (dots and spaces dropped, full-width folded); None when
    empty; :class:`FieldProblem` unless 6 to 10 digits remain."""
    digits = re.sub(r"[.\s]", "", fold(_string(value)))
    if not digits:
        return None
    if not _HS_CODE.fullmatch(digits):
        raise FieldProblem(f"an HS code has 6 to 10 digits (dots and spaces allowed), not {value!r}")
    return digits


def _quantity(value: object) -> int | None:
    if isinstance(value, str | None):
        text = fold(_string(value)).strip()
        if not text:
            return None
        if not _QUANTITY.fullmatch(text):
            raise FieldProblem(f"must be a whole number of at most 15 digits, not {value!r}")
        value = int(text)
    if type(value) is not int:  # type(), not isinstance(): True is an int
        raise FieldProblem("must be a whole number")
    if value <= 0:
        raise FieldProblem(f"must be greater than 0, not {value}")
    return value


def _date(value: object) -> dt.date | None:
    if isinstance(value, str | None):
        text = fold(_string(value)).strip()
        if not text:
            return None
        # fromisoformat alone would also take "20260115" and week dates: insist on yyyy-mm-dd.
        if not _ISO_DATE.fullmatch(text):
            raise FieldProblem(f"must be a date as yyyy-mm-dd, not {value!r}")
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise FieldProblem(f"{value!r} is not a calendar date") from None
    # A datetime is a date subclass that cannot be compared with dates: refuse it.
    if type(value) is not dt.date:
        raise FieldProblem("must be a date")
    return value


_NORMALIZERS: dict[str, Callable[[object], Any]] = {
    "exporter_credit_code": _credit_code,
    "manufacturer_credit_code": _credit_code,
    "hs_code": hs_code_digits,
    "product_description": _string,
    "quantity": _quantity,
    "port": _string,
    "declaration_date": _date,
}
DECLARATION_FIELDS = tuple(_NORMALIZERS)


def _normalize_all(values: Mapping[str, object]) -> dict[str, Any]:
    """Normalize every field, collecting all problems before raising."""
    normalized: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, normalize in _NORMALIZERS.items():
        try:
            normalized[name] = normalize(values.get(name))
        except FieldProblem as problem:
            problems[name] = str(problem)
    if problems:
        raise DeclarationError(problems)
    return normalized


@dataclass(frozen=True, slots=True)
class Declaration:
    """What the customs officer declared. Construction normalizes (credit codes upper-cased, HS
    code reduced to its digits, texts trimmed) and raises :class:`DeclarationError` listing every
    invalid field."""

    exporter_credit_code: str | None = None
    manufacturer_credit_code: str | None = None
    hs_code: str | None = None
    product_description: str = ""
    quantity: int | None = None
    port: str = ""
    declaration_date: dt.date | None = None

    def __post_init__(self) -> None:
        normalized = _normalize_all({name: getattr(self, name) for name in DECLARATION_FIELDS})
        for name, value in normalized.items():
            object.__setattr__(self, name, value)


def parse_declaration(mapping: Mapping[str, object]) -> Declaration:
    """A :class:`Declaration` from plain strings (a JSON object or a CSV row). Missing keys, None
    and empty strings mean "not declared"; unknown keys are refused. Raises
    :class:`DeclarationError` naming every bad field at once."""
    if not isinstance(mapping, Mapping):
        raise DeclarationError({"declaration": "must be an object of named fields"})
    # str(): csv.DictReader puts surplus cells under the key None.
    problems = {str(key): "unknown field" for key in mapping if key not in DECLARATION_FIELDS}
    try:
        normalized = _normalize_all(mapping)
    except DeclarationError as error:
        problems.update(error.problems)
    if problems:
        raise DeclarationError(problems)
    return Declaration(**normalized)

