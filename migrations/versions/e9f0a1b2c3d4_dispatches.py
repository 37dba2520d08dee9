"""Dispatches: the original file, what it says, the units asked to act; scripts link to them

Revision ID: e9f0a1b2c3d4
Revises: d8e9f0a1b2c3
Create Date: 2026-12-07 15:30:00
"""

import sqlalchemy as sa
from alembic import op

import app.core.types

revision = "e9f0a1b2c3d4"
down_revision = "d8e9f0a1b2c3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "dispatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("file_kind", sa.String(length=16), nullable=False),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("ocr", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("number", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("parent_issuer", sa.String(length=300), nullable=False),
        sa.Column("place", sa.String(length=120), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("urgency", sa.String(length=40), nullable=False),
        sa.Column("secrecy", sa.String(length=40), nullable=False),
        sa.Column("addressees", sa.JSON(), nullable=False),
        sa.Column("distribution", sa.JSON(), nullable=False),
        sa.Column("signer_title", sa.String(length=300), nullable=False),
        sa.Column("signer_name", sa.String(length=120), nullable=False),
        sa.Column("cites", sa.JSON(), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("deadlines", sa.JSON(), nullable=False),
        sa.Column("points", sa.JSON(), nullable=False),
        sa.Column("campaign", sa.String(length=200), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("report_due", sa.Date(), nullable=True),
        sa.Column("received_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_by_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", app.core.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", app.core.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.ForeignKeyConstraint(["received_by_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["confirmed_by_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("unit_id", "sha256", name="uq_dispatches_unit_sha256"),
    )
    op.create_index("ix_dispatches_unit_id", "dispatches", ["unit_id"])
    op.create_index("ix_dispatches_status", "dispatches", ["status"])
    op.create_index("ix_dispatches_sha256", "dispatches", ["sha256"])
    op.create_index("ix_dispatches_unit_received", "dispatches", ["unit_id", "received_at"])
    op.create_table(
        "dispatch_targets",
        sa.Column("dispatch_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["dispatch_id"], ["dispatches.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"]),
        sa.PrimaryKeyConstraint("dispatch_id", "unit_id"),
    )
    # ADD COLUMN with an inline, named foreign key, which SQLite and PostgreSQL both accept: a
    # batch (copy-and-move) of scripts would drop a table other tables' rows refer to.
    op.execute(
        "ALTER TABLE scripts ADD COLUMN dispatch_id INTEGER "
        "CONSTRAINT fk_scripts_dispatch REFERENCES dispatches(id)"
    )
    op.create_index("ix_scripts_dispatch_id", "scripts", ["dispatch_id"])


def downgrade():
    op.drop_index("ix_scripts_dispatch_id", table_name="scripts")
    # Drops its foreign key with it (SQLite 3.35+ and PostgreSQL).
    op.execute("ALTER TABLE scripts DROP COLUMN dispatch_id")
    op.drop_table("dispatch_targets")
    op.drop_index("ix_dispatches_unit_received", table_name="dispatches")
    op.drop_index("ix_dispatches_sha256", table_name="dispatches")
    op.drop_index("ix_dispatches_status", table_name="dispatches")
    op.drop_index("ix_dispatches_unit_id", table_name="dispatches")
    op.drop_table("dispatches")
