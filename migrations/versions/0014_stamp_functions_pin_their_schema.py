"""stamp functions pin their schema and run as their owner (PostgreSQL)

The trigger functions that replace the key ring's stamp (0006) and the verdict stamp (0013)
named their table without a schema, so they updated whichever ``key_ring_stamp`` or
``verdict_stamp`` the writer's ``search_path`` found first. A writer whose path put another
schema's table of that name first (a staging copy, a maintenance script's own schema) would
replace that one, leave the registry's stamp as it was, and every scan would go on answering
from what it read before the change: a stale verdict. And every role that writes the tables
they watch needed UPDATE on the stamp tables.

Now each runs with ``search_path`` set to the schema of the stamp tables, ``pg_temp`` last,
as PostgreSQL's documentation asks of a SECURITY DEFINER function, and as its owner: a writer
needs no right on the stamp tables, and cannot point the function elsewhere. The owner is
whoever ran migrations 0006 and 0013: let that be the schema's owner, not a superuser. SQLite
has no schemas and no roles: nothing to do there.

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


def _schema() -> str:
    """The schema of the stamp tables (and of their functions, created beside them), quoted:
    taken from the table, not from this run's search_path."""
    bind = op.get_bind()
    name = bind.exec_driver_sql(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = 'verdict_stamp'::regclass"
    ).scalar_one()
    return str(bind.dialect.identifier_preparer.quote_identifier(name))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = _schema()
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {schema}.{function} SECURITY DEFINER SET search_path = {schema}, pg_temp")
        # A trigger function cannot be called on its own; no one needs to, either.
        op.execute(f"REVOKE ALL ON FUNCTION {schema}.{function} FROM PUBLIC")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    schema = _schema()
    for function in FUNCTIONS:
        op.execute(f"ALTER FUNCTION {schema}.{function} SECURITY INVOKER RESET search_path")
        op.execute(f"GRANT EXECUTE ON FUNCTION {schema}.{function} TO PUBLIC")
