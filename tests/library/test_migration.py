"""The audio library migration goes up, down and up again, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from tests.conftest import TEST_DATABASE_URL, _reset_postgres

MIGRATIONS = str(Path(__file__).resolve().parents[2] / "migrations")
REVISION, DOWN_REVISION = "a1b2c3d4e5f6", "f0a1b2c3d4e5"


def test_the_library_table_comes_and_goes_with_its_migration(tmp_path, clock):
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    app = create_app({"INSTANCE_PATH": tmp_path, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        if TEST_DATABASE_URL:
            _reset_postgres()
        upgrade(directory=MIGRATIONS, revision=REVISION)
        inspector = inspect(db.engine)
        assert "library_items" in inspector.get_table_names()
        unique = {u["name"] for u in inspector.get_unique_constraints("library_items")}
        assert "uq_library_items_unit_original" in unique
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision=DOWN_REVISION)
        assert "library_items" not in inspect(db.engine).get_table_names()
        upgrade(directory=MIGRATIONS, revision=REVISION)
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM library_items")).scalar() == 0
        db.session.remove()
        db.engine.dispose()
