"""Migrations, time zones and SQLite settings."""

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.extensions import db
from app.scripts.models import Script, include_in_migrations
from tests.conftest import TEST_DATABASE_URL, _reset_postgres
from tests.factories import make_script, make_user

ROOT = Path(__file__).resolve().parents[1]


def test_migrations_build_the_same_schema_as_the_models(tmp_path):
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    app = create_app({"INSTANCE_PATH": tmp_path, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        if TEST_DATABASE_URL:
            _reset_postgres()
        upgrade(directory=str(ROOT / "migrations"))
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_name": include_in_migrations})
            diff = compare_metadata(context, db.metadata)
        assert diff == []
        db.session.remove()
        db.engine.dispose()


def test_sqlite_uses_wal_and_foreign_keys(app):
    if TEST_DATABASE_URL:
        return
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_datetimes_come_back_aware_in_utc(app, org, clock):
    script = make_script(None, org.district)
    db.session.expire_all()
    reloaded = db.session.get(Script, script.id)
    assert reloaded.created_at == clock.now()
    assert reloaded.created_at.tzinfo is not None
    assert reloaded.created_at.utcoffset() == timedelta(0)


def test_times_in_other_zones_are_stored_as_the_same_instant(app, org, clock):
    clock.current = datetime(2026, 11, 27, 8, 0, tzinfo=timezone(timedelta(hours=7)))
    script = make_script(None, org.district)
    db.session.expire_all()
    assert db.session.get(Script, script.id).created_at == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused(app, org):
    import pytest

    user = make_user(org.district)
    user.last_login_at = datetime(2026, 1, 1)
    with pytest.raises(Exception, match="naive datetime"):
        db.session.commit()
    db.session.rollback()


def test_display_does_not_depend_on_the_process_time_zone(tmp_path):
    """Run a page render in a child process whose TZ is New York."""
    code = """
import sys
from datetime import UTC, datetime
from app.core.clock import FixedClock
from tests.conftest import build_test_app
from tests.factories import make_script, make_unit, make_user
from tests.conftest import login
from pathlib import Path
import time
assert time.localtime().tm_gmtoff != 7 * 3600
app = build_test_app(Path(sys.argv[1]), FixedClock(datetime(2026, 11, 27, 17, 30, tzinfo=UTC)))
with app.app_context():
    unit = make_unit("D", "Phan Thiết")
    make_user(unit, username="writer")
    script = make_script(None, unit)
    page = login(app.test_client(), "writer").get(f"/scripts/{script.id}").get_data(as_text=True)
    print("28/11/2026 00:30" in page)
"""
    env = {"TZ": "America/New_York", "PATH": "/usr/bin:/bin"}
    import os

    env.update({k: v for k, v in os.environ.items() if k.startswith("TEST_DATABASE")})
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "True", result.stderr
