"""Typed SQLAlchemy 2 models of the registry."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.db import Base


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


class Role(enum.StrEnum):
    ADMIN = "admin"
    BODY_OPERATOR = "body_operator"
    CUSTOMS = "customs"
    AUDITOR = "auditor"


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


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(24))
    body_id: Mapped[int | None] = mapped_column(ForeignKey("body.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


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
