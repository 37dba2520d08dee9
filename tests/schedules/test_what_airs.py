"""What the operator is shown is what airs: the dry run (web and API), the check on save and
the stored airings are one list, to the second; a rule whose spots cannot fit its window is
refused or warned with the real times."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from app.auth.service import create_token
from app.core.errors import ValidationError
from app.extensions import db
from app.org.service import add_session
from app.schedules import service
from app.schedules.models import Airing, AiringStatus, CancelledOccurrence, Schedule
from app.schedules.recurrence import LOCAL_TZ, Recurrence
from app.scripts.models import Priority
from tests.factories import make_station, make_unit
from tests.schedules.test_service import approved_script, local, with_sessions
from tests.schedules.test_views import _warnings_seen, field_errors

START = date(2026, 11, 28)  # the day after the test clock's "today" (27/11/2026)
ISSUE_SPOT_S = 124.0  # the spot of the report: 2 minutes 4 seconds


def counts() -> tuple[int, int, int]:
    """Rows of schedules, airings and cancelled occurrences."""
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Schedule, Airing, CancelledOccurrence)
    )


def lasting(script, seconds: float):
    """Give the script's approved audio this length."""
    script.approved_render.duration_s = seconds
    db.session.commit()
    return script


def every(minutes: int, start: time, end: time, first: date = START, days: int = 3) -> Recurrence:
    """An "every N minutes" rule over a few days from START."""
    return Recurrence(
        kind="every",
        every_minutes=minutes,
        window_start=start,
        window_end=end,
        start_date=first,
        end_date=first + timedelta(days=days - 1),
    )


def times_rule(*hhmm: time, first: date = START, days: int = 3) -> Recurrence:
    """A fixed-times rule over a few days from START."""
    return Recurrence(
        kind="times", times=hhmm, start_date=first, end_date=first + timedelta(days=days - 1)
    )


@pytest.fixture
def desk(org, users):
    """An approved script (124 s, like the report's) and two district stations with sessions."""
    script = lasting(approved_script(users, org.district), ISSUE_SPOT_S)
    commune = with_sessions(make_station(org.commune, "PT-PHUTHUY", "Đài Phú Thủy"))
    city = with_sessions(make_station(org.district, "PT-CITY", "Đài Phan Thiết"))
    return {"script": script, "commune": commune, "city": city, "org": org}


def stored_airings(schedule: Schedule) -> list[tuple[str, datetime, datetime]]:
    """(station, planned, sequenced) of the schedule's airing rows, read fresh."""
    db.session.expire_all()
    rows = db.session.scalars(select(Airing).where(Airing.schedule_id == schedule.id)).all()
    return sorted((a.station.code, a.planned_at, a.sequenced_at) for a in rows)


def listed(result: service.CheckResult, now: datetime) -> list[tuple[str, datetime, datetime]]:
    """(station, planned, start) of a check's airings inside the materialised horizon."""
    horizon = service.airing_horizon_end(now)
    return sorted(
        (a.station.code, a.planned, a.start) for a in result.airings if a.planned < horizon
    )


def save_and_compare(actor, data: service.ScheduleInput, clock, monkeypatch) -> dict:
    """Dry run, save (its own check captured), and compare both lists with the stored rows."""
    dry = service.check_schedule(actor, data, clock.now())
    seen: list[service.CheckResult] = []
    real_check = service.check_schedule

    def spy(*args, **kwargs):
        result = real_check(*args, **kwargs)
        seen.append(result)
        return result

    monkeypatch.setattr(service, "check_schedule", spy)
    if dry.warnings:
        # The refused save shows the list the save itself computed.
        with pytest.raises(service.ScheduleProblems) as refused:
            service.create_schedule(actor, data)
        db.session.rollback()
        assert listed(refused.value.result, clock.now()) == listed(dry, clock.now())
    schedule = service.create_schedule(actor, replace(data, confirm_warnings=True))
    monkeypatch.undo()
    stored = stored_airings(schedule)
    assert stored, "nothing was stored"
    assert listed(seen[-1], clock.now()) == listed(dry, clock.now())
    # The same list, to the second (the datetimes are compared whole).
    assert stored == listed(dry, clock.now())
    starts = [s for _, _, s in stored]
    assert dry.first == min(starts)
    if data.recurrence.end_date < service.airing_horizon_end(clock.now()).date():
        assert dry.last == max(starts)
    return {"dry": dry, "schedule": schedule, "stored": stored}


def assert_nothing_overlaps(station_code: str) -> None:
    """No two airings of the station play at the same time."""
    rows = db.session.scalars(
        select(Airing)
        .join(Airing.station)
        .where(Airing.status == AiringStatus.PLANNED)
        .order_by(Airing.sequenced_at)
    ).all()
    rows = [a for a in rows if a.station.code == station_code]
    for before, after in pairwise(rows):
        assert after.sequenced_at >= before.sequenced_at + timedelta(seconds=before.duration_s)


# --- The rule of the report: refused, on its field, everywhere --------------------------------


def test_a_spot_longer_than_the_interval_is_refused_on_its_field(desk, users, clock):
    data = service.ScheduleInput(
        script=desk["script"],
        recurrence=every(1, time(19, 52), time(20, 25)),
        stations=[desk["commune"]],
        confirm_warnings=True,
    )
    for attempt in (
        lambda: service.check_schedule(users["operator"], data, clock.now()),
        lambda: service.create_schedule(users["operator"], data),
    ):
        with pytest.raises(ValidationError) as refused:
            attempt()
        message = refused.value.fields["every_minutes"]
        assert "Bản tin dài 2 phút 4 giây, hơn khoảng cách 1 phút" in message
        assert "cứ ít nhất 3 phút một lần" in message
        db.session.rollback()
    assert counts() == (0, 0, 0)


def test_the_form_shows_the_refusal_next_to_the_interval(login_as, desk):
    data = {
        "script": desk["script"].id,
        "stations": [desk["commune"].id],
        "kind": "every",
        "every_minutes": "1",
        "window_start": "19:52",
        "window_end": "20:25",
        "weekdays": [str(d) for d in range(1, 8)],
        "start_date": START.isoformat(),
        "end_date": (START + timedelta(days=2)).isoformat(),
        "gap_seconds": "5",
    }
    client = login_as("operator")
    for action in ("check", "save"):
        response = client.post("/schedules/new", data={**data, "action": action})
        assert response.status_code == 422
        [message] = field_errors(response.get_data(as_text=True), "every_minutes")
        assert "hơn khoảng cách 1 phút giữa hai lần phát" in message
    assert counts() == (0, 0, 0)


@pytest.fixture
def call_api(app, users):
    """POST a schedule body to the API as the operator."""
    _, token = create_token(users["operator"], "test")
    client = app.test_client()

    def post(body: dict):
        return client.post(
            "/api/v1/schedules", json=body, headers={"Authorization": f"Bearer {token}"}
        )

    return post


def api_body(desk, recurrence: dict, **changes) -> dict:
    """A create body on the commune station."""
    return {
        "script": desk["script"].id,
        "stations": ["PT-PHUTHUY"],
        "recurrence": recurrence,
        **changes,
    }


def every_json(minutes: int, start: str, end: str, days: int = 3) -> dict:
    """An "every N minutes" rule as the API reads it."""
    return {
        "kind": "every",
        "every_minutes": minutes,
        "window_start": start,
        "window_end": end,
        "start_date": START.isoformat(),
        "end_date": (START + timedelta(days=days - 1)).isoformat(),
    }


def test_the_api_refuses_it_with_the_field_named(call_api, desk):
    for dry_run in (True, False):
        response = call_api(
            api_body(desk, every_json(1, "19:52", "20:25"), dry_run=dry_run, confirm_warnings=True)
        )
        body = response.get_json()
        assert response.status_code == 422, body
        assert set(body) == {"error", "message", "fields"}
        assert "hơn khoảng cách 1 phút" in body["fields"]["recurrence.every_minutes"]
    assert counts() == (0, 0, 0)


# --- One list: dry run, check on save, stored airings -----------------------------------------


def test_an_every_minutes_window_outside_sessions_airs_inside_the_window(
    desk, users, clock, monkeypatch
):
    # Every 3 minutes fits a 124 s spot: each airs at its own time, 19:52 to 20:25.
    data = service.ScheduleInput(
        script=desk["script"],
        recurrence=every(3, time(19, 52), time(20, 25)),
        stations=[desk["commune"]],
    )
    out = save_and_compare(users["operator"], data, clock, monkeypatch)
    assert {p.code for p in out["dry"].problems} == {"outside_session"}
    for _, planned, start in out["stored"]:
        assert start == planned
    assert out["dry"].last == local(START + timedelta(days=2), 20, 25)
    assert_nothing_overlaps("PT-PHUTHUY")


def test_spots_pushed_past_the_window_end_are_warned_with_their_real_times(
    desk, users, clock, monkeypatch
):
    # 118 s + 5 s of gap every 2 minutes: each spot starts 3 s after the one before would
    # allow, so the 17th (rule time 20:24) airs at 20:24:48, past the window's end.
    lasting(desk["script"], 118.0)
    data = service.ScheduleInput(
        script=desk["script"],
        recurrence=every(2, time(19, 52), time(20, 24), days=2),
        stations=[desk["commune"]],
    )
    result = service.check_schedule(users["operator"], data, clock.now())
    overruns = [p for p in result.problems if p.code == "window_overrun"]
    assert [p.when for p in overruns] == [
        local(START, 20, 24, 48),
        local(START + timedelta(days=1), 20, 24, 48),
    ]
    assert overruns[0].severity == "warning"
    assert overruns[0].message == (
        "Đài “Đài Phú Thủy”: ngày 28/11/2026, 17 lần phát cứ 2 phút trong khung 19:52–20:24 "
        "không vừa khung (bản tin dài 1 phút 58 giây, nghỉ 5 giây): sẽ phát từ 19:52 đến "
        "lần cuối lúc 20:24:48, quá giờ kết thúc khung 48 giây."
    )
    # Nothing is saved until the operator confirms.
    with pytest.raises(service.ScheduleProblems):
        service.create_schedule(users["operator"], data)
    db.session.rollback()
    assert counts() == (0, 0, 0)
    out = save_and_compare(users["operator"], data, clock, monkeypatch)
    assert out["dry"].last == local(START + timedelta(days=1), 20, 24, 48)
    assert max(s for _, _, s in out["stored"]) == local(START + timedelta(days=1), 20, 24, 48)
    assert_nothing_overlaps("PT-PHUTHUY")


def test_a_capped_session_airs_as_checked(desk, users, clock, monkeypatch):
    # Four 300 s spots a session with 5 s gaps run 20 min 15 s: over the 15-minute cap.
    lasting(desk["script"], 300.0)
    data = service.ScheduleInput(
        script=desk["script"],
        recurrence=Recurrence(
            kind="per_session", per_session=4, start_date=START, end_date=START + timedelta(days=1)
        ),
        stations=[desk["commune"]],
    )
    out = save_and_compare(users["operator"], data, clock, monkeypatch)
    assert {p.code for p in out["dry"].problems} == {"over_cap"}
    morning = [s for _, _, s in out["stored"]][:4]
    assert morning == [
        local(START, 5, 30),
        local(START, 5, 35, 5),
        local(START, 5, 40, 10),
        local(START, 5, 45, 15),
    ]


def test_several_stations_with_other_schedules_air_as_checked(org, desk, users, clock, monkeypatch):
    """Through a unit, on three stations, one already airing an emergency spot and a long spot
    that runs into the new one's time outside sessions."""
    third = with_sessions(make_station(make_unit("C2", "Phường Đức Thắng", org.district), "PT-DT"))
    other = lasting(approved_script(users, org.district, "Phòng chống bão"), 200.0)
    service.create_schedule(
        users["operator"],
        service.ScheduleInput(
            script=other,
            recurrence=times_rule(time(5, 50), time(12, 0)),
            stations=[desk["city"], third],
            priority=Priority.EMERGENCY,
            gap_seconds=12.5,
            confirm_warnings=True,
        ),
    )
    data = service.ScheduleInput(
        script=desk["script"],
        recurrence=times_rule(time(5, 45), time(12, 2), time(17, 15)),
        units=[org.district],
    )
    out = save_and_compare(users["operator"], data, clock, monkeypatch)
    assert {code for code, _, _ in out["stored"]} == {"PT-CITY", "PT-DT", "PT-PHUTHUY"}
    stored = {(code, planned): start for code, planned, start in out["stored"]}
    # After the emergency spot (05:30–05:33:20) and the day's larger gap, 12.5 s.
    assert stored[("PT-CITY", local(START, 5, 45))] == local(START, 5, 33, 32) + timedelta(
        seconds=0.5
    )
    # 12:02 is taken by the 12:00 spot until 12:03:20: it follows, as the check said.
    assert stored[("PT-CITY", local(START, 12, 2))] == local(START, 12, 3, 32) + timedelta(
        seconds=0.5
    )
    assert stored[("PT-PHUTHUY", local(START, 12, 2))] == local(START, 12, 2)
    overlaps = [p for p in out["dry"].problems if p.code == "overlap"]
    assert overlaps and all("12:03:32" in p.message for p in overlaps)
    for code in ("PT-CITY", "PT-DT", "PT-PHUTHUY"):
        assert_nothing_overlaps(code)


def test_a_session_under_way_airs_as_checked(org, desk, users, clock, monkeypatch):
    today = date(2026, 11, 27)
    clock.current = local(today, 17, 10)
    data = service.ScheduleInput(
        script=desk["script"],
        recurrence=times_rule(time(17, 20), time(17, 30), first=today, days=2),
        stations=[desk["commune"]],
    )
    out = save_and_compare(users["operator"], data, clock, monkeypatch)
    assert out["dry"].first == local(today, 17, 10, 30)


def test_claimed_airings_keep_their_time_and_the_new_spots_go_round_them(
    org, desk, users, clock, monkeypatch
):
    other = approved_script(users, org.district, "Phòng chống bão")
    earlier = service.create_schedule(
        users["operator"],
        service.ScheduleInput(
            script=other, recurrence=times_rule(time(5, 40)), stations=[desk["commune"]]
        ),
    )
    first = db.session.scalars(
        select(Airing).where(Airing.schedule_id == earlier.id).order_by(Airing.planned_at)
    ).first()
    # Claimed at 05:31 (the runner took it late): it stays there whatever comes.
    first.status = AiringStatus.CLAIMED
    first.sequenced_at = local(START, 5, 31)
    db.session.commit()
    data = service.ScheduleInput(
        script=desk["script"],
        recurrence=times_rule(time(5, 35)),
        stations=[desk["commune"]],
        priority=Priority.EMERGENCY,
    )
    out = save_and_compare(users["operator"], data, clock, monkeypatch)
    stored = {planned: start for _, planned, start in out["stored"]}
    # The emergency spot would open the session at 05:30 but 124 s do not fit before 05:31.
    assert stored[local(START, 5, 35)] == local(START, 5, 31) + timedelta(seconds=0.2 + 5)
    db.session.refresh(first)
    assert first.sequenced_at == local(START, 5, 31)


# --- The web check and the API dry run show the stored list -----------------------------------


def page_airings(page: str) -> list[tuple[str, datetime]]:
    """(station, start) of the airings listed on the check page."""
    found = re.findall(
        r'<tr data-station="([^"]+)" data-planned="[^"]+" data-start="([^"]+)"', page
    )
    return sorted((code, datetime.fromisoformat(start)) for code, start in found)


def test_the_web_check_lists_the_times_that_are_stored(login_as, desk):
    desk["script"].approved_render.duration_s = 118.0
    db.session.commit()
    data = {
        "script": desk["script"].id,
        "stations": [desk["commune"].id, desk["city"].id],
        "kind": "every",
        "every_minutes": "2",
        "window_start": "19:52",
        "window_end": "20:24",
        "weekdays": [str(d) for d in range(1, 8)],
        "start_date": START.isoformat(),
        "end_date": START.isoformat(),
        "gap_seconds": "5",
    }
    client = login_as("operator")
    checked = client.post("/schedules/new", data={**data, "action": "check"})
    page = checked.get_data(as_text=True)
    shown = page_airings(page)
    assert len(shown) == 34
    assert "lần cuối lúc 20:24:48, quá giờ kết thúc khung 48 giây" in page
    assert "<strong>20:24:48</strong>" in page
    refused = client.post("/schedules/new", data={**data, "action": "save"})
    assert refused.status_code == 422
    assert page_airings(refused.get_data(as_text=True)) == shown
    saved = client.post(
        "/schedules/new",
        data={
            **data,
            "action": "save",
            "confirm_warnings": "y",
            "warnings_seen": _warnings_seen(page),
        },
    )
    assert saved.status_code == 302, saved.get_data(as_text=True)
    schedule = db.session.scalars(select(Schedule)).one()
    assert [(code, start) for code, _, start in stored_airings(schedule)] == shown


def test_the_api_dry_run_gives_the_first_and_last_times_that_are_stored(call_api, desk):
    desk["script"].approved_render.duration_s = 118.0
    db.session.commit()
    rule = every_json(2, "19:52", "20:24", days=2)
    dry = call_api(api_body(desk, rule, dry_run=True)).get_json()
    assert dry["can_save"] is False
    overrun = [p for p in dry["problems"] if p["code"] == "window_overrun"]
    assert [p["at"] for p in overrun] == ["2026-11-28T20:24:48+07:00", "2026-11-29T20:24:48+07:00"]
    assert counts() == (0, 0, 0)
    refused = call_api(api_body(desk, rule))
    assert refused.status_code == 409
    assert "window_overrun" in {p["code"] for p in refused.get_json()["problems"]}
    saved = call_api(api_body(desk, rule, confirm_warnings=True))
    assert saved.status_code == 201, saved.get_json()
    schedule = db.session.get(Schedule, saved.get_json()["id"])
    starts = [start for _, _, start in stored_airings(schedule)]
    assert dry["first"] == min(starts).astimezone(LOCAL_TZ).isoformat()
    assert dry["last"] == max(starts).astimezone(LOCAL_TZ).isoformat()
    assert dry["last"] == "2026-11-29T20:24:48+07:00"


def test_the_horizon_is_whole_local_days(desk, users, clock):
    """Airings are stored for whole local days, so a day is never sequenced half."""
    now = clock.now()  # 08:00 local
    end = service.airing_horizon_end(now)
    local_end = end.astimezone(LOCAL_TZ)
    assert (local_end.hour, local_end.minute) == (0, 0)
    assert end - now > timedelta(days=service.AIRING_HORIZON_DAYS)
    assert end - now <= timedelta(days=service.AIRING_HORIZON_DAYS + 1)
    assert service.airing_horizon_end(end - timedelta(days=14)) == end


def test_sessions_added_to_a_station_do_not_break_the_one_list(desk, users, clock, monkeypatch):
    """A station with a session holding the window: spots open the session, as the check said."""
    station = make_station(desk["org"].district, "PT-TOI", "Đài buổi tối")
    add_session(None, station, "Buổi tối", time(19, 30), time(20, 30), 45, "1234567")
    data = service.ScheduleInput(
        script=desk["script"],
        recurrence=every(5, time(19, 52), time(20, 25), days=1),
        stations=[station],
    )
    out = save_and_compare(users["operator"], data, clock, monkeypatch)
    assert out["stored"][0][2] == local(START, 19, 30)
