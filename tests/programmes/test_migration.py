"""The programmes migration goes up, down and up again, on SQLite and PostgreSQL, keeping the
scripts table's search triggers and adding append-only triggers to its own tables."""

from __future__ import annotations

from pathlib import Path

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from tests.conftest import TEST_DATABASE_URL, _reset_postgres

MIGRATIONS = str(Path(__file__).resolve().parents[2] / "migrations")
REVISION, DOWN_REVISION = "b2c3d4e5f6a7", "a1b2c3d4e5f6"
TABLES = {"programme_versions", "programme_items"}


def triggers(table: str) -> set[str]:
    """Names of the triggers on a table."""
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"
        else:
            query = (
                "SELECT DISTINCT trigger_name FROM information_schema.triggers "
                "WHERE event_object_table = :t"
            )
        return set(conn.execute(text(query), {"t": table}).scalars())


def test_the_programme_tables_and_scripts_kind_come_and_go_with_their_migration(tmp_path, clock):
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    app = create_app({"INSTANCE_PATH": tmp_path, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        if TEST_DATABASE_URL:
            _reset_postgres()
        upgrade(directory=MIGRATIONS, revision=DOWN_REVISION)
        script_triggers = triggers("scripts")
        upgrade(directory=MIGRATIONS, revision=REVISION)
        inspector = inspect(db.engine)
        assert set(inspector.get_table_names()) >= TABLES
        kind = next(c for c in inspector.get_columns("scripts") if c["name"] == "kind")
        assert "spot" in str(kind["default"])
        unique = {u["name"] for u in inspector.get_unique_constraints("programme_items")}
        assert "uq_programme_items_position" in unique
        for table in TABLES:
            assert triggers(table), f"{table} has no append-only triggers"
        assert triggers("scripts") == script_triggers  # the search index is still kept
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision=DOWN_REVISION)
        inspector = inspect(db.engine)
        assert not TABLES & set(inspector.get_table_names())
        assert "kind" not in {c["name"] for c in inspector.get_columns("scripts")}
        assert triggers("scripts") == script_triggers
        upgrade(directory=MIGRATIONS, revision=REVISION)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM programme_items")).scalar() == 0
        db.session.remove()
        db.engine.dispose()
