"""A station switched back to central waits for its agent to hand it over

Revision ID: d8e9f0a1b2c3
Revises: c7d8e9f0a1b2
Create Date: 2026-12-07 11:00:00
"""

import sqlalchemy as sa
from alembic import op

import app.core.types

revision = "d8e9f0a1b2c3"
down_revision = "c7d8e9f0a1b2"
branch_labels = None
depends_on = None


def upgrade():
    # Nullable: every existing station is handed over already.
    op.add_column(
        "stations",
        sa.Column("awaiting_agent_since", app.core.types.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade():
    op.drop_column("stations", "awaiting_agent_since")
