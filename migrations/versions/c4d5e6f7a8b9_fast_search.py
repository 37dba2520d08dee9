"""Fast search: an index for the accent-insensitive search of scripts

Kept in step by triggers (SQLite: an FTS5 trigram table; PostgreSQL: a word vocabulary with
pg_trgm and a GIN index of each script's words) and filled for the scripts already there.

Revision ID: c4d5e6f7a8b9
Revises: b3ec72a13966
Create Date: 2026-11-27 15:00:00
"""

from alembic import op

from app.scripts.models import drop_search_index_ddl, search_backfill_sql, search_index_ddl

revision = "c4d5e6f7a8b9"
down_revision = "b3ec72a13966"
branch_labels = None
depends_on = None


def upgrade():
    dialect = op.get_bind().dialect.name
    for statement in search_index_ddl(dialect) + search_backfill_sql(dialect):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    for statement in drop_search_index_ddl(dialect):
        op.execute(statement)
