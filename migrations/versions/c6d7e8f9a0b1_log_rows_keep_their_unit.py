"""Log rows keep the unit their station belonged to when written (hash version 2)

Revision ID: c6d7e8f9a0b1
Revises: b5c6d7e8f9a0
Create Date: 2026-11-27 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "c6d7e8f9a0b1"
down_revision = "b5c6d7e8f9a0"
branch_labels = None
depends_on = None


def upgrade():
    # A plain ADD COLUMN (no table rebuild), so the append-only triggers stay as they are;
    # SQLite accepts a REFERENCES clause on an added column whose default is null.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE broadcast_log ADD COLUMN unit_id INTEGER REFERENCES units (id)")
        return
    op.add_column(
        "broadcast_log",
        sa.Column(
            "unit_id",
            sa.Integer(),
            sa.ForeignKey("units.id", name="fk_broadcast_log_unit_id_units"),
            nullable=True,
        ),
    )


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.drop_constraint("fk_broadcast_log_unit_id_units", "broadcast_log", type_="foreignkey")
    # SQLite >= 3.35 drops a plain column in place; the trigger does not mention it.
    op.drop_column("broadcast_log", "unit_id")
