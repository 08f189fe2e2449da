"""Models of what the seals and the log rest on: the signing keys (seal and root), the key ring's
stamp, and the transparency log (``registry.translog``).

Kept apart from ``registry.models`` (which re-exports them) so neither module grows past a
readable size. Foreign keys name tables as text, so this module needs nothing from the other.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base


class KeyState(enum.StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    REVOKED = "revoked"


class SigningKeyRecord(Base):
    """A signing key: ``purpose`` is "seal" (certificate seals) or "root" (trust bundles).

    The private key is PKCS#8 PEM encrypted with a machine-generated passphrase kept outside
    the database (environment or secret file); the table never holds a usable private key.
    """

    __tablename__ = "signing_key"
    __table_args__ = (
        # At most one active key per purpose, even with two `keys generate` racing.
        Index(
            "uq_signing_key_one_active", "purpose", unique=True,
            sqlite_where=text("state = 'active'"), postgresql_where=text("state = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(16), unique=True)
    purpose: Mapped[str] = mapped_column(String(8), index=True)
    public_key_der: Mapped[bytes] = mapped_column(LargeBinary)
    encrypted_private_key: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    verify_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str] = mapped_column(Text, default="")


class KeyRingStamp(Base):
    """One row whose ``stamp`` a database trigger replaces on any change to ``signing_key``
    (migration 0006): a cached key ring is good while the stamp it was read with is current."""

    __tablename__ = "key_ring_stamp"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stamp: Mapped[str] = mapped_column(String(32))


class VerdictStamp(Base):
    """One row whose ``stamp`` a database trigger replaces in any transaction that changes
    ``certificate``, ``body``, ``organization`` or ``authorization_timeline`` (migration 0013):
    what a seal's lookup read outside a transaction is good while the stamp read before it is
    current (``registry.seal_lookup``). ``xact`` is the transaction that last replaced it
    (PostgreSQL: one replacement per transaction)."""

    __tablename__ = "verdict_stamp"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    stamp: Mapped[str] = mapped_column(String(32))
    xact: Mapped[int | None] = mapped_column(BigInteger)


# --- the transparency log (registry.translog) -------------------------------------------------------


class LogHead(Base):
    """The log's size and frontier (hashes of the perfect subtrees on its right edge, largest
    first), one row. Appenders update it first: its row lock orders concurrent writers, so leaf
    indexes are contiguous, and a rolled-back append gives its index back."""

    __tablename__ = "log_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    frontier: Mapped[bytes] = mapped_column(LargeBinary)


class LogNode(Base):
    """A complete (perfect) subtree of the log: level 0 are the leaves, one per audit event.

    Stored once, by the append that completed it, so an inclusion or consistency proof reads
    O(log n) rows. Immutable: triggers refuse UPDATE and DELETE (migration 0007).
    """

    __tablename__ = "log_node"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[bytes] = mapped_column(LargeBinary)
    # The audit event a leaf (level 0) logs; None above the leaves.
    audit_event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_event.id"), unique=True)


class LogCheckpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint in a signed note) of the log at ``size``."""

    __tablename__ = "log_checkpoint"
    # One per size and log key: after a key rotation the same size is signed again.
    __table_args__ = (UniqueConstraint("size", "kid", name="uq_log_checkpoint_size"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    kid: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
