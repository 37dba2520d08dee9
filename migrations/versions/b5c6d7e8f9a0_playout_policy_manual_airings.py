"""Playout policy per station, manual airings, schedule file keys, log rows point at schedules

Revision ID: b5c6d7e8f9a0
Revises: a4b5c6d7e8f9
Create Date: 2026-11-27 16:40:00
"""

import sqlalchemy as sa
from alembic import op

from app.core.models import append_only_triggers

revision = "b5c6d7e8f9a0"
down_revision = "a4b5c6d7e8f9"
branch_labels = None
depends_on = None


def _drop_log_triggers(dialect: str) -> None:
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS broadcast_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS broadcast_log_no_delete")


def upgrade():
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table("stations") as batch:
        batch.add_column(
            sa.Column("misfire_policy", sa.String(16), nullable=False, server_default="late")
        )
        batch.add_column(sa.Column("grace_s", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("interrupt_policy", sa.String(16), nullable=False, server_default="requeue")
        )
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("source_key", sa.String(160), nullable=True))
        batch.create_index("ix_schedules_source_key", ["source_key"])
    with op.batch_alter_table("airings") as batch:
        batch.add_column(sa.Column("operator_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("requeued_from_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_airings_operator_id_users", "users", ["operator_id"], ["id"])
        batch.create_foreign_key(
            "fk_airings_requeued_from_id_airings", "airings", ["requeued_from_id"], ["id"]
        )
    # SQLite rebuilds the table to add a foreign key: the append-only triggers go with the old
    # table and are installed again on the new one. Rows are copied, never updated.
    _drop_log_triggers(dialect)
    with op.batch_alter_table("broadcast_log") as batch:
        batch.create_foreign_key(
            "fk_broadcast_log_schedule_id_schedules", "schedules", ["schedule_id"], ["id"]
        )
    if dialect == "sqlite":
        for statement in append_only_triggers("broadcast_log", dialect):
            op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    _drop_log_triggers(dialect)
    with op.batch_alter_table("broadcast_log") as batch:
        batch.drop_constraint("fk_broadcast_log_schedule_id_schedules", type_="foreignkey")
    if dialect == "sqlite":
        for statement in append_only_triggers("broadcast_log", dialect):
            op.execute(statement)
    with op.batch_alter_table("airings") as batch:
        batch.drop_constraint("fk_airings_requeued_from_id_airings", type_="foreignkey")
        batch.drop_constraint("fk_airings_operator_id_users", type_="foreignkey")
        batch.drop_column("requeued_from_id")
        batch.drop_column("note")
        batch.drop_column("operator_id")
    with op.batch_alter_table("schedules") as batch:
        batch.drop_index("ix_schedules_source_key")
        batch.drop_column("source_key")
    with op.batch_alter_table("stations") as batch:
        batch.drop_column("interrupt_policy")
        batch.drop_column("grace_s")
        batch.drop_column("misfire_policy")
