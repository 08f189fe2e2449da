"""partial scan log indexes: by certificate for customs declarations, by token for port scans

Every verification writes a scan_event row. Its index by token hash (random keys) and by
certificate (spread over every certificate) cost most of that write, yet the alert rules
(registry.alert_rules) read them only for customs declarations (shared certificates) and for
scans at a port (scan bursts): index only those rows.

On PostgreSQL the indexes are dropped and built with plain DDL, which holds writes to scan_event
(the scan log's flushes wait, verifications do not) until both are built: on a large scan log,
run it in a quiet hour.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_DECLARED = sa.text("exporter_credit_code IS NOT NULL")
_AT_A_PORT = sa.text("port != ''")


def upgrade() -> None:
    with op.batch_alter_table('scan_event', schema=None) as batch_op:
        batch_op.drop_index('ix_scan_event_token_time')
        batch_op.drop_index('ix_scan_event_certificate_time')
        batch_op.create_index(
            'ix_scan_event_certificate_time', ['certificate_id', 'scanned_at'], unique=False,
            sqlite_where=_DECLARED, postgresql_where=_DECLARED,
        )
        batch_op.create_index(
            'ix_scan_event_token_time', ['token_sha256', 'scanned_at'], unique=False,
            sqlite_where=_AT_A_PORT, postgresql_where=_AT_A_PORT,
        )


def downgrade() -> None:
    with op.batch_alter_table('scan_event', schema=None) as batch_op:
        batch_op.drop_index('ix_scan_event_token_time')
        batch_op.drop_index('ix_scan_event_certificate_time')
        batch_op.create_index('ix_scan_event_token_time', ['token_sha256', 'scanned_at'], unique=False)
        batch_op.create_index('ix_scan_event_certificate_time', ['certificate_id', 'scanned_at'], unique=False)
