"""THE verification decision, shared by the server and the offline verifier.

Precedence (first match wins), from "the seal itself cannot be trusted" to "a later event":

1. FORGED                   malformed seal, bad signature, unknown key, algorithm not allowed,
                            or a key no longer valid for this seal (retired key past its
                            ``verify_until``, or a seal dated after the key's retirement, or
                            before the key existed). Nothing in the seal can be believed.
2. KEY_REVOKED              genuine signature, but the key was revoked: it may have been stolen,
                            so the claims cannot be believed either.
3. NOT_REGISTERED           genuine seal, but the registry holds no such certificate.
4. BODY_NOT_AUTHORIZED      the body was not authorized for the category and jurisdiction on the
                            issue date: void from the start, whatever happened later.
5. CERTIFICATE_WITHDRAWN    permanent, so it outranks the temporary states below.
6. CERTIFICATE_SUSPENDED
7. CERTIFICATE_EXPIRED      the expiry date (the registry's if known, else the seal's) has passed.
8. BODY_AUTHORIZATION_ENDED the body was authorized then, but its authorization has since
                            ended (suspended, withdrawn or expired). A WARNING (severity
                            ``warning``) for ``grace_days`` after it ended (90 by default: IAF
                            CertSearch keeps such certificates three months), INVALID after.
9. VALID

"Today" is the date in China Standard Time, the registry's reference calendar. A certificate is
valid through its expiry date. Every verdict carries a reason in Chinese and English.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from dataclasses import dataclass

from verify.authority import AuthorizationFacts
from verify.claims import Claims
from verify.errors import KeyRevoked, SealError

DEFAULT_GRACE_DAYS = 90
REGISTRY_TIMEZONE = dt.timezone(dt.timedelta(hours=8))
CERTIFICATE_STATUSES = ("valid", "suspended", "withdrawn")


class VerdictCode(enum.StrEnum):
    VALID = "VALID"
    FORGED = "FORGED"
    KEY_REVOKED = "KEY_REVOKED"
    NOT_REGISTERED = "NOT_REGISTERED"
    BODY_NOT_AUTHORIZED = "BODY_NOT_AUTHORIZED"
    CERTIFICATE_WITHDRAWN = "CERTIFICATE_WITHDRAWN"
    CERTIFICATE_SUSPENDED = "CERTIFICATE_SUSPENDED"
    CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
    BODY_AUTHORIZATION_ENDED = "BODY_AUTHORIZATION_ENDED"


class Severity(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class CertificateState:
    """The certificate as the verifier knows it: stored ``status`` (valid/suspended/withdrawn;
    "expired" follows from ``expiry_date``). Pass None instead when it is not registered."""

    status: str
    expiry_date: dt.date

    def __post_init__(self) -> None:
        if self.status not in CERTIFICATE_STATUSES:
            raise ValueError(f"certificate status must be one of {CERTIFICATE_STATUSES}")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer shown to the person scanning. ``detail`` refines ``code`` for machines
    (e.g. ``bad_signature`` under FORGED); ``claims`` are None when the seal could not be read
    or cannot be believed."""

    code: VerdictCode
    severity: Severity
    reason_en: str
    reason_zh: str
    detail: str = ""
    claims: Claims | None = None
    effective_date: dt.date | None = None
    grace_until: dt.date | None = None

    @property
    def is_valid(self) -> bool:
        """True for VALID and for a BODY_AUTHORIZATION_ENDED warning within its grace period."""
        return self.severity is not Severity.INVALID


# (English, Chinese) per code or detail; {placeholders} are filled from the verdict's dates.
REASONS: dict[str, tuple[str, str]] = {
    "VALID": (
        "Genuine seal of a registered certificate that is in force, issued by a body authorized for it.",
        "真实印章：证书已登记且有效，发证机构在发证时具有相应资质。",
    ),
    "malformed": (
        "This is not a valid registry seal: the code is damaged or was not made by the registry.",
        "这不是有效的登记处印章：二维码已损坏或并非由登记处生成。",
    ),
    "bad_signature": (
        "Forged seal: the signature does not match its content.",
        "伪造印章：签名与内容不符。",
    ),
    "unknown_key": (
        "Forged seal: it was not signed with any registry key.",
        "伪造印章：并非由登记处的任何密钥签署。",
    ),
    "algorithm_not_allowed": (
        "Forged seal: it uses a signature algorithm the registry never uses.",
        "伪造印章：使用了登记处从不使用的签名算法。",
    ),
    "key_no_longer_valid": (
        "Seal not accepted: its signing key was not valid for a seal of this date.",
        "印章不被接受：其签名密钥对该日期的印章无效。",
    ),
    "KEY_REVOKED": (
        "Seal not accepted: it was signed with a registry key that has been revoked.",
        "印章不被接受：签署该印章的登记处密钥已被吊销。",
    ),
    "NOT_REGISTERED": (
        "The registry has no record of this certificate.",
        "登记处没有该证书的记录。",
    ),
    "BODY_NOT_AUTHORIZED": (
        "The issuing body was not authorized for this product category and jurisdiction on the issue date.",
        "发证机构在发证之日不具备该产品类别和适用地区的认证资质。",
    ),
    "CERTIFICATE_WITHDRAWN": (
        "This certificate has been withdrawn.",
        "该证书已被撤销。",
    ),
    "CERTIFICATE_SUSPENDED": (
        "This certificate is suspended.",
        "该证书已被暂停。",
    ),
    "CERTIFICATE_EXPIRED": (
        "This certificate expired on {effective_date}.",
        "该证书已于{effective_date}过期。",
    ),
    "BODY_AUTHORIZATION_ENDED_WARNING": (
        "Warning: the issuing body's authorization ended on {effective_date}. The certificate was issued "
        "while it was authorized and is recognized until {grace_until}.",
        "警告：发证机构的资质已于{effective_date}终止。该证书在其具备资质时签发，认可期至{grace_until}。",
    ),
    "BODY_AUTHORIZATION_ENDED": (
        "The issuing body's authorization ended on {effective_date}; "
        "the grace period ended on {grace_until}.",
        "发证机构的资质已于{effective_date}终止，宽限期已于{grace_until}结束。",
    ),
}

_DETAILS = {key: key.lower() for key in REASONS}


def _verdict(
    code: VerdictCode,
    severity: Severity,
    key: str,
    *,
    detail: str = "",
    claims: Claims | None = None,
    effective_date: dt.date | None = None,
    grace_until: dt.date | None = None,
) -> Verdict:
    english, chinese = REASONS[key]
    if effective_date is not None or grace_until is not None:
        values = {"effective_date": effective_date, "grace_until": grace_until}
        english, chinese = english.format(**values), chinese.format(**values)
    return Verdict(
        code, severity, english, chinese, detail or _DETAILS[key], claims, effective_date, grace_until
    )


def registry_today(now: dt.datetime) -> dt.date:
    """The calendar day at ``now`` in China Standard Time."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(REGISTRY_TIMEZONE).date()


def verdict_for_seal_error(error: SealError) -> Verdict:
    """FORGED (with the error's detail) or KEY_REVOKED."""
    if isinstance(error, KeyRevoked):
        return _verdict(VerdictCode.KEY_REVOKED, Severity.INVALID, "KEY_REVOKED", detail=error.detail)
    detail = error.detail if error.detail in REASONS else "malformed"
    return _verdict(VerdictCode.FORGED, Severity.INVALID, detail, detail=detail)


def decide(
    claims: Claims,
    certificate: CertificateState | None,
    authorization: AuthorizationFacts,
    *,
    now: dt.datetime,
    grace_days: int = DEFAULT_GRACE_DAYS,
    today: dt.date | None = None,
) -> Verdict:
    """The verdict for a genuine seal (steps 3-9 of the module docstring). ``today`` defaults
    to :func:`registry_today` of ``now`` (pass it when already computed)."""
    if today is None:
        today = registry_today(now)
    if certificate is None:
        return _verdict(VerdictCode.NOT_REGISTERED, Severity.INVALID, "NOT_REGISTERED", claims=claims)
    if not authorization.authorized_on_issue_date:
        return _verdict(
            VerdictCode.BODY_NOT_AUTHORIZED, Severity.INVALID, "BODY_NOT_AUTHORIZED", claims=claims
        )
    if certificate.status == "withdrawn":
        return _verdict(
            VerdictCode.CERTIFICATE_WITHDRAWN, Severity.INVALID, "CERTIFICATE_WITHDRAWN", claims=claims
        )
    if certificate.status == "suspended":
        return _verdict(
            VerdictCode.CERTIFICATE_SUSPENDED, Severity.INVALID, "CERTIFICATE_SUSPENDED", claims=claims
        )
    if today > certificate.expiry_date:
        return _verdict(
            VerdictCode.CERTIFICATE_EXPIRED,
            Severity.INVALID,
            "CERTIFICATE_EXPIRED",
            claims=claims,
            effective_date=certificate.expiry_date,
        )
    if authorization.ended_on is not None:
        grace_until = authorization.ended_on + dt.timedelta(days=grace_days)
        within = today <= grace_until
        return _verdict(
            VerdictCode.BODY_AUTHORIZATION_ENDED,
            Severity.WARNING if within else Severity.INVALID,
            "BODY_AUTHORIZATION_ENDED_WARNING" if within else "BODY_AUTHORIZATION_ENDED",
            detail=authorization.ended_status or "ended",
            claims=claims,
            effective_date=authorization.ended_on,
            grace_until=grace_until,
        )
    return _verdict(VerdictCode.VALID, Severity.OK, "VALID", claims=claims)


CertificateLookup = Callable[[Claims], CertificateState | None]
AuthorizationLookup = Callable[[Claims, dt.date], AuthorizationFacts]


def verify_and_decide(
    verify: Callable[[], Claims],
    certificate_lookup: CertificateLookup,
    authorization_lookup: AuthorizationLookup,
    *,
    now: dt.datetime,
    grace_days: int = DEFAULT_GRACE_DAYS,
    today: dt.date | None = None,
) -> Verdict:
    """The whole pipeline, identical online and offline: run ``verify`` (e.g.
    ``lambda: verify_seal(data, ring, now)``), turn a SealError into its verdict, else look the
    certificate and the body up (database or bundle) and :func:`decide`. ``today`` defaults to
    :func:`registry_today` of ``now`` (batches pass it once)."""
    try:
        claims = verify()
    except SealError as error:
        return verdict_for_seal_error(error)
    if today is None:
        today = registry_today(now)
    return decide(
        claims,
        certificate_lookup(claims),
        authorization_lookup(claims, today),
        now=now,
        grace_days=grace_days,
        today=today,
    )
