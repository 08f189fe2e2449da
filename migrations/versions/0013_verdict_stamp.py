"""verdict stamp: one value that changes with anything a seal's verdict reads

``verdict_stamp`` holds one row whose ``stamp`` a trigger replaces with a random value whenever
a transaction changes ``certificate``, ``body``, ``organization`` or ``authorization_timeline``
(by a service or straight in SQL): the tables the seal lookup reads (``registry.seal_lookup``).
A scan outside a transaction reads the stamp in one small statement and reuses what the same
certificate's lookup gave under the same stamp, instead of running the seven-table lookup
again. A random value, not a counter, as for ``key_ring_stamp`` (0006): a rolled-back change
must never let a later, different state reuse a stamp.

SQLite: a trigger per row (SQLite has one writer at a time, so the stamp row adds no waiting).
PostgreSQL: deferred constraint triggers, so that the stamp row is locked at COMMIT, after
every other lock the transaction takes: taken at the first change, it would make concurrent
writers wait on it for their whole transaction, and could deadlock with a writer that locked
another row first. Only the first of a transaction's changes replaces the stamp (the ``xact``
column); the others find it replaced already. TRUNCATE replaces it at once.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 10:00:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# What the seal lookup reads (registry.seal_lookup._ONE_CERTIFICATE).
TABLES = ('certificate', 'body', 'organization', 'authorization_timeline')


def upgrade() -> None:
    stamp = op.create_table(
        'verdict_stamp',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('stamp', sa.String(length=32), nullable=False),
        sa.Column('xact', sa.BigInteger(), nullable=True),
        sa.CheckConstraint('id = 1', name=op.f('ck_verdict_stamp_single_row')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_verdict_stamp')),
    )
    op.bulk_insert(stamp, [{'id': 1, 'stamp': secrets.token_hex(16), 'xact': None}])
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for verb in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_verdict_stamp_{verb.lower()} AFTER {verb} ON {table} "  # noqa: S608  # constants
                    "BEGIN UPDATE verdict_stamp SET stamp = lower(hex(randomblob(16))); END"
                )
        return
    op.execute(
        "CREATE FUNCTION verdict_restamp() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE verdict_stamp SET stamp = md5(random()::text || clock_timestamp()::text), "
        "xact = txid_current() WHERE xact IS DISTINCT FROM txid_current(); "
        "RETURN NULL; END $$"
    )
    for table in TABLES:
        op.execute(
            f"CREATE CONSTRAINT TRIGGER {table}_verdict_stamp AFTER INSERT OR UPDATE OR DELETE "
            f"ON {table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION verdict_restamp()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_verdict_stamp_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION verdict_restamp()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in TABLES:
            for verb in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_verdict_stamp_{verb}")
    else:
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_verdict_stamp ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_verdict_stamp_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS verdict_restamp()")
    op.drop_table('verdict_stamp')
