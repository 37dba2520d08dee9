"""The JSON API for stations, schedules, rundowns and the operator's actions; every bad input
answers {error, message, fields} and changes nothing."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import func, select

from app.api.schedules import local_iso
from app.audit.models import AuditEvent
from app.auth.models import Role
from app.broadcast.models import BroadcastLog
from app.extensions import db
from app.org.models import Station
from app.org.service import add_session
from app.playout import manual as playout
from app.schedules.models import Airing, AiringStatus, CancelledOccurrence, Schedule
from app.scripts.service import approve_script
from tests.api.conftest import assert_error
from tests.factories import make_script, make_station, make_user, submit
from tests.schedules.test_service import approved_script, with_sessions


@pytest.fixture
def call(api, users):
    """Callers by user name, their tokens made up front: making a token is audited, and the
    audit table is part of what a refused request must leave unchanged."""
    made = {}

    def caller(name: str):
        if name not in made:
            made[name] = api(name)
        return made[name]

    for name in users:
        caller(name)
    return caller


@pytest.fixture
def desk(org, users):
    """An approved script, two stations of the district with sessions, one station elsewhere."""
    return {
        "script": approved_script(users, org.district),
        "commune": with_sessions(make_station(org.commune, "PT-PHUTHUY", "Đài Phú Thủy")),
        "city": with_sessions(make_station(org.district, "PT-CITY", "Đài Phan Thiết")),
        "foreign": with_sessions(make_station(org.other_district, "LG-RADIO", "Đài La Gi")),
    }


def stored() -> dict:
    """Everything a refused request must leave as it was, read fresh."""
    db.session.expire_all()

    def count(model) -> int:
        return db.session.scalar(select(func.count()).select_from(model))

    return {
        "schedules": [(s.id, s.status, s.revision) for s in db.session.scalars(select(Schedule))],
        "airings": [(a.id, a.status) for a in db.session.scalars(select(Airing))],
        "cancelled": count(CancelledOccurrence),
        "log": count(BroadcastLog),
        "audit": count(AuditEvent),
    }


def rule(**changes) -> dict:
    """05:45 and 17:15 every day of the week after the test clock's today."""
    return {
        "kind": "times",
        "times": "05:45, 17:15",
        "start_date": "2026-11-28",
        "end_date": "2026-12-04",
        **changes,
    }


def body(desk, **changes) -> dict:
    """A valid create body on both district stations."""
    return {
        "script": desk["script"].id,
        "stations": ["PT-PHUTHUY", "PT-CITY"],
        "recurrence": rule(),
        **changes,
    }


def create(call, desk, **changes) -> dict:
    """Create a schedule as the operator and return its JSON."""
    response = call("operator").post("/api/v1/schedules", json=body(desk, **changes))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- Stations ---------------------------------------------------------------------------------


def test_stations_list_shows_only_the_callers_units(call, desk):
    listed = call("writer").get("/api/v1/stations").get_json()
    assert [s["code"] for s in listed["items"]] == ["PT-CITY", "PT-PHUTHUY"]
    assert listed["total"] == 2
    city = listed["items"][0]
    assert city["unit"] == "D" and city["kind"] == "commune_loudspeaker"
    assert city["sessions"][0] == {
        "name": "Buổi sáng",
        "start": "05:30",
        "end": "06:15",
        "cap_minutes": 15,
        "weekdays": [1, 2, 3, 4, 5, 6, 7],
    }
    assert city["playout"] == {
        "misfire_policy": "late",
        "grace_s": None,
        "interrupt_policy": "requeue",
    }
    only_commune = call("writer").get("/api/v1/stations?unit=c").get_json()
    assert [s["code"] for s in only_commune["items"]] == ["PT-PHUTHUY"]
    province = call("supervisor").get("/api/v1/stations").get_json()
    assert province["total"] == 3


def test_station_of_another_district_is_not_found(call, desk):
    assert_error(call("writer").get("/api/v1/stations/LG-RADIO"), 404, "not_found")
    assert call("writer").get("/api/v1/stations/pt-city").get_json()["name"] == "Đài Phan Thiết"


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("unit=D2", 422, "validation_failed", "unit"),
        ("unit=KHONG-CO", 422, "validation_failed", "unit"),
        ("active=co", 422, "validation_failed", "active"),
        ("per_page=0", 422, "validation_failed", "per_page"),
        ("don_vi=D", 400, "unknown_fields", "don_vi"),
    ],
)
def test_bad_station_filters_are_refused(call, desk, query, status, code, field):
    assert_error(call("writer").get(f"/api/v1/stations?{query}"), status, code, field)


# --- Creating schedules: bad input ------------------------------------------------------------


@pytest.fixture
def scripts(org, users):
    """Scripts that cannot be scheduled from the district, each for its own reason."""
    foreign = make_script(users["outsider"], org.other_district, title="Ở La Gi")
    draft = make_script(users["writer"], org.district, title="Bản nháp")
    open_ended = approved_script(users, org.district, title="Không hạn", valid_until=None)
    return {"foreign": foreign.id, "draft": draft.id, "open_ended": open_ended.id}


BAD_CREATE = [
    # (id, changes to the body (callable on the scripts fixture), status, error, field)
    ("unknown-field", lambda s: {"colour": "đỏ"}, 400, "unknown_fields", "colour"),
    (
        "unknown-rule-field",
        lambda s: {"recurrence": rule(weekday=[1])},
        400,
        "unknown_fields",
        "recurrence.weekday",
    ),
    ("no-script", lambda s: {"script": None}, 422, "validation_failed", "script"),
    ("script-as-text", lambda s: {"script": "12"}, 422, "validation_failed", "script"),
    ("unknown-script", lambda s: {"script": 99999}, 404, "not_found", "script"),
    ("foreign-script", lambda s: {"script": s["foreign"]}, 404, "not_found", "script"),
    ("draft-script", lambda s: {"script": s["draft"]}, 422, "validation_failed", "script"),
    ("stations-not-list", lambda s: {"stations": "PT-CITY"}, 422, "validation_failed", "stations"),
    ("unknown-station", lambda s: {"stations": ["KHONG-CO"]}, 422, "validation_failed", "stations"),
    ("foreign-station", lambda s: {"stations": ["LG-RADIO"]}, 422, "validation_failed", "stations"),
    ("no-target", lambda s: {"stations": []}, 422, "validation_failed", "stations"),
    ("foreign-unit", lambda s: {"units": ["D2"]}, 422, "validation_failed", "units"),
    ("bad-priority", lambda s: {"priority": "high"}, 422, "validation_failed", "priority"),
    ("gap-as-text", lambda s: {"gap_seconds": "5"}, 422, "validation_failed", "gap_seconds"),
    ("gap-too-long", lambda s: {"gap_seconds": 601}, 422, "validation_failed", "gap_seconds"),
    (
        "confirm-as-text",
        lambda s: {"confirm_warnings": "yes"},
        422,
        "validation_failed",
        "confirm_warnings",
    ),
    ("no-recurrence", lambda s: {"recurrence": None}, 422, "validation_failed", "recurrence"),
    (
        "bad-kind",
        lambda s: {"recurrence": rule(kind="weekly")},
        422,
        "validation_failed",
        "recurrence.kind",
    ),
    (
        "hour-25",
        lambda s: {"recurrence": rule(times="05:45, 25:00")},
        422,
        "validation_failed",
        "recurrence.times",
    ),
    (
        "no-times",
        lambda s: {"recurrence": rule(times="")},
        422,
        "validation_failed",
        "recurrence.times",
    ),
    (
        "times-for-every",
        lambda s: {
            "recurrence": rule(
                kind="every", every_minutes=30, window_start="05:00", window_end="07:00"
            )
        },
        422,
        "validation_failed",
        "recurrence.times",
    ),
    (
        "every-without-window",
        lambda s: {"recurrence": rule(kind="every", times=None, every_minutes=30)},
        422,
        "validation_failed",
        "recurrence.window_start",
    ),
    (
        "per-session-zero",
        lambda s: {"recurrence": rule(kind="per_session", times=None, per_session=0)},
        422,
        "validation_failed",
        "recurrence.per_session",
    ),
    (
        "weekday-8",
        lambda s: {"recurrence": rule(weekdays=[1, 8])},
        422,
        "validation_failed",
        "recurrence.weekdays",
    ),
    (
        "weekdays-as-text",
        lambda s: {"recurrence": rule(weekdays="12345")},
        422,
        "validation_failed",
        "recurrence.weekdays",
    ),
    (
        "date-dd-mm-yyyy",
        lambda s: {"recurrence": rule(start_date="28/11/2026")},
        422,
        "validation_failed",
        "recurrence.start_date",
    ),
    (
        "end-before-start",
        lambda s: {"recurrence": rule(end_date="2026-11-20")},
        422,
        "validation_failed",
        "recurrence.end_date",
    ),
    (
        "all-in-the-past",
        lambda s: {"recurrence": rule(start_date="2026-11-01", end_date="2026-11-20")},
        422,
        "validation_failed",
        "recurrence.end_date",
    ),
    (
        "count-zero",
        lambda s: {"recurrence": rule(count=0)},
        422,
        "validation_failed",
        "recurrence.count",
    ),
    (
        "no-end-and-script-open-ended",
        lambda s: {"script": s["open_ended"], "recurrence": rule(end_date=None)},
        422,
        "validation_failed",
        "recurrence.end_date",
    ),
]


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_CREATE],
)
def test_bad_create_input_is_refused_and_nothing_saved(
    call, desk, scripts, change, status, code, field
):
    before = stored()
    response = call("operator").post("/api/v1/schedules", json=body(desk, **change(scripts)))
    assert_error(response, status, code, field)
    assert stored() == before


def test_non_object_body_is_refused(call, desk):
    before = stored()
    assert_error(call("operator").post("/api/v1/schedules", data="x"), 422, "validation_failed")
    assert stored() == before


def test_writer_may_not_create_a_schedule(call, desk):
    before = stored()
    body_ = assert_error(
        call("writer").post("/api/v1/schedules", json={"nonsense": 1}), 403, "forbidden"
    )
    assert "lập hoặc sửa lịch phát" in body_["message"]
    assert stored() == before


# --- Creating schedules: problems of the plan -------------------------------------------------


def test_blocking_problem_answers_422_with_each_problem(call, desk):
    before = stored()
    response = call("operator").post(
        "/api/v1/schedules",
        json=body(
            desk,
            stations=["PT-CITY"],
            gap_seconds=600,
            confirm_warnings=True,
            recurrence=rule(times=[f"17:0{m}" for m in range(6)], end_date="2026-11-28"),
        ),
    )
    data = response.get_json()
    assert response.status_code == 422
    assert data["error"] == "schedule_problems"
    assert "problems" in data["fields"]
    blocking = [p for p in data["problems"] if p["severity"] == "blocking"]
    assert blocking[0]["code"] == "after_session_end"
    assert blocking[0]["at"] == "2026-11-28T17:50:01+07:00"
    assert "Buổi chiều 17:00–17:45" in blocking[0]["message"]
    assert stored() == before


def test_unconfirmed_warnings_answer_409_then_save_when_confirmed(call, desk):
    before = stored()
    payload = body(desk, recurrence=rule(times="12:00", end_date="2026-11-28"))
    refused = call("operator").post("/api/v1/schedules", json=payload)
    data = refused.get_json()
    assert refused.status_code == 409
    assert (data["error"], list(data["fields"])) == ("confirmation_required", ["confirm"])
    assert {p["code"] for p in data["problems"]} == {"outside_session"}
    assert {p["severity"] for p in data["problems"]} == {"warning"}
    assert data["problems"][0]["at"] == "2026-11-28T12:00:00+07:00"
    assert stored() == before
    saved = call("operator").post("/api/v1/schedules", json={**payload, "confirm_warnings": True})
    assert saved.status_code == 201


def test_dry_run_reports_the_check_and_saves_nothing(call, desk):
    before = stored()
    response = call("operator").post("/api/v1/schedules", json=body(desk, dry_run=True))
    data = response.get_json()
    assert response.status_code == 200, data
    assert data["dry_run"] is True and data["can_save"] is True
    assert data["problems"] == []
    assert data["occurrences"] == 28
    assert data["first"] == "2026-11-28T05:30:00+07:00"
    assert data["last"] == "2026-12-04T17:00:00+07:00"
    assert data["airs_on"] == ["PT-CITY", "PT-PHUTHUY"]
    assert data["rrule"].startswith("DTSTART;TZID=Asia/Ho_Chi_Minh:20261128T054500")
    assert stored() == before
    # The list the dry run gives is the one the save stores, to the second.
    assert len(data["airings"]) == 28
    assert data["airings"][0]["planned"] == "2026-11-28T05:45:00+07:00"
    assert data["airings"][0]["start"] == "2026-11-28T05:30:00+07:00"
    saved = call("operator").post("/api/v1/schedules", json=body(desk))
    assert saved.status_code == 201
    rows = db.session.scalars(select(Airing)).all()
    stored_list = sorted(
        (a.station.code, local_iso(a.planned_at), local_iso(a.sequenced_at)) for a in rows
    )
    assert stored_list == sorted((a["station"], a["planned"], a["start"]) for a in data["airings"])


def test_dry_run_with_warnings_says_it_cannot_save_yet(call, desk):
    payload = body(desk, dry_run=True, recurrence=rule(times="12:00", end_date="2026-11-28"))
    data = call("operator").post("/api/v1/schedules", json=payload).get_json()
    assert data["can_save"] is False
    assert [p["code"] for p in data["problems"]] == ["outside_session", "outside_session"]


# --- Creating, reading, deleting --------------------------------------------------------------


def test_create_returns_the_schedule_with_its_rule_both_ways(call, desk, users):
    data = create(call, desk, priority="emergency")
    assert data["status"] == "active"
    assert data["script"] == {
        "id": desk["script"].id,
        "title": "Kêu gọi tiêm chủng",
        "version": 1,
        "render": desk["script"].approved_render_id,
    }
    assert (data["unit"], data["priority"], data["priority_label"]) == (
        "D",
        "emergency",
        "khẩn cấp",
    )
    assert data["stations"] == ["PT-CITY", "PT-PHUTHUY"] == data["airs_on"]
    assert data["recurrence"] == {
        "kind": "times",
        "times": ["05:45", "17:15"],
        "per_session": None,
        "every_minutes": None,
        "window_start": None,
        "window_end": None,
        "weekdays": [1, 2, 3, 4, 5, 6, 7],
        "start_date": "2026-11-28",
        "end_date": "2026-12-04",
        "count": None,
        "exceptions": [],
    }
    assert "RRULE:FREQ=DAILY;BYHOUR=5,17;BYMINUTE=15,45;BYSETPOS=2,3" in data["rrule"]
    assert data["created_at"] == "2026-11-27T08:00:00+07:00"
    assert (data["created_by"], data["cancelled"]) == ("operator", [])
    assert db.session.scalar(select(func.count()).select_from(Airing)) == 28


def test_create_for_units_with_every_rule_and_default_dates(call, desk):
    data = create(
        call,
        desk,
        stations=[],
        units=["c"],
        confirm_warnings=True,
        recurrence={
            "kind": "every",
            "every_minutes": 20,
            "window_start": "5h",
            "window_end": "06:10",
            "weekdays": [6, 7],
            "count": 3,
        },
    )
    assert (data["units"], data["airs_on"]) == (["C"], ["PT-PHUTHUY"])
    rec = data["recurrence"]
    assert (rec["every_minutes"], rec["window_start"], rec["window_end"]) == (20, "05:00", "06:10")
    # No dates given: from today to the script's validity.
    assert (rec["start_date"], rec["end_date"], rec["count"]) == ("2026-11-27", "2026-12-31", 3)
    assert rec["weekdays"] == [6, 7]


def test_create_per_session(call, desk):
    data = create(call, desk, recurrence=rule(kind="per_session", times=None, per_session=2))
    assert (data["recurrence"]["kind"], data["recurrence"]["per_session"]) == ("per_session", 2)
    assert "X-LOA-PER-SESSION:2" in data["rrule"]


def test_list_get_and_filter_schedules(call, desk, org, users):
    first = create(call, desk, stations=["PT-CITY"])
    second = create(call, desk, stations=["PT-PHUTHUY"], recurrence=rule(times="17:20"))
    writer = call("writer")
    listed = writer.get("/api/v1/schedules").get_json()
    assert [s["id"] for s in listed["items"]] == [second["id"], first["id"]]
    assert listed["total"] == 2 and "cancelled" not in listed["items"][0]
    by_station = writer.get("/api/v1/schedules?station=PT-CITY").get_json()
    assert [s["id"] for s in by_station["items"]] == [first["id"]]
    page = writer.get("/api/v1/schedules?per_page=1&page=2").get_json()
    assert [s["id"] for s in page["items"]] == [first["id"]] and page["total"] == 2
    by_script = writer.get(f"/api/v1/schedules?script={desk['script'].id}").get_json()
    assert by_script["total"] == 2
    assert writer.get("/api/v1/schedules?script=99999").get_json()["total"] == 0
    assert writer.get(f"/api/v1/schedules/{first['id']}").get_json()["stations"] == ["PT-CITY"]
    assert call("outsider").get("/api/v1/schedules").get_json()["items"] == []
    assert_error(call("outsider").get(f"/api/v1/schedules/{first['id']}"), 404, "not_found")


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("station=LG-RADIO", 422, "validation_failed", "station"),
        ("script=abc", 422, "validation_failed", "script"),
        ("include_deleted=maybe", 422, "validation_failed", "include_deleted"),
        ("page=0", 422, "validation_failed", "page"),
        ("dai=PT-CITY", 400, "unknown_fields", "dai"),
    ],
)
def test_bad_schedule_filters_are_refused(call, desk, query, status, code, field):
    assert_error(call("writer").get(f"/api/v1/schedules?{query}"), status, code, field)


def test_delete_stops_the_schedule_and_a_second_delete_conflicts(call, desk):
    schedule = create(call, desk)
    deleted = call("supervisor2").delete(f"/api/v1/schedules/{schedule['id']}")
    assert deleted.status_code == 200
    assert deleted.get_json()["status"] == "deleted"
    assert db.session.scalar(select(func.count()).select_from(Airing)) == 0
    assert call("writer").get("/api/v1/schedules").get_json()["total"] == 0
    listed = call("writer").get("/api/v1/schedules?include_deleted=true").get_json()
    assert [s["status"] for s in listed["items"]] == ["deleted"]
    before = stored()
    again = call("operator").delete(f"/api/v1/schedules/{schedule['id']}")
    assert_error(again, 409, "conflict")
    assert stored() == before


@pytest.mark.parametrize(
    ("caller", "status", "code"),
    [("writer", 403, "forbidden"), ("outside_supervisor", 404, "not_found")],
)
def test_delete_refused_changes_nothing(call, desk, caller, status, code):
    schedule = create(call, desk)
    before = stored()
    assert_error(call(caller).delete(f"/api/v1/schedules/{schedule['id']}"), status, code)
    assert stored() == before


def test_unit_below_cannot_delete_the_schedule_of_the_unit_above(call, desk, org, users):
    users["op-phuong"] = make_user(org.commune, Role.OPERATOR, "op-phuong")
    call("op-phuong")
    schedule = create(call, desk)
    before = stored()
    body_ = assert_error(
        call("op-phuong").delete(f"/api/v1/schedules/{schedule['id']}"), 403, "forbidden"
    )
    assert "đơn vị cấp trên" in body_["message"]
    assert stored() == before


# --- Cancelling one occurrence ----------------------------------------------------------------


def test_cancel_one_occurrence_on_one_station_with_any_offset(call, desk):
    schedule = create(call, desk)
    response = call("operator").post(
        f"/api/v1/schedules/{schedule['id']}/cancellations",
        # 22:45 UTC on 27/11 is 05:45 on 28/11 in Vietnam.
        json={"occurs_at": "2026-11-27T22:45:00Z", "station": "pt-city", "reason": "Mất điện."},
    )
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert (data["occurs_at"], data["station"], data["cancelled_by"]) == (
        "2026-11-28T05:45:00+07:00",
        "PT-CITY",
        "operator",
    )
    cancelled = db.session.scalars(
        select(Airing).where(Airing.status == AiringStatus.CANCELLED)
    ).all()
    assert [a.station.code for a in cancelled] == ["PT-CITY"]
    got = call("writer").get(f"/api/v1/schedules/{schedule['id']}").get_json()
    assert got["cancelled"] == [data]


def test_cancel_on_every_station_is_kept_in_the_rule(call, desk):
    schedule = create(call, desk)
    response = call("operator").post(
        f"/api/v1/schedules/{schedule['id']}/cancellations",
        json={"occurs_at": "2026-11-28T17:15:00+07:00", "reason": "Họp dân."},
    )
    assert response.get_json()["station"] is None
    got = call("operator").get(f"/api/v1/schedules/{schedule['id']}").get_json()
    assert got["recurrence"]["exceptions"] == ["2026-11-28T17:15:00+07:00"]
    assert "EXDATE;TZID=Asia/Ho_Chi_Minh:20261128T171500" in got["rrule"]


BAD_CANCEL = [
    ("no-time", {"reason": "Mất điện."}, 422, "validation_failed", "occurs_at"),
    (
        "no-offset",
        {"occurs_at": "2026-11-28T05:45:00", "reason": "Mất điện."},
        422,
        "validation_failed",
        "occurs_at",
    ),
    (
        "not-a-time",
        {"occurs_at": "mai", "reason": "Mất điện."},
        422,
        "validation_failed",
        "occurs_at",
    ),
    (
        "not-in-the-rule",
        {"occurs_at": "2026-11-28T06:00:00+07:00", "reason": "Mất điện."},
        422,
        "validation_failed",
        "occurs_at",
    ),
    (
        "no-reason",
        {"occurs_at": "2026-11-28T05:45:00+07:00", "reason": " "},
        422,
        "validation_failed",
        "reason",
    ),
    (
        "reason-not-text",
        {"occurs_at": "2026-11-28T05:45:00+07:00", "reason": 1},
        422,
        "validation_failed",
        "reason",
    ),
    (
        "foreign-station",
        {"occurs_at": "2026-11-28T05:45:00+07:00", "station": "LG-RADIO", "reason": "Mất điện."},
        422,
        "validation_failed",
        "station",
    ),
    (
        "unknown-field",
        {"occurs_at": "2026-11-28T05:45:00+07:00", "reason": "Mất điện.", "ly_do": "x"},
        400,
        "unknown_fields",
        "ly_do",
    ),
    (
        "before-the-rule-starts",
        {"occurs_at": "2026-11-27T05:45:00+07:00", "reason": "Mất điện."},
        422,
        "validation_failed",
        "occurs_at",
    ),
]


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_CANCEL],
)
def test_bad_cancellation_is_refused_and_nothing_saved(call, desk, payload, status, code, field):
    schedule = create(call, desk)
    before = stored()
    response = call("operator").post(
        f"/api/v1/schedules/{schedule['id']}/cancellations", json=payload
    )
    assert_error(response, status, code, field)
    assert stored() == before


def test_cancelling_twice_or_after_the_time_is_a_conflict(call, desk, clock):
    schedule = create(call, desk)
    url = f"/api/v1/schedules/{schedule['id']}/cancellations"
    payload = {"occurs_at": "2026-11-28T05:45:00+07:00", "reason": "Mất điện."}
    assert call("operator").post(url, json=payload).status_code == 201
    before = stored()
    assert_error(call("operator").post(url, json=payload), 409, "conflict")
    clock.advance(days=2)
    late = {"occurs_at": "2026-11-28T17:15:00+07:00", "reason": "Mất điện."}
    assert_error(call("operator").post(url, json=late), 409, "conflict")
    assert stored() == before


# --- Rundown ----------------------------------------------------------------------------------


def test_rundown_of_a_local_day(call, desk):
    schedule = create(call, desk)
    data = call("writer").get("/api/v1/stations/PT-PHUTHUY/rundown?date=2026-11-28").get_json()
    assert (data["station"], data["date"]) == ("PT-PHUTHUY", "2026-11-28")
    first, second = data["items"]
    assert first["schedule"] == schedule["id"]
    assert (first["planned"], first["start"]) == (
        "2026-11-28T05:45:00+07:00",
        "2026-11-28T05:30:00+07:00",
    )
    assert first["end"] == "2026-11-28T05:30:00.200000+07:00"
    assert (first["session"], first["status"], first["status_label"]) == (
        "Buổi sáng",
        "planned",
        "chờ phát",
    )
    assert (first["priority"], first["priority_label"]) == ("priority", "ưu tiên")
    assert second["planned"] == "2026-11-28T17:15:00+07:00"
    today = call("writer").get("/api/v1/stations/PT-PHUTHUY/rundown").get_json()
    assert (today["date"], today["items"]) == ("2026-11-27", [])


@pytest.mark.parametrize(
    ("path", "status", "code", "field"),
    [
        ("PT-CITY/rundown?date=28/11/2026", 422, "validation_failed", "date"),
        ("PT-CITY/rundown?ngay=2026-11-28", 400, "unknown_fields", "ngay"),
        ("LG-RADIO/rundown?date=2026-11-28", 404, "not_found", None),
        ("KHONG-CO/rundown", 404, "not_found", None),
    ],
)
def test_bad_rundown_requests_are_refused(call, desk, path, status, code, field):
    assert_error(call("writer").get(f"/api/v1/stations/{path}"), status, code, field)


# --- Air now, skip, live reads ----------------------------------------------------------------


def test_air_now_queues_an_emergency_airing(call, desk):
    response = call("operator").post(
        "/api/v1/stations/PT-CITY/air-now",
        json={"script": desk["script"].id, "note": "Bão số 9 đổ bộ."},
    )
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    assert (data["station"], data["priority"], data["status"]) == (
        "PT-CITY",
        "emergency",
        "planned",
    )
    assert (data["operator"], data["note"], data["schedule"]) == (
        "operator",
        "Bão số 9 đổ bộ.",
        None,
    )
    assert data["planned"] == data["start"] == "2026-11-27T08:00:00+07:00"
    assert db.session.get(Airing, data["id"]).priority.value == "emergency"


@pytest.fixture
def inactive(org):
    """A station of the district that no longer airs."""
    station = make_station(org.district, "PT-CU", "Đài cũ")
    station.active = False
    db.session.commit()
    return station


BAD_AIR_NOW = [
    ("no-script", "PT-CITY", lambda s: {}, 422, "validation_failed", "script"),
    ("draft", "PT-CITY", lambda s: {"script": s["draft"]}, 422, "validation_failed", "script"),
    ("foreign-script", "PT-CITY", lambda s: {"script": s["foreign"]}, 404, "not_found", "script"),
    ("foreign-station", "LG-RADIO", lambda s: {"script": s["ok"]}, 404, "not_found", None),
    ("inactive-station", "PT-CU", lambda s: {"script": s["ok"]}, 422, "validation_failed", None),
    (
        "long-note",
        "PT-CITY",
        lambda s: {"script": s["ok"], "note": "x" * 501},
        422,
        "validation_failed",
        "note",
    ),
    (
        "unknown-field",
        "PT-CITY",
        lambda s: {"script": s["ok"], "stations": ["PT-CITY"]},
        400,
        "unknown_fields",
        "stations",
    ),
]


@pytest.mark.parametrize(
    ("station", "change", "status", "code", "field"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_AIR_NOW],
)
def test_bad_air_now_is_refused_and_nothing_queued(
    call, desk, scripts, inactive, station, change, status, code, field
):
    before = stored()
    payload = change({**scripts, "ok": desk["script"].id})
    response = call("operator").post(f"/api/v1/stations/{station}/air-now", json=payload)
    assert_error(response, status, code, field)
    assert stored() == before


def test_writer_may_not_air_now(call, desk):
    before = stored()
    response = call("writer").post(
        "/api/v1/stations/PT-CITY/air-now", json={"script": desk["script"].id}
    )
    assert_error(response, 403, "forbidden")
    assert stored() == before


def first_airing(station_code: str) -> Airing:
    """The earliest planned airing of a station."""
    return db.session.scalars(
        select(Airing)
        .join(Station, Airing.station_id == Station.id)
        .where(Station.code == station_code)
        .order_by(Airing.sequenced_at)
    ).first()


def test_skip_logs_the_airing_skipped_and_cannot_skip_twice(call, desk):
    create(call, desk)
    airing = first_airing("PT-CITY")
    response = call("operator").post(
        f"/api/v1/airings/{airing.id}/skip", json={"reason": "Loa hỏng."}
    )
    assert response.status_code == 200, response.get_json()
    row = response.get_json()
    assert (row["status"], row["station"], row["operator"]) == ("skipped", "PT-CITY", "operator")
    assert row["reason"] == "bỏ qua: Loa hỏng."
    assert row["airing_key"] == airing.airing_key
    # The log files an airing under the time it was sequenced to in its session.
    assert row["planned_at"] == "2026-11-28T05:30:00+07:00"
    before = stored()
    again = call("operator").post(f"/api/v1/airings/{airing.id}/skip", json={"reason": "Lần 2."})
    assert_error(again, 409, "conflict")
    assert stored() == before


@pytest.fixture
def foreign_airing(org, users, desk):
    """An emergency airing queued on the other district's station."""
    script = make_script(users["outsider"], org.other_district, title="Ở La Gi")
    submit(users["outsider"], script)
    approve_script(users["outside_supervisor"], script)
    return playout.air_now(users["outside_supervisor"], script, [desk["foreign"]])[0]


@pytest.mark.parametrize(
    ("which", "payload", "status", "code", "field"),
    [
        ("own", {"reason": "x"}, 422, "validation_failed", "reason"),
        ("own", {"reason": 5}, 422, "validation_failed", "reason"),
        ("own", {"reason": "Loa hỏng.", "note": "x"}, 400, "unknown_fields", "note"),
        ("foreign", {"reason": "Loa hỏng."}, 404, "not_found", None),
        ("missing", {"reason": "Loa hỏng."}, 404, "not_found", None),
    ],
    ids=["short-reason", "reason-not-text", "unknown-field", "foreign-airing", "no-such-airing"],
)
def test_bad_skip_is_refused_and_nothing_logged(
    call, desk, foreign_airing, which, payload, status, code, field
):
    create(call, desk)
    airing_id = {"own": first_airing("PT-CITY").id, "foreign": foreign_airing.id, "missing": 9999}
    before = stored()
    response = call("operator").post(f"/api/v1/airings/{airing_id[which]}/skip", json=payload)
    assert_error(response, status, code, field)
    assert stored() == before


def test_live_read_is_logged_with_the_operator(call, desk):
    response = call("operator").post(
        "/api/v1/stations/PT-CITY/live-reads",
        json={
            "started_at": "2026-11-27T00:30:00Z",
            "duration_s": 90,
            "script": desk["script"].id,
            "note": "Đọc thêm lịch tiêm.",
        },
    )
    assert response.status_code == 201, response.get_json()
    row = response.get_json()
    assert (row["status"], row["operator"], row["duration_s"]) == ("aired", "operator", 90.0)
    assert row["started_at"] == "2026-11-27T07:30:00+07:00"
    assert row["ended_at"] == "2026-11-27T07:31:30+07:00"
    assert row["script"] == {"id": desk["script"].id, "title": "Kêu gọi tiêm chủng"}
    assert row["reason"] == "đọc trực tiếp: Đọc thêm lịch tiêm."


def test_live_read_in_place_of_a_planned_airing(call, desk, clock):
    create(call, desk)
    airing = first_airing("PT-CITY")
    clock.advance(hours=22)
    response = call("operator").post(
        "/api/v1/stations/PT-CITY/live-reads",
        json={"started_at": "2026-11-28T05:30:00+07:00", "duration_s": 30, "airing": airing.id},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["airing_key"] == airing.airing_key
    db.session.expire_all()
    assert db.session.get(Airing, airing.id).status == AiringStatus.AIRED


BAD_LIVE_READ = [
    ("no-start", {"duration_s": 60, "note": "Thông báo."}, "started_at"),
    (
        "no-offset",
        {"started_at": "2026-11-27T07:30:00", "duration_s": 60, "note": "Thông báo."},
        "started_at",
    ),
    (
        "in-the-future",
        {"started_at": "2026-11-27T09:00:00+07:00", "duration_s": 60, "note": "Thông báo."},
        "started_at",
    ),
    (
        "too-old",
        {"started_at": "2026-11-01T07:00:00+07:00", "duration_s": 60, "note": "Thông báo."},
        "started_at",
    ),
    (
        "no-duration",
        {"started_at": "2026-11-27T07:30:00+07:00", "note": "Thông báo."},
        "duration_s",
    ),
    (
        "zero-duration",
        {"started_at": "2026-11-27T07:30:00+07:00", "duration_s": 0, "note": "Thông báo."},
        "duration_s",
    ),
    ("nothing-read", {"started_at": "2026-11-27T07:30:00+07:00", "duration_s": 60}, "note"),
    (
        "unknown-script",
        {"started_at": "2026-11-27T07:30:00+07:00", "duration_s": 60, "script": 9999},
        "script",
    ),
    (
        "unknown-airing",
        {"started_at": "2026-11-27T07:30:00+07:00", "duration_s": 60, "airing": 9999},
        "airing",
    ),
    (
        "airing-of-another-station",
        {"started_at": "2026-11-27T07:30:00+07:00", "duration_s": 60, "airing": "commune"},
        "airing",
    ),
]


@pytest.mark.parametrize(
    ("payload", "field"), [pytest.param(*case[1:], id=case[0]) for case in BAD_LIVE_READ]
)
def test_bad_live_read_is_refused_and_nothing_logged(call, desk, payload, field):
    create(call, desk)
    if payload.get("airing") == "commune":
        payload = {**payload, "airing": first_airing("PT-PHUTHUY").id}
    before = stored()
    response = call("operator").post("/api/v1/stations/PT-CITY/live-reads", json=payload)
    assert_error(response, 422, "validation_failed", field)
    assert stored() == before


def test_live_read_with_unknown_field_or_foreign_station_is_refused(call, desk):
    before = stored()
    payload = {"started_at": "2026-11-27T07:30:00+07:00", "duration_s": 60, "note": "Thông báo."}
    assert_error(
        call("operator").post("/api/v1/stations/LG-RADIO/live-reads", json=payload),
        404,
        "not_found",
    )
    assert_error(
        call("operator").post(
            "/api/v1/stations/PT-CITY/live-reads", json={**payload, "ended_at": "x"}
        ),
        400,
        "unknown_fields",
        "ended_at",
    )
    assert_error(
        call("writer").post("/api/v1/stations/PT-CITY/live-reads", json=payload), 403, "forbidden"
    )
    assert stored() == before


def test_station_json_gives_session_weekdays_as_numbers(call, org):
    station = make_station(org.district, "PT-TUAN")
    add_session(None, station, "Buổi trưa", time(11, 0), time(11, 30), 10, "67")
    data = call("writer").get("/api/v1/stations/PT-TUAN").get_json()
    assert data["sessions"] == [
        {
            "name": "Buổi trưa",
            "start": "11:00",
            "end": "11:30",
            "cap_minutes": 10,
            "weekdays": [6, 7],
        }
    ]
