"""Daily totals of the broadcast log (the rows the airtime reports read): kept in step as rows
and corrections are written, equal to a rebuild from the log, checked by `flask logs totals`,
and backfilled by their migration."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from app import create_app
from app.broadcast import totals
from app.broadcast.models import LogStatus, LogTotal
from app.broadcast.service import append_log, correct_log
from app.extensions import db
from app.scripts.models import Priority
from tests.broadcast.test_log import VN, entry
from tests.conftest import TEST_DATABASE_URL, _reset_postgres
from tests.factories import make_station, make_unit

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def station(org):
    return make_station(org.district, code="PTH-RADIO", name="Đài Truyền thanh Phan Thiết")


def kept() -> dict[tuple, tuple]:
    """The totals as {(day, station, unit, script, priority, status, scheduled, repeat):
    (n, seconds, first start, last start)}."""
    found = {}
    for t in db.session.scalars(select(LogTotal)):
        group = (t.day, t.station_id, t.unit_id, t.script_id, t.priority, t.status)
        found[(*group, t.scheduled, t.is_repeat)] = (
            t.n,
            round(t.seconds, 3),
            t.first_started,
            t.last_started,
        )
    return found


def group(station, day: date, status: LogStatus, repeat: bool = False) -> tuple:
    """The key of one of the station's groups (no script, not scheduled, HIGH priority)."""
    return (day, station.id, station.unit_id, 0, Priority.HIGH, status, False, repeat)


def test_rows_are_added_to_their_local_days_group(station):
    first = append_log(entry(station, 0))  # 05:45 on 27/11, 60.5 s
    second = append_log(entry(station, 5))
    append_log(entry(station, 10, status=LogStatus.MISSED, started_at=None, ended_at=None))
    # A live read at 23:30 on 27/11 in Vietnam is 16:30 UTC: it belongs to the 27th.
    late = datetime(2026, 11, 27, 23, 30, tzinfo=VN)
    live = append_log(
        entry(station, 0, planned_at=None, started_at=late, ended_at=late + timedelta(seconds=30))
    )
    # 00:10 on 28/11 local is still the 27th in UTC: it belongs to the 28th.
    next_day = datetime(2026, 11, 28, 0, 10, tzinfo=VN)
    append_log(entry(station, 0, planned_at=next_day, started_at=next_day, ended_at=next_day))
    # A re-queued repeat of a spot an emergency cut off is its own kind.
    append_log(entry(station, 20, airing_key="9:9:20261126T224500Z~r20261126T230000"))
    day = date(2026, 11, 27)
    assert kept() == {
        group(station, day, LogStatus.AIRED): (
            3,
            151.0,
            first.started_at,
            live.started_at,
        ),
        group(station, day, LogStatus.AIRED, repeat=True): (
            1,
            60.5,
            entry(station, 20).started_at,
            entry(station, 20).started_at,
        ),
        group(station, day, LogStatus.MISSED): (1, 0.0, None, None),
        group(station, date(2026, 11, 28), LogStatus.AIRED): (1, 0.0, next_day, next_day),
    }
    assert second.started_at < live.started_at
    assert totals.check_totals() == []


def test_a_correction_replaces_its_row_once_and_first_and_last_follow(station, users):
    first = append_log(entry(station, 0))
    second = append_log(entry(station, 5))
    day = date(2026, 11, 27)
    # The first airing did not really go out: the aired group keeps only the second.
    fix = correct_log(users["operator"], first, "loa hỏng, không phát", status=LogStatus.FAILED)
    assert kept()[group(station, day, LogStatus.AIRED)] == (
        1,
        60.5,
        second.started_at,
        second.started_at,
    )
    assert kept()[group(station, day, LogStatus.FAILED)][0] == 1
    # Corrected again (a second correction of the same row): the row is not taken out twice.
    correct_log(users["operator"], first, "ghi lại", status=LogStatus.FAILED)
    assert kept()[group(station, day, LogStatus.AIRED)][0] == 1
    assert kept()[group(station, day, LogStatus.FAILED)][0] == 2
    # A correction of the correction replaces it.
    correct_log(users["operator"], fix, "thật ra đã phát", status=LogStatus.AIRED)
    assert kept()[group(station, day, LogStatus.AIRED)][:3] == (2, 121.0, first.started_at)
    assert kept()[group(station, day, LogStatus.FAILED)][0] == 1
    assert totals.check_totals() == []


def test_a_group_emptied_by_a_correction_goes(station, users):
    row = append_log(entry(station, 0, status=LogStatus.MISSED, started_at=None, ended_at=None))
    correct_log(users["operator"], row, "đọc trực tiếp thay", status=LogStatus.AIRED)
    day = date(2026, 11, 27)
    assert group(station, day, LogStatus.MISSED) not in kept()
    assert kept()[group(station, day, LogStatus.AIRED)][0] == 1


def test_a_moved_station_keeps_its_old_rows_under_the_old_unit(station, org):
    append_log(entry(station, 0))
    station.unit_id = org.commune.id
    db.session.commit()
    append_log(entry(station, 5))
    units = sorted(key[2] for key in kept())
    assert units == sorted([org.district.id, org.commune.id])


def test_rebuild_gives_the_totals_kept_as_rows_were_written(station, org, users):
    other = make_station(make_unit("X", "Xã Tiến Lợi", parent=org.district))
    rows = [append_log(entry(station, n)) for n in range(4)]
    rows += [append_log(entry(other, n, status=LogStatus.SKIPPED)) for n in range(3)]
    correct_log(users["operator"], rows[1], "phát muộn", status=LogStatus.AIRED_LATE)
    correct_log(users["operator"], rows[5], "đã phát", status=LogStatus.AIRED)
    before = kept()
    assert totals.rebuild_totals() == len(before) == 4
    assert kept() == before
    assert totals.check_totals() == []


def test_flask_logs_totals_checks_and_rebuilds(station, runner):
    append_log(entry(station, 0))
    append_log(entry(station, 5))
    result = runner.invoke(args=["logs", "totals"])
    assert result.exit_code == 0, result.output
    assert "OK: tổng theo ngày khớp với nhật ký phát sóng." in result.output
    db.session.execute(text("UPDATE broadcast_log_totals SET n = n + 1"))
    db.session.commit()
    result = runner.invoke(args=["logs", "totals"])
    assert result.exit_code == 1
    assert "LỖI: 1 nhóm không khớp với nhật ký" in result.output
    assert "3 dòng, 121.0 s → 2 dòng, 121.0 s" in result.output
    result = runner.invoke(args=["logs", "totals", "--rebuild"])
    assert result.exit_code == 0, result.output
    assert "Đã tính lại tổng theo ngày từ nhật ký: 1 nhóm." in result.output
    assert kept()[group(station, date(2026, 11, 27), LogStatus.AIRED)][0] == 2


def test_the_migration_backfills_the_totals_of_an_existing_log(tmp_path):
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    app = create_app({"INSTANCE_PATH": tmp_path, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": url})
    migrations = str(ROOT / "migrations")
    with app.app_context():
        if TEST_DATABASE_URL:
            _reset_postgres()
        upgrade(directory=migrations)
        station = make_station(make_unit("P", "Tỉnh Bình Thuận", level="Tỉnh"), code="PTH")
        for n in range(3):
            append_log(entry(station, n))
        append_log(entry(station, 9, status=LogStatus.MISSED, started_at=None, ended_at=None))
        expected = kept()
        station = SimpleNamespace(id=station.id, unit_id=station.unit_id)
        # End the session's transaction: on PostgreSQL its read lock on the table would hold
        # up the migration's DROP (alembic works on a connection of its own).
        db.session.remove()
        # The log as it was before totals were kept: no table; the migration makes and fills it.
        downgrade(directory=migrations, revision="d7e8f9a0b1c2")
        upgrade(directory=migrations)
        db.session.expire_all()
        assert kept() == expected
        assert len(expected) == 2
        assert totals.check_totals() == []
        day = date(2026, 11, 27)
        aired = expected[group(station, day, LogStatus.AIRED)]
        assert aired[0] == 3 and aired[2] == datetime(2026, 11, 26, 22, 45, 2, tzinfo=UTC)
        db.session.remove()
        db.engine.dispose()
