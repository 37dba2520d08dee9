"""Station agents: agents per station with a hashed credential, one-time enrolment codes, and
each station's playout mode (central or agent)

Revision ID: a0b1c2d3e4f5
Revises: f9a0b1c2d3e4
Create Date: 2026-12-07 11:50:00
"""

import sqlalchemy as sa
from alembic import op

import app.core.types

revision = "a0b1c2d3e4f5"
down_revision = "f9a0b1c2d3e4"
branch_labels = None
depends_on = None

ONE_ACTIVE = sa.text("status = 'active'")


# Every existing station stays aired centrally (server default 'central'); no agent exists yet.
def upgrade():
    with op.batch_alter_table("stations") as batch:
        batch.add_column(
            sa.Column(
                "playout_mode",
                sa.Enum("central", "agent", name="playoutmode", native_enum=False, length=24),
                server_default="central",
                nullable=False,
            )
        )
        batch.add_column(
            sa.Column(
                "playout_mode_changed_at", app.core.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "status",
            sa.Enum("active", "revoked", name="agentstatus", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_prefix", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("enrolled_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["revoked_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_agents_station_id", "agents", ["station_id"], unique=False)
    # At most one active agent per station: two PCs airing one plan would air it twice.
    op.create_index(
        "uq_agents_station_active",
        "agents",
        ["station_id"],
        unique=True,
        sqlite_where=ONE_ACTIVE,
        postgresql_where=ONE_ACTIVE,
    )
    op.create_table(
        "agent_enrolment_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index(
        "ix_agent_enrolment_codes_agent_id", "agent_enrolment_codes", ["agent_id"], unique=False
    )


def downgrade():
    op.drop_index("ix_agent_enrolment_codes_agent_id", table_name="agent_enrolment_codes")
    op.drop_table("agent_enrolment_codes")
    op.drop_index("uq_agents_station_active", table_name="agents")
    op.drop_index("ix_agents_station_id", table_name="agents")
    op.drop_table("agents")
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+), not a batch copy: rebuilding stations
    # would drop the table that airings, schedules and the log point at.
    op.drop_column("stations", "playout_mode_changed_at")
    op.drop_column("stations", "playout_mode")
