"""stamp functions pin their schema and run as their owner (PostgreSQL)

The trigger functions that replace the key ring's stamp (0006) and the verdict stamp (0013)
named their table without a schema, so they updated whichever ``key_ring_stamp`` or
``verdict_stamp`` the writer's ``search_path`` found first. A writer whose path put another
schema's table of that name first (a staging copy, a maintenance script's own schema) would
replace that one, leave the registry's stamp as it was, and every scan would go on answering
from what it read before the change: a stale verdict. And every role that writes the tables
they watch needed UPDATE on the stamp tables.

Now each runs with ``search_path`` set to the schema the migration runs in (where the tables
are), ``pg_temp`` last, as PostgreSQL's documentation asks of a SECURITY DEFINER function,
and as its owner: a writer needs no right on the stamp tables, and cannot point the function
elsewhere. SQLite has no schemas and no roles: nothing to do there.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 14:30:00
"""

from __future__ import annotations

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

FUNCTIONS = ('key_ring_restamp()', 'verdict_restamp()')


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = bind.exec_driver_sql("SELECT current_schema()").scalar_one()
    quoted = bind.dialect.identifier_preparer.quote_identifier(schema)
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {quoted}.{function} SECURITY DEFINER SET search_path = {quoted}, pg_temp")
        # A trigger function cannot be called on its own; no one needs to, either.
        op.execute(f"REVOKE ALL ON FUNCTION {quoted}.{function} FROM PUBLIC")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {function} SECURITY INVOKER RESET search_path")
        op.execute(f"GRANT EXECUTE ON FUNCTION {function} TO PUBLIC")
