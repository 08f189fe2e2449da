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
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from verify.declaration_fields import (
    DECLARATION_FIELDS,
    Declaration,
    DeclarationError,
    FieldProblem,
    fold,
    hs_code_digits,
    parse_declaration,
)
from verify.declaration_results import REASONS, CheckResult, DeclarationReport, Outcome, reasoned_result
from verify.verdict import CERTIFICATE_STATUSES

__all__ = [
    "DECLARATION_FIELDS",
    "REASONS",
    "CertificateFacts",
    "CheckResult",
    "Declaration",
    "DeclarationError",
    "DeclarationReport",
    "HsTable",
    "Outcome",
    "check_declaration",
    "parse_declaration",
]

_HS6 = re.compile(r"\d{6}", re.ASCII)


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
            digits = hs_code_digits(hs_code)
        except FieldProblem as problem:
            raise DeclarationError({"hs_code": str(problem)}) from None
        if digits is None:
            raise DeclarationError({"hs_code": "is empty"})
        hs6, (en, zh), codes = digits[:6], self.name(category), self._codes.get(category, ())
        values: dict[str, object] = {"en": en, "zh": zh, "hs": hs6, "hs_zh": hs6}
        if digits != hs6:
            values.update(hs=f"{digits} (subheading {hs6})", hs_zh=f"{digits}（子目{hs6}）")
        if not codes:
            return reasoned_result("hs_code", Outcome.WARN, "hs_no_codes_known", **values)
        if hs6 in codes:
            return reasoned_result("hs_code", Outcome.MATCH, "hs_listed", **values)
        if hs6 in self._neighbours.get(category, ()):
            return reasoned_result("hs_code", Outcome.WARN, "hs_neighbour", **values)
        same_heading = [code for code in codes if code[:4] == hs6[:4]]
        if same_heading:
            values.update(heading=hs6[:4], listed=same_heading[0])
            return reasoned_result("hs_code", Outcome.WARN, "hs_same_heading", **values)
        values.update(listed=", ".join(codes), listed_zh="、".join(codes), elsewhere="", elsewhere_zh="")
        # Naming the category the code does belong to helps spot a certificate for the wrong goods.
        others = [self.name(other) for other, listed in self._codes.items() if hs6 in listed]
        if others:
            values.update(elsewhere=f"; it is listed for {others[0][0]}")
            values.update(elsewhere_zh=f"；该编码属于{others[0][1]}的常用编码")
        return reasoned_result("hs_code", Outcome.MISMATCH, "hs_not_listed", **values)


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
        return reasoned_result("holder", Outcome.WARN, "no_party_declared")
    if facts.holder_credit_code is None and facts.manufacturer_credit_code is None:
        return reasoned_result("holder", Outcome.WARN, "no_party_known")
    # Stored codes may be foreign identifiers or lower-case: compare them folded like declared ones.
    stored = ((_HOLDER, facts.holder_credit_code), (_MAKER, facts.manufacturer_credit_code))
    known = {party: fold(code or "").strip().upper() for party, code in stored}
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
        return reasoned_result("hs_code", Outcome.WARN, "hs_not_declared", en=en, zh=zh)
    return table.fit(facts.category, declaration.hs_code)


def _check_certificate(facts: CertificateFacts, day: dt.date, on: dict[str, str]) -> CheckResult:
    check, effective, stopped = "certificate_on_date", facts.status_effective, facts.status != "valid"
    values: dict[str, object] = {"issue": facts.issue_date, "expiry": facts.expiry_date, **on}
    values.update(status=facts.status, status_zh=_STATUS_ZH.get(facts.status, ""), since=effective)
    if day < facts.issue_date:
        return reasoned_result(check, Outcome.MISMATCH, "not_yet_issued", **values)
    # As in verify.verdict, a withdrawal or suspension in effect outranks the expiry.
    if stopped and (effective is None or effective <= day):
        values.update(since=f" since {effective}", since_zh=f"自{effective}起")
        if effective is None:
            values.update(since=" (date unknown)", since_zh="")
        return reasoned_result(check, Outcome.MISMATCH, facts.status, "stopped", **values)
    if day > facts.expiry_date:
        return reasoned_result(check, Outcome.MISMATCH, "expired", **values)
    if stopped:
        return reasoned_result(check, Outcome.WARN, f"{facts.status}_later", "stopped_later", **values)
    return reasoned_result(check, Outcome.MATCH, "in_force", **values)


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
    return reasoned_result("authorization_on_date", outcome, detail, en=en, zh=zh, **on)


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
