"""Airings remember when their output started: a claim abandoned before it airs again

Revision ID: b6c7d8e9f0a1
Revises: a0b1c2d3e4f5
Create Date: 2026-12-07 12:10:00
"""

import sqlalchemy as sa
from alembic import op

import app.core.types

revision = "b6c7d8e9f0a1"
down_revision = "a0b1c2d3e4f5"
branch_labels = None
depends_on = None


# Stop the runner before upgrading: a runner of the previous version never writes started_at.
def upgrade():
    with op.batch_alter_table("airings") as batch:
        batch.add_column(
            sa.Column("started_at", app.core.types.UTCDateTime(timezone=True), nullable=True)
        )
    # Claims left by a runner of the previous version may have been playing when it stopped:
    # taken as started, the sweep logs them interrupted, as it did before.
    op.execute("UPDATE airings SET started_at = claimed_at WHERE status = 'claimed'")


def downgrade():
    with op.batch_alter_table("airings") as batch:
        batch.drop_column("started_at")
