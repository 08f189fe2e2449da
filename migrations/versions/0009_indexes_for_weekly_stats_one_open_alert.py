"""indexes for the weekly statistics, one open alert per subject

The weekly report counts certificates registered, status changes and complaints closed in a
window: index their times. A partial unique index keeps one alert that is not closed per kind
and subject, even when two processes raise it at the same moment.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 03:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_NOT_CLOSED = sa.text("status != 'closed'")


def upgrade() -> None:
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_created_at'), ['created_at'], unique=False)
    with op.batch_alter_table('certificate_status_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_status_change_recorded_at'), ['recorded_at'], unique=False)
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_closed_at'), ['closed_at'], unique=False)
    with op.batch_alter_table('misuse_alert', schema=None) as batch_op:
        batch_op.create_index(
            'uq_misuse_alert_one_open', ['kind', 'subject_key'], unique=True,
            sqlite_where=_NOT_CLOSED, postgresql_where=_NOT_CLOSED,
        )


def downgrade() -> None:
    with op.batch_alter_table('misuse_alert', schema=None) as batch_op:
        batch_op.drop_index('uq_misuse_alert_one_open')
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_closed_at'))
    with op.batch_alter_table('certificate_status_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_status_change_recorded_at'))
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_created_at'))
