"""certificate log index: the latest transparency log leaf kept on the certificate

The seal page and the verify API show where the certificate's latest change sits in the log.
Every scan searched the log for it (a correlated subquery through audit_event and log_node,
about 40 % of the lookup statement on SQLite); registry.certificates.keep_log_leaves now keeps
it on the certificate in the transaction that logs the change. A change is a registration or a
status change ("certificate:*" events): a seal issued is logged about the certificate but
changes nothing of its record. Existing certificates are filled from the log here.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


# Each certificate's latest leaf, from the log (tests/unit/test_seals.py runs it too).
BACKFILL = (
    "UPDATE certificate SET log_index = ("
    " SELECT max(log_node.idx) FROM log_node WHERE log_node.audit_event_id IN ("
    "  SELECT audit_event.id FROM audit_event, body"
    "  WHERE body.id = certificate.body_id AND audit_event.subject_type = 'certificate'"
    "  AND audit_event.action LIKE 'certificate:%'"
    "  AND audit_event.subject_key = body.code || '/' || certificate.number))"
)


def upgrade() -> None:
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('log_index', sa.BigInteger(), nullable=True))
    op.execute(BACKFILL)


def downgrade() -> None:
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_column('log_index')
