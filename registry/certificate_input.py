"""What a registration submits, and the checks on it: the input classes, the number rule of
the certificate URLs, and the batch that reads once what every item's checks need.

Framework-free, and nothing here writes: new organizations join the session with the first
certificate that holds them. ``registry.certificates`` runs these checks, writes what passes, and
re-exports the limit and the input classes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.identifiers import check_credit_code
from registry.models import Body, BodyKind, Certificate, Organization
from registry.queries import active_windows

MAX_BULK = 10_000


@dataclass
class PartyInput:
    """Holder or manufacturer: an organization identified by its credit code (foreign: none)."""

    name_zh: str
    name_en: str = ""
    credit_code: str | None = None
    country: str = "CN"


@dataclass
class TestReportInput:
    __test__ = False  # not a pytest test class, despite the name

    lab_code: str
    report_number: str
    report_date: dt.date


@dataclass
class CertificateInput:
    number: str
    holder: PartyInput
    manufacturer: PartyInput
    category: str
    jurisdiction: str
    scheme: str
    product_name: str
    issue_date: dt.date
    expiry_date: dt.date
    models: str = ""
    standards: str = ""
    test_reports: list[TestReportInput] = field(default_factory=list)


# What follows a certificate's number in the URLs of its QR code, label and print page.
URL_SUFFIXES = frozenset({"qr.png", "qr.svg", "label.png", "print"})


def number_fits_a_url(number: str) -> bool:
    """Whether ``number`` can stand in a certificate's URLs: a "/" inside is fine (numbers such as
    ``GB20/12345``, routed as a path), but not at either end nor doubled, nor around a "." or
    ".." part, which a URL would lose or resolve away, nor before a last part that names the QR
    code, label or print page of another number."""
    if "/" not in number:
        return True
    parts = number.split("/")
    # An empty part is a "/" at an end or doubled; "." and ".." are resolved away by clients.
    if any(part in ("", ".", "..") for part in parts):
        return False
    return parts[-1] not in URL_SUFFIXES


class Problems:
    """Collects (field, problem) pairs so one item reports all its errors at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field_name: str, problem: str) -> None:
        self.items.append({"field": field_name, "problem": problem})


def _chunks(values: list[str], size: int = 500) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Batch:
    """What the checks of a batch read from the database, each in one query for all its items
    (per 500): numbers already registered, the labs named, when the body and the labs were
    authorized, the organizations named by credit code. Nothing is written while checking."""

    def __init__(self, session: Session, body: Body, items: list[CertificateInput]) -> None:
        self.body = body
        numbers = sorted({item.number.strip() for item in items} - {""})
        self.registered: set[str] = set()
        for chunk in _chunks(numbers):
            registered = select(Certificate.number).where(
                Certificate.body_id == body.id, Certificate.number.in_(chunk)
            )
            self.registered.update(session.scalars(registered))
        lab_codes = sorted({report.lab_code for item in items for report in item.test_reports})
        self.labs: dict[str, Body] = {}
        for chunk in _chunks(lab_codes):
            self.labs.update(
                (lab.code, lab) for lab in session.scalars(select(Body).where(Body.code.in_(chunk)))
            )
        self.windows = active_windows(session, [body.id, *(lab.id for lab in self.labs.values())])
        codes = sorted({
            (party.credit_code or "").strip().upper()
            for item in items for party in (item.holder, item.manufacturer)
        } - {""})  # fmt: skip
        self.organizations: dict[str, Organization] = {}
        for chunk in _chunks(codes):
            self.organizations.update(
                (org.credit_code or "", org)
                for org in session.scalars(select(Organization).where(Organization.credit_code.in_(chunk)))
            )

    def organization(self, party: PartyInput, role: str, problems: Problems) -> Organization | None:
        """The organization ``party`` names: a registered one by credit code, else a new one
        (added to the session with the first certificate that holds it)."""
        if not party.name_zh.strip() and not party.name_en.strip():
            problems.add(f"{role}.name_zh", "a name is required")
        code = (party.credit_code or "").strip().upper() or None
        country = (party.country or "CN").strip().upper()
        names = {"name_zh": party.name_zh.strip(), "name_en": party.name_en.strip(), "country": country}
        if code is None:
            if country == "CN":
                problems.add(
                    f"{role}.credit_code", "a Chinese organization needs its unified social credit code"
                )
                return None
            return Organization(credit_code=None, **names)
        try:
            warning = check_credit_code(code).warning
        except ValueError as exc:
            problems.add(f"{role}.credit_code", str(exc))
            return None
        if code not in self.organizations:
            self.organizations[code] = Organization(credit_code=code, credit_code_warning=warning, **names)
        return self.organizations[code]

    def check(
        self, data: CertificateInput, today: dt.date, problems: Problems
    ) -> list[tuple[Body, TestReportInput]]:
        """Every rule for one item; the labs of its test reports."""
        body = self.body
        number = data.number.strip()
        if not number or len(number) > 64:
            problems.add("number", "the certificate number is required (at most 64 characters)")
        elif not number_fits_a_url(number):
            problems.add(
                "number",
                "a certificate number cannot begin or end with '/', hold '//', '/./' or '/../', or end "
                "in '/qr.png', '/qr.svg', '/label.png' or '/print' (its web addresses would be ambiguous)",
            )
        if not data.product_name.strip():
            problems.add("product_name", "the product name is required")
        if not data.scheme.strip():
            problems.add("scheme", "the scheme or legislation is required")
        if data.expiry_date <= data.issue_date:
            problems.add("expiry_date", "the expiry date must follow the issue date")
        if data.issue_date > today:
            problems.add("issue_date", "the issue date is in the future")
        if not self.windows.authorized(body.id, data.category, data.jurisdiction, data.issue_date):
            problems.add(
                "category",
                f"body {body.code} held no active authorization for {data.category} in "
                f"{data.jurisdiction} on the issue date {data.issue_date}",
            )
        labs: list[tuple[Body, TestReportInput]] = []
        for i, report in enumerate(data.test_reports):
            lab = self.labs.get(report.lab_code)
            where = f"test_reports[{i}]"
            if lab is None or lab.kind != BodyKind.TESTING_LAB.value:
                problems.add(f"{where}.lab_code", f"{report.lab_code!r} is not a listed testing lab")
                continue
            if report.report_date > data.issue_date:
                problems.add(f"{where}.report_date", "the test report is dated after the certificate")
            if not self.windows.authorized(lab.id, data.category, None, report.report_date):
                problems.add(
                    f"{where}.lab_code",
                    f"lab {lab.code} was not listed for {data.category} "
                    f"on the report date {report.report_date}",
                )
            if not report.report_number.strip():
                problems.add(f"{where}.report_number", "the report number is required")
            labs.append((lab, report))
        if number in self.registered:  # last, as the one-by-one checks reported it
            problems.add("number", f"certificate {number} of {body.code} is already registered")
        return labs
