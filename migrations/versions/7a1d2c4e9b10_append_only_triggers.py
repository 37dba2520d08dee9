"""Append-only triggers: the database refuses UPDATE and DELETE on audit events, script
versions and review decisions.

Revision ID: 7a1d2c4e9b10
Revises: 361501c382f2
Create Date: 2026-11-27 05:30:00
"""

from alembic import op

from app.core.models import append_only_triggers

revision = "7a1d2c4e9b10"
down_revision = "361501c382f2"
branch_labels = None
depends_on = None

TABLES = ("audit_events", "script_versions", "script_reviews")


def upgrade():
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        for statement in append_only_triggers(table, dialect):
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        elif dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS loa_refuse_change()")
