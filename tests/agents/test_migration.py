"""The station-agents migration goes down and up again on a database with data in it."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import DBAPIError

from app import create_app
from app.extensions import db
from app.org.models import Station, StationKind, Unit
from tests.conftest import TEST_DATABASE_URL, _reset_postgres

MIGRATIONS = str(Path(__file__).resolve().parents[2] / "migrations")
REVISION, DOWN_REVISION = "a0b1c2d3e4f5", "f9a0b1c2d3e4"


def _station(now) -> tuple[int, int]:
    """A unit and its station (unit id, station id), as Core inserts: the ORM would read the
    columns later migrations add."""
    with db.engine.begin() as conn:
        unit_id = conn.execute(
            insert(Unit.__table__)
            .values(code="D", name="Phan Thiết", level="Huyện", created_at=now)
            .returning(Unit.__table__.c.id)
        ).scalar_one()
        station_id = conn.execute(
            insert(Station.__table__)
            .values(
                unit_id=unit_id,
                kind=StationKind.COMMUNE_LOUDSPEAKER,
                code="PT-CITY",
                name="Đài Phan Thiết",
                created_at=now,
            )
            .returning(Station.__table__.c.id)
        ).scalar_one()
    return unit_id, station_id


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
        _, station_id = _station(clock.now())
        # Plain SQL: the Agent model has columns later migrations add.
        db.session.execute(
            text(
                "INSERT INTO agents (station_id, name, status, token_prefix, created_at) "
                "VALUES (:s, 'Máy trạm', 'active', '', :t)"
            ),
            {"s": station_id, "t": clock.now()},
        )
        db.session.commit()
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


INGEST, BEFORE_INGEST = "c7d8e9f0a1b2", "b6c7d8e9f0a1"


def test_the_ingest_migration_goes_down_and_up_keeping_log_rows_and_triggers(tmp_path, clock):
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    app = create_app(
        {
            "INSTANCE_PATH": tmp_path,
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": url,
            "CLOCK": clock,
        }
    )
    now = clock.now()
    with app.app_context():
        if TEST_DATABASE_URL:
            _reset_postgres()
        upgrade(directory=MIGRATIONS, revision=INGEST)
        unit_id, station_id = _station(now)
        # Plain SQL throughout: the models may have columns later migrations add.
        with db.engine.begin() as conn:
            agent_id = conn.execute(
                text(
                    "INSERT INTO agents (station_id, name, status, token_prefix, created_at, "
                    "chain_broken_at, chain_broken_seq, chain_broken_reason) "
                    "VALUES (:s, 'Máy trạm', 'active', '', :t, :t, 2, 'mã băm không khớp') "
                    "RETURNING id"
                ),
                {"s": station_id, "t": now},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO agent_health (agent_id, reported_at, agent_time, clock_offset_s, "
                    "agent_version, audio_missing, output_name, output_ok, output_message, "
                    "disk_free_bytes, disk_total_bytes) VALUES (:a, :t, :t, 0.5, '0.1.0', 0, "
                    "'local', true, '', 20000000000, 32000000000)"
                ),
                {"a": agent_id, "t": now},
            )
            conn.execute(
                text(
                    "INSERT INTO broadcast_log (station_id, unit_id, status, reason, "
                    "spoken_sha256, audio_sha256, priority, runner_host, correction_reason, "
                    "created_at, received_at, seq, hash_version, prev_hash, row_hash) VALUES "
                    "(:s, :u, 'aired', '', '', '', 'normal', 'agent', '', :t, :t, 1, 2, :g, :h)"
                ),
                {"s": station_id, "u": unit_id, "t": now, "g": "0" * 64, "h": "1" * 64},
            )
        db.session.remove()
        downgrade(directory=MIGRATIONS, revision=BEFORE_INGEST)
        inspector = inspect(db.engine)
        assert "agent_health" not in inspector.get_table_names()
        assert not {"chain_broken_at", "chain_broken_seq", "chain_broken_reason"} & {
            c["name"] for c in inspector.get_columns("agents")
        }
        assert "received_at" not in {c["name"] for c in inspector.get_columns("broadcast_log")}
        upgrade(directory=MIGRATIONS, revision=INGEST)
        with db.engine.connect() as conn:
            row = conn.execute(text("SELECT seq, row_hash, received_at FROM broadcast_log")).one()
            flag = conn.execute(text("SELECT chain_broken_at FROM agents")).scalar_one()
        assert (row.seq, row.row_hash, row.received_at, flag) == (1, "1" * 64, None, None)
        # The log is still append-only: neither step rebuilt its table without its triggers.
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("UPDATE broadcast_log SET reason = 'sửa lén'"))
        db.session.remove()
        db.engine.dispose()
