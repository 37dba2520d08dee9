"""Saving, checking, cancelling and materialising schedules; bad input saves nothing."""

from __future__ import annotations

import time as systime
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import Role
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.extensions import db
from app.org.service import add_session
from app.schedules import service
from app.schedules.models import Airing, AiringStatus, CancelledOccurrence, Schedule
from app.schedules.recurrence import LOCAL_TZ, Recurrence, RecurrenceError, parse_times
from app.scripts.models import Priority
from app.scripts.service import approve_script, archive_script
from tests.factories import make_script, make_station, make_user, submit

START = date(2026, 11, 28)  # the day after the test clock's "today" (27/11/2026)
END = date(2026, 12, 4)


def local(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """An aware UTC datetime from a wall-clock time in Asia/Ho_Chi_Minh."""
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=LOCAL_TZ).astimezone(UTC)


def approved_script(users, unit, title: str = "Kêu gọi tiêm chủng", **fields):
    """A script written in the unit, rendered, submitted and approved by a supervisor."""
    fields.setdefault("valid_until", date(2026, 12, 31))
    script = make_script(users["writer"], unit, title=title, **fields)
    submit(users["writer"], script)
    return approve_script(users["supervisor"], script)


def with_sessions(station, morning=(time(5, 30), time(6, 15), 15)):
    """Give a station a morning and an evening session, every day."""
    add_session(None, station, "Buổi sáng", *morning, "1234567")
    add_session(None, station, "Buổi chiều", time(17, 0), time(17, 45), 15, "1234567")
    return station


def times_rule(*hhmm: time, start: date = START, end: date = END, **fields) -> Recurrence:
    """A fixed-times rule over the test week."""
    return Recurrence(kind="times", times=hhmm, start_date=start, end_date=end, **fields)


def counts() -> tuple[int, int, int]:
    """Rows of schedules, airings and cancelled occurrences."""
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Schedule, Airing, CancelledOccurrence)
    )


@pytest.fixture
def desk(org, users):
    """An approved script and two stations of the district with sessions."""
    script = approved_script(users, org.district)
    commune = with_sessions(make_station(org.commune, "PT-PHUTHUY"))
    district = with_sessions(make_station(org.district, "PT-CITY"))
    return {"script": script, "stations": [commune, district]}


def data_for(desk, rec: Recurrence, **fields) -> service.ScheduleInput:
    """A schedule input on both desk stations."""
    fields.setdefault("stations", desk["stations"])
    return service.ScheduleInput(script=desk["script"], recurrence=rec, **fields)


def test_create_materialises_sequenced_airings_on_both_stations(desk, users, clock):
    rec = times_rule(time(5, 45), time(17, 15))
    schedule = service.create_schedule(users["operator"], data_for(desk, rec))

    assert schedule.version_id == desk["script"].approved_version_id
    assert schedule.render_id == desk["script"].approved_render_id
    assert schedule.priority == Priority.HIGH
    assert "RRULE:FREQ=DAILY" in schedule.rrule
    airings = db.session.scalars(select(Airing).order_by(Airing.airing_key)).all()
    # 7 days x 2 times x 2 stations, all inside the 14-day horizon.
    assert len(airings) == 28
    first = min(
        (a for a in airings if a.station_id == desk["stations"][0].id),
        key=lambda a: a.planned_at,
    )
    # 05:45 in Vietnam is 22:45 UTC the day before; the session starts at 05:30.
    assert first.planned_at == datetime(2026, 11, 27, 22, 45, tzinfo=UTC)
    assert first.sequenced_at == datetime(2026, 11, 27, 22, 30, tzinfo=UTC)
    assert first.session_name == "Buổi sáng"
    assert first.status == AiringStatus.PLANNED
    assert first.airing_key == f"{schedule.id}:{first.station_id}:20261127T224500Z"
    assert first.render_id == schedule.render_id and first.duration_s == pytest.approx(0.2)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "schedule.create"))
    assert event.details["occurrences"] == 28 and event.details["airings_planned"] == 28


def test_check_reports_count_first_and_last(desk, users, clock):
    rec = times_rule(time(5, 45), time(17, 15))
    result = service.check_schedule(users["operator"], data_for(desk, rec), clock.now())
    assert result.occurrences == 28
    # First and last as they air: 05:45 and 17:15 open their sessions, 05:30 and 17:00.
    assert result.first == local(START, 5, 30)
    assert result.last == local(END, 17, 0)
    assert len(result.airings) == 28
    assert (result.airings[0].planned, result.airings[0].start) == (
        local(START, 5, 45),
        local(START, 5, 30),
    )
    assert result.problems == []
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("build", "field", "fragment"),
    [
        (lambda: times_rule(time(5, 45), end=date(2026, 11, 20)), "end_date", "trước ngày bắt đầu"),
        (lambda: times_rule(time(5, 45), weekdays={7}, end=START), "weekdays", "không tạo ra"),
        (
            lambda: Recurrence(
                kind="every",
                every_minutes=1,
                window_start=time(0, 0),
                window_end=time(23, 59),
                start_date=START,
                end_date=date(2027, 3, 31),
            ),
            "count",
            "quá mức tối đa",
        ),
    ],
    ids=["end-before-start", "no-occurrence", "over-100000"],
)
def test_bad_rules_are_refused_and_nothing_saved(desk, users, build, field, fragment):
    with pytest.raises(ValidationError) as exc:
        service.create_schedule(users["operator"], data_for(desk, build()))
    assert fragment in exc.value.message and field in exc.value.fields
    assert counts() == (0, 0, 0)


def test_25_00_is_refused_by_the_form_parser(desk, users):
    with pytest.raises(RecurrenceError) as exc:
        parse_times("05:45, 25:00")
    assert "25:00" in exc.value.message and "times" in exc.value.fields
    assert counts() == (0, 0, 0)


def test_unapproved_script_is_refused(org, desk, users):
    draft = make_script(users["writer"], org.district, title="Bản nháp")
    data = replace(data_for(desk, times_rule(time(5, 45))), script=draft)
    with pytest.raises(ValidationError, match="Kịch bản chưa được duyệt"):
        service.create_schedule(users["operator"], data)
    assert counts() == (0, 0, 0)


def test_archived_script_is_refused(desk, users):
    archive_script(users["supervisor"], desk["script"])
    with pytest.raises(ValidationError, match="Kịch bản đã lưu trữ"):
        service.create_schedule(users["operator"], data_for(desk, times_rule(time(5, 45))))
    assert counts() == (0, 0, 0)


def test_expired_script_is_refused(org, desk, users):
    expired = approved_script(users, org.district, title="Hết hạn", valid_until=date(2026, 11, 1))
    data = replace(data_for(desk, times_rule(time(5, 45))), script=expired)
    with pytest.raises(ValidationError, match="Kịch bản đã hết hiệu lực ngày 1/11/2026"):
        service.create_schedule(users["operator"], data)
    assert counts() == (0, 0, 0)


def test_missing_approved_audio_is_refused(desk, users):
    render = desk["script"].approved_render
    (Path(current_app.config["AUDIO_DIR"]) / render.audio_path).unlink()
    with pytest.raises(ValidationError, match="Tệp âm thanh đã duyệt không còn trên máy"):
        service.create_schedule(users["operator"], data_for(desk, times_rule(time(5, 45))))
    assert counts() == (0, 0, 0)


def test_station_outside_the_users_units_is_refused(org, desk, users):
    elsewhere = make_station(org.other_district, "LAGI")
    data = data_for(desk, times_rule(time(5, 45)), stations=[*desk["stations"], elsewhere])
    with pytest.raises(ValidationError) as exc:
        service.create_schedule(users["operator"], data)
    assert "nằm ngoài phạm vi" in exc.value.message and "stations" in exc.value.fields
    assert counts() == (0, 0, 0)


def test_writer_cannot_schedule(desk, users):
    with pytest.raises(PermissionDenied):
        service.create_schedule(users["writer"], data_for(desk, times_rule(time(5, 45))))
    assert counts() == (0, 0, 0)


def test_airing_outside_sessions_needs_confirmation(desk, users):
    data = data_for(desk, times_rule(time(12, 0)))
    with pytest.raises(service.ScheduleProblems) as exc:
        service.create_schedule(users["operator"], data)
    assert "confirm" in exc.value.fields
    assert "nằm ngoài các buổi phát" in exc.value.fields["confirm"]
    assert {p.code for p in exc.value.problems} == {"outside_session"}
    assert counts() == (0, 0, 0)

    schedule = service.create_schedule(users["operator"], replace(data, confirm_warnings=True))
    assert schedule.id is not None
    airing = db.session.scalars(select(Airing)).first()
    assert airing.session_name == "" and airing.sequenced_at == airing.planned_at


def test_session_over_its_cap_needs_confirmation(desk, users):
    desk["script"].approved_render.duration_s = 400.0
    db.session.commit()
    data = data_for(desk, times_rule(time(5, 35), time(5, 40), time(5, 45), end=START))
    with pytest.raises(service.ScheduleProblems) as exc:
        service.create_schedule(users["operator"], data)
    assert {p.code for p in exc.value.problems} == {"over_cap"}
    assert "vượt" in exc.value.message and "15 phút" in exc.value.message
    assert counts() == (0, 0, 0)
    service.create_schedule(users["operator"], replace(data, confirm_warnings=True))
    assert counts()[0] == 1


def test_over_cap_is_found_across_schedules(org, desk, users):
    desk["script"].approved_render.duration_s = 400.0
    db.session.commit()
    service.create_schedule(
        users["operator"], data_for(desk, times_rule(time(5, 35), time(5, 40), end=START))
    )
    other = approved_script(users, org.district, title="Phòng cháy")
    other.approved_render.duration_s = 400.0
    db.session.commit()
    data = replace(data_for(desk, times_rule(time(5, 50), end=START)), script=other)
    with pytest.raises(service.ScheduleProblems) as exc:
        service.create_schedule(users["operator"], data)
    assert {p.code for p in exc.value.problems} == {"over_cap"}
    assert counts()[0] == 1


def test_blocking_problem_refuses_even_when_confirmed(org, users):
    script = approved_script(users, org.district)
    script.approved_render.duration_s = 200.0
    db.session.commit()
    station = make_station(org.district, "SHORT")
    add_session(None, station, "Buổi sáng", time(5, 30), time(5, 35), 5, "1234567")
    rec = times_rule(time(5, 30), time(5, 31), time(5, 32), end=START)
    data = service.ScheduleInput(
        script=script, recurrence=rec, stations=[station], confirm_warnings=True
    )
    with pytest.raises(service.ScheduleProblems) as exc:
        service.create_schedule(users["operator"], data)
    assert "problems" in exc.value.fields
    assert "sau khi Buổi sáng 05:30–05:35" in exc.value.fields["problems"]
    assert counts() == (0, 0, 0)


def test_script_expiring_before_the_schedule_ends_is_a_warning(org, desk, users):
    script = approved_script(users, org.district, title="Ngắn hạn", valid_until=START)
    data = replace(data_for(desk, times_rule(time(5, 45))), script=script)
    with pytest.raises(service.ScheduleProblems) as exc:
        service.create_schedule(users["operator"], data)
    assert [p.code for p in exc.value.problems] == ["script_expires"]


def test_default_dates_follow_the_scripts_validity(desk, clock):
    script = desk["script"]
    assert service.default_dates(script, date(2026, 11, 27)) == (
        date(2026, 11, 27),
        date(2026, 12, 31),
    )
    script.valid_until = None
    with pytest.raises(ValidationError) as exc:
        service.default_dates(script, date(2026, 11, 27))
    assert "end_date" in exc.value.fields


def test_units_resolve_to_their_active_stations(org, desk, users):
    data = data_for(desk, times_rule(time(5, 45), end=START), stations=[], units=[org.district])
    schedule = service.create_schedule(users["operator"], data)
    station_ids = set(db.session.scalars(select(Airing.station_id)))
    assert station_ids == {s.id for s in desk["stations"]}
    assert schedule.units == [org.district]


def test_rundown_orders_by_priority_then_time(org, desk, users):
    station = desk["stations"][0]
    normal = approved_script(
        users, org.district, title="Thông báo thường", priority=Priority.NORMAL
    )
    urgent = approved_script(users, org.district, title="Phòng chống bão", priority=Priority.HIGH)
    for script, at in ((normal, time(5, 40)), (urgent, time(5, 50))):
        rec = times_rule(at, end=START)
        service.create_schedule(
            users["operator"],
            service.ScheduleInput(script=script, recurrence=rec, stations=[station]),
        )
    rows = service.rundown(users["operator"], station, START)
    assert [r.title for r in rows] == ["Phòng chống bão", "Thông báo thường"]
    assert rows[0].start.time() == time(5, 30)
    # 0.2 s of audio, then the 5-second gap.
    assert rows[1].start == rows[0].end + timedelta(seconds=5)
    assert rows[0].priority_label == "ưu tiên" and rows[1].status_label == "chờ phát"
    assert rows[0].session == "Buổi sáng" and rows[1].planned.time() == time(5, 40)


def test_cancel_one_occurrence_on_one_station(desk, users):
    schedule = service.create_schedule(
        users["operator"], data_for(desk, times_rule(time(5, 45), time(17, 15)))
    )
    station = desk["stations"][0]
    at = local(date(2026, 11, 30), 17, 15)
    service.cancel_occurrence(users["operator"], schedule, station, at, "Mất điện cả phường")
    key = service.airing_key(schedule.id, station.id, at)
    airing = db.session.scalar(select(Airing).where(Airing.airing_key == key))
    assert airing.status == AiringStatus.CANCELLED
    other = service.airing_key(schedule.id, desk["stations"][1].id, at)
    assert db.session.scalar(select(Airing.status).where(Airing.airing_key == other)) == (
        AiringStatus.PLANNED
    )
    assert counts() == (1, 28, 1)
    assert db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "schedule.cancel_occurrence")
    )
    with pytest.raises(Conflict, match="đã được hủy rồi"):
        service.cancel_occurrence(users["operator"], schedule, station, at, "Lần nữa")
    # A refresh keeps the cancelled airing as it is, and does not bring the occurrence back.
    assert service.refresh_airings(schedule, at + timedelta(days=14)) == (0, 0)


def test_cancel_on_all_stations_adds_an_exdate(desk, users):
    schedule = service.create_schedule(users["operator"], data_for(desk, times_rule(time(5, 45))))
    at = local(date(2026, 12, 1), 5, 45)
    service.cancel_occurrence(users["supervisor2"], schedule, None, at, "Nghỉ lễ")
    assert "EXDATE;TZID=Asia/Ho_Chi_Minh:20261201T054500" in schedule.rrule
    statuses = db.session.scalars(select(Airing.status).where(Airing.planned_at == at)).all()
    assert statuses == [AiringStatus.CANCELLED, AiringStatus.CANCELLED]


def test_cancel_refuses_a_time_the_rule_does_not_make(desk, users):
    schedule = service.create_schedule(users["operator"], data_for(desk, times_rule(time(5, 45))))
    station = desk["stations"][0]
    with pytest.raises(ValidationError) as exc:
        service.cancel_occurrence(
            users["operator"], schedule, station, local(date(2026, 12, 1), 6, 0), "Nhầm giờ"
        )
    assert "Lịch không có lần phát lúc 06:00 ngày 1/12/2026" in exc.value.message
    assert "occurs_at" in exc.value.fields
    assert counts() == (1, 14, 0)


def test_cancel_refuses_a_claimed_airing(desk, users):
    schedule = service.create_schedule(users["operator"], data_for(desk, times_rule(time(5, 45))))
    station = desk["stations"][0]
    at = local(date(2026, 12, 1), 5, 45)
    airing = db.session.scalar(
        select(Airing).where(Airing.airing_key == service.airing_key(schedule.id, station.id, at))
    )
    airing.status = AiringStatus.CLAIMED
    db.session.commit()
    with pytest.raises(Conflict, match="đã được bộ phát nhận"):
        service.cancel_occurrence(users["operator"], schedule, station, at, "Quá muộn")
    assert counts() == (1, 14, 0)


def test_delete_removes_future_planned_airings_only(desk, users):
    schedule = service.create_schedule(users["operator"], data_for(desk, times_rule(time(5, 45))))
    claimed = db.session.scalars(select(Airing).order_by(Airing.planned_at)).first()
    claimed.status = AiringStatus.CLAIMED
    db.session.commit()
    service.delete_schedule(users["operator"], schedule)
    assert schedule.status.value == "deleted"
    assert db.session.scalars(select(Airing)).all() == [claimed]
    assert service.list_schedules(users["operator"]) == []
    with pytest.raises(Conflict):
        service.delete_schedule(users["operator"], schedule)
    assert service.refresh_all_airings()["added"] == 0


def test_archiving_a_script_stops_its_schedules_and_future_airings(desk, users):
    schedule = service.create_schedule(users["operator"], data_for(desk, times_rule(time(5, 45))))
    on_air = db.session.scalars(select(Airing).order_by(Airing.planned_at)).first()
    on_air.status = AiringStatus.CLAIMED
    db.session.commit()
    before = db.session.scalar(select(func.count(Airing.id)))

    archive_script(users["supervisor"], desk["script"])

    assert schedule.status.value == "deleted"
    assert db.session.scalars(select(Airing)).all() == [on_air]
    assert service.refresh_all_airings()["added"] == 0
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "script.archive")
    ).one()
    assert event.details["schedules_stopped"] == 1
    assert event.details["airings_removed"] == before - 1 > 0


def test_refresh_is_idempotent_and_reconciles(desk, users, clock):
    rec = times_rule(time(5, 45), end=date(2026, 12, 31))
    schedule = service.create_schedule(users["operator"], data_for(desk, rec))
    # 14 days from 08:00 on 27/11: 28/11 to 11/12 at 05:45 (14 days) on 2 stations.
    assert counts()[1] == 28
    assert service.refresh_all_airings() == {"schedules": 1, "added": 0, "removed": 0}
    assert counts()[1] == 28

    clock.advance(days=3)
    assert service.refresh_all_airings() == {"schedules": 1, "added": 6, "removed": 0}
    assert service.refresh_all_airings()["added"] == 0

    # A station leaving the schedule: its planned airings in the horizon go.
    schedule.stations = [desk["stations"][1]]
    db.session.commit()
    result = service.refresh_all_airings()
    assert result["added"] == 0 and result["removed"] == 14
    assert service.refresh_all_airings() == {"schedules": 1, "added": 0, "removed": 0}


def test_sessions_changed_later_resequence_on_refresh(desk, users):
    station = desk["stations"][0]
    service.create_schedule(
        users["operator"], data_for(desk, times_rule(time(5, 45), end=START), stations=[station])
    )
    early = db.session.scalar(select(Airing))
    assert early.sequenced_at.astimezone(LOCAL_TZ).time() == time(5, 30)
    for session in list(station.sessions):
        if session.name == "Buổi sáng":
            db.session.delete(session)
    db.session.commit()
    add_session(None, station, "Buổi sáng", time(5, 40), time(6, 15), 15, "1234567")
    db.session.expire_all()
    service.sequence_station(station, local(START, 0), local(START, 23))
    db.session.commit()
    assert db.session.scalar(select(Airing)).sequenced_at.astimezone(LOCAL_TZ).time() == time(5, 40)


def test_another_districts_operator_gets_not_found(org, desk, users):
    schedule = service.create_schedule(users["operator"], data_for(desk, times_rule(time(5, 45))))
    outsider = make_user(org.other_district, Role.OPERATOR, "op-lagi")
    with pytest.raises(NotFound):
        service.get_schedule(outsider, schedule.id)
    with pytest.raises(NotFound):
        service.rundown(outsider, desk["stations"][0], START)
    with pytest.raises(NotFound):
        service.cancel_occurrence(
            outsider, schedule, desk["stations"][0], local(date(2026, 12, 1), 5, 45), "Thử"
        )
    assert service.list_schedules(outsider) == []
    assert service.list_schedules(users["operator"]) == [schedule]
    assert service.get_schedule(users["supervisor"], schedule.id) is schedule


def test_delete_also_removes_an_airing_due_within_the_grace_no_runner_has_claimed(
    desk, users, clock
):
    """A runner running late would still air it: deleting the schedule must take it too."""
    schedule = service.create_schedule(users["operator"], data_for(desk, times_rule(time(5, 45))))
    first = db.session.scalars(select(Airing).order_by(Airing.sequenced_at)).first()
    clock.current = first.sequenced_at + timedelta(minutes=2)  # due, within the 5-minute grace
    service.delete_schedule(users["operator"], schedule)
    assert db.session.scalars(select(Airing)).all() == []

    # Past the grace it is the runner's to log missed, and it stays.
    again = service.create_schedule(users["operator"], data_for(desk, times_rule(time(5, 45))))
    late = db.session.scalars(
        select(Airing).where(Airing.schedule_id == again.id).order_by(Airing.sequenced_at)
    ).first()
    clock.current = late.sequenced_at + timedelta(minutes=6)
    service.delete_schedule(users["operator"], again)
    left = db.session.scalars(select(Airing)).all()
    assert [(a.sequenced_at, a.status) for a in left] == [
        (late.sequenced_at, AiringStatus.PLANNED)
    ] * len(desk["stations"])


def test_commune_operator_sees_a_district_schedule_but_cannot_delete_it(org, desk, users):
    schedule = service.create_schedule(users["operator"], data_for(desk, times_rule(time(5, 45))))
    commune_op = make_user(org.commune, Role.OPERATOR, "op-phuthuy")
    assert service.get_schedule(commune_op, schedule.id) is schedule
    with pytest.raises(PermissionDenied):
        service.delete_schedule(commune_op, schedule)
    at = local(date(2026, 12, 2), 5, 45)
    service.cancel_occurrence(commune_op, schedule, desk["stations"][0], at, "Họp dân")
    assert counts()[2] == 1


@pytest.fixture
def new_york(monkeypatch):
    """Run the process in America/New_York, restored afterwards."""
    monkeypatch.setenv("TZ", "America/New_York")
    systime.tzset()
    yield
    monkeypatch.undo()
    systime.tzset()


def test_process_time_zone_does_not_shift_airings(desk, users, new_york):
    schedule = service.create_schedule(
        users["operator"], data_for(desk, times_rule(time(5, 45), end=START))
    )
    airings = db.session.scalars(select(Airing)).all()
    assert {a.planned_at for a in airings} == {datetime(2026, 11, 27, 22, 45, tzinfo=UTC)}
    assert {a.sequenced_at for a in airings} == {datetime(2026, 11, 27, 22, 30, tzinfo=UTC)}
    rows = service.rundown(users["operator"], desk["stations"][0], START)
    assert [r.start.strftime("%H:%M") for r in rows] == ["05:30"]
    assert schedule.rrule.startswith("DTSTART;TZID=Asia/Ho_Chi_Minh:20261128T054500")
