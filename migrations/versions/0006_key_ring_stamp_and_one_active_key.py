"""key ring stamp and one active key per purpose

``key_ring_stamp`` holds one row whose ``stamp`` a trigger replaces with a random value on any
INSERT, UPDATE or DELETE of ``signing_key`` (by the service or straight in SQL). The verification
hot path reads the stamp in the same statement as the certificate and re-reads the key rows only
when it changed, so a revocation still counts from the very next verification. A random value,
not a counter: a rolled-back change must never let a later, different key ring reuse a stamp.

A partial unique index allows at most one active key per purpose, so two concurrent
``keys generate`` cannot both leave an active key behind.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 02:40:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_ACTIVE = sa.text("state = 'active'")


def upgrade() -> None:
    stamp = op.create_table(
        'key_ring_stamp',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('stamp', sa.String(length=32), nullable=False),
        sa.CheckConstraint('id = 1', name=op.f('ck_key_ring_stamp_single_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_key_ring_stamp')),
    )
    op.bulk_insert(stamp, [{'id': 1, 'stamp': secrets.token_hex(16)}])
    with op.batch_alter_table('signing_key', schema=None) as batch_op:
        batch_op.create_index(
            'uq_signing_key_one_active', ['purpose'], unique=True,
            sqlite_where=_ACTIVE, postgresql_where=_ACTIVE,
        )
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER signing_key_stamp_{verb.lower()} AFTER {verb} ON signing_key "
                "BEGIN UPDATE key_ring_stamp SET stamp = lower(hex(randomblob(16))); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION key_ring_restamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "UPDATE key_ring_stamp SET stamp = md5(random()::text || clock_timestamp()::text); "
            "RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER signing_key_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            "ON signing_key FOR EACH STATEMENT EXECUTE FUNCTION key_ring_restamp()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS signing_key_stamp_{verb}")
    else:
        op.execute("DROP TRIGGER IF EXISTS signing_key_stamp ON signing_key")
        op.execute("DROP FUNCTION IF EXISTS key_ring_restamp()")
    with op.batch_alter_table('signing_key', schema=None) as batch_op:
        batch_op.drop_index('uq_signing_key_one_active')
    op.drop_table('key_ring_stamp')
