"""timeline index by body line: the segments one verification reads, index only

Every verification reads the timeline segments of the certificate's body for the sealed category
and jurisdiction. The scope index reads every body's segments of that category (growing with
the number of bodies), the body index every category's: this one narrows to the line and covers
the columns read, so the lookup touches no timeline row.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:20:00
"""

from __future__ import annotations

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('authorization_timeline', schema=None) as batch_op:
        batch_op.create_index(
            'ix_authorization_timeline_line',
            ['body_id', 'category', 'jurisdiction', 'starts', 'ends', 'status', 'authorization_id'],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('authorization_timeline', schema=None) as batch_op:
        batch_op.drop_index('ix_authorization_timeline_line')
