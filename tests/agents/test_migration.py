"""The station-agents migration goes down and up again on a database with data in it."""

from __future__ import annotations

from pathlib import Path

from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.agents import service
from app.extensions import db
from tests.conftest import TEST_DATABASE_URL, _reset_postgres
from tests.factories import make_station, make_unit

MIGRATIONS = str(Path(__file__).resolve().parents[2] / "migrations")
REVISION, DOWN_REVISION = "a0b1c2d3e4f5", "f9a0b1c2d3e4"


def test_downgrade_and_upgrade_keep_the_stations(tmp_path, clock):
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    app = create_app(
        {
            "INSTANCE_PATH": tmp_path,
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": url,
            "CLOCK": clock,
        }
    )
    with app.app_context():
        if TEST_DATABASE_URL:
            _reset_postgres()
        upgrade(directory=MIGRATIONS, revision=REVISION)
        station = make_station(make_unit("D", "Phan Thiết"), "PT-CITY")
        service.add_agent(None, station)
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision=DOWN_REVISION)
        tables = set(inspect(db.engine).get_table_names())
        assert not {"agents", "agent_enrolment_codes"} & tables
        columns = {c["name"] for c in inspect(db.engine).get_columns("stations")}
        assert "playout_mode" not in columns
        upgrade(directory=MIGRATIONS, revision=REVISION)
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT code, playout_mode FROM stations")).all()
        assert [tuple(r) for r in rows] == [("PT-CITY", "central")]
        db.session.remove()
        db.engine.dispose()
