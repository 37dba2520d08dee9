"""Indexes for the airtime reports on a year of broadcast log rows

Revision ID: d7e8f9a0b1c2
Revises: c6d7e8f9a0b1
Create Date: 2026-11-27 19:00:00
"""

from alembic import op

revision = "d7e8f9a0b1c2"
down_revision = "c6d7e8f9a0b1"
branch_labels = None
depends_on = None


# Plain CREATE INDEX on both databases: no batch mode, so SQLite never rebuilds broadcast_log
# and its append-only triggers stay as they are.
def upgrade():
    # A period's rows by planned time, and live reads (no planned time) by their start;
    # without it SQLite reads the whole log for every report.
    op.create_index(
        "ix_broadcast_log_planned_started", "broadcast_log", ["planned_at", "started_at"]
    )
    # A campaign's or source document's rows, through its scripts.
    op.create_index("ix_broadcast_log_script", "broadcast_log", ["script_id"])
    # Reports drop corrected rows with NOT EXISTS (a correction naming the row's id); without
    # it each row of a period scans the whole log (bench/reports.py: minutes per dashboard).
    op.create_index("ix_broadcast_log_corrects", "broadcast_log", ["corrects_id"])


def downgrade():
    op.drop_index("ix_broadcast_log_corrects", table_name="broadcast_log")
    op.drop_index("ix_broadcast_log_script", table_name="broadcast_log")
    op.drop_index("ix_broadcast_log_planned_started", table_name="broadcast_log")
