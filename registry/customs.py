"""Customs checks: scanned seals with the declarations they came with, against the registry.

:func:`check_declarations` verifies the seals with ``registry.verification.verify_many`` (the
same verdicts the seal page and the API give), then checks each declaration whose seal names a
registered certificate with ``verify.declaration.check_declaration``. Set-based for bulk work:
per 1,000 items, the seals' three statements, then ONE statement for the dates on which the
certificates' current statuses took effect (only for suspended or withdrawn ones, so usually
none) and ONE for the authorization timeline segments of the bodies' lines; the facts of a
certificate are built once however many items name it. The HS table is built from the
``category`` rows and cached per database, as ``registry.reference`` caches its snapshot, and
remembers its answers (a file repeats a few HS codes many times).

When the seal is forged, signed by a revoked key or names a certificate the registry does not
hold, there is nothing to check the declaration against: the result carries no report and says
why (``skipped_zh`` / ``skipped_en``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from registry.bodies import registry_today
from registry.errors import InvalidInput
from registry.keystore import utc
from registry.models import Category, CertificateStatus, CertificateStatusChange

# The verification's own statement for the segments and its rebuild of lines from them: the
# authorization-on-date fact then follows the very rule the seal verdict applies.
from registry.verification import (
    MAX_BATCH,
    SEGMENTS,
    VerificationResult,
    VerifiedCertificate,
    chunks,
    lines_from_segments,
    verify_many,
)
from verify.authority import ACTIVE, AuthorizationLine, authorization_facts
from verify.declaration import (
    DECLARATION_FIELDS,
    CertificateFacts,
    CheckResult,
    Declaration,
    DeclarationReport,
    HsTable,
    Outcome,
    check_declaration,
)
from verify.verdict import DEFAULT_GRACE_DAYS

MAX_ITEMS = 10_000
HS_TABLE_TTL_SECONDS = 60.0  # reference data changes only with a migration or a data sync

# Why a declaration was not checked, by the seal's verdict code: (English, Chinese).
SKIPPED_REASONS: dict[str, tuple[str, str]] = {
    "FORGED": (
        "the seal is not genuine: the declaration was not checked against any certificate",
        "印章不是真实的，未对申报内容进行核对",
    ),
    "KEY_REVOKED": (
        "the seal was signed with a revoked key: the declaration was not checked",
        "印章的签名密钥已被吊销，未对申报内容进行核对",
    ),
    "NOT_REGISTERED": (
        "the seal names a certificate the registry does not hold: the declaration was not checked",
        "印章所指证书未在登记处登记，未对申报内容进行核对",
    ),
}
_SKIPPED_OTHERWISE = (
    "no registered certificate to check the declaration against",
    "没有可供核对申报内容的登记证书",
)

Item = tuple[str, Declaration]
ScopeKey = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class CustomsResult:
    """One scanned seal with its declaration: the seal's verdict and the declaration's checks.

    ``report`` is None when there was no registered certificate to check against; then
    ``skipped_zh`` / ``skipped_en`` say why.
    """

    verification: VerificationResult
    declaration: Declaration
    report: DeclarationReport | None
    skipped_zh: str = ""
    skipped_en: str = ""

    @property
    def overall(self) -> Outcome | None:
        """The declaration's worst check outcome; None when it was not checked."""
        return None if self.report is None else self.report.overall


def declaration_record(declaration: Declaration) -> dict[str, Any]:
    """The declared fields as JSON-ready values (what the scan log keeps), without empty ones."""
    record: dict[str, Any] = {}
    for name in DECLARATION_FIELDS:
        value = getattr(declaration, name)
        if value is None or value == "":
            continue
        record[name] = value.isoformat() if isinstance(value, dt.date) else value
    return record


# --- the HS table, cached per database ---------------------------------------------------------

_HS_TABLES: dict[Any, tuple[float, HsTable]] = {}
_CATEGORY_ROWS = select(
    Category.code, Category.hs6_codes, Category.hs6_neighbours, Category.name_en, Category.name_zh
)


class _RememberingHsTable(HsTable):
    """An HsTable that remembers its answers: a bulk file repeats a few HS codes many times.

    Bounded (forgotten whole past :data:`MAX_REMEMBERED` codes), so a stream of distinct codes
    cannot grow it; the answers are frozen dataclasses, safe to share between threads."""

    MAX_REMEMBERED = 4096

    def __init__(self, rows: Iterable[tuple[str, str, str]], names: dict[str, tuple[str, str]]) -> None:
        super().__init__(rows, names)
        self._fits: dict[tuple[str, str], CheckResult] = {}

    def fit(self, category: str, hs_code: str) -> CheckResult:
        """As :meth:`HsTable.fit` (a malformed code still raises, and is not remembered)."""
        key = (category, hs_code)
        found = self._fits.get(key)
        if found is None:
            found = super().fit(category, hs_code)
            if len(self._fits) >= self.MAX_REMEMBERED:
                self._fits = {}
            self._fits[key] = found
        return found


def hs_table(session: Session, *, clock: float | None = None) -> HsTable:
    """The categories' HS codes as an :class:`HsTable`, cached for HS_TABLE_TTL_SECONDS per database."""
    moment = time.monotonic() if clock is None else clock
    key = session.get_bind().engine
    cached = _HS_TABLES.get(key)
    if cached is not None and moment - cached[0] < HS_TABLE_TTL_SECONDS:
        return cached[1]
    rows = session.execute(_CATEGORY_ROWS).all()
    table = _RememberingHsTable(
        ((code, codes or "", neighbours or "") for code, codes, neighbours, _en, _zh in rows),
        names={code: (en, zh) for code, _codes, _neighbours, en, zh in rows},
    )
    _HS_TABLES[key] = (moment, table)
    return table


def forget_hs_tables() -> None:
    """Drop the cached tables (after changing the categories' HS codes in this process, in tests)."""
    _HS_TABLES.clear()


# --- the facts of each certificate --------------------------------------------------------------

_STATUS_SINCE = (
    select(
        CertificateStatusChange.certificate_id,
        CertificateStatusChange.status,
        func.max(CertificateStatusChange.recorded_at),
    )
    .where(CertificateStatusChange.certificate_id.in_(bindparam("ids", expanding=True)))
    .group_by(CertificateStatusChange.certificate_id, CertificateStatusChange.status)
)


def _status_effective(session: Session, stopped: Sequence[VerifiedCertificate]) -> dict[int, dt.date]:
    """The registry day on which each suspended or withdrawn certificate's status took effect:
    its latest change to that status (a change takes effect when it is recorded)."""
    wanted = {certificate.id: certificate.status for certificate in stopped}
    found: dict[int, dt.date] = {}
    connection = session.connection()
    for chunk in chunks(sorted(wanted)):
        for certificate_id, status, recorded_at in connection.execute(_STATUS_SINCE, {"ids": chunk}):
            if wanted[certificate_id] == status and recorded_at is not None:
                found[certificate_id] = registry_today(utc(recorded_at))
    return found


def _lines(
    session: Session, certificates: Iterable[VerifiedCertificate]
) -> dict[ScopeKey, tuple[AuthorizationLine, ...]]:
    """The scope lines (rebuilt from their timelines) of the certificates' bodies, categories
    and jurisdictions."""
    scopes = {(c.body_id, c.category, c.jurisdiction) for c in certificates}
    if not scopes:
        return {}
    categories = sorted({category for _, category, _ in scopes})
    segments = []
    connection = session.connection()
    for chunk in chunks(sorted({body_id for body_id, _, _ in scopes})):
        rows = connection.execute(SEGMENTS, {"body_ids": chunk, "categories": categories})
        for authorization_id, body_id, category, jurisdiction, status, starts, ends in rows:
            if (body_id, category, jurisdiction) in scopes:
                segments.append((authorization_id, (body_id, category, jurisdiction), starts, ends, status))
    return lines_from_segments(segments)


class _AuthorizedOn:
    """Was the issuing body authorized for the certificate on a given day? (A callable object
    rather than a closure: a bulk check builds one per certificate, and fewer objects mean less
    work for the garbage collector.)

    From the issue date on, by the seal verdict's rule (``verify.authority.authorization_facts``
    as known on that day): a line covered the issue and none of the covering lines had ended by
    then. Before the issue date (a declaration dated before the certificate existed) it is simply
    whether a line of the scope was active that day. Answers are kept in ``answers``, shared by
    the certificates of a batch: a file's declarations often share their date.
    """

    __slots__ = ("answers", "certificate", "lines")

    def __init__(
        self,
        certificate: VerifiedCertificate,
        lines: tuple[AuthorizationLine, ...],
        answers: dict[tuple[int, dt.date], bool],
    ) -> None:
        self.certificate, self.lines, self.answers = certificate, lines, answers

    def __call__(self, day: dt.date) -> bool:
        certificate = self.certificate
        found = self.answers.get((certificate.id, day))
        if found is None:
            if day < certificate.issue_date:
                found = any(line.status_on(day) == ACTIVE for line in self.lines)
            else:
                facts = authorization_facts(
                    self.lines, certificate.category, certificate.jurisdiction, certificate.issue_date, day
                )
                found = facts.authorized_on_issue_date and facts.ended_on is None
            self.answers[(certificate.id, day)] = found
        return found


def _facts(
    certificate: VerifiedCertificate, authorized_on: _AuthorizedOn, effective: dt.date | None
) -> CertificateFacts:
    stopped = certificate.status != CertificateStatus.VALID.value
    return CertificateFacts(
        holder_credit_code=certificate.holder.credit_code,
        manufacturer_credit_code=certificate.manufacturer.credit_code,
        category=certificate.category,
        status=certificate.status,
        issue_date=certificate.issue_date,
        expiry_date=certificate.expiry_date,
        authorized_on=authorized_on,
        status_effective=effective if stopped else None,
    )


# --- the checks ---------------------------------------------------------------------------------


def _skipped(verification: VerificationResult, declaration: Declaration) -> CustomsResult:
    english, chinese = SKIPPED_REASONS.get(verification.code, _SKIPPED_OTHERWISE)
    return CustomsResult(verification, declaration, None, skipped_zh=chinese, skipped_en=english)


def _check_chunk(
    session: Session, items: Sequence[Item], table: HsTable, *, now: dt.datetime, grace_days: int
) -> list[CustomsResult]:
    verifications = verify_many(session, [scanned for scanned, _ in items], now=now, grace_days=grace_days)
    certificates = {r.certificate.id: r.certificate for r in verifications if r.certificate is not None}
    stopped = [c for c in certificates.values() if c.status != CertificateStatus.VALID.value]
    effective = _status_effective(session, stopped) if stopped else {}
    lines = _lines(session, certificates.values())
    today = registry_today(now)
    facts: dict[int, CertificateFacts] = {}
    answers: dict[tuple[int, dt.date], bool] = {}
    results = []
    for (_, declaration), verification in zip(items, verifications, strict=True):
        certificate = verification.certificate
        if certificate is None:
            results.append(_skipped(verification, declaration))
            continue
        found = facts.get(certificate.id)
        if found is None:
            scope = (certificate.body_id, certificate.category, certificate.jurisdiction)
            authorized_on = _AuthorizedOn(certificate, lines.get(scope, ()), answers)
            found = facts[certificate.id] = _facts(certificate, authorized_on, effective.get(certificate.id))
        report = check_declaration(declaration, found, table, today=today)
        results.append(CustomsResult(verification, declaration, report))
    return results


def check_declarations(
    session: Session,
    items: Sequence[Item],
    *,
    now: dt.datetime,
    grace_days: int = DEFAULT_GRACE_DAYS,
) -> list[CustomsResult]:
    """The seal verdict and the declaration's checks of each ``(scanned text, declaration)``, in
    order, for up to :data:`MAX_ITEMS` items (worked through 1,000 at a time). Any scanned text
    gets a verdict (FORGED for anything that is not a genuine seal), never an exception; more
    items are refused with InvalidInput naming the limit."""
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"at most {MAX_ITEMS} declarations per check, got {len(items)}", limit=MAX_ITEMS)
    if not items:
        return []
    table = hs_table(session)
    results: list[CustomsResult] = []
    for start in range(0, len(items), MAX_BATCH):
        chunk = items[start : start + MAX_BATCH]
        results.extend(_check_chunk(session, chunk, table, now=now, grace_days=grace_days))
    return results
