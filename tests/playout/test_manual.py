# ruff: noqa: F811 (the spots fixture is imported from test_runner)
"""Manual playout: phát ngay (emergency interrupts and re-queues), skip, live reads, station
policies (grace and skip-if-late), and the log's filters."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import LogFilter, log_query, verify_chain
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.extensions import db
from app.playout import manual as playout
from app.playout import runner
from app.playout.outputs import Output, PlayResult
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import Priority
from tests.factories import make_script, make_station
from tests.playout.test_runner import HOST, log_rows, simulate, spots, status_of  # noqa: F401
from tests.schedules.test_service import approved_script


def counts() -> tuple[int, int, int]:
    """Rows of airings, log rows and audit events."""
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Airing, BroadcastLog, AuditEvent)
    )


class HeldOutput(Output):
    """Plays until stopped: tells the test it started, then waits for the stop event."""

    name = "held"
    label = "Giữ"

    def __init__(self, clock):
        super().__init__({}, clock=clock)
        self.started = threading.Event()

    def check(self):
        """Always works."""

    def play(self, path, duration_s, *, stop=None, meta=None):
        """Wait for stop (at most 10 s of real time, so a broken test cannot hang).

        The test moves the clock while this "plays"."""
        started = self._now()
        self.started.set()
        stopped = stop.wait(10)
        played = (self._now() - started).total_seconds()
        return PlayResult(started, self._now(), played, completed=not stopped)


# --- phát ngay ------------------------------------------------------------------------------


def test_air_now_queues_an_emergency_airing_per_station_and_audits(org, users, clock):
    script = approved_script(users, org.district)
    stations = [make_station(org.commune, "PT-A"), make_station(org.district, "PT-B")]
    airings = playout.air_now(users["operator"], script, stations, "Bão số 9 sắp vào")
    assert len(airings) == 2
    for airing in airings:
        assert airing.priority == Priority.EMERGENCY
        assert airing.status == AiringStatus.PLANNED
        assert airing.schedule_id is None
        assert airing.operator_id == users["operator"].id
        assert airing.sequenced_at == clock.now().replace(microsecond=0)
        assert airing.render_id == script.approved_render_id
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "playout.air_now"))
    assert "Bão số 9" in event.summary
    assert [j.airing_id for j in runner.due_emergencies(clock.now())] == [a.id for a in airings]


@pytest.mark.parametrize(
    "case",
    ["writer", "no_station", "foreign_station", "unapproved", "archived", "expired", "long_note"],
)
def test_air_now_refuses_bad_input_and_saves_nothing(org, users, clock, case):
    script = approved_script(users, org.district)
    station = make_station(org.commune, "PT-A")
    actor, stations, note = users["operator"], [station], ""
    expected: type[Exception] = ValidationError
    if case == "writer":
        actor, expected = users["writer"], PermissionDenied
    elif case == "no_station":
        stations = []
    elif case == "foreign_station":
        stations, expected = [make_station(org.other_district, "OTHER")], NotFound
    elif case == "unapproved":
        script = make_script(users["writer"], org.district, title="Bản nháp")
    elif case == "archived":
        from app.scripts.models import ScriptStatus

        script.status = ScriptStatus.ARCHIVED
        db.session.commit()
    elif case == "expired":
        script.valid_until = date(2026, 11, 1)
        db.session.commit()
    elif case == "long_note":
        note = "x" * (playout.MAX_NOTE_CHARS + 1)
    before = counts()
    with pytest.raises(expected) as info:
        playout.air_now(actor, script, stations, note)
    assert info.value.message
    db.session.rollback()
    assert counts() == before


def test_emergency_interrupts_the_playing_spot_which_airs_again_after_it(app, spots, clock):
    playing = spots[0]
    station = playing.station
    script = playing.script
    stage = runner.Stage()
    held = HeldOutput(clock)
    results = {}

    def play_normal():
        with app.app_context():
            row = runner.air(playing.id, output=held, clock=clock, host=HOST, stage=stage)
            results["normal"] = (row.status, row.reason)

    thread = threading.Thread(target=play_normal)
    thread.start()
    assert held.started.wait(10)
    clock.advance(seconds=12)
    [emergency] = playout.air_now(app_operator(app), script, [station], "Tin bão")
    row = runner.air(emergency.id, output=simulate(clock), clock=clock, host=HOST, stage=stage)
    thread.join(10)
    assert row.status == LogStatus.AIRED
    assert row.priority == Priority.EMERGENCY
    assert row.operator_id == emergency.operator_id
    assert row.reason == "ghi chú: Tin bão"
    status, reason = results["normal"]
    assert status == LogStatus.INTERRUPTED
    assert reason.startswith("bị ngắt sau 12 giây (nhường chỗ cho tin khẩn cấp")
    assert "phát lại lúc" in reason
    again = db.session.scalar(select(Airing).where(Airing.requeued_from_id == playing.id))
    assert again.status == AiringStatus.PLANNED
    assert again.schedule_id == playing.schedule_id
    # Queued after the emergency spot (its duration plus the gap), never before it ends.
    assert again.sequenced_at >= row.planned_at + timedelta(seconds=row.duration_s)
    assert status_of(playing) == AiringStatus.INTERRUPTED
    # The re-queued airing airs once, and the daily refresh leaves it alone.
    clock.current = again.sequenced_at
    from app.schedules.service import refresh_all_airings

    refresh_all_airings(clock.now())
    aired = runner.air(again.id, output=simulate(clock), clock=clock, host=HOST, stage=stage)
    assert aired.status == LogStatus.AIRED
    assert runner.air(again.id, output=simulate(clock), clock=clock, host=HOST) is None
    assert verify_chain().ok


def test_emergency_with_drop_policy_does_not_requeue(app, spots, clock):
    playing = spots[0]
    playing.station.interrupt_policy = "drop"
    db.session.commit()
    stage = runner.Stage()
    held = HeldOutput(clock)
    results = {}

    def play_normal():
        with app.app_context():
            row = runner.air(playing.id, output=held, clock=clock, host=HOST, stage=stage)
            results["reason"] = row.reason

    thread = threading.Thread(target=play_normal)
    thread.start()
    assert held.started.wait(10)
    [emergency] = playout.air_now(app_operator(app), playing.script, [playing.station])
    runner.air(emergency.id, output=simulate(clock), clock=clock, host=HOST, stage=stage)
    thread.join(10)
    assert "không phát lại" in results["reason"]
    assert db.session.scalar(select(Airing).where(Airing.requeued_from_id.is_not(None))) is None


def test_an_emergency_does_not_interrupt_another_emergency():
    stage = runner.Stage()
    play = runner.Play(1, Priority.EMERGENCY, threading.Event())
    assert stage.enter(7, play, 0)
    assert stage.interrupt(7, "khác") is None
    assert not play.stop.is_set()
    stage.leave(7, play)


def test_a_spot_waits_for_the_station_and_is_missed_past_its_grace(spots, clock):
    stage = runner.Stage()
    busy = runner.Play(0, Priority.NORMAL, threading.Event())
    assert stage.enter(spots[0].station_id, busy, 0)
    # The grace is used up already, so waiting for the station cannot succeed.
    spots[0].station.grace_s = 0.0
    db.session.commit()
    row = runner.air(spots[0].id, output=simulate(clock), clock=clock, host=HOST, stage=stage)
    assert row.status == LogStatus.MISSED
    assert "đang phát tin khác" in row.reason


def test_shutdown_stops_what_plays_without_requeue(app, spots, clock):
    stage = runner.Stage()
    held = HeldOutput(clock)
    results = {}

    def play_normal():
        with app.app_context():
            row = runner.air(spots[0].id, output=held, clock=clock, host=HOST, stage=stage)
            results["row"] = (row.status, row.reason)

    thread = threading.Thread(target=play_normal)
    thread.start()
    assert held.started.wait(10)
    stage.stop_all(runner.CAUSE_SHUTDOWN)
    thread.join(10)
    status, reason = results["row"]
    assert status == LogStatus.INTERRUPTED
    assert runner.CAUSE_SHUTDOWN in reason
    assert "phát lại" not in reason
    assert db.session.scalar(select(Airing).where(Airing.requeued_from_id.is_not(None))) is None


def app_operator(app):
    """The operator fixture user, loaded in this session."""
    from app.auth.models import User

    return db.session.scalar(select(User).where(User.username == "operator"))


# --- station policy -------------------------------------------------------------------------


def test_station_grace_replaces_the_runner_default(spots, clock):
    spots[0].station.grace_s = 60.0
    db.session.commit()
    clock.advance(seconds=90)
    row = runner.air(spots[0].id, output=simulate(clock), clock=clock, host=HOST)
    assert row.status == LogStatus.MISSED
    assert "quá thời gian cho phép 1 phút" in row.reason
    # The other station keeps the default 5 minutes and airs late.
    row = runner.air(spots[1].id, output=simulate(clock), clock=clock, host=HOST)
    assert row.status == LogStatus.AIRED_LATE
    assert row.reason == "phát muộn 1 phút 30 giây"


def test_skip_policy_skips_a_late_spot_instead_of_airing_it(spots, clock):
    spots[0].station.misfire_policy = "skip"
    db.session.commit()
    clock.advance(seconds=30)
    row = runner.air(spots[0].id, output=simulate(clock), clock=clock, host=HOST)
    assert row.status == LogStatus.SKIPPED
    assert row.reason == "bỏ qua: trễ 30 giây, đài chọn không phát muộn"
    assert status_of(spots[0]) == AiringStatus.SKIPPED


def test_skip_policy_still_airs_a_spot_on_time(spots, clock):
    spots[0].station.misfire_policy = "skip"
    db.session.commit()
    row = runner.air(spots[0].id, output=simulate(clock), clock=clock, host=HOST)
    assert row.status == LogStatus.AIRED


def test_sweep_uses_each_stations_grace(spots, clock):
    spots[0].station.grace_s = 30.0
    db.session.commit()
    clock.advance(seconds=60)
    rows = runner.sweep_missed(clock.now(), HOST)
    assert [r.airing_key for r in rows] == [spots[0].airing_key]
    assert status_of(spots[1]) == AiringStatus.PLANNED


def test_due_jobs_look_back_as_far_as_the_widest_station_grace(spots, clock):
    spots[0].station.grace_s = 900.0
    db.session.commit()
    clock.advance(seconds=600)
    keys = {j.job_id for j in runner.due_jobs(clock.now(), timedelta(hours=1))}
    assert keys == {a.airing_key for a in spots}


# --- skip -----------------------------------------------------------------------------------


def test_operator_skips_a_planned_airing_once(spots, users, clock):
    row = playout.skip_airing(users["operator"], spots[0], "Mất điện khu vực")
    assert row.status == LogStatus.SKIPPED
    assert row.reason == "bỏ qua: Mất điện khu vực"
    assert row.operator_id == users["operator"].id
    assert row.runner_host == "tay:operator"
    assert status_of(spots[0]) == AiringStatus.SKIPPED
    # The runner cannot air it afterwards.
    assert runner.air(spots[0].id, output=simulate(clock), clock=clock, host=HOST) is None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "playout.skip"))
    assert "Mất điện" in event.summary


@pytest.mark.parametrize("case", ["no_reason", "writer", "claimed", "foreign"])
def test_skip_refuses_and_changes_nothing(spots, users, org, clock, case):
    airing, actor, reason = spots[0], users["operator"], "Lý do đủ dài"
    expected: type[Exception] = ValidationError
    if case == "no_reason":
        reason = " "
    elif case == "writer":
        actor, expected = users["writer"], PermissionDenied
    elif case == "claimed":
        runner.claim_airing(airing.id, HOST, clock.now())
        expected = Conflict
    elif case == "foreign":
        actor = users["outside_supervisor"]
        expected = NotFound
    before = counts()
    status = status_of(airing)
    with pytest.raises(expected):
        playout.skip_airing(actor, db.session.get(Airing, airing.id), reason)
    db.session.rollback()
    assert counts() == before
    assert status_of(airing) == status


# --- live reads -----------------------------------------------------------------------------


def test_live_read_without_plan_is_logged_with_the_operator(org, users, clock):
    station = make_station(org.commune, "PT-A")
    data = playout.LiveRead(
        station=station,
        started_at=clock.now() - timedelta(minutes=10),
        duration_s=95,
        note="Thông báo lịch tiêm bổ sung",
    )
    row = playout.record_live_read(users["operator"], data)
    assert row.status == LogStatus.AIRED
    assert row.operator_id == users["operator"].id
    assert row.planned_at is None
    assert row.duration_s == 95
    assert row.reason == "đọc trực tiếp: Thông báo lịch tiêm bổ sung"
    assert row.ended_at - row.started_at == timedelta(seconds=95)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "playout.live_read"))


def test_live_read_standing_in_for_a_planned_airing_closes_it(spots, users, clock):
    airing = spots[0]
    data = playout.LiveRead(
        station=airing.station,
        started_at=clock.now(),
        duration_s=60,
        airing=airing,
    )
    row = playout.record_live_read(users["operator"], data)
    assert row.airing_key == airing.airing_key
    assert row.script_id == airing.script_id
    assert row.reason == "đọc trực tiếp (thay cho bản ghi âm)"
    assert status_of(airing) == AiringStatus.AIRED
    assert runner.air(airing.id, output=simulate(clock), clock=clock, host=HOST) is None


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("future", "started_at"),
        ("too_old", "started_at"),
        ("zero", "duration_s"),
        ("too_long", "duration_s"),
        ("nothing_read", "note"),
        ("other_station_airing", "airing"),
    ],
)
def test_live_read_refuses_bad_input_and_logs_nothing(spots, users, org, clock, case, field):
    station = make_station(org.commune, "PT-A")
    data = playout.LiveRead(
        station=station, started_at=clock.now(), duration_s=60, note="Đọc tin phòng dịch"
    )
    if case == "future":
        data.started_at = clock.now() + timedelta(minutes=10)
    elif case == "too_old":
        data.started_at = clock.now() - timedelta(days=8)
    elif case == "zero":
        data.duration_s = 0
    elif case == "too_long":
        data.duration_s = 4 * 3600
    elif case == "nothing_read":
        data.note = ""
    elif case == "other_station_airing":
        data.airing = spots[0]
    before = counts()
    with pytest.raises(ValidationError) as info:
        playout.record_live_read(users["operator"], data)
    assert field in info.value.fields
    db.session.rollback()
    assert counts() == before


def test_live_read_needs_playout_control(org, users, clock):
    data = playout.LiveRead(
        station=make_station(org.commune, "PT-A"),
        started_at=clock.now(),
        duration_s=60,
        note="Đọc tin",
    )
    with pytest.raises(PermissionDenied):
        playout.record_live_read(users["writer"], data)


# --- the log's filters ----------------------------------------------------------------------


def test_log_filters_by_station_date_status_and_campaign(spots, users, org, clock):
    runner.air(spots[0].id, output=simulate(clock), clock=clock, host=HOST)
    playout.skip_airing(users["operator"], spots[1], "Không cần phát")
    elsewhere = make_station(org.other_district, "OTHER")
    playout.record_live_read(
        users["operator"],
        playout.LiveRead(
            station=spots[0].station, started_at=clock.now(), duration_s=30, note="Tin địa phương"
        ),
    )
    supervisor = users["supervisor"]

    def keys(**filters):
        rows = db.session.scalars(log_query(supervisor, LogFilter(**filters))).all()
        return sorted((r.station.code, r.status.value) for r in rows)

    assert keys() == [
        ("PT-CITY", "skipped"),
        ("PT-PHUTHUY", "aired"),
        ("PT-PHUTHUY", "aired"),
    ]
    assert keys(station=spots[1].station) == [("PT-CITY", "skipped")]
    assert keys(status=LogStatus.SKIPPED) == [("PT-CITY", "skipped")]
    # 05:30 on 28/11 local is 22:30 on 27/11 UTC: the local day counts.
    assert len(keys(date_from=date(2026, 11, 28), date_to=date(2026, 11, 28))) == 3
    assert keys(date_to=date(2026, 11, 27)) == []
    campaign = spots[0].script.campaign
    assert len(keys(campaign=campaign)) == (2 if campaign else 3)
    assert keys(campaign="không có") == []
    assert elsewhere.code not in {k[0] for k in keys()}
    with pytest.raises(ValidationError):
        log_query(supervisor, LogFilter(date_from=date(2026, 12, 2), date_to=date(2026, 12, 1)))


def test_log_query_is_limited_to_the_users_subtree(spots, users, clock):
    runner.air(spots[0].id, output=simulate(clock), clock=clock, host=HOST)
    outsider = users["outside_supervisor"]
    assert db.session.scalars(log_query(outsider, LogFilter())).all() == []


def test_manual_airings_are_not_moved_when_the_day_is_sequenced(spots, users, clock):
    from app.schedules.service import sequence_station

    station = spots[0].station
    script = spots[0].script
    clock.current = datetime(2026, 11, 27, 22, 40, tzinfo=UTC)  # 05:40 local, in the session
    [emergency] = playout.air_now(users["operator"], script, [station])
    sequence_station(station, clock.now() - timedelta(hours=2), clock.now() + timedelta(days=1))
    db.session.commit()
    db.session.refresh(emergency)
    assert emergency.sequenced_at == clock.now()


def test_sweep_leaves_a_claim_this_runner_is_still_on(spots, clock):
    """A spot that waited for its station and then plays long is not taken for crashed."""
    stage = runner.Stage()
    claimed = runner.claim_airing(spots[0].id, HOST, clock.now())
    stage.hold(spots[0].id)
    assert runner.mark_started(claimed.id, runner.Claim.of(claimed), clock.now())
    clock.advance(hours=2)
    rows = runner.sweep_missed(clock.now(), HOST, stage=stage)
    assert spots[0].airing_key not in {r.airing_key for r in rows}
    assert status_of(spots[0]) == AiringStatus.CLAIMED
    stage.release(spots[0].id)
    [row] = [r for r in runner.sweep_missed(clock.now(), HOST, stage=stage)]
    assert row.airing_key == spots[0].airing_key
    assert row.status == LogStatus.INTERRUPTED
    assert status_of(spots[0]) == AiringStatus.INTERRUPTED


def test_a_schedule_saved_during_a_session_is_not_placed_in_its_past(org, users, clock):
    """17:00-17:45 session, saved at 17:10 with spots at 17:20 and 17:30: they follow on from
    just after 17:10, never at 17:00 (which would only be logged missed)."""
    from datetime import time

    from app.schedules import service
    from app.schedules.service import SEQUENCE_LEAD_S
    from tests.schedules.test_service import local, times_rule, with_sessions

    today = date(2026, 11, 27)
    clock.current = local(today, 17, 10)
    station = with_sessions(make_station(org.district, "PT-LIVE"))
    script = approved_script(users, org.district)
    data = service.ScheduleInput(
        script=script,
        recurrence=times_rule(time(17, 20), time(17, 30), start=today, end=today),
        stations=[station],
        confirm_warnings=True,
    )
    service.create_schedule(users["operator"], data)
    airings = db.session.scalars(select(Airing).order_by(Airing.sequenced_at)).all()
    assert len(airings) == 2
    first, second = airings
    assert first.sequenced_at == clock.now() + timedelta(seconds=SEQUENCE_LEAD_S)
    gap = timedelta(seconds=first.duration_s + 5)
    assert second.sequenced_at == first.sequenced_at + gap
    assert {a.session_name for a in airings} == {"Buổi chiều"}


def test_scheduling_the_same_script_again_at_the_same_times_warns(org, users, clock):
    from datetime import time

    from app.schedules import service
    from app.schedules.service import ScheduleProblems
    from tests.schedules.test_service import times_rule, with_sessions

    station = with_sessions(make_station(org.district, "PT-DUP"))
    script = approved_script(users, org.district)

    def data(**kw):
        return service.ScheduleInput(
            script=script, recurrence=times_rule(time(5, 45)), stations=[station], **kw
        )

    service.create_schedule(users["operator"], data())
    with pytest.raises(ScheduleProblems) as info:
        service.create_schedule(users["operator"], data())
    [dup] = [p for p in info.value.problems if p.code == "duplicate"]
    assert "7 thời điểm trùng" in dup.message
    assert "đầu tiên lúc 05:45 ngày 28/11/2026" in dup.message
    service.create_schedule(users["operator"], data(confirm_warnings=True))


def test_schedule_pages_count_a_spot_aired_before_its_rule_time_as_aired(
    org, users, clock, login_as
):
    """08:15 is placed at the session's start, 08:10: once aired, it is not "to come"."""
    from datetime import time

    from app.org.service import add_session
    from app.schedules import service
    from tests.schedules.test_service import local, times_rule

    today = date(2026, 11, 27)
    station = make_station(org.district, "PT-EARLY")
    add_session(None, station, "Buổi sáng", time(8, 10), time(8, 40), 15, "1234567")
    script = approved_script(users, org.district)
    data = service.ScheduleInput(
        script=script,
        recurrence=times_rule(time(8, 15), start=today, end=today),
        stations=[station],
    )
    schedule = service.create_schedule(users["operator"], data)
    [airing] = db.session.scalars(select(Airing)).all()
    assert airing.sequenced_at == local(today, 8, 10)
    clock.current = airing.sequenced_at
    runner.air(airing.id, output=simulate(clock), clock=clock, host=HOST)
    client = login_as("operator")
    page = client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    assert "chưa bắt đầu" not in page
    listing = client.get("/schedules/").get_data(as_text=True)
    assert "chưa bắt đầu" not in listing
    assert "27/11/2026 08:15" not in listing


def test_console_now_marker_sits_before_the_next_session_not_after_all(org, users, clock, login_as):
    from datetime import time

    from app.org.service import add_session

    station = make_station(org.district, "PT-NOW")
    add_session(None, station, "Buổi sáng", time(8, 10), time(8, 40), 15, "1234567")
    add_session(None, station, "Buổi chiều", time(17, 0), time(17, 45), 15, "1234567")
    script = approved_script(users, org.district)
    [airing] = playout.air_now(users["operator"], script, [station])
    runner.air(airing.id, output=simulate(clock), clock=clock, host=HOST)
    page = login_as("operator").get("/playout/?station=PT-NOW").get_data(as_text=True)
    assert "sau mọi lượt phát trong ngày" not in page
    marker = page.index("Bây giờ 08:00")
    assert marker < page.index("08:10–08:40") < page.index("17:00–17:45")
