"""What checking a declaration answers: each check's outcome with reasons in both languages."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import Any


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


def reasoned_result(
    check: str, outcome: Outcome, detail: str, reason: str = "", /, **values: object
) -> CheckResult:
    """The result with the REASONS of ``reason`` (default: of ``detail``) filled with ``values``."""
    english, chinese = REASONS[reason or detail]
    return CheckResult(check, outcome, chinese.format(**values), english.format(**values), detail)

