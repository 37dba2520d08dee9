"""Airtime reports against hand-computed figures: periods, units, corrections, boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from app.broadcast.models import LogStatus
from app.broadcast.service import LogEntry, append_log, correct_log
from app.core.clock import LOCAL_TZ
from app.core.errors import NotFound, ValidationError
from app.extensions import db
from app.reports import service as reports
from app.reports.service import Period, ReportFilter, make_period
from app.schedules import service as schedules
from app.schedules.models import Airing
from app.scripts.models import Priority
from tests.factories import make_station
from tests.schedules.test_service import START, approved_script, times_rule, with_sessions

NOVEMBER = make_period("month", date(2026, 11, 1))


def local(day: date, hh: int, mm: int = 0) -> datetime:
    """Aware UTC from a Vietnam wall-clock time."""
    from app.core.clock import LOCAL_TZ

    return datetime.combine(day, time(hh, mm), LOCAL_TZ).astimezone(UTC)


@pytest.fixture
def world(org, users, clock):
    """Two stations of the district with a hand-made November log (see the module's figures).

    Station A (district): 1 aired, 1 aired late, 1 missed, 1 failed, 1 cancelled, 1 cut off by
    an emergency and aired again, 1 live read, 1 aired at 23:30 on 30/11 (November), 1 at
    00:10 on 1/12 (December), 1 missed then corrected to aired; and a schedule from 28/11 at
    05:45 whose airings on 28, 29 and 30/11 are still pending.
    Station B (commune): 1 aired on 5/11, then moved to the other district, 1 aired on 20/11.
    """
    script = approved_script(users, org.district, campaign="Đợt 6", source_number="855/BCĐ")
    other = approved_script(users, org.district, title="Phòng chống bão", campaign="")
    a = with_sessions(make_station(org.district, "A"))
    b = with_sessions(make_station(org.commune, "B"))
    data = schedules.ScheduleInput(
        script=script,
        recurrence=times_rule(time(5, 45), start=START, end=date(2026, 12, 4)),
        stations=[a],
    )
    schedule = schedules.create_schedule(users["operator"], data)

    def log(station, when, status, *, duration=60.0, key=None, sched=True, scr=script, **kw):
        started = None if status in (LogStatus.MISSED, LogStatus.CANCELLED) else when
        entry = LogEntry(
            station_id=station.id,
            status=status,
            planned_at=when if sched else None,
            started_at=started if started is not None or not sched else None,
            ended_at=(started + timedelta(seconds=duration)) if started else None,
            duration_s=duration if started else None,
            script_id=scr.id,
            version_id=scr.approved_version_id,
            schedule_id=schedule.id if sched else None,
            airing_key=key
            or (f"{schedule.id}:{station.id}:{when:%Y%m%dT%H%M%SZ}" if sched else None),
            priority=scr.priority,
            **kw,
        )
        return append_log(entry)

    d10, d11, d12 = date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 12)
    log(a, local(d10, 5, 30), LogStatus.AIRED)
    log(a, local(d10, 17), LogStatus.AIRED_LATE, reason="phát muộn 2 phút")
    log(a, local(d11, 5, 30), LogStatus.MISSED, reason="bỏ lỡ: bộ phát không chạy")
    log(a, local(d11, 17), LogStatus.FAILED, scr=other, reason="lỗi: tệp âm thanh không còn")
    log(a, local(d12, 5, 30), LogStatus.CANCELLED)
    cut = local(d12, 17)
    log(a, cut, LogStatus.INTERRUPTED, duration=20.0)
    log(a, cut + timedelta(minutes=2), LogStatus.AIRED, key=f"x~r{cut:%H%M%S}")
    log(a, local(date(2026, 11, 13), 9), LogStatus.AIRED, duration=90.0, sched=False)
    log(a, local(date(2026, 11, 30), 23, 30), LogStatus.AIRED)
    log(a, local(date(2026, 12, 1), 0, 10), LogStatus.AIRED)
    wrong = log(a, local(date(2026, 11, 14), 5, 30), LogStatus.MISSED)
    correct_log(
        users["operator"],
        wrong,
        "Đài đã phát, bộ phát ghi nhầm",
        status=LogStatus.AIRED,
        started_at=wrong.planned_at,
        ended_at=wrong.planned_at + timedelta(seconds=60),
        duration_s=60.0,
    )
    log(b, local(date(2026, 11, 5), 5, 30), LogStatus.AIRED)
    b.unit_id = org.other_district.id
    db.session.commit()
    log(b, local(date(2026, 11, 20), 5, 30), LogStatus.AIRED)
    return {"a": a, "b": b, "script": script, "other": other, "schedule": schedule}


def test_pending_airings_of_the_fixture(world):
    pending = db.session.scalars(
        select(Airing).where(Airing.sequenced_at < NOVEMBER.utc_bounds[1])
    ).all()
    assert len(pending) == 3  # 28, 29 and 30/11 at 05:45 (sequenced into the session)


def test_dashboard_totals_match_the_hand_count(world, users):
    board = reports.airtime_dashboard(users["supervisor2"], ReportFilter(period=NOVEMBER))
    total = board.total
    # A: 1, 2, 3, 4, the cut-off 17:00, 30/11 23:30, the corrected 14/11 → 7 logged + 3
    # pending; B: 5/11 (the 20/11 row belongs to the other district now) → 11 planned.
    assert total.planned == 11
    assert total.pending == 3
    assert (total.aired, total.aired_late) == (5, 1)  # 10/11, repeat, 30/11, 14/11, B 5/11
    assert (total.missed, total.failed, total.cancelled, total.interrupted) == (1, 1, 1, 1)
    assert total.manual == 1
    assert total.airtime_s == pytest.approx(60 + 60 + 20 + 60 + 90 + 60 + 60 + 60)
    assert total.compliance == pytest.approx(6 / 11)
    assert total.compliance_label == "54,5 %"


def test_dashboard_groups(world, users):
    board = reports.airtime_dashboard(users["supervisor2"], ReportFilter(period=NOVEMBER))
    by_station = {s.code: t for s, t in board.by_station}
    assert set(by_station) == {"A", "B"}
    assert by_station["A"].planned == 10
    assert by_station["B"].planned == 1
    assert by_station["B"].on_air == 1
    assert [s.code for s, _ in board.stations_with_misses] == ["A"]
    by_script = {s.title: t for s, t in board.by_script}
    assert by_script["Phòng chống bão"].failed == 1
    assert by_script["Phòng chống bão"].planned == 1
    by_campaign = dict(board.by_campaign)
    assert by_campaign["Đợt 6"].planned == 10
    assert by_campaign[""].planned == 1
    by_day = dict(board.by_day)
    assert len(by_day) == 30
    assert by_day[date(2026, 11, 30)].on_air == 1
    assert by_day[date(2026, 11, 30)].pending == 1
    assert by_day[date(2026, 11, 10)].airtime_s == 120
    assert by_day[date(2026, 11, 1)].planned == 0
    assert [p for p, _ in board.by_priority] == [world["script"].priority]


def test_a_station_that_moved_counts_for_its_unit_at_the_time(world, users, org):
    mine = reports.airtime_dashboard(users["outside_supervisor"], ReportFilter(period=NOVEMBER))
    assert [(s.code, t.on_air) for s, t in mine.by_station] == [("B", 1)]


def test_a_station_that_moved_away_can_be_picked_for_its_rows_from_before(world, users):
    """B moved from the district to the other district: the district's supervisor can still
    report on B, over the rows filed under the district (5/11), and no others."""
    sup, b = users["supervisor2"], world["b"]
    assert reports.station_in_reach(sup, b)
    board = reports.airtime_dashboard(sup, ReportFilter(period=NOVEMBER, station=b))
    assert [(s.code, t.on_air, t.planned) for s, t in board.by_station] == [("B", 1, 1)]
    lines = reports.logbook(sup, b, NOVEMBER)
    assert [line.day for line in lines] == [date(2026, 11, 5)]
    rows = db.session.execute(reports.drill_rows(sup, ReportFilter(period=NOVEMBER, station=b)))
    assert [row.started_at.astimezone(LOCAL_TZ).day for (row,) in rows] == [5]
    # The other district's supervisor reports on B now, over its rows filed there.
    theirs = reports.logbook(users["outside_supervisor"], b, NOVEMBER)
    assert [line.day for line in theirs] == [date(2026, 11, 20)]


def test_a_station_never_filed_under_the_unit_is_refused(world, users, org):
    elsewhere = make_station(org.other_district, "LAGI")
    sup = users["supervisor2"]
    assert not reports.station_in_reach(sup, elsewhere)
    with pytest.raises(NotFound) as refused:
        reports.airtime_dashboard(sup, ReportFilter(period=NOVEMBER, station=elsewhere))
    assert refused.value.fields == {"station": "Đài không tồn tại hoặc nằm ngoài phạm vi của bạn."}
    with pytest.raises(NotFound):
        reports.logbook(sup, elsewhere, NOVEMBER)


def test_drill_rows_of_a_figure_are_the_rows_the_figure_counts(world, users):
    sup = users["supervisor2"]
    board = reports.airtime_dashboard(sup, ReportFilter(period=NOVEMBER))
    logged = {
        "planned": board.total.planned - board.total.pending,
        "on_air": board.total.on_air,
        "aired_late": board.total.aired_late,
        "missed": board.total.missed,
        "failed": board.total.failed,
        "cancelled": board.total.cancelled,
        "manual": board.total.manual,
    }
    for figure, n in logged.items():
        query = reports.drill_rows(sup, ReportFilter(period=NOVEMBER), figure)
        assert len(db.session.execute(query).all()) == n, figure


def test_period_boundaries_are_local_days(world, users):
    december = make_period("month", date(2026, 12, 1))
    board = reports.airtime_dashboard(users["supervisor2"], ReportFilter(period=december))
    by_day = dict(board.by_day)
    # 00:10 on 1/12 local is 17:10 on 30/11 UTC, yet it belongs to December.
    assert by_day[date(2026, 12, 1)].on_air == 1
    day = make_period("day", date(2026, 11, 30))
    board = reports.airtime_dashboard(users["supervisor2"], ReportFilter(period=day))
    assert board.total.on_air == 1  # the 23:30 airing
    assert board.total.pending == 1


def test_filters_by_station_campaign_source_script_priority(world, users):
    sup = users["supervisor2"]

    def total(**kw):
        return reports.airtime_dashboard(sup, ReportFilter(period=NOVEMBER, **kw)).total

    assert total(station=world["a"]).planned == 10
    assert total(campaign="Đợt 6").planned == 10
    assert total(source_number="855/BCĐ").planned == 10
    assert total(script=world["other"]).failed == 1
    assert total(priority=Priority.EMERGENCY).planned == 0


def test_writers_see_only_their_own_scripts(world, users):
    board = reports.airtime_dashboard(users["writer2"], ReportFilter(period=NOVEMBER))
    assert board.total.planned == 0
    board = reports.airtime_dashboard(users["writer"], ReportFilter(period=NOVEMBER))
    assert board.total.planned == 11


def test_out_of_scope_unit_or_station_is_refused(world, users, org):
    with pytest.raises(NotFound):
        reports.airtime_dashboard(
            users["supervisor2"], ReportFilter(period=NOVEMBER, unit=org.other_district)
        )
    with pytest.raises(NotFound):
        reports.airtime_dashboard(
            users["outside_supervisor"], ReportFilter(period=NOVEMBER, station=world["a"])
        )


def test_drill_down_lists_the_rows_behind_a_figure(world, users):
    sup = users["supervisor2"]
    rows = db.session.execute(
        reports.drill_rows(sup, ReportFilter(period=NOVEMBER, status=LogStatus.MISSED))
    ).all()
    assert [r.BroadcastLog.reason for r in rows] == ["bỏ lỡ: bộ phát không chạy"]
    rows = db.session.execute(
        reports.drill_rows(sup, ReportFilter(period=NOVEMBER, station=world["a"]))
    ).all()
    assert len(rows) == 10  # 11 rows filed in November, the corrected one replaced


def test_campaign_report(world, users):
    report = reports.campaign_report(
        users["supervisor2"], ReportFilter(period=None, campaign="Đợt 6")
    )
    lines = {(ln.station.code, ln.script.title): ln for ln in report.lines}
    a = lines[("A", "Kêu gọi tiêm chủng")]
    # All time: 7 logged rows of this script (the 1/12 row too), 7 pending (28/11-4/12).
    assert a.tally.planned == 7 + 7
    assert a.tally.on_air == 6
    assert a.first_aired == local(date(2026, 11, 10), 5, 30)
    assert a.last_aired == local(date(2026, 12, 1), 0, 10)
    assert [m.status for m in a.misses] == [LogStatus.MISSED, LogStatus.INTERRUPTED]
    b = lines[("B", "Kêu gọi tiêm chủng")]
    assert b.tally.on_air == 1  # only the row filed under the district
    assert report.total.planned == a.tally.planned + b.tally.planned


def test_campaign_report_needs_a_campaign_or_source(users):
    with pytest.raises(ValidationError):
        reports.campaign_report(users["supervisor2"], ReportFilter(period=NOVEMBER))


def test_logbook_lists_a_stations_day_in_airing_order(world, users):
    day = make_period("day", date(2026, 11, 12))
    lines = reports.logbook(users["supervisor2"], world["a"], day)
    assert [ln.result for ln in lines] == ["đã hủy", "bị ngắt", "đã phát"]
    cut = lines[1]
    assert cut.title == "Kêu gọi tiêm chủng"
    assert cut.source.startswith("855/BCĐ") or "855/BCĐ" in cut.source
    assert cut.approver == users["supervisor"].full_name
    assert cut.version == 1
    assert cut.operator.startswith("tự động")
    week = make_period("week", date(2026, 11, 12))
    days = reports.group_by_day(reports.logbook(users["supervisor2"], world["a"], week))
    assert next(d for d, _ in days) == date(2026, 11, 10)


def test_periods():
    assert make_period("week", date(2026, 11, 27)) == Period(
        "week", date(2026, 11, 23), date(2026, 11, 29)
    )
    feb = make_period("month", date(2028, 2, 10))
    assert (feb.start, feb.end) == (date(2028, 2, 1), date(2028, 2, 29))
    assert feb.label == "Tháng 02/2028"
    assert make_period("month", date(2026, 1, 5)).previous().label == "Tháng 12/2025"
    start, end = make_period("day", date(2026, 11, 27)).utc_bounds
    assert (start, end) == (
        datetime(2026, 11, 26, 17, tzinfo=UTC),
        datetime(2026, 11, 27, 17, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"period": "year"}, "period"),
        ({"period": "custom", "date": "2026-11-10"}, "end"),
        ({"period": "custom", "date": "2026-11-10", "end": "2026-11-01"}, "end"),
        ({"period": "custom", "date": "2025-01-01", "end": "2026-11-01"}, "end"),
        ({"date": "31/02/2026"}, "date"),
    ],
)
def test_bad_periods_are_refused_in_vietnamese(args, field):
    with pytest.raises(ValidationError) as info:
        reports.period_from_args(args, date(2026, 11, 27))
    assert field in info.value.fields
    assert info.value.message


def test_sessions_over_their_cap_stand_out(world, users):
    airing = db.session.scalars(select(Airing).order_by(Airing.sequenced_at)).first()
    assert airing.session_name == "Buổi sáng"
    append_log(
        LogEntry(
            station_id=airing.station_id,
            status=LogStatus.AIRED,
            planned_at=airing.sequenced_at,
            started_at=airing.sequenced_at,
            ended_at=airing.sequenced_at + timedelta(seconds=1000),
            duration_s=1000.0,
            script_id=airing.script_id,
            version_id=airing.version_id,
            schedule_id=airing.schedule_id,
            airing_key=airing.airing_key,
            priority=airing.priority,
        )
    )
    board = reports.airtime_dashboard(users["supervisor2"], ReportFilter(period=NOVEMBER))
    [over] = board.over_cap
    assert (over.station.code, over.day, over.session) == ("A", date(2026, 11, 28), "Buổi sáng")
    assert (over.minutes, over.cap_minutes) == (16.7, 15)
