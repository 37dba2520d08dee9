"""Daily totals of the broadcast log, kept as rows are written (airtime reports)

Revision ID: e8f9a0b1c2d3
Revises: d7e8f9a0b1c2
Create Date: 2026-11-27 20:00:00
"""

import sqlalchemy as sa
from alembic import op

import app.core.types

revision = "e8f9a0b1c2d3"
down_revision = "d7e8f9a0b1c2"
branch_labels = None
depends_on = None

# The effective rows (no correction points at them) grouped as LogTotal groups them; the
# same grouping as app/broadcast/totals.py's rebuild_totals(), written out so this migration
# does not change when the app does.
BACKFILL = """
INSERT INTO broadcast_log_totals (day, station_id, unit_id, script_id, priority, status,
    scheduled, is_repeat, n, seconds, first_started, last_started)
SELECT {day}, b.station_id, coalesce(b.unit_id, 0), coalesce(b.script_id, 0), b.priority,
    b.status, b.schedule_id IS NOT NULL, coalesce(b.airing_key, '') LIKE '%~r%', count(*),
    sum(coalesce(b.duration_s, 0.0)), min(b.started_at), max(b.started_at)
FROM broadcast_log AS b
WHERE coalesce(b.planned_at, b.started_at) IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM broadcast_log AS c WHERE c.corrects_id = b.id)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""
LOCAL_DAY = {
    "sqlite": "date(coalesce(b.planned_at, b.started_at), '+7 hours')",
    "postgresql": "date(timezone('Asia/Ho_Chi_Minh', coalesce(b.planned_at, b.started_at)))",
}


def upgrade():
    op.create_table(
        "broadcast_log_totals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("scheduled", sa.Boolean(), nullable=False),
        sa.Column("is_repeat", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("first_started", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_started", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "day",
            "station_id",
            "unit_id",
            "script_id",
            "priority",
            "status",
            "scheduled",
            "is_repeat",
            name="uq_broadcast_log_totals_group",
        ),
    )
    op.create_index(
        "ix_broadcast_log_totals_script_day", "broadcast_log_totals", ["script_id", "day"]
    )
    dialect = op.get_bind().dialect.name
    op.execute(BACKFILL.format(day=LOCAL_DAY[dialect]))


def downgrade():
    op.drop_index("ix_broadcast_log_totals_script_day", table_name="broadcast_log_totals")
    op.drop_table("broadcast_log_totals")
