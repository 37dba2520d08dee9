"""The broadcast log: hash chains per station, append-only in the ORM and the database,
corrections as new rows, verification of a whole log or a period, and `flask logs verify`."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from app.audit.models import AuditEvent
from app.broadcast import service
from app.broadcast.models import GENESIS_HASH, LOG_STATUS_LABELS, BroadcastLog, LogStatus
from app.broadcast.service import (
    HASH_FIELDS,
    HASH_FIELDS_V1,
    HASH_VERSION,
    UNHASHED,
    AiredByAgent,
    LogEntry,
    append_log,
    compute_row_hash,
    correct_log,
    station_rows,
    verify_chain,
)
from app.core.errors import Conflict, PermissionDenied, ValidationError
from app.core.models import AppendOnlyViolation, append_only_triggers
from app.extensions import db
from app.org.models import PlayoutMode
from app.scripts.models import Priority
from tests.factories import make_station

VN = timezone(timedelta(hours=7))


@pytest.fixture
def station(org):
    """The city radio whose log most tests write."""
    return make_station(org.district, code="PTH-RADIO", name="Đài Truyền thanh Phan Thiết")


@pytest.fixture
def logs_runner(runner):
    """A CLI runner; `flask logs` is registered by create_app."""
    return runner


def entry(station, n: int = 0, **fields) -> LogEntry:
    """A log entry for an airing planned at 05:45 Vietnam time plus n minutes."""
    planned = datetime(2026, 11, 27, 5, 45, tzinfo=VN) + timedelta(minutes=n)
    defaults = {
        "station_id": station.id,
        "status": LogStatus.AIRED,
        "planned_at": planned,
        "started_at": planned + timedelta(seconds=2),
        "ended_at": planned + timedelta(seconds=62, microseconds=500_000),
        "reason": "",
        "spoken_sha256": "a" * 64,
        "audio_sha256": "b" * 64,
        "priority": Priority.HIGH,
        "runner_host": "may-phat-1",
    }
    return LogEntry(**{**defaults, **fields})


def fill(station, count: int) -> list[BroadcastLog]:
    """Append count rows for the station."""
    return [append_log(entry(station, n)) for n in range(count)]


def tamper(sql: str, **params) -> None:
    """Change the log behind the application's back, switching the append-only triggers off."""
    dialect = db.engine.dialect.name
    with db.engine.begin() as conn:
        if dialect == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER broadcast_log_no_update")
            conn.exec_driver_sql("DROP TRIGGER broadcast_log_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE broadcast_log DISABLE TRIGGER USER")
        conn.execute(text(sql), params)
        if dialect == "sqlite":
            for statement in append_only_triggers("broadcast_log", dialect):
                conn.exec_driver_sql(statement)
        else:
            conn.exec_driver_sql("ALTER TABLE broadcast_log ENABLE TRIGGER USER")
    db.session.expire_all()


def test_append_links_each_row_to_the_previous_row_of_its_station(org, station):
    other = make_station(org.commune, code="PHU-THUY")
    rows = fill(station, 3)
    other_row = append_log(entry(other))

    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == GENESIS_HASH
    assert rows[1].prev_hash == rows[0].row_hash
    assert rows[2].prev_hash == rows[1].row_hash
    assert all(r.row_hash == compute_row_hash(r) for r in rows)
    assert len({r.row_hash for r in rows}) == 3
    assert (other_row.seq, other_row.prev_hash) == (1, GENESIS_HASH)
    assert rows[0].duration_s == 60.5


def test_the_hash_covers_every_column_but_the_id_the_hash_and_the_receipt_time():
    columns = {c.name for c in BroadcastLog.__table__.c}
    assert {"id", "row_hash", "received_at"} == UNHASHED
    assert set(HASH_FIELDS[HASH_VERSION]) == columns - UNHASHED
    # Version 1 rows (written before unit_id existed) still verify with their own fields.
    assert set(HASH_FIELDS_V1) == columns - UNHASHED - {"unit_id"}


def test_statuses_have_vietnamese_labels():
    assert LogStatus.AIRED_LATE.label == "phát muộn"
    assert set(LOG_STATUS_LABELS) == set(LogStatus)


def test_verify_passes_an_untouched_log_and_counts_its_rows(org, station):
    other = make_station(org.commune, code="PHU-THUY")
    fill(station, 4)
    append_log(entry(other))

    assert verify_chain() == verify_chain(None)
    result = verify_chain()
    assert (result.ok, result.checked, result.first_bad) == (True, 5, None)
    assert verify_chain(station.id).checked == 4


def test_verify_reports_the_first_altered_row(station):
    rows = fill(station, 5)
    tamper(
        "UPDATE broadcast_log SET reason = 'sửa tay' WHERE id IN (:a, :b)",
        a=rows[2].id,
        b=rows[3].id,
    )

    result = verify_chain()

    assert not result.ok
    assert result.problem == "Dòng #3 của đài PTH-RADIO đã bị sửa: mã băm không khớp."
    assert (result.first_bad.seq, result.first_bad.row_id) == (3, rows[2].id)
    assert result.first_bad.station_code == "PTH-RADIO"
    assert result.checked == 2


def test_verify_reports_an_altered_status_and_time(station):
    rows = fill(station, 3)
    ids = [r.id for r in rows]
    later = rows[0].started_at + timedelta(microseconds=1)
    # An unknown value must be reported, not make the check crash on reading it.
    tamper("UPDATE broadcast_log SET status = 'hacked' WHERE id = :id", id=ids[1])
    assert verify_chain().first_bad.seq == 2

    tamper("UPDATE broadcast_log SET status = 'aired' WHERE id = :id", id=ids[1])
    assert verify_chain().ok
    tamper(
        "UPDATE broadcast_log SET started_at = :t WHERE id = :id",
        id=ids[0],
        t=later if db.engine.dialect.name == "postgresql" else later.replace(tzinfo=None),
    )
    assert verify_chain().first_bad.seq == 1


def test_a_row_rewritten_with_a_fresh_hash_is_caught_by_the_next_link(station):
    rows = fill(station, 4)
    forged = db.session.get(BroadcastLog, rows[1].id)
    db.session.expunge(forged)
    forged.reason = "bỏ lỡ: bộ phát không chạy"
    new_hash = compute_row_hash(forged)
    tamper(
        "UPDATE broadcast_log SET reason = :r, row_hash = :h WHERE id = :id",
        r=forged.reason,
        h=new_hash,
        id=rows[1].id,
    )

    result = verify_chain(station.id)

    assert result.first_bad.seq == 2
    assert "Dòng #2 của đài PTH-RADIO đã bị sửa" in result.problem


def test_a_deleted_row_shows_as_a_gap(station):
    rows = fill(station, 5)
    tamper("DELETE FROM broadcast_log WHERE id = :id", id=rows[2].id)

    result = verify_chain()

    assert result.problem == (
        "Thiếu dòng #3 của đài PTH-RADIO: đã bị xóa (chuỗi đứt giữa #2 và #4)."
    )
    assert (result.first_bad.seq, result.first_bad.row_id) == (3, None)


def test_deleted_first_rows_show_as_a_gap_at_the_start(station):
    rows = fill(station, 4)
    tamper("DELETE FROM broadcast_log WHERE id IN (:a, :b)", a=rows[0].id, b=rows[1].id)

    result = verify_chain()

    assert result.problem == (
        "Thiếu dòng #1 đến #2 của đài PTH-RADIO: đã bị xóa (chuỗi đứt trước #3)."
    )


def test_the_database_refuses_update_and_delete(station):
    row = fill(station, 1)[0]
    for sql in (
        "UPDATE broadcast_log SET reason = 'x' WHERE id = :id",
        "DELETE FROM broadcast_log WHERE id = :id",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            db.session.execute(text(sql), {"id": row.id})
        db.session.rollback()
    assert db.session.get(BroadcastLog, row.id).reason == ""


def test_the_orm_refuses_to_change_or_delete_a_row(station):
    row = fill(station, 1)[0]
    row.reason = "sửa tay"
    with pytest.raises(AppendOnlyViolation):
        db.session.commit()
    db.session.rollback()
    db.session.delete(row)
    with pytest.raises(AppendOnlyViolation):
        db.session.commit()
    db.session.rollback()
    assert verify_chain().ok


def test_a_correction_is_a_new_row_pointing_at_the_original(station, users):
    original, _ = fill(station, 2)
    before = (original.id, original.status, original.row_hash)

    fix = correct_log(
        users["operator"],
        original,
        "Máy phát báo sai, thực tế mất điện",
        status=LogStatus.FAILED,
        new_reason="lỗi: mất điện",
        ended_at=None,
        duration_s=None,
    )

    assert (fix.seq, fix.corrects_id, fix.corrects_hash) == (3, original.id, original.row_hash)
    assert (fix.status, fix.reason) == (LogStatus.FAILED, "lỗi: mất điện")
    assert fix.correction_reason == "Máy phát báo sai, thực tế mất điện"
    assert fix.audio_sha256 == original.audio_sha256
    assert fix.started_at == original.started_at and fix.ended_at is None
    db.session.expire_all()
    again = db.session.get(BroadcastLog, before[0])
    assert (again.id, again.status, again.row_hash) == before
    event = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "broadcast_log.correct")
    )
    assert event.object_id == fix.id and event.actor_id == users["operator"].id
    assert event.details["corrects_seq"] == 1
    assert event.details["changes"]["status"] == ["aired", "failed"]
    assert verify_chain().ok


def test_a_correction_needs_a_reason_and_a_user_in_charge_of_the_station(station, users):
    row = fill(station, 1)[0]
    with pytest.raises(ValidationError):
        correct_log(users["operator"], row, "  ")
    with pytest.raises(PermissionDenied):
        correct_log(users["writer"], row, "sai")
    with pytest.raises(PermissionDenied):
        correct_log(users["outside_supervisor"], row, "sai")
    assert len(station_rows(station.id)) == 1


def test_a_moved_correction_pointer_is_reported(station, users):
    first, second = fill(station, 2)
    fix = correct_log(users["operator"], first, "sai giờ")
    tamper(
        "UPDATE broadcast_log SET corrects_id = :other WHERE id = :id", other=second.id, id=fix.id
    )

    result = verify_chain()

    assert result.first_bad.seq == 3
    assert result.problem.startswith("Dòng #3 của đài PTH-RADIO đã bị sửa")


def _three_days(station, clock) -> list[list[BroadcastLog]]:
    """Three rows written on each of 27, 28 and 29/11/2026."""
    days = []
    for _ in range(3):
        days.append([append_log(entry(station, n)) for n in range(3)])
        clock.advance(days=1)
    return days


def test_verify_over_a_period_checks_only_its_rows_and_the_link_into_it(station, clock):
    days = _three_days(station, clock)
    start = datetime(2026, 11, 28, tzinfo=VN)
    end = datetime(2026, 11, 29, tzinfo=VN)

    result = verify_chain(station.id, start, end)
    assert (result.ok, result.checked) == (True, 4)  # the row before the period, and 3

    tamper("UPDATE broadcast_log SET reason = 'x' WHERE id = :id", id=days[0][0].id)
    assert verify_chain(station.id, start, end).ok
    assert not verify_chain(station.id).ok


def test_verify_over_a_period_catches_a_rewritten_first_row(station, clock):
    days = _three_days(station, clock)
    first = db.session.get(BroadcastLog, days[1][0].id)
    db.session.expunge(first)
    first.prev_hash = GENESIS_HASH
    first.seq = 1
    tamper(
        "UPDATE broadcast_log SET prev_hash = :p, row_hash = :h WHERE id = :id",
        p=GENESIS_HASH,
        h=compute_row_hash(first),
        id=first.id,
    )

    result = verify_chain(
        station.id, datetime(2026, 11, 28, tzinfo=VN), datetime(2026, 11, 29, tzinfo=VN)
    )

    assert result.first_bad.seq == 4
    assert result.problem.startswith("Dòng #4 của đài PTH-RADIO đã bị sửa")


def test_verify_over_a_period_catches_a_deleted_row_just_before_it(station, clock):
    days = _three_days(station, clock)
    tamper("DELETE FROM broadcast_log WHERE id = :id", id=days[0][2].id)

    result = verify_chain(
        station.id, datetime(2026, 11, 28, tzinfo=VN), datetime(2026, 11, 29, tzinfo=VN)
    )

    assert result.problem == (
        "Thiếu dòng #3 của đài PTH-RADIO: đã bị xóa (chuỗi đứt giữa #2 và #4)."
    )


def test_two_writers_at_once_keep_one_unbroken_chain(app, station):
    per_thread = 15
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    station_id = station.id
    db.session.commit()

    def write(host: str) -> None:
        with app.app_context():
            try:
                barrier.wait()
                for n in range(per_thread):
                    append_log(LogEntry(station_id, LogStatus.AIRED, runner_host=f"{host}-{n}"))
            except BaseException as exc:
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=write, args=(h,)) for h in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    assert errors == []
    rows = station_rows(station_id)
    assert [r.seq for r in rows] == list(range(1, 2 * per_thread + 1))
    assert {r.runner_host[0] for r in rows} == {"a", "b"}
    result = verify_chain(station_id)
    assert (result.ok, result.checked) == (True, 2 * per_thread)


def test_a_lost_race_for_a_seq_is_retried_on_top_of_the_winner(station, monkeypatch):
    first = fill(station, 1)[0]
    stale = [None]  # what a writer saw before `first` was committed: no row yet
    real = service._last_row
    monkeypatch.setattr(service, "_last_row", lambda sid: stale.pop() if stale else real(sid))

    row = append_log(entry(station, 1))

    assert (row.seq, row.prev_hash) == (2, first.row_hash)
    assert verify_chain().ok


def test_appending_gives_up_with_a_clear_message_after_repeated_lost_races(station, monkeypatch):
    fill(station, 1)
    monkeypatch.setattr(service, "_last_row", lambda sid: None)

    with pytest.raises(Conflict, match="nhật ký phát sóng"):
        append_log(entry(station, 1))


def test_cli_says_ok_with_the_number_of_rows(logs_runner, station):
    fill(station, 3)

    result = logs_runner.invoke(args=["logs", "verify"])

    assert result.exit_code == 0, result.output
    assert "OK: đã kiểm tra 3 dòng" in result.output


def test_cli_reports_the_first_broken_row_and_exits_1(logs_runner, station):
    rows = fill(station, 3)
    tamper("DELETE FROM broadcast_log WHERE id = :id", id=rows[1].id)

    result = logs_runner.invoke(args=["logs", "verify", "--station", "pth-radio"])

    assert result.exit_code == 1
    assert "Thiếu dòng #2 của đài PTH-RADIO: đã bị xóa (chuỗi đứt giữa #1 và #3)." in (
        result.output
    )


def test_cli_verifies_a_period_in_vietnam_days(logs_runner, station, clock):
    _three_days(station, clock)

    result = logs_runner.invoke(
        args=["logs", "verify", "--from", "2026-11-28", "--to", "2026-11-29"]
    )

    assert result.exit_code == 0, result.output
    assert "OK: đã kiểm tra 7 dòng" in result.output  # 6 in the period and the one before


def test_cli_refuses_an_unknown_station_and_a_reversed_period(logs_runner, station):
    result = logs_runner.invoke(args=["logs", "verify", "--station", "NOPE"])
    assert result.exit_code == 2 and "NOPE" in result.output
    result = logs_runner.invoke(
        args=["logs", "verify", "--from", "2026-11-28", "--to", "2026-11-27"]
    )
    assert result.exit_code == 2


@pytest.fixture
def new_york():
    """Run the process in New York time, as a misconfigured server might."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_times_are_stored_in_utc_whatever_the_server_time_zone(new_york, station):
    started = datetime(2026, 11, 27, 17, 15, 3, 250_000, tzinfo=VN)
    row = append_log(entry(station, started_at=started, ended_at=None, duration_s=None))
    db.session.expire_all()

    stored = db.session.get(BroadcastLog, row.id)
    raw = db.session.execute(
        text("SELECT started_at FROM broadcast_log WHERE id = :id"), {"id": row.id}
    ).scalar()

    assert stored.started_at == started and stored.started_at.tzinfo == UTC
    assert str(raw).startswith("2026-11-27 10:15:03.250000")
    assert verify_chain().ok


def test_naive_times_and_negative_durations_are_refused(station):
    with pytest.raises(ValidationError):
        append_log(entry(station, started_at=datetime(2026, 11, 27, 5, 45)))
    with pytest.raises(ValidationError):
        append_log(entry(station, duration_s=-1.0))
    with pytest.raises(ValidationError):
        append_log(entry(station, ended_at=datetime(2026, 11, 27, 5, 0, tzinfo=VN)))
    assert station_rows(station.id) == []


def test_rows_keep_the_unit_their_station_had_when_written(org, station):
    first = append_log(entry(station, 0))
    station.unit_id = org.commune.id  # the station moves to another unit
    db.session.commit()
    second = append_log(entry(station, 1))
    correction = service.correct_log(None, first, "Sửa giờ kết thúc", new_reason="đã sửa")
    assert first.unit_id == org.district.id
    assert second.unit_id == org.commune.id
    # A correction stays filed under the unit of the row it corrects.
    assert correction.unit_id == org.district.id
    assert first.hash_version == HASH_VERSION == 2
    assert verify_chain().ok
    # Changing the unit of a row is caught like any other field.
    tamper("UPDATE broadcast_log SET unit_id = :u WHERE id = :id", u=org.commune.id, id=first.id)
    result = verify_chain()
    assert not result.ok
    assert result.first_bad.seq == first.seq


def test_version_1_rows_without_a_unit_still_verify(station):
    row = append_log(entry(station, 0))
    old = BroadcastLog(
        **{
            name: getattr(row, name)
            for name in HASH_FIELDS_V1
            if name not in ("seq", "prev_hash", "hash_version")
        },
        seq=row.seq + 1,
        prev_hash=row.row_hash,
        hash_version=1,
        unit_id=None,
    )
    old.row_hash = compute_row_hash(old)
    db.session.add(old)
    db.session.commit()
    assert verify_chain().ok
    assert verify_chain().checked == 2


# --- Stations aired by their agent ------------------------------------------------------------


def test_the_server_writes_nothing_into_an_agent_stations_chain(org, station, users):
    first = append_log(entry(station))
    station.playout_mode = PlayoutMode.AGENT
    db.session.commit()
    with pytest.raises(AiredByAgent, match="do máy trạm tại đài phát") as refused:
        append_log(entry(station, 5))
    assert refused.value.status == 409 and refused.value.code == "aired_by_agent"
    # A correction from the logbook would fork the chain just the same.
    with pytest.raises(AiredByAgent, match="chuyển đài về chế độ máy chủ trung tâm"):
        correct_log(users["operator"], first, "sai giờ", status=LogStatus.AIRED_LATE)
    db.session.rollback()
    assert [r.seq for r in station_rows(station.id)] == [1]
    assert (
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "broadcast_log.correct")
        ).all()
        == []
    )
    # Back to central, the server writes again, on top of the same chain.
    station.playout_mode = PlayoutMode.CENTRAL
    db.session.commit()
    fix = correct_log(users["operator"], first, "sai giờ", status=LogStatus.AIRED_LATE)
    assert (fix.seq, fix.prev_hash) == (2, first.row_hash)


def test_scope_is_checked_before_the_agent_station_refusal(org, station, users):
    first = append_log(entry(station))
    station.playout_mode = PlayoutMode.AGENT
    db.session.commit()
    with pytest.raises(PermissionDenied):
        correct_log(users["outside_supervisor"], first, "sai")


def test_an_agent_host_writes_its_own_stations_chain(app, org, station):
    station.playout_mode = PlayoutMode.AGENT
    db.session.commit()
    app.config["PLAYOUT_HOST"] = "agent"
    row = append_log(entry(station))
    assert (row.seq, row.prev_hash, row.received_at) == (1, GENESIS_HASH, None)


def test_row_json_has_six_digits_of_microseconds_and_rebuilds_the_row(org, station):
    row = append_log(entry(station, duration_s=60.5))
    data = service.row_json(row)
    assert data["planned_at"] == "2026-11-26T22:45:00.000000+00:00"
    assert data["ended_at"] == "2026-11-26T22:46:02.500000+00:00"
    assert set(data) == set(HASH_FIELDS[HASH_VERSION]) | {"row_hash"}
    assert compute_row_hash(service.row_from_json(data)) == row.row_hash


def test_the_server_writes_nothing_while_a_station_waits_for_its_agent(org, station, users):
    first = append_log(entry(station))
    station.awaiting_agent_since = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    db.session.commit()

    with pytest.raises(AiredByAgent, match="máy trạm chưa bàn giao") as refused:
        append_log(entry(station, 5))
    assert refused.value.status == 409
    with pytest.raises(AiredByAgent, match="máy trạm chưa bàn giao"):
        correct_log(users["operator"], first, "sai giờ", status=LogStatus.AIRED_LATE)
    db.session.rollback()
    assert [r.seq for r in station_rows(station.id)] == [1]
