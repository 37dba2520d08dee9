"""Broadcast log: append-only rows chained by hash per station

Revision ID: e2f3a4b5c6d7
Revises: d1e2f3a4b5c6
Create Date: 2026-11-27 16:00:00
"""

import sqlalchemy as sa
from alembic import op

import app.core.types
from app.core.models import append_only_triggers

revision = "e2f3a4b5c6d7"
down_revision = "d1e2f3a4b5c6"
branch_labels = None
depends_on = None

STATUSES = (
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
        "broadcast_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("planned_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("started_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(*STATUSES, name="logstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=True),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("render_id", sa.Integer(), nullable=True),
        sa.Column("spoken_sha256", sa.String(length=64), nullable=False),
        sa.Column("audio_sha256", sa.String(length=64), nullable=False),
        # Plain integer until the schedules table exists; the foreign key comes with it.
        sa.Column("schedule_id", sa.Integer(), nullable=True),
        sa.Column("airing_key", sa.String(length=120), nullable=True),
        sa.Column(
            "priority",
            sa.Enum(
                "normal", "priority", "emergency", name="priority", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("runner_host", sa.String(length=120), nullable=False),
        sa.Column("corrects_id", sa.Integer(), nullable=True),
        sa.Column("corrects_hash", sa.String(length=64), nullable=True),
        sa.Column("correction_reason", sa.Text(), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash_version", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["corrects_id"], ["broadcast_log.id"]),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["render_id"], ["renders.id"]),
        sa.ForeignKeyConstraint(["script_id"], ["scripts.id"]),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["script_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("station_id", "seq", name="uq_broadcast_log_station_seq"),
    )
    op.create_index("ix_broadcast_log_station_planned", "broadcast_log", ["station_id", "planned_at"])
    op.create_index("ix_broadcast_log_status", "broadcast_log", ["status"])
    op.create_index("ix_broadcast_log_started", "broadcast_log", ["started_at"])
    for statement in append_only_triggers("broadcast_log", op.get_bind().dialect.name):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS broadcast_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS broadcast_log_no_delete")
    elif dialect == "postgresql":
        # loa_refuse_change() stays: the other append-only tables use it.
        op.execute("DROP TRIGGER IF EXISTS broadcast_log_append_only ON broadcast_log")
    op.drop_index("ix_broadcast_log_started", table_name="broadcast_log")
    op.drop_index("ix_broadcast_log_status", table_name="broadcast_log")
    op.drop_index("ix_broadcast_log_station_planned", table_name="broadcast_log")
    op.drop_table("broadcast_log")
