"""Models of market oversight: the scan log, misuse alerts, complaints and credit records.

Kept apart from ``registry.models`` (which re-exports them) so neither module grows past a
readable size. Foreign keys name tables as text, so this module needs nothing from the other.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.db import Base

# SQLite makes only INTEGER PRIMARY KEY an auto-numbered rowid; PostgreSQL gets a bigint.
BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class ScanChannel(enum.StrEnum):
    PAGE = "page"  # /V/<TOKEN>, a phone camera
    API = "api"  # POST /api/v1/verify
    CUSTOMS = "customs"  # a check against a declaration (page, API or bulk upload)


# The conditions of the scan log's partial indexes. A query meant to use one must state the same
# condition with literals (a bound '' would not match it on SQLite): the alert rules add AT_A_PORT,
# and ``exporter_credit_code.is_not(None)`` compiles to DECLARED's very words. Both name their
# column unqualified, so they belong in queries on scan_event alone.
DECLARED = text("exporter_credit_code IS NOT NULL")
AT_A_PORT = text("port != ''")


class ScanEvent(Base):
    """One verification of a scanned seal, whatever its verdict (``registry.scanlog``).

    No personal data: the client's address only as a keyed hash (``client_hash``), enough to
    tell one scanner from many, not to find anyone.
    """

    __tablename__ = "scan_event"
    __table_args__ = (
        # Partial: only the rows the alert rules look up this way (customs declarations; scans
        # at a port). Every verification writes a row, and an index keyed by a random hash or
        # spread over every certificate costs most of that write (measured: 28 -> 17 µs a row).
        # So the foreign key to certificate has no full index: deleting a certificate (nothing
        # does) would have to read the whole scan log.
        Index(
            "ix_scan_event_certificate_time", "certificate_id", "scanned_at",
            sqlite_where=DECLARED, postgresql_where=DECLARED,
        ),
        Index(
            "ix_scan_event_token_time", "token_sha256", "scanned_at",
            sqlite_where=AT_A_PORT, postgresql_where=AT_A_PORT,
        ),
        Index("ix_scan_event_claimed_body_time", "claimed_body", "scanned_at"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    scanned_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    verdict: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(String(64), default="")
    # SHA-256 of the token's canonical text when one could be read (registry.seals.token_digest).
    token_sha256: Mapped[str | None] = mapped_column(String(64))
    kid: Mapped[str | None] = mapped_column(String(16))
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificate.id"))
    # What the seal names, even a forged one (for "forged seals naming body X" alerts).
    claimed_body: Mapped[str | None] = mapped_column(String(40))
    claimed_number: Mapped[str | None] = mapped_column(String(64))
    port: Mapped[str] = mapped_column(String(100), default="")
    exporter_credit_code: Mapped[str | None] = mapped_column(String(18))
    declared_hs_code: Mapped[str | None] = mapped_column(String(10))
    declaration_outcome: Mapped[str | None] = mapped_column(String(16))
    # SQL NULL for a scan without a declaration, not JSON's null (SQLAlchemy's default), so
    # `declaration IS NULL` finds them.
    declaration: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    client_hash: Mapped[str | None] = mapped_column(String(64))


class AlertKind(enum.StrEnum):
    SHARED_CERTIFICATE = "shared_certificate"  # declared by several unrelated exporters
    SCANNED_AFTER_WITHDRAWAL = "scanned_after_withdrawal"  # certificate withdrawn or key revoked
    SCAN_BURST = "scan_burst"  # one seal scanned at many ports in a short time
    FORGERIES_NAMING_BODY = "forgeries_naming_body"  # repeated forged seals naming one body


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class MisuseAlert(Base):
    """A pattern in the scan log that suggests misuse; one open alert per kind and subject."""

    __tablename__ = "misuse_alert"
    __table_args__ = (
        Index("ix_misuse_alert_subject", "kind", "subject_key", "status"),
        # One alert not yet closed per kind and subject, even with two processes raising it.
        Index(
            "uq_misuse_alert_one_open", "kind", "subject_key", unique=True,
            sqlite_where=text("status != 'closed'"), postgresql_where=text("status != 'closed'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default=AlertStatus.OPEN.value)
    subject_key: Mapped[str] = mapped_column(String(160))
    body_id: Mapped[int | None] = mapped_column(ForeignKey("body.id"), index=True)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificate.id"))
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy reads it once)


class ComplaintStatus(enum.StrEnum):
    RECEIVED = "received"
    TRIAGED = "triaged"
    INVESTIGATING = "investigating"
    SUBSTANTIATED = "substantiated"
    CLOSED = "closed"


class Complaint(Base):
    """A tip-off from the public about a suspicious certificate, seal, body or lab."""

    __tablename__ = "complaint"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    subject_kind: Mapped[str] = mapped_column(String(16))  # certificate, seal, body, lab, other
    subject_text: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text)
    reporter_name: Mapped[str] = mapped_column(String(100), default="")
    reporter_contact: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(2), default="zh")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    outcome: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    attachments: Mapped[list[ComplaintAttachment]] = relationship(
        back_populates="complaint", cascade="all, delete-orphan", order_by="ComplaintAttachment.id"
    )
    history: Mapped[list[ComplaintEvent]] = relationship(
        back_populates="complaint", cascade="all, delete-orphan", order_by="ComplaintEvent.id"
    )
    links: Mapped[list[ComplaintLink]] = relationship(
        back_populates="complaint", cascade="all, delete-orphan", order_by="ComplaintLink.id"
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (SQLAlchemy reads it once)


class ComplaintAttachment(Base):
    """A file sent with a complaint (size- and type-limited where it is received)."""

    __tablename__ = "complaint_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    complaint: Mapped[Complaint] = relationship(back_populates="attachments")


class ComplaintEvent(Base):
    """One step in a complaint's history: a status change, an assignment, a note."""

    __tablename__ = "complaint_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")

    complaint: Mapped[Complaint] = relationship(back_populates="history")


class ComplaintLink(Base):
    """A certificate or a body a complaint is about (set during triage)."""

    __tablename__ = "complaint_link"
    __table_args__ = (Index("ix_complaint_link_targets", "certificate_id", "body_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id"), index=True)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificate.id"))
    body_id: Mapped[int | None] = mapped_column(ForeignKey("body.id"))

    complaint: Mapped[Complaint] = relationship(back_populates="links")


class CreditKind(enum.StrEnum):
    WARNING = "warning"
    SUSPENSION = "suspension"
    WITHDRAWAL = "withdrawal"


class CreditRecord(Base):
    """A sanction on an organization's credit record, shown on its public page (from a
    substantiated complaint, or entered by a regulator)."""

    __tablename__ = "credit_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id"))
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    effective_date: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(100))
