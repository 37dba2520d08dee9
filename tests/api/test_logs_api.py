"""The JSON API for the broadcast log: the console's filters in local days, scope, and verifying
the hash chains of the caller's stations only."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.broadcast.models import GENESIS_HASH, LogStatus
from app.broadcast.service import LogEntry, append_log
from app.scripts.models import Priority
from tests.api.conftest import assert_error
from tests.broadcast.test_log import tamper
from tests.factories import make_script, make_station

VN = timezone(timedelta(hours=7))


def row(station, local: datetime, status=LogStatus.AIRED, script=None):
    """Append a log row planned at a Vietnam wall-clock time."""
    return append_log(
        LogEntry(
            station_id=station.id,
            status=status,
            planned_at=local,
            started_at=local + timedelta(seconds=2) if status == LogStatus.AIRED else None,
            ended_at=local + timedelta(seconds=62) if status == LogStatus.AIRED else None,
            reason="" if status == LogStatus.AIRED else "bỏ lỡ: bộ phát không chạy",
            script_id=script.id if script else None,
            version_id=script.current_version_id if script else None,
            priority=Priority.HIGH,
            runner_host="may-phat-1",
        )
    )


@pytest.fixture
def logbook(org, users):
    """Rows on both sides of local midnight 27-28/11 at the city radio, one at the commune
    and one in the other district."""
    city = make_station(org.district, "PT-CITY", "Đài Phan Thiết")
    commune = make_station(org.commune, "PT-PHUTHUY", "Đài Phú Thủy")
    foreign = make_station(org.other_district, "LG-RADIO", "Đài La Gi")
    storm = make_script(users["writer"], org.district, title="Phòng chống bão", campaign="Bão số 9")
    rows = {
        "evening": row(city, datetime(2026, 11, 27, 23, 30, tzinfo=VN), script=storm),
        "night": row(city, datetime(2026, 11, 28, 0, 30, tzinfo=VN), LogStatus.MISSED),
        "morning": row(city, datetime(2026, 11, 28, 5, 45, tzinfo=VN)),
        "commune": row(commune, datetime(2026, 11, 28, 5, 45, tzinfo=VN)),
        "foreign": row(foreign, datetime(2026, 11, 28, 5, 45, tzinfo=VN)),
    }
    return {"stations": (city, commune, foreign), "rows": rows, "storm": storm}


def ids(response) -> list[int]:
    """Row ids of a list answer."""
    return [item["id"] for item in response.get_json()["items"]]


def test_log_lists_the_callers_stations_newest_first_with_chain_fields(api, logbook):
    rows = logbook["rows"]
    data = api("writer").get("/api/v1/logs").get_json()
    expected = [rows[k].id for k in ("commune", "morning", "night", "evening")]
    assert [item["id"] for item in data["items"]] == expected
    assert (data["page"], data["per_page"], data["total"]) == (1, 50, 4)
    evening = data["items"][-1]
    assert evening["station"] == "PT-CITY" and evening["seq"] == 1
    assert evening["planned_at"] == "2026-11-27T23:30:00+07:00"
    assert evening["started_at"] == "2026-11-27T23:30:02+07:00"
    assert (evening["status"], evening["status_label"]) == ("aired", "đã phát")
    assert evening["script"] == {"id": logbook["storm"].id, "title": "Phòng chống bão"}
    assert evening["version"] == 1
    assert evening["prev_hash"] == GENESIS_HASH
    assert evening["row_hash"] == rows["evening"].row_hash
    assert evening["created_at"] == "2026-11-27T08:00:00+07:00"
    night = data["items"][-2]
    assert (night["status_label"], night["started_at"], night["script"]) == ("bỏ lỡ", None, None)
    assert night["prev_hash"] == rows["evening"].row_hash


def test_supervisor_of_the_province_sees_every_station(api, logbook):
    assert api("supervisor").get("/api/v1/logs").get_json()["total"] == 5


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("station=pt-city", ["morning", "night", "evening"]),
        ("date_from=2026-11-28", ["commune", "morning", "night"]),
        ("date_to=2026-11-27", ["evening"]),
        ("date_from=2026-11-28&date_to=2026-11-28&station=PT-CITY", ["morning", "night"]),
        ("status=missed", ["night"]),
        ("campaign=Bão số 9", ["evening"]),
        ("per_page=2&page=2", ["night", "evening"]),
    ],
)
def test_log_filters_by_local_day_station_status_and_campaign(api, logbook, query, expected):
    response = api("writer").get(f"/api/v1/logs?{query}")
    assert ids(response) == [logbook["rows"][k].id for k in expected]


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("status=hong", 422, "validation_failed", "status"),
        ("date_from=28/11/2026", 422, "validation_failed", "date_from"),
        ("date_from=2026-11-29&date_to=2026-11-28", 422, "validation_failed", "date_from"),
        ("station=KHONG-CO", 422, "validation_failed", "station"),
        ("station=LG-RADIO", 422, "validation_failed", "station"),
        ("page=0", 422, "validation_failed", "page"),
        ("per_page=101", 422, "validation_failed", "per_page"),
        ("dai=PT-CITY", 400, "unknown_fields", "dai"),
    ],
)
def test_bad_log_filters_are_refused(api, logbook, query, status, code, field):
    assert_error(api("writer").get(f"/api/v1/logs?{query}"), status, code, field)


# --- Verifying --------------------------------------------------------------------------------


def test_verify_checks_only_the_callers_stations(api, logbook):
    data = api("writer").get("/api/v1/logs/verify").get_json()
    assert data == {
        "ok": True,
        "checked": 4,
        "stations": ["PT-CITY", "PT-PHUTHUY"],
        "first_bad": None,
        "problem": "",
    }
    one = api("writer").get("/api/v1/logs/verify?station=PT-PHUTHUY").get_json()
    assert (one["checked"], one["stations"]) == (1, ["PT-PHUTHUY"])
    assert api("supervisor").get("/api/v1/logs/verify").get_json()["checked"] == 5


def test_verify_reports_the_first_altered_row(api, logbook):
    night = logbook["rows"]["night"]
    tamper("UPDATE broadcast_log SET reason = 'sửa tay' WHERE id = :id", id=night.id)
    data = api("writer").get("/api/v1/logs/verify").get_json()
    assert data["ok"] is False
    assert data["first_bad"] == {"station": "PT-CITY", "seq": 2, "row_id": night.id}
    assert data["problem"] == "Dòng #2 của đài PT-CITY đã bị sửa: mã băm không khớp."
    assert (data["checked"], data["stations"]) == (1, ["PT-CITY"])


def test_altered_row_of_another_district_is_not_reported_to_the_district(api, logbook):
    foreign = logbook["rows"]["foreign"]
    tamper("UPDATE broadcast_log SET reason = 'sửa tay' WHERE id = :id", id=foreign.id)
    assert api("writer").get("/api/v1/logs/verify").get_json()["ok"] is True
    data = api("supervisor").get("/api/v1/logs/verify").get_json()
    assert data["first_bad"]["station"] == "LG-RADIO"


def test_verify_a_period_of_local_days(api, org, clock):
    station = make_station(org.district, "PT-CITY")
    for _ in range(3):
        row(station, datetime(2026, 11, 20, 5, 45, tzinfo=VN))
        clock.advance(days=1)
    # Rows were written on 27, 28 and 29/11; the period takes 28/11 and the row before it.
    data = api("writer").get("/api/v1/logs/verify?date_from=2026-11-28&date_to=2026-11-28")
    assert data.get_json()["checked"] == 2
    later = api("writer").get("/api/v1/logs/verify?date_from=2026-11-30").get_json()
    assert (later["ok"], later["checked"]) == (True, 0)


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("date_to=hom-nay", 422, "validation_failed", "date_to"),
        ("date_from=2026-11-29&date_to=2026-11-28", 422, "validation_failed", "date_from"),
        ("station=LG-RADIO", 422, "validation_failed", "station"),
        ("from=2026-11-28", 400, "unknown_fields", "from"),
    ],
)
def test_bad_verify_parameters_are_refused(api, logbook, query, status, code, field):
    assert_error(api("writer").get(f"/api/v1/logs/verify?{query}"), status, code, field)
