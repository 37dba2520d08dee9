"""Programmes: scripts.kind, and each programme version's rundown and settings (append-only)

Revision ID: b2c3d4e5f6a7
Revises: a1b2c3d4e5f6
Create Date: 2026-12-07 21:30:00
"""

import sqlalchemy as sa
from alembic import op

import app.core.types
from app.core.models import append_only_triggers

revision = "b2c3d4e5f6a7"
down_revision = "a1b2c3d4e5f6"
branch_labels = None
depends_on = None

TABLES = ("programme_versions", "programme_items")


def upgrade():
    # A plain ADD COLUMN on both databases: a batch copy of scripts would drop its search
    # triggers on SQLite.
    op.add_column(
        "scripts", sa.Column("kind", sa.String(length=16), nullable=False, server_default="spot")
    )
    op.create_table(
        "programme_versions",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("rundown_sha256", sa.String(length=64), nullable=False),
        sa.Column("bed_item_id", sa.Integer(), nullable=True),
        sa.Column("bed_sha256", sa.String(length=64), nullable=False),
        sa.Column("duck_db", sa.Float(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=True),
        sa.Column("session_name", sa.String(length=80), nullable=False),
        sa.Column("total_s", sa.Float(), nullable=False),
        sa.Column("created_at", app.core.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["script_versions.id"]),
        sa.ForeignKeyConstraint(["bed_item_id"], ["library_items.id"]),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"]),
        sa.PrimaryKeyConstraint("version_id"),
    )
    op.create_table(
        "programme_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=True),
        sa.Column("render_id", sa.Integer(), nullable=True),
        sa.Column("library_item_id", sa.Integer(), nullable=True),
        sa.Column("audio_sha256", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("gap_ms", sa.Integer(), nullable=False),
        sa.Column("crossfade_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["script_versions.id"]),
        sa.ForeignKeyConstraint(["script_id"], ["scripts.id"]),
        sa.ForeignKeyConstraint(["render_id"], ["renders.id"]),
        sa.ForeignKeyConstraint(["library_item_id"], ["library_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "position", name="uq_programme_items_position"),
    )
    op.create_index("ix_programme_items_script", "programme_items", ["script_id"])
    op.create_index("ix_programme_items_library", "programme_items", ["library_item_id"])
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        for statement in append_only_triggers(table, dialect):
            op.execute(statement)


def downgrade():
    op.drop_index("ix_programme_items_library", table_name="programme_items")
    op.drop_index("ix_programme_items_script", table_name="programme_items")
    op.drop_table("programme_items")
    op.drop_table("programme_versions")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE scripts DROP COLUMN kind")  # SQLite 3.35+, keeps the triggers
    else:
        op.drop_column("scripts", "kind")
