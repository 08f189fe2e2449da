"""transparency log

The RFC 9162 Merkle log of every audit event (registry.translog): the head (size and
frontier), the stored complete subtrees, and signed checkpoints. Audit events written before
this revision are appended here, in id order. UPDATE and DELETE of nodes and checkpoints are
refused by triggers, as for audit events.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 03:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from verify.merkle import append_to_frontier, leaf_hash

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_IMMUTABLE = ("log_node", "log_checkpoint")


def upgrade() -> None:
    head = op.create_table(
        'log_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('frontier', sa.LargeBinary(), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_log_head_single_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_log_head')),
    )
    nodes = op.create_table(
        'log_node',
        sa.Column('level', sa.SmallInteger(), nullable=False),
        sa.Column('idx', sa.BigInteger(), nullable=False),
        sa.Column('hash', sa.LargeBinary(), nullable=False),
        sa.Column('audit_event_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['audit_event_id'], ['audit_event.id'],
                                name=op.f('fk_log_node_audit_event_id_audit_event')),
        sa.PrimaryKeyConstraint('level', 'idx', name=op.f('pk_log_node')),
        sa.UniqueConstraint('audit_event_id', name=op.f('uq_log_node_audit_event_id')),
    )
    op.create_table(
        'log_checkpoint',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('root_hash', sa.LargeBinary(), nullable=False),
        sa.Column('kid', sa.String(length=16), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_log_checkpoint')),
        sa.UniqueConstraint('size', 'kid', name=op.f('uq_log_checkpoint_size')),
    )
    _backfill(head, nodes)
    _create_immutability()


def _backfill(head: sa.Table, nodes: sa.Table) -> None:
    """Append the audit events already written, oldest first (as registry.translog would have)."""
    bind = op.get_bind()
    frontier: list[bytes] = []
    size = 0
    rows = []
    for event_id, canonical in bind.execute(sa.text("SELECT id, canonical FROM audit_event ORDER BY id")):
        frontier, completed = append_to_frontier(size, frontier, leaf_hash(canonical.encode("utf-8")))
        for level, idx, hashed in completed:
            rows.append({"level": level, "idx": idx, "hash": hashed,
                         "audit_event_id": event_id if level == 0 else None})
        size += 1
        if len(rows) >= 5000:
            op.bulk_insert(nodes, rows)
            rows = []
    if rows:
        op.bulk_insert(nodes, rows)
    op.bulk_insert(head, [{"id": 1, "size": size, "frontier": b"".join(frontier)}])


def _create_immutability() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _IMMUTABLE:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END"
                )
    else:
        op.execute(
            "CREATE FUNCTION log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'the transparency log is append-only'; END $$"
        )
        for table in _IMMUTABLE:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION log_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION log_append_only()"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _IMMUTABLE:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    else:
        for table in _IMMUTABLE:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS log_append_only()")
    op.drop_table('log_checkpoint')
    op.drop_table('log_node')
    op.drop_table('log_head')
