"""The day plan: sequencing in sessions, flags outside them, and the problems a save shows."""

from __future__ import annotations

import time as systime
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.schedules.plan import (
    BLOCKING,
    DEFAULT_GAP_SECONDS,
    PRIORITY_RANK,
    SEQUENCE_LEAD_S,
    WARNING,
    Session,
    Spot,
    check_script_validity,
    day_gap,
    format_duration,
    plan_day,
    plan_days,
    priority_rank,
)
from app.schedules.recurrence import LOCAL_TZ, Recurrence, expand
from app.scripts.models import Priority

DAY = date(2021, 9, 1)  # a Wednesday


def local(hh: int, mm: int = 0, ss: int = 0, day: date = DAY) -> datetime:
    """An aware UTC datetime from a wall-clock time in Asia/Ho_Chi_Minh."""
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=LOCAL_TZ).astimezone(UTC)


def make_session(**overrides) -> Session:
    """The morning session 05:30-06:15, every day, capped at 15 minutes."""
    fields = {
        "name": "Buổi sáng",
        "start": time(5, 30),
        "end": time(6, 15),
        "cap_minutes": 15,
        "weekdays": "1234567",
    }
    fields.update(overrides)
    return Session(**fields)


def make_spot(planned: datetime, **overrides) -> Spot:
    """A one-minute normal spot of schedule 1."""
    fields = {
        "schedule_id": 1,
        "planned": planned,
        "duration": 60.0,
        "priority": "normal",
        "title": "Tiêm vắc xin",
    }
    fields.update(overrides)
    return Spot(**fields)


@pytest.fixture(params=["UTC", "America/New_York"])
def process_tz(request, monkeypatch):
    """Run the test under several process time zones: results must not change."""
    monkeypatch.setenv("TZ", request.param)
    systime.tzset()
    yield request.param
    monkeypatch.undo()
    systime.tzset()


def test_spots_in_a_session_run_back_to_back_by_priority_then_time(process_tz):
    spots = [
        make_spot(local(5, 40), schedule_id=1, duration=60, title="A"),
        make_spot(local(6, 0), schedule_id=2, duration=30, priority="emergency", title="B"),
        make_spot(local(5, 35), schedule_id=3, duration=45, priority="priority", title="C"),
        make_spot(local(5, 31), schedule_id=4, duration=20, title="D"),
    ]
    plan = plan_day(DAY, [make_session()], spots, gap_seconds=5)
    assert [(s.title, s.position, s.start, s.end) for s in plan.spots] == [
        ("B", 1, local(5, 30, 0), local(5, 30, 30)),
        ("C", 2, local(5, 30, 35), local(5, 31, 20)),
        ("D", 3, local(5, 31, 25), local(5, 31, 45)),
        ("A", 4, local(5, 31, 50), local(5, 32, 50)),
    ]
    assert all(s.session and s.session.name == "Buổi sáng" for s in plan.spots)
    assert plan.problems == []


def test_the_gap_is_configurable_and_absent_before_the_first_spot():
    spots = [make_spot(local(5, 30)), make_spot(local(5, 31), schedule_id=2)]
    plan = plan_day(DAY, [make_session()], spots, gap_seconds=0)
    assert [s.start for s in plan.spots] == [local(5, 30), local(5, 31)]
    plan = plan_day(DAY, [make_session()], spots, gap_seconds=12.5)
    assert plan.spots[1].start == local(5, 31) + timedelta(seconds=12.5)


def test_the_priority_enum_sorts_like_its_values():
    assert [priority_rank(p) for p in (Priority.EMERGENCY, Priority.HIGH, Priority.NORMAL)] == [
        0,
        1,
        2,
    ]
    assert priority_rank("emergency") == 0
    spots = [
        make_spot(local(5, 30), priority=Priority.NORMAL, title="normal"),
        make_spot(local(6, 10), priority=Priority.EMERGENCY, title="emergency"),
    ]
    plan = plan_day(DAY, [make_session()], spots)
    assert [s.title for s in plan.spots] == ["emergency", "normal"]


def test_equal_priority_and_time_order_by_schedule_for_a_stable_plan():
    spots = [make_spot(local(5, 45), schedule_id=9), make_spot(local(5, 45), schedule_id=3)]
    plan = plan_day(DAY, [make_session()], spots)
    assert [s.schedule_id for s in plan.spots] == [3, 9]


def test_a_session_over_its_cap_is_a_warning_naming_the_overflow():
    spots = [
        make_spot(local(5, 30), schedule_id=1, duration=600),
        make_spot(local(5, 45), schedule_id=2, duration=490),  # 18 min 10 s in all
    ]
    plan = plan_day(DAY, [make_session()], spots, gap_seconds=0)
    [problem] = plan.problems
    assert problem.code == "over_cap"
    assert problem.severity == WARNING
    assert problem.message == (
        "Buổi sáng 05:30–06:15 vượt 3 phút 10 giây so với mức tối đa 15 phút (ngày 1/9/2021)."
    )
    assert problem.when == local(5, 30)
    assert problem.schedule_id == 2  # its spot crossed the cap
    assert not plan.blocking


def test_gaps_count_toward_the_cap():
    spots = [make_spot(local(5, 30), duration=450), make_spot(local(5, 40), duration=450)]
    assert plan_day(DAY, [make_session()], spots, gap_seconds=0).problems == []
    [problem] = plan_day(DAY, [make_session()], spots, gap_seconds=10).problems
    assert "vượt 10 giây" in problem.message


def test_a_session_without_cap_is_never_over_it():
    spots = [make_spot(local(5, 30), duration=1800)]
    assert plan_day(DAY, [make_session(cap_minutes=None)], spots).problems == []
    assert plan_day(DAY, [make_session(cap_minutes=0)], spots).problems == []


def test_a_spot_pushed_past_the_session_end_blocks_and_one_running_over_warns():
    session = make_session(end=time(5, 40), cap_minutes=None)
    spots = [
        make_spot(local(5, 30), schedule_id=1, duration=480, title="A"),
        make_spot(local(5, 31), schedule_id=2, duration=240, title="B"),
        make_spot(local(5, 32), schedule_id=3, duration=120, title="C"),
    ]
    plan = plan_day(DAY, [session], spots, gap_seconds=0)
    assert [(p.code, p.severity, p.schedule_id) for p in plan.problems] == [
        ("overruns_session", WARNING, 2),
        ("after_session_end", BLOCKING, 3),
    ]
    assert plan.problems[0].message == (
        "Lần phát “B” (05:38–05:42) kéo dài quá giờ kết thúc của Buổi sáng 05:30–05:40 "
        "ngày 1/9/2021 2 phút."
    )
    assert plan.problems[1].message == (
        "Lần phát “C” bị đẩy đến 05:42, sau khi Buổi sáng 05:30–05:40 ngày 1/9/2021 đã kết thúc."
    )
    assert plan.blocking


def test_a_spot_outside_every_session_keeps_its_time_and_is_flagged(process_tz):
    plan = plan_day(DAY, [make_session()], [make_spot(local(7, 10), schedule_id=5)])
    [spot] = plan.spots
    assert spot.outside and spot.session is None and spot.position == 0
    assert (spot.start, spot.end) == (local(7, 10), local(7, 11))
    [problem] = plan.problems
    assert (problem.code, problem.severity, problem.when, problem.schedule_id) == (
        "outside_session",
        WARNING,
        local(7, 10),
        5,
    )
    assert problem.message == (
        "Lần phát “Tiêm vắc xin” lúc 07:10 ngày 1/9/2021 nằm ngoài các buổi phát của đài."
    )


@pytest.mark.parametrize(
    ("at", "inside"),
    [((5, 30), True), ((6, 14), True), ((6, 15), False), ((5, 29), False)],
)
def test_a_session_holds_its_start_but_not_its_end(at, inside):
    plan = plan_day(DAY, [make_session()], [make_spot(local(*at))])
    assert plan.spots[0].outside is not inside


def test_a_session_only_holds_spots_on_its_weekdays():
    weekdays_only = make_session(weekdays="12345")
    saturday = date(2021, 9, 4)
    plan = plan_day(saturday, [weekdays_only], [make_spot(local(5, 45, day=saturday))])
    assert plan.spots[0].outside
    assert [p.code for p in plan.problems] == ["outside_session"]


def test_overlapping_spots_outside_sessions_are_warned():
    spots = [
        make_spot(local(7, 10), schedule_id=1, duration=120, title="A"),
        make_spot(local(7, 11), schedule_id=2, duration=120, title="B"),
        make_spot(local(7, 20), schedule_id=3, duration=60, title="C"),
    ]
    plan = plan_day(DAY, [make_session()], spots)
    overlaps = [p for p in plan.problems if p.code == "overlap"]
    # B cannot play over A: it follows A, and the warning gives the time it will really air.
    assert [(s.title, s.start) for s in plan.spots] == [
        ("A", local(7, 10)),
        ("B", local(7, 12, 5)),
        ("C", local(7, 20)),
    ]
    assert [(p.severity, p.schedule_id, p.when) for p in overlaps] == [
        (WARNING, 2, local(7, 12, 5))
    ]
    assert overlaps[0].message == (
        "Lần phát “B” lúc 07:11 trùng với “A” (07:10–07:12) nên sẽ phát lúc "
        "07:12:05–07:14:05 ngày 1/9/2021."
    )


def test_a_session_running_into_an_outside_spot_is_an_overlap():
    spots = [
        make_spot(local(6, 0), schedule_id=1, duration=3000, title="Dài"),
        make_spot(local(6, 18), schedule_id=2, title="Sau"),
    ]
    plan = plan_day(DAY, [make_session(cap_minutes=None)], spots)
    assert "overlap" in [p.code for p in plan.problems]
    assert plan.spots[1].start == local(6, 20, 5)  # after 05:30 + 50 minutes and the gap


def test_problems_come_in_time_order():
    spots = [make_spot(local(20)), make_spot(local(7))]
    plan = plan_day(DAY, [make_session()], spots)
    assert [p.when for p in plan.problems] == [local(7), local(20)]


def test_plan_day_refuses_spots_of_another_local_day():
    with pytest.raises(ValueError):
        plan_day(DAY, [make_session()], [make_spot(local(5, 45, day=date(2021, 9, 2)))])


def test_plan_days_groups_by_local_day_across_utc_midnight(process_tz):
    # 05:45 local on 2/9 is 22:45 UTC on 1/9: it belongs to the local day 2/9.
    early = make_spot(datetime(2021, 9, 1, 22, 45, tzinfo=UTC))
    evening = make_spot(local(17, 15))
    plans = plan_days([make_session()], [early, evening])
    assert [p.day for p in plans] == [date(2021, 9, 1), date(2021, 9, 2)]
    assert plans[1].spots[0].start == local(5, 30, day=date(2021, 9, 2))
    assert plans[0].spots[0].outside


def test_per_session_airings_sequence_into_their_session():
    session = make_session()
    rec = Recurrence(
        kind="per_session", per_session=3, start_date=DAY, end_date=DAY, weekdays="1234567"
    )
    airings = expand(rec, local(0), local(23, 59), [session])
    assert airings == [local(5, 30), local(5, 45), local(6, 0)]
    plan = plan_day(DAY, [session], [make_spot(a) for a in airings], gap_seconds=5)
    assert [s.start for s in plan.spots] == [local(5, 30), local(5, 31, 5), local(5, 32, 10)]


def test_check_script_validity_warns_when_the_script_expires_first():
    last = local(5, 45, day=date(2021, 10, 5))
    problem = check_script_validity(date(2021, 9, 30), last, schedule_id=7)
    assert problem is not None
    assert (problem.code, problem.severity, problem.when, problem.schedule_id) == (
        "script_expires",
        WARNING,
        last,
        7,
    )
    assert problem.message == (
        "Kịch bản hết hiệu lực sau ngày 30/9/2021, nhưng lịch còn phát đến 05:45 ngày 5/10/2021."
    )


@pytest.mark.parametrize(
    ("valid_until", "last"),
    [
        (date(2021, 9, 30), local(23, 59, day=date(2021, 9, 30))),
        (date(2021, 9, 30), local(5, 45, day=date(2021, 9, 1))),
        (None, local(5, 45)),
        (date(2021, 9, 30), None),
    ],
)
def test_check_script_validity_is_silent_while_the_script_lasts(valid_until, last):
    assert check_script_validity(valid_until, last) is None


def test_the_last_local_day_is_compared_not_the_utc_one():
    # 05:45 on 1/10 local is still 30/9 in UTC: the script valid until 30/9 has expired.
    last = local(5, 45, day=date(2021, 10, 1))
    assert last.date() == date(2021, 9, 30)
    assert check_script_validity(date(2021, 9, 30), last) is not None


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (190, "3 phút 10 giây"),
        (45, "45 giây"),
        (120, "2 phút"),
        (3900, "1 giờ 5 phút"),
        (0, "0 giây"),
        (59.6, "1 phút"),
    ],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_sessions_must_end_after_they_start():
    with pytest.raises(ValueError):
        make_session(start=time(6), end=time(5))


def test_sessions_take_broadcast_session_weekday_digits():
    assert make_session(weekdays="12345").weekdays == frozenset({1, 2, 3, 4, 5})


def test_a_fixed_spot_keeps_its_start_and_the_others_go_round_it():
    claimed = make_spot(
        local(5, 31), schedule_id=1, duration=60, title="Đã nhận", fixed=local(5, 31)
    )
    spots = [
        claimed,
        make_spot(local(5, 40), schedule_id=2, duration=60, priority="emergency", title="A"),
        make_spot(local(5, 45), schedule_id=3, duration=30, title="B"),
    ]
    plan = plan_day(DAY, [make_session()], spots, gap_seconds=5)
    # A (khẩn cấp) would open the session at 05:30 but cannot end 5 s before 05:31.
    assert [(s.title, s.start, s.position) for s in plan.spots] == [
        ("Đã nhận", local(5, 31), 1),
        ("A", local(5, 32, 5), 2),
        ("B", local(5, 33, 10), 3),
    ]
    assert plan.problems[0].code == "overlap"
    assert "nên sẽ phát lúc 05:32:05–05:33:05" in plan.problems[0].message


def test_spots_planned_from_now_on_never_start_in_the_past():
    spots = [make_spot(local(5, 40), title="A"), make_spot(local(5, 50), title="B")]
    plan = plan_day(DAY, [make_session()], spots, gap_seconds=5, now=local(5, 42))
    # A was due before now: it keeps its place (and will be logged missed); B follows on.
    assert [(s.title, s.start) for s in plan.spots] == [
        ("A", local(5, 30)),
        ("B", local(5, 42, SEQUENCE_LEAD_S)),
    ]
    assert plan.problems == []


def test_the_day_gap_is_the_largest_its_spots_ask_for():
    spots = [make_spot(local(5, 30), gap=2.0), make_spot(local(5, 35), schedule_id=2, gap=12.5)]
    plan = plan_day(DAY, [make_session()], spots, gap_seconds=None)
    assert plan.spots[1].start == local(5, 31, 12) + timedelta(seconds=0.5)
    assert day_gap([make_spot(local(5, 30))]) == DEFAULT_GAP_SECONDS


moments = st.integers(min_value=4 * 3600, max_value=22 * 3600)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(moments, st.integers(1, 900), st.sampled_from(sorted(PRIORITY_RANK))),
        max_size=30,
    ),
    st.lists(st.tuples(moments, st.integers(1, 300)), max_size=3),
    st.floats(min_value=0, max_value=30),
    st.one_of(st.none(), moments),
)
def test_nothing_movable_plays_over_anything_and_fixed_spots_stay(loose, fixed, gap, now_s):
    midnight = local(0)
    spots = [
        make_spot(midnight + timedelta(seconds=at), schedule_id=i, duration=d, priority=p)
        for i, (at, d, p) in enumerate(loose)
    ]
    pinned = [
        make_spot(midnight + timedelta(seconds=at), schedule_id=100 + i, duration=d, key=i)
        for i, (at, d) in enumerate(fixed)
    ]
    pinned = [replace(s, fixed=s.planned) for s in pinned]
    now = None if now_s is None else midnight + timedelta(seconds=now_s)
    sessions = [make_session(), make_session(name="Buổi chiều", start=time(17), end=time(17, 45))]
    plan = plan_day(DAY, sessions, spots + pinned, gap_seconds=gap, now=now)
    assert len(plan.spots) == len(spots) + len(pinned)
    for spot in plan.spots:
        assert spot.end - spot.start == timedelta(
            seconds=next(s.duration for s in spots + pinned if s.schedule_id == spot.schedule_id)
        )
    movable = [s for s in plan.spots if s.schedule_id < 100]
    for spot in plan.spots:
        if spot.schedule_id >= 100:
            assert spot.start == spot.planned
    for spot in movable:
        if spot.session is None:
            assert spot.start >= spot.planned
        if now is not None and spot.planned >= now:
            assert spot.start >= now + timedelta(seconds=SEQUENCE_LEAD_S)
        for other in plan.spots:
            if other is not spot:
                assert spot.end <= other.start or other.end <= spot.start
