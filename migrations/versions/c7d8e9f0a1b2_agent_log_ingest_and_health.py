"""Agents upload their stations' log rows (kept with the server's receipt time), a batch that
breaks the chain flags the agent, and each agent's latest health report

Revision ID: c7d8e9f0a1b2
Revises: b6c7d8e9f0a1
Create Date: 2026-12-07 14:00:00
"""

import sqlalchemy as sa
from alembic import op

import app.core.types

revision = "c7d8e9f0a1b2"
down_revision = "b6c7d8e9f0a1"
branch_labels = None
depends_on = None


# Every column added is nullable, so existing rows need nothing; central rows keep
# received_at null.
def upgrade():
    # Plain ADD COLUMN, never a batch copy: rebuilding broadcast_log would drop its
    # append-only triggers, and rebuilding agents its partial unique index.
    op.add_column(
        "broadcast_log",
        sa.Column("received_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "agents",
        sa.Column("chain_broken_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("agents", sa.Column("chain_broken_seq", sa.Integer(), nullable=True))
    op.add_column("agents", sa.Column("chain_broken_reason", sa.Text(), nullable=True))
    op.create_table(
        "agent_health",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("reported_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("agent_time", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("clock_offset_s", sa.Float(), nullable=False),
        sa.Column("agent_version", sa.String(length=40), nullable=False),
        sa.Column("plan_until", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("audio_missing", sa.Integer(), nullable=False),
        sa.Column("output_name", sa.String(length=40), nullable=False),
        sa.Column("output_ok", sa.Boolean(), nullable=False),
        sa.Column("output_message", sa.Text(), nullable=False),
        sa.Column("disk_free_bytes", sa.BigInteger(), nullable=False),
        sa.Column("disk_total_bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.PrimaryKeyConstraint("agent_id"),
    )


def downgrade():
    op.drop_table("agent_health")
    # SQLite 3.35+ drops a plain column in place; neither trigger nor index mentions these.
    op.drop_column("agents", "chain_broken_reason")
    op.drop_column("agents", "chain_broken_seq")
    op.drop_column("agents", "chain_broken_at")
    op.drop_column("broadcast_log", "received_at")
