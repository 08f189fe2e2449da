"""Models of the people and systems that act on the registry: users with their roles, and the
API tokens of certification bodies.

Kept apart from ``registry.models`` (which re-exports them) so neither module grows past a
readable size; ``Body`` is named only for the type checker (SQLAlchemy finds it by name).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.db import Base

if TYPE_CHECKING:
    from registry.models import Body


class Role(enum.StrEnum):
    ADMIN = "admin"
    BODY_OPERATOR = "body_operator"
    CUSTOMS = "customs"
    AUDITOR = "auditor"


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(24))
    body_id: Mapped[int | None] = mapped_column(ForeignKey("body.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A body's API token. Only a SHA-256 of the secret is stored; the secret is shown once.

    SHA-256 (not argon2) is right here: the secret is 256 random bits, so there is nothing to
    brute-force, and the lookup must be one indexed equality on every API call.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    body_id: Mapped[int] = mapped_column(ForeignKey("body.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    body: Mapped[Body] = relationship(lazy="joined", innerjoin=True)
