"""Schedules: repeat rules, cancelled occurrences (append-only) and the airings they plan

Revision ID: f3a4b5c6d7e8
Revises: e2f3a4b5c6d7
Create Date: 2026-11-27 18:00:00
"""

import sqlalchemy as sa
from alembic import op

import app.core.types
from app.core.models import append_only_triggers

revision = "f3a4b5c6d7e8"
down_revision = "e2f3a4b5c6d7"
branch_labels = None
depends_on = None

PRIORITY = sa.Enum("normal", "priority", "emergency", name="priority", native_enum=False, length=24)
AIRING_STATUSES = (
    "planned",
    "claimed",
    "aired",
    "aired_late",
    "partial",
    "interrupted",
    "failed",
    "missed",
    "skipped",
    "cancelled",
)


def upgrade():
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("render_id", sa.Integer(), nullable=False),
        sa.Column("priority", PRIORITY, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("rrule", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("gap_seconds", sa.Float(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "deleted", name="schedulestatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["render_id"], ["renders.id"]),
        sa.ForeignKeyConstraint(["script_id"], ["scripts.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["script_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_schedules_script_id", "schedules", ["script_id"])
    op.create_index("ix_schedules_status_unit", "schedules", ["status", "unit_id"])

    op.create_table(
        "airings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("planned_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sequenced_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("session_name", sa.String(length=80), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("priority", PRIORITY, nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("render_id", sa.Integer(), nullable=False),
        sa.Column("airing_key", sa.String(length=120), nullable=False),
        sa.Column(
            "status",
            sa.Enum(*AIRING_STATUSES, name="airingstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("claimed_by", sa.String(length=120), nullable=True),
        sa.Column("claimed_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["render_id"], ["renders.id"]),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"]),
        sa.ForeignKeyConstraint(["script_id"], ["scripts.id"]),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["script_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("airing_key", name="uq_airings_key"),
    )
    op.create_index(
        "ix_airings_schedule_station", "airings", ["schedule_id", "station_id", "planned_at"]
    )
    op.create_index("ix_airings_station_sequenced", "airings", ["station_id", "sequenced_at"])
    op.create_index("ix_airings_status_sequenced", "airings", ["status", "sequenced_at"])

    op.create_table(
        "cancelled_occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("occurs_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("cancelled_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cancelled_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"]),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_cancelled_occurrences_schedule", "cancelled_occurrences", ["schedule_id", "occurs_at"]
    )
    for statement in append_only_triggers("cancelled_occurrences", op.get_bind().dialect.name):
        op.execute(statement)

    op.create_table(
        "schedule_stations",
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"]),
        sa.PrimaryKeyConstraint("schedule_id", "station_id"),
    )
    op.create_table(
        "schedule_units",
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["schedule_id"], ["schedules.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("schedule_id", "unit_id"),
    )


def downgrade():
    dialect = op.get_bind().dialect.name
    op.drop_table("schedule_units")
    op.drop_table("schedule_stations")
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS cancelled_occurrences_no_update")
        op.execute("DROP TRIGGER IF EXISTS cancelled_occurrences_no_delete")
    elif dialect == "postgresql":
        # loa_refuse_change() stays: the other append-only tables use it.
        op.execute(
            "DROP TRIGGER IF EXISTS cancelled_occurrences_append_only ON cancelled_occurrences"
        )
    op.drop_index("ix_cancelled_occurrences_schedule", table_name="cancelled_occurrences")
    op.drop_table("cancelled_occurrences")
    op.drop_index("ix_airings_status_sequenced", table_name="airings")
    op.drop_index("ix_airings_station_sequenced", table_name="airings")
    op.drop_index("ix_airings_schedule_station", table_name="airings")
    op.drop_table("airings")
    op.drop_index("ix_schedules_status_unit", table_name="schedules")
    op.drop_index("ix_schedules_script_id", table_name="schedules")
    op.drop_table("schedules")
