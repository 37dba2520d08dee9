"""Covering indexes for the script list's status counts and campaign filter

Revision ID: d1e2f3a4b5c6
Revises: c4d5e6f7a8b9
Create Date: 2026-11-27 15:00:00
"""

from alembic import op

revision = "d1e2f3a4b5c6"
down_revision = "c4d5e6f7a8b9"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_scripts_unit_status", "scripts", ["unit_id", "status"])
    op.create_index("ix_scripts_unit_campaign", "scripts", ["unit_id", "campaign"])


def downgrade():
    op.drop_index("ix_scripts_unit_campaign", table_name="scripts")
    op.drop_index("ix_scripts_unit_status", table_name="scripts")
