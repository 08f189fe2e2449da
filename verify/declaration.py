"""Checking a certificate against the customs declaration submitted with a scan.

:func:`parse_declaration` turns plain strings (a JSON object, a CSV row) into a
:class:`Declaration`; :func:`check_declaration` compares it with the registry's
:class:`CertificateFacts` and the category's usual HS codes (:class:`HsTable`). Four checks, each a
:class:`CheckResult` with a stable id and reasons in Chinese and English: ``holder`` (declared
exporter / manufacturer against the certificate's parties), ``hs_code``, ``certificate_on_date``
and ``authorization_on_date``. The seal itself is judged by :mod:`verify.verdict`, not here.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verify.claims import USCC_ALPHABET
from verify.verdict import CERTIFICATE_STATUSES

# re.ASCII everywhere: without it \d also matches Arabic-Indic and other non-ASCII digits.
_CREDIT_CODE = re.compile(rf"[{USCC_ALPHABET}]{{18}}", re.ASCII)
_HS_CODE = re.compile(r"\d{6,10}", re.ASCII)
_HS6 = re.compile(r"\d{6}", re.ASCII)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_QUANTITY = re.compile(r"\d{1,15}", re.ASCII)  # more than 10**15 units is a typing error


class DeclarationError(ValueError):
    """A declaration that cannot be checked. ``problems`` maps every bad field to its message."""

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.problems: dict[str, str] = dict(problems)
        super().__init__("; ".join(f"{name}: {message}" for name, message in self.problems.items()))


class _FieldProblem(Exception):
    """Raised by the field normalizers; collected into one DeclarationError."""


def _fold(raw: str) -> str:
    """Fold full-width digits and letters (typed with a Chinese IME) to ASCII."""
    return unicodedata.normalize("NFKC", raw)


def _string(value: object) -> str:
    """The trimmed text, "" for None. Not folded: free text keeps its full-width punctuation."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _FieldProblem("must be a string")
    return value.strip()


def _credit_code(value: object) -> str | None:
    code = _fold(_string(value)).strip().upper()
    if not code:
        return None
    # Format only: a wrong check character is real for some early pilot-region codes, and the
    # registry already warns about it where the organization is recorded.
    if not _CREDIT_CODE.fullmatch(code):
        raise _FieldProblem(f"must be 18 characters from 0-9 and A-Y without I, O, S, V, Z, not {code!r}")
    return code


def _hs_code(value: object) -> str | None:
    digits = re.sub(r"[.\s]", "", _fold(_string(value)))
    if not digits:
        return None
    if not _HS_CODE.fullmatch(digits):
        raise _FieldProblem(f"an HS code has 6 to 10 digits (dots and spaces allowed), not {value!r}")
    return digits


def _quantity(value: object) -> int | None:
    if isinstance(value, str | None):
        text = _fold(_string(value)).strip()
        if not text:
            return None
        if not _QUANTITY.fullmatch(text):
            raise _FieldProblem(f"must be a whole number of at most 15 digits, not {value!r}")
        value = int(text)
    if type(value) is not int:  # type(), not isinstance(): True is an int
        raise _FieldProblem("must be a whole number")
    if value <= 0:
        raise _FieldProblem(f"must be greater than 0, not {value}")
    return value


def _date(value: object) -> dt.date | None:
    if isinstance(value, str | None):
        text = _fold(_string(value)).strip()
        if not text:
            return None
        # fromisoformat alone would also take "20260115" and week dates: insist on yyyy-mm-dd.
        if not _ISO_DATE.fullmatch(text):
            raise _FieldProblem(f"must be a date as yyyy-mm-dd, not {value!r}")
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise _FieldProblem(f"{value!r} is not a calendar date") from None
    # A datetime is a date subclass that cannot be compared with dates: refuse it.
    if type(value) is not dt.date:
        raise _FieldProblem("must be a date")
    return value


_NORMALIZERS: dict[str, Callable[[object], Any]] = {
    "exporter_credit_code": _credit_code,
    "manufacturer_credit_code": _credit_code,
    "hs_code": _hs_code,
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
        except _FieldProblem as problem:
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


# --- results ---------------------------------------------------------------------------------------


class Outcome(enum.StrEnum):
    MATCH = "MATCH"
    WARN = "WARN"
    MISMATCH = "MISMATCH"


_SEVERITY = {Outcome.MATCH: 0, Outcome.WARN: 1, Outcome.MISMATCH: 2}


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: ``check`` is its stable id, ``detail`` a short machine tag refining ``outcome``."""

    check: str
    outcome: Outcome
    reason_zh: str
    reason_en: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form."""
        return {name: str(getattr(self, name)) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class DeclarationReport:
    """All checks, in a fixed order, and the day the dated checks were made for."""

    checks: tuple[CheckResult, ...]
    checked_on: dt.date

    @property
    def overall(self) -> Outcome:
        """The worst outcome: MISMATCH over WARN over MATCH."""
        return max((c.outcome for c in self.checks), key=_SEVERITY.__getitem__, default=Outcome.MATCH)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        checks = [check.as_dict() for check in self.checks]
        return {"overall": str(self.overall), "checked_on": self.checked_on.isoformat(), "checks": checks}


# (English, Chinese) per reason; _result fills the {placeholders}. {on}/{on_zh} name the day
# checked: "on the declaration date 2026-03-02" or "on 2026-03-02 (today: ...)".
REASONS: dict[str, tuple[str, str]] = {
    "no_party_declared": (
        "no exporter or manufacturer credit code declared: nothing to compare",
        "未申报出口商或生产企业的统一社会信用代码，无可核对内容",
    ),
    "no_party_known": (
        "the certificate records no holder or manufacturer credit code: nothing to compare",
        "该证书未记载持证人或生产企业的统一社会信用代码，无可核对内容",
    ),
    "hs_not_declared": (
        "no HS code declared: nothing to compare with the codes for {en}",
        "未申报HS编码，无法与{zh}的常用编码核对",
    ),
    "hs_no_codes_known": (
        "no HS codes known for this category ({en}): declared HS {hs} cannot be compared",
        "登记处没有该类别（{zh}）的HS编码，无法核对申报的HS编码{hs_zh}",
    ),
    "hs_listed": ("declared HS {hs} is listed for {en}", "申报的HS编码{hs_zh}属于{zh}的常用编码"),
    "hs_neighbour": (
        "declared HS {hs} is not listed for {en} but is a known neighbouring code: check the classification",
        "申报的HS编码{hs_zh}不属于{zh}的常用编码，但属于已知的相近编码，请核实归类",
    ),
    "hs_same_heading": (
        "declared HS {hs} is not listed for {en} but shares the heading {heading} with the listed {listed} "
        "(neighbouring heading): check the classification",
        "申报的HS编码{hs_zh}不属于{zh}的常用编码，但与{listed}同属品目{heading}，请核实归类",
    ),
    "hs_not_listed": (
        "declared HS {hs} is not listed for {en} (listed: {listed}){elsewhere}",
        "申报的HS编码{hs_zh}不属于{zh}的常用编码（常用编码：{listed_zh}）{elsewhere_zh}",
    ),
    "not_yet_issued": (
        "the certificate was not yet issued {on}: it was issued on {issue}",
        "{on_zh}该证书尚未签发，签发日期为{issue}",
    ),
    "stopped": (
        "the certificate has been {status}{since}, so it was not in force {on}",
        "该证书{since_zh}已被{status_zh}，{on_zh}不在有效状态",
    ),
    "expired": (
        "the certificate expired on {expiry}, so it was not in force {on}",
        "该证书已于{expiry}到期，{on_zh}已过有效期",
    ),
    "stopped_later": (
        "the certificate was valid {on} ({issue} to {expiry}), but has been {status} since {since}",
        "该证书{on_zh}有效（{issue}至{expiry}），但自{since}起已被{status_zh}",
    ),
    "in_force": (
        "the certificate was valid {on} ({issue} to {expiry})",
        "该证书{on_zh}有效（{issue}至{expiry}）",
    ),
    "authorized": ("the issuing body was authorized for {en} {on}", "发证机构{on_zh}具备{zh}的认证资质"),
    "not_authorized": (
        "the issuing body was not authorized for {en} {on}",
        "发证机构{on_zh}不具备{zh}的认证资质",
    ),
    "authorization_unknown": (
        "unknown whether the issuing body was authorized for {en} {on}",
        "无法确定发证机构{on_zh}是否具备{zh}的认证资质",
    ),
}


def _result(check: str, outcome: Outcome, detail: str, reason: str = "", /, **values: object) -> CheckResult:
    """The result with the REASONS of ``reason`` (default: of ``detail``) filled with ``values``."""
    english, chinese = REASONS[reason or detail]
    return CheckResult(check, outcome, chinese.format(**values), english.format(**values), detail)


# --- HS codes --------------------------------------------------------------------------------------


def _hs6_list(text: str, category: str) -> tuple[str, ...]:
    codes = tuple(code.strip() for code in text.split(";") if code.strip())
    for code in codes:
        if not _HS6.fullmatch(code):
            raise ValueError(f"category {category!r}: {code!r} is not a 6-digit HS subheading")
    return codes


class HsTable:
    """The usual HS subheadings (HS 2017 and HS 2022 alike) of each category, and known neighbours.

    Built from rows ``(category, "630790;481850", "902000")``; ``names`` optionally gives each
    category's (English, Chinese) name for the reasons (:meth:`from_csv` reads them)."""

    def __init__(
        self, rows: Iterable[tuple[str, str, str]], names: Mapping[str, tuple[str, str]] | None = None
    ) -> None:
        self._codes: dict[str, tuple[str, ...]] = {}
        self._neighbours: dict[str, tuple[str, ...]] = {}
        for category, codes, neighbours in rows:
            if category in self._codes:
                raise ValueError(f"category {category!r} appears twice")
            self._codes[category] = _hs6_list(codes, category)
            self._neighbours[category] = _hs6_list(neighbours, category)
        self._names = dict(names or {})

    @classmethod
    def from_csv(cls, path: str | Path) -> HsTable:
        """Read ``registry/data/categories.csv``: columns category, hs6_codes, hs6_neighbours and,
        if present, name_en and name_zh."""
        with open(path, newline="", encoding="utf-8") as handle:
            records = list(csv.DictReader(handle))
        rows = [(r["category"], r["hs6_codes"] or "", r["hs6_neighbours"] or "") for r in records]
        names = {r["category"]: (r["name_en"], r["name_zh"]) for r in records if r.get("name_en")}
        return cls(rows, names)

    def name(self, category: str) -> tuple[str, str]:
        """(English, Chinese) name of the category; its code when the table has no name."""
        return self._names.get(category, (category, category))

    def fit(self, category: str, hs_code: str) -> CheckResult:
        """How the declared ``hs_code`` (6 to 10 digits, dots and spaces allowed) fits the category.

        MATCH: its subheading (first 6 digits) is one of the category's codes. WARN: it is a
        listed neighbour, or shares the 4-digit heading with one of the codes, or the category has
        no codes at all. MISMATCH otherwise. :class:`DeclarationError` for a malformed code."""
        try:
            digits = _hs_code(hs_code)
        except _FieldProblem as problem:
            raise DeclarationError({"hs_code": str(problem)}) from None
        if digits is None:
            raise DeclarationError({"hs_code": "is empty"})
        hs6, (en, zh), codes = digits[:6], self.name(category), self._codes.get(category, ())
        values: dict[str, object] = {"en": en, "zh": zh, "hs": hs6, "hs_zh": hs6}
        if digits != hs6:
            values.update(hs=f"{digits} (subheading {hs6})", hs_zh=f"{digits}（子目{hs6}）")
        if not codes:
            return _result("hs_code", Outcome.WARN, "hs_no_codes_known", **values)
        if hs6 in codes:
            return _result("hs_code", Outcome.MATCH, "hs_listed", **values)
        if hs6 in self._neighbours.get(category, ()):
            return _result("hs_code", Outcome.WARN, "hs_neighbour", **values)
        same_heading = [code for code in codes if code[:4] == hs6[:4]]
        if same_heading:
            values.update(heading=hs6[:4], listed=same_heading[0])
            return _result("hs_code", Outcome.WARN, "hs_same_heading", **values)
        values.update(listed=", ".join(codes), listed_zh="、".join(codes), elsewhere="", elsewhere_zh="")
        # Naming the category the code does belong to helps spot a certificate for the wrong goods.
        others = [self.name(other) for other, listed in self._codes.items() if hs6 in listed]
        if others:
            values.update(elsewhere=f"; it is listed for {others[0][0]}")
            values.update(elsewhere_zh=f"；该编码属于{others[0][1]}的常用编码")
        return _result("hs_code", Outcome.MISMATCH, "hs_not_listed", **values)


# --- the checks ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """What the registry knows about the certificate. ``status`` is the stored status and
    ``status_effective`` the day it took effect (None = unknown); ``authorized_on(day)`` says
    whether the issuing body was authorized for the category on ``day`` (None = unknown)."""

    holder_credit_code: str | None
    manufacturer_credit_code: str | None
    category: str
    status: str
    issue_date: dt.date
    expiry_date: dt.date
    authorized_on: Callable[[dt.date], bool | None] = field(repr=False)
    status_effective: dt.date | None = None

    def __post_init__(self) -> None:
        if self.status not in CERTIFICATE_STATUSES:
            raise ValueError(f"certificate status must be one of {CERTIFICATE_STATUSES}")
        if self.issue_date > self.expiry_date:
            raise ValueError("the expiry date is before the issue date")


_ROLES_ZH = {"exporter": "出口商", "manufacturer": "生产企业"}
_HOLDER = ("the certificate holder", "证书持有人")
_MAKER = ("the certificate's manufacturer", "证书记载的生产企业")
_STATUS_ZH = {"suspended": "暂停", "withdrawn": "撤销"}


def _check_holder(declaration: Declaration, facts: CertificateFacts) -> CheckResult:
    exporter, maker = declaration.exporter_credit_code, declaration.manufacturer_credit_code
    declared = {"exporter": exporter, "manufacturer": maker}
    if not any(declared.values()):
        return _result("holder", Outcome.WARN, "no_party_declared")
    if facts.holder_credit_code is None and facts.manufacturer_credit_code is None:
        return _result("holder", Outcome.WARN, "no_party_known")
    # Stored codes may be foreign identifiers or lower-case: compare them folded like declared ones.
    stored = ((_HOLDER, facts.holder_credit_code), (_MAKER, facts.manufacturer_credit_code))
    known = {party: _fold(code or "").strip().upper() for party, code in stored}
    reasons_en, reasons_zh, wrong = [], [], []
    for role, code in declared.items():
        if code is None:
            continue
        # Try the party the role usually is first, so the reason names the expected one.
        order = (_HOLDER, _MAKER) if role == "exporter" else (_MAKER, _HOLDER)
        party = next((p for p in order if known[p] == code), None)
        if party is None:
            wrong.append(role)
            reasons_en.append(f"declared {role} {code} is neither the certificate holder nor manufacturer")
            reasons_zh.append(f"申报的{_ROLES_ZH[role]}{code}既不是证书持有人也不是证书记载的生产企业")
        else:
            reasons_en.append(f"declared {role} {code} is {party[0]}")
            reasons_zh.append(f"申报的{_ROLES_ZH[role]}{code}是{party[1]}")
    outcome = Outcome.MISMATCH if wrong else Outcome.MATCH
    detail = "_and_".join(wrong) + "_not_a_party" if wrong else "parties_match"
    return CheckResult("holder", outcome, "；".join(reasons_zh), "; ".join(reasons_en), detail)


def _check_hs(declaration: Declaration, facts: CertificateFacts, table: HsTable) -> CheckResult:
    if declaration.hs_code is None:
        en, zh = table.name(facts.category)
        return _result("hs_code", Outcome.WARN, "hs_not_declared", en=en, zh=zh)
    return table.fit(facts.category, declaration.hs_code)


def _check_certificate(facts: CertificateFacts, day: dt.date, on: dict[str, str]) -> CheckResult:
    check, effective, stopped = "certificate_on_date", facts.status_effective, facts.status != "valid"
    values: dict[str, object] = {"issue": facts.issue_date, "expiry": facts.expiry_date, **on}
    values.update(status=facts.status, status_zh=_STATUS_ZH.get(facts.status, ""), since=effective)
    if day < facts.issue_date:
        return _result(check, Outcome.MISMATCH, "not_yet_issued", **values)
    # As in verify.verdict, a withdrawal or suspension in effect outranks the expiry.
    if stopped and (effective is None or effective <= day):
        values.update(since=f" since {effective}", since_zh=f"自{effective}起")
        if effective is None:
            values.update(since=" (date unknown)", since_zh="")
        return _result(check, Outcome.MISMATCH, facts.status, "stopped", **values)
    if day > facts.expiry_date:
        return _result(check, Outcome.MISMATCH, "expired", **values)
    if stopped:
        return _result(check, Outcome.WARN, f"{facts.status}_later", "stopped_later", **values)
    return _result(check, Outcome.MATCH, "in_force", **values)


_AUTHORIZATION_OUTCOMES = {
    None: (Outcome.WARN, "authorization_unknown"),
    True: (Outcome.MATCH, "authorized"),
    False: (Outcome.MISMATCH, "not_authorized"),
}


def _check_authorization(
    facts: CertificateFacts, table: HsTable, day: dt.date, on: dict[str, str]
) -> CheckResult:
    en, zh = table.name(facts.category)
    outcome, detail = _AUTHORIZATION_OUTCOMES[facts.authorized_on(day)]
    return _result("authorization_on_date", outcome, detail, en=en, zh=zh, **on)


def check_declaration(
    declaration: Declaration, facts: CertificateFacts, hs_table: HsTable, *, today: dt.date
) -> DeclarationReport:
    """Check the certificate against the declaration. The dated checks use the declaration date,
    or ``today`` (the registry's calendar day, see :func:`verify.verdict.registry_today`) when
    none was declared, and their reasons say which."""
    day = declaration.declaration_date
    on = {"on": f"on the declaration date {day}", "on_zh": f"在申报日期{day}"}
    if day is None:
        day = today
        on = {"on": f"on {day} (today: no declaration date given)"}
        on["on_zh"] = f"在{day}（未申报日期，按当天核对）"
    return DeclarationReport(
        checks=(
            _check_holder(declaration, facts),
            _check_hs(declaration, facts, hs_table),
            _check_certificate(facts, day, on),
            _check_authorization(facts, hs_table, day, on),
        ),
        checked_on=day,
    )
