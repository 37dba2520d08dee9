"""Audio library: jingles, beds, idents and recorded programmes, mastered and content-addressed

Revision ID: a1b2c3d4e5f6
Revises: f0a1b2c3d4e5
Create Date: 2026-12-07 21:00:00
"""

import sqlalchemy as sa
from alembic import op

import app.core.types

revision = "a1b2c3d4e5f6"
down_revision = "f0a1b2c3d4e5"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "library_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("licence_note", sa.Text(), nullable=False),
        sa.Column("audio_sha256", sa.String(length=64), nullable=False),
        sa.Column("audio_format", sa.String(length=8), nullable=False),
        sa.Column("audio_size", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("integrated_lufs", sa.Float(), nullable=False),
        sa.Column("true_peak_dbtp", sa.Float(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("bitrate_kbps", sa.Integer(), nullable=True),
        sa.Column("target_lufs", sa.Float(), nullable=False),
        sa.Column("trimmed", sa.Boolean(), nullable=False),
        sa.Column("trimmed_lead_s", sa.Float(), nullable=False),
        sa.Column("trimmed_tail_s", sa.Float(), nullable=False),
        sa.Column("original_sha256", sa.String(length=64), nullable=False),
        sa.Column("original_name", sa.String(length=255), nullable=False),
        sa.Column("original_size", sa.Integer(), nullable=False),
        sa.Column("original_measures", sa.JSON(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("archived_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("archived_by_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.ForeignKeyConstraint(["archived_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_id", "original_sha256", name="uq_library_items_unit_original"),
    )
    op.create_index("ix_library_items_unit_id", "library_items", ["unit_id"])
    op.create_index("ix_library_items_kind", "library_items", ["kind"])
    op.create_index("ix_library_items_audio_sha256", "library_items", ["audio_sha256"])
    op.create_index("ix_library_items_archived", "library_items", ["archived"])
    op.create_index("ix_library_items_unit_created", "library_items", ["unit_id", "created_at"])


def downgrade():
    op.drop_index("ix_library_items_unit_created", table_name="library_items")
    op.drop_index("ix_library_items_archived", table_name="library_items")
    op.drop_index("ix_library_items_audio_sha256", table_name="library_items")
    op.drop_index("ix_library_items_kind", table_name="library_items")
    op.drop_index("ix_library_items_unit_id", table_name="library_items")
    op.drop_table("library_items")
