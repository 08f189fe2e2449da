"""Typed SQLAlchemy 2 models of the registry."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.db import Base

# List order is by bytes ("C"): PostgreSQL's locale collation sorts several times slower, and
# SQLite's default BINARY is the same order, so both databases list bodies identically.
LIST_KEY = String(48).with_variant(String(48, collation="C"), "postgresql")


class BodyKind(enum.StrEnum):
    CERTIFICATION_BODY = "certification_body"
    TESTING_LAB = "testing_lab"
    INSPECTION_BODY = "inspection_body"


class AuthorizationStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    # Never stored: follows from valid_until, see registry.queries.
    EXPIRED = "expired"


class Jurisdiction(Base):
    __tablename__ = "jurisdiction"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    sort_order: Mapped[int] = mapped_column(Integer, default=100)


class Category(Base):
    __tablename__ = "category"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    standards_cn: Mapped[str] = mapped_column(Text, default="")
    standards_international: Mapped[str] = mapped_column(Text, default="")
    hs6_codes: Mapped[str] = mapped_column(Text, default="")
    hs6_neighbours: Mapped[str] = mapped_column(Text, default="")
    sort_order: Mapped[int] = mapped_column(Integer, default=100)


class Organization(Base):
    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    # Set when the GB 32100 check character does not match: shown, not rejected.
    credit_code_warning: Mapped[str | None] = mapped_column(String(200))
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(300), default="")
    country: Mapped[str] = mapped_column(String(2), default="CN")
    province: Mapped[str | None] = mapped_column(String(2), index=True)
    address: Mapped[str] = mapped_column(String(500), default="")
    website: Mapped[str] = mapped_column(String(300), default="")


class Body(Base):
    __tablename__ = "body"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    contact_name: Mapped[str] = mapped_column(String(100), default="")
    contact_email: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(50), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # Lower-cased names, code, credit code and identifiers: free-text search is one LIKE on one
    # column (maintained by registry.bodies; Python lower-cases, as SQLite's lower() is ASCII-only).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    # Display order of lists: province (foreign bodies last), then code; see registry.timeline.list_key.
    list_key: Mapped[str] = mapped_column(LIST_KEY, default="", server_default=text("''"), index=True)

    organization: Mapped[Organization] = relationship(lazy="joined", innerjoin=True)
    identifiers: Mapped[list[BodyIdentifier]] = relationship(
        back_populates="body", cascade="all, delete-orphan", order_by="BodyIdentifier.scheme"
    )
    authorizations: Mapped[list[Authorization]] = relationship(
        back_populates="body",
        cascade="all, delete-orphan",
        order_by="(Authorization.jurisdiction, Authorization.category, Authorization.id)",
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy reads it once)


class BodyIdentifier(Base):
    __tablename__ = "body_identifier"
    __table_args__ = (UniqueConstraint("scheme", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("body.id", ondelete="CASCADE"), index=True)
    scheme: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))

    body: Mapped[Body] = relationship(back_populates="identifiers")


class Authorization(Base):
    """One scope line: a body may certify or test ``category`` under ``scheme`` in ``jurisdiction``."""

    __tablename__ = "authorization"
    __table_args__ = (
        UniqueConstraint("body_id", "jurisdiction", "scheme", "category"),
        Index("ix_authorization_category_jurisdiction", "category", "jurisdiction"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("body.id", ondelete="CASCADE"), index=True)
    jurisdiction: Mapped[str] = mapped_column(ForeignKey("jurisdiction.code"))
    scheme: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(ForeignKey("category.code"))
    standards: Mapped[str] = mapped_column(Text, default="")
    # For labs: the tests they may run (free text, one per line or ';'-separated).
    tests: Mapped[str] = mapped_column(Text, default="")
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    # The latest stored status (active/suspended/withdrawn); history lives in status_period.
    status: Mapped[str] = mapped_column(String(16), index=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    body: Mapped[Body] = relationship(back_populates="authorizations")
    periods: Mapped[list[StatusPeriod]] = relationship(
        back_populates="authorization",
        cascade="all, delete-orphan",
        order_by="(StatusPeriod.effective_from, StatusPeriod.id)",
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy reads it once)


class StatusPeriod(Base):
    """A status change and the period it governs, ``[effective_from, effective_until)``.

    ``effective_until`` is derived (the next change's ``effective_from``) and kept so that an
    as-of query is one indexed range condition instead of a "latest row before D" subquery.
    """

    __tablename__ = "status_period"
    __table_args__ = (
        Index("ix_status_period_lookup", "authorization_id", "effective_from", "effective_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(
        ForeignKey("authorization.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16))
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_until: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))

    authorization: Mapped[Authorization] = relationship(back_populates="periods")


class AuthorizationTimeline(Base):
    """Derived: a scope line's displayed status over time (see registry.timeline). Never edited by hand."""

    __tablename__ = "authorization_timeline"
    __table_args__ = (
        # Covers "does body B have a line with status S on day D" without touching the table.
        Index("ix_authorization_timeline_body", "body_id", "status", "starts", "ends"),
        Index("ix_authorization_timeline_scope", "category", "jurisdiction", "status", "starts", "body_id"),
        # Covers the segments of one body's lines for one category and jurisdiction: what every
        # verification reads (registry.verification). Neither index above narrows to that: by
        # scope it reads every body's lines of the category, by body every category's.
        Index(
            "ix_authorization_timeline_line",
            "body_id", "category", "jurisdiction", "starts", "ends", "status", "authorization_id",
        ),
        # Covers "which bodies had a line with status S on day D" as one index-only range scan.
        Index("ix_authorization_timeline_as_of", "status", "starts", "ends", "body_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(
        ForeignKey("authorization.id", ondelete="CASCADE"), index=True
    )
    body_id: Mapped[int] = mapped_column(ForeignKey("body.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(32))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16))
    starts: Mapped[dt.date] = mapped_column(Date)
    ends: Mapped[dt.date | None] = mapped_column(Date)


class BodyTimeline(Base):
    """Derived: per body, the days on which it had at least one line with ``status``.

    Intervals of one body and status never overlap, so "bodies with an active line on D" is a
    plain range scan with no DISTINCT, and kind, province and list order are copied here so the
    list query touches this table alone. Status "listed" covers every day from the body's first
    line on (the unfiltered list as of D). Rewritten by registry.timeline on every line change.
    """

    __tablename__ = "body_timeline"
    __table_args__ = (
        # Counting: an index-only range scan over every filter column.
        Index("ix_body_timeline_as_of", "status", "starts", "ends", "kind", "province", "body_id"),
        # A page: walk one status in list order and stop after ``per_page`` matches.
        Index(
            "ix_body_timeline_order", "status", "list_key", "starts", "ends", "kind", "province", "body_id"
        ),
        Index("ix_body_timeline_body", "body_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("body.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(24))
    province: Mapped[str | None] = mapped_column(String(2))
    list_key: Mapped[str] = mapped_column(LIST_KEY)
    status: Mapped[str] = mapped_column(String(16))
    starts: Mapped[dt.date] = mapped_column(Date)
    ends: Mapped[dt.date | None] = mapped_column(Date)


class AuditEvent(Base):
    """An immutable record of one change. ``canonical`` holds the bytes a transparency log hashes.

    UPDATE and DELETE are refused by database triggers (see the initial migration).
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_subject", "subject_type", "subject_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(80), index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_key: Mapped[str] = mapped_column(String(120))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text, default="")
    canonical: Mapped[str] = mapped_column(Text)


class CertificateStatus(enum.StrEnum):
    VALID = "valid"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"
    # Never stored: follows from expiry_date.
    EXPIRED = "expired"


class Certificate(Base):
    """A certificate a certification body issued and registered here."""

    __tablename__ = "certificate"
    __table_args__ = (
        UniqueConstraint("body_id", "number"),
        Index("ix_certificate_holder", "holder_id"),
        Index("ix_certificate_category_status", "category", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("body.id"), index=True)
    number: Mapped[str] = mapped_column(String(64))
    holder_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    manufacturer_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    category: Mapped[str] = mapped_column(ForeignKey("category.code"))
    jurisdiction: Mapped[str] = mapped_column(ForeignKey("jurisdiction.code"))
    scheme: Mapped[str] = mapped_column(String(200))
    product_name: Mapped[str] = mapped_column(String(300))
    models: Mapped[str] = mapped_column(Text, default="")
    standards: Mapped[str] = mapped_column(Text, default="")
    issue_date: Mapped[dt.date] = mapped_column(Date)
    expiry_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)  # weekly stats
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # The transparency log's leaf of the certificate's latest change (its registration or latest
    # status change; a seal issued is logged but changes nothing of the record), which the seal
    # page and the verify API show: kept by registry.certificates.keep_log_leaves in the
    # transaction that logs the change, so a scan reads it with the certificate instead of
    # searching the log. Not a change of its own: no audit event, no version bump.
    log_index: Mapped[int | None] = mapped_column(BigInteger)

    body: Mapped[Body] = relationship(lazy="joined", innerjoin=True)
    holder: Mapped[Organization] = relationship(foreign_keys=[holder_id], lazy="joined", innerjoin=True)
    manufacturer: Mapped[Organization] = relationship(
        foreign_keys=[manufacturer_id], lazy="joined", innerjoin=True
    )
    test_reports: Mapped[list[TestReport]] = relationship(
        back_populates="certificate", cascade="all, delete-orphan", order_by="TestReport.id"
    )
    status_changes: Mapped[list[CertificateStatusChange]] = relationship(
        back_populates="certificate", cascade="all, delete-orphan", order_by="CertificateStatusChange.id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy reads it once)


class TestReport(Base):
    """A test report a certificate relies on: which listed lab tested, report number and date."""

    __tablename__ = "test_report"
    __test__ = False  # not a pytest test class, despite the name

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id", ondelete="CASCADE"), index=True)
    lab_id: Mapped[int] = mapped_column(ForeignKey("body.id"))
    report_number: Mapped[str] = mapped_column(String(64))
    report_date: Mapped[dt.date] = mapped_column(Date)

    certificate: Mapped[Certificate] = relationship(back_populates="test_reports")
    lab: Mapped[Body] = relationship(lazy="joined", innerjoin=True)


class CertificateStatusChange(Base):
    __tablename__ = "certificate_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(
        ForeignKey("certificate.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)  # weekly stats
    actor: Mapped[str] = mapped_column(String(100))

    certificate: Mapped[Certificate] = relationship(back_populates="status_changes")


class Seal(Base):
    """A signed seal issued for a certificate (a certificate may get several over time)."""

    __tablename__ = "seal"

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id"), index=True)
    kid: Mapped[str] = mapped_column(String(16), index=True)
    token: Mapped[str] = mapped_column(Text)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    certificate: Mapped[Certificate] = relationship()


# The accounts, the trust tables and the oversight tables live in modules of their own; importing
# them here makes them part of the one metadata (migrations are compared against it) wherever
# registry.models is imported, and keeps ``from registry.models import ...`` working for them.
from registry.account_models import ApiToken, Role, User  # noqa: E402,F401
from registry.oversight_models import (  # noqa: E402,F401
    AlertKind,
    AlertStatus,
    Complaint,
    ComplaintAttachment,
    ComplaintEvent,
    ComplaintLink,
    ComplaintStatus,
    CreditKind,
    CreditRecord,
    MisuseAlert,
    ScanChannel,
    ScanEvent,
)
from registry.trust_models import (  # noqa: E402,F401
    KeyRingStamp,
    KeyState,
    LogCheckpoint,
    LogHead,
    LogNode,
    SigningKeyRecord,
    VerdictStamp,
)
