# ruff: noqa: F811 (the world fixture is imported from test_service)
"""Report API against the hand-computed world of tests/reports/test_service.py: the dashboard
and campaign figures as JSON and CSV, filters, scope, bad input and the export audit."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.extensions import db
from app.reports.service import NO_CAMPAIGN
from tests.api.conftest import assert_error
from tests.factories import make_station
from tests.reports.test_service import world  # noqa: F401

AIRTIME = "/api/v1/reports/airtime"
CAMPAIGN = "/api/v1/reports/campaign"
NOVEMBER = "period=month&date=2026-11-01"
DOT6 = quote("Đợt 6")


def get_json(api, user: str, url: str) -> dict:
    """A 200 JSON answer."""
    response = api(user).get(url)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def export_events() -> list[AuditEvent]:
    """The report.export audit events, oldest first."""
    query = select(AuditEvent).where(AuditEvent.action == "report.export")
    return list(db.session.scalars(query.order_by(AuditEvent.id)))


# --- the dashboard ----------------------------------------------------------------------------


def test_airtime_totals_match_the_hand_count(api, world):
    data = get_json(api, "supervisor2", f"{AIRTIME}?{NOVEMBER}")
    assert data["period"] == {
        "kind": "month",
        "start": "2026-11-01",
        "end": "2026-11-30",
        "label": "Tháng 11/2026",
    }
    assert data["filters"] == {
        "unit": "D",
        "station": None,
        "campaign": None,
        "source": None,
        "script": None,
        "priority": None,
    }
    # A: 7 logged planned rows + 3 pending airings; B: its 5/11 row (see test_service).
    assert data["total"] == {
        "planned": 11,
        "pending": 3,
        "aired": 5,
        "aired_late": 1,
        "partial": 0,
        "interrupted": 1,
        "failed": 1,
        "missed": 1,
        "skipped": 0,
        "cancelled": 1,
        "manual": 1,
        "airtime_minutes": 7.8,  # 470 s
        "compliance": 0.5455,  # 6 ÷ 11
        "on_air": 6,
    }


def test_airtime_groups(api, world):
    data = get_json(api, "supervisor2", f"{AIRTIME}?{NOVEMBER}")
    stations = {s["code"]: s for s in data["by_station"]}
    assert list(stations) == ["A", "B"]
    assert (stations["A"]["planned"], stations["A"]["pending"]) == (10, 3)
    assert (stations["B"]["planned"], stations["B"]["on_air"]) == (1, 1)
    assert stations["A"]["name"] == world["a"].name
    assert [(s["code"], s["missed"], s["failed"]) for s in data["stations_with_misses"]] == [
        ("A", 1, 1)
    ]
    campaigns = {c["campaign"]: c for c in data["by_campaign"]}
    assert campaigns["Đợt 6"]["planned"] == 10
    assert (campaigns[""]["label"], campaigns[""]["planned"]) == (NO_CAMPAIGN, 1)
    scripts = {s["title"]: s for s in data["by_script"]}
    assert scripts["Phòng chống bão"]["failed"] == 1
    assert scripts["Phòng chống bão"]["id"] == world["other"].id
    assert scripts["Kêu gọi tiêm chủng"]["source"].startswith("855/BCĐ") or (
        "855/BCĐ" in scripts["Kêu gọi tiêm chủng"]["source"]
    )
    assert [p["priority"] for p in data["by_priority"]] == [world["script"].priority.value]
    days = {d["date"]: d for d in data["by_day"]}
    assert len(days) == 30
    assert (days["2026-11-30"]["on_air"], days["2026-11-30"]["pending"]) == (1, 1)
    assert days["2026-11-10"]["airtime_minutes"] == 2.0
    assert days["2026-11-01"]["planned"] == 0
    assert days["2026-11-01"]["compliance"] is None
    assert data["over_cap"] == []


def test_airtime_defaults_to_the_current_month(api, world):
    # The test clock stands at 08:00 on 27/11/2026.
    data = get_json(api, "supervisor2", AIRTIME)
    assert data["period"]["label"] == "Tháng 11/2026"
    assert data["total"]["planned"] == 11


def test_airtime_periods_are_local_days(api, world):
    december = get_json(api, "supervisor2", f"{AIRTIME}?period=month&date=2026-12-01")
    first = next(d for d in december["by_day"] if d["date"] == "2026-12-01")
    assert first["on_air"] == 1  # 00:10 on 1/12 local is still 30/11 in UTC
    day = get_json(api, "supervisor2", f"{AIRTIME}?period=day&date=2026-11-30")
    assert (day["total"]["on_air"], day["total"]["pending"]) == (1, 1)
    custom = get_json(api, "supervisor2", f"{AIRTIME}?period=custom&date=2026-11-10&end=2026-11-12")
    assert custom["period"]["kind"] == "custom"
    assert [d["date"] for d in custom["by_day"]] == ["2026-11-10", "2026-11-11", "2026-11-12"]
    # 10/11: aired, late; 11/11: missed, failed; 12/11: the cut-off spot (cancelled and the
    # repeat are not planned airings).
    assert (custom["total"]["planned"], custom["total"]["on_air"]) == (5, 3)


@pytest.mark.parametrize(
    ("query", "planned", "other"),
    [
        ("station=A", 10, ("pending", 3)),
        ("station=a", 10, ("pending", 3)),
        (f"campaign={DOT6}", 10, ("failed", 0)),
        ("campaign=-", 1, ("failed", 1)),
        (f"source={quote('855/BCĐ')}", 10, ("missed", 1)),
        ("priority=emergency", 0, ("manual", 0)),
        ("unit=D", 11, ("manual", 1)),
    ],
)
def test_airtime_filters(api, world, query, planned, other):
    data = get_json(api, "supervisor2", f"{AIRTIME}?{NOVEMBER}&{query}")
    assert data["total"]["planned"] == planned
    assert data["total"][other[0]] == other[1]


def test_airtime_filter_by_script(api, world):
    data = get_json(api, "supervisor2", f"{AIRTIME}?{NOVEMBER}&script={world['other'].id}")
    assert (data["total"]["planned"], data["total"]["failed"]) == (1, 1)
    assert data["filters"]["script"] == world["other"].id


def test_outside_supervisor_sees_only_rows_filed_under_their_unit(api, world):
    data = get_json(api, "outside_supervisor", f"{AIRTIME}?{NOVEMBER}")
    # B moved to the other district before its 20/11 row: only that row is theirs.
    assert [(s["code"], s["on_air"]) for s in data["by_station"]] == [("B", 1)]
    assert data["total"]["planned"] == 1


def test_province_supervisor_sees_both_districts(api, world):
    data = get_json(api, "supervisor", f"{AIRTIME}?{NOVEMBER}")
    assert (data["total"]["planned"], data["total"]["on_air"]) == (12, 7)


def test_writers_see_only_their_own_scripts(api, world):
    assert get_json(api, "writer2", f"{AIRTIME}?{NOVEMBER}")["total"]["planned"] == 0
    assert get_json(api, "writer", f"{AIRTIME}?{NOVEMBER}")["total"]["planned"] == 11


# --- the campaign report ----------------------------------------------------------------------


def test_campaign_report_json(api, world):
    data = get_json(api, "supervisor2", f"{CAMPAIGN}?campaign={DOT6}")
    assert data["period"] is None  # the campaign's whole run
    assert data["filters"]["campaign"] == "Đợt 6"
    lines = {(ln["station"]["code"], ln["script"]["title"]): ln for ln in data["lines"]}
    assert list(lines) == [("A", "Kêu gọi tiêm chủng"), ("B", "Kêu gọi tiêm chủng")]
    a = lines[("A", "Kêu gọi tiêm chủng")]
    # All time: 7 logged planned rows (the 1/12 row too) and 7 pending (28/11-4/12).
    assert (a["planned"], a["pending"], a["on_air"]) == (14, 7, 6)
    assert a["first_aired"] == "2026-11-10T05:30:00+07:00"
    assert a["last_aired"] == "2026-12-01T00:10:00+07:00"
    assert a["misses"] == [
        {
            "at": "2026-11-11T05:30:00+07:00",
            "status": "missed",
            "reason": "bỏ lỡ: bộ phát không chạy",
        },
        {"at": "2026-11-12T17:00:00+07:00", "status": "interrupted", "reason": ""},
    ]
    b = lines[("B", "Kêu gọi tiêm chủng")]
    assert (b["on_air"], b["misses"]) == (1, [])
    assert data["total"]["planned"] == a["planned"] + b["planned"]
    assert data["scripts"] == [{"id": world["script"].id, "title": "Kêu gọi tiêm chủng"}]


def test_campaign_report_by_source_and_period(api, world):
    source = quote("855/BCĐ")
    data = get_json(api, "supervisor2", f"{CAMPAIGN}?source={source}&{NOVEMBER}")
    assert data["period"]["label"] == "Tháng 11/2026"
    a = next(ln for ln in data["lines"] if ln["station"]["code"] == "A")
    # Planned in November: 10/11 ×2, 11/11 missed, the cut-off 12/11 17:00, 14/11 (corrected),
    # 30/11 23:30, and 3 pending (28-30/11); the 1/12 row is December's. On air: 10/11 ×2, the
    # repeat of the cut-off spot, 14/11 and 30/11.
    assert (a["planned"], a["pending"], a["on_air"]) == (9, 3, 5)
    assert a["last_aired"] == "2026-11-30T23:30:00+07:00"


def test_campaign_report_needs_a_campaign_or_source(api, world):
    assert_error(api("supervisor2").get(CAMPAIGN), 422, "validation_failed", "campaign")


def test_campaign_report_scope(api, world):
    data = get_json(api, "outside_supervisor", f"{CAMPAIGN}?campaign={DOT6}")
    assert [(ln["station"]["code"], ln["on_air"]) for ln in data["lines"]] == [("B", 1)]
    mine = get_json(api, "writer2", f"{CAMPAIGN}?campaign={DOT6}")
    assert (mine["lines"], mine["total"]["planned"]) == ([], 0)


# --- CSV ----------------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    """A CSV download's rows; it must start with a UTF-8 BOM."""
    body = response.get_data()
    assert body.startswith("\ufeff".encode()), body[:20]
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def test_airtime_csv_has_a_bom_the_station_table_and_an_audit_event(api, world, users):
    response = api("supervisor2").get(f"{AIRTIME}?{NOVEMBER}&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert 'filename="bao-cao-phat-song-2026-11-01-den-2026-11-30-theo-dai.csv"' in disposition
    rows = read_csv(response)
    assert rows[0][:4] == ["Mã đài", "Tên đài", "Kế hoạch", "Đã phát"]
    by_code = {r[0]: r for r in rows[1:]}
    assert (by_code["A"][2], by_code["A"][3]) == ("10", "5")
    assert (by_code["B"][2], by_code["B"][3]) == ("1", "1")
    assert by_code[""][1:4] == ["Tổng cộng", "11", "6"]
    events = export_events()
    assert len(events) == 1
    assert events[0].actor_id == users["supervisor2"].id
    assert events[0].details["format"] == "csv"
    assert events[0].details["report"] == "dashboard"


def test_campaign_csv(api, world):
    response = api("supervisor2").get(f"{CAMPAIGN}?campaign={DOT6}&format=csv")
    assert response.status_code == 200
    assert (
        "chien-dich-dot-6-toan-bo-theo-dai-va-kich-ban.csv"
        in (response.headers["Content-Disposition"])
    )
    rows = read_csv(response)
    assert rows[0][:5] == ["Mã đài", "Tên đài", "Kịch bản", "Kế hoạch", "Đã phát"]
    a = next(r for r in rows if r[0] == "A")
    assert a[2:5] == ["Kêu gọi tiêm chủng", "14", "6"]
    assert [e.details["report"] for e in export_events()] == ["campaign"]


def test_json_answers_are_not_audited_as_exports(api, world):
    get_json(api, "supervisor2", f"{AIRTIME}?{NOVEMBER}")
    get_json(api, "supervisor2", f"{CAMPAIGN}?campaign={DOT6}")
    assert export_events() == []


# --- bad input ----------------------------------------------------------------------------------


@pytest.fixture
def lagi(org):
    """A station of the other district, none of whose rows were ever filed under the district."""
    return make_station(org.other_district, "LAGI")


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        ("period=year", 422, "validation_failed", "period"),
        ("period=all", 422, "validation_failed", "period"),
        ("date=27-11-2026x", 422, "validation_failed", "date"),
        ("period=custom&date=2026-11-10", 422, "validation_failed", "end"),
        ("period=custom&date=2026-11-10&end=2026-11-01", 422, "validation_failed", "end"),
        ("period=custom&date=2025-11-01&end=2026-11-30", 422, "validation_failed", "end"),
        ("priority=high", 422, "validation_failed", "priority"),
        ("script=abc", 422, "validation_failed", "script"),
        ("script=%C2%B2", 422, "validation_failed", "script"),  # '²': isdigit() held for it
        ("format=xlsx", 422, "validation_failed", "format"),
        ("unit=KHONG-CO", 404, "not_found", "unit"),
        ("unit=D2", 404, "not_found", "unit"),
        ("station=LAGI", 404, "not_found", "station"),
        ("station=KHONG-CO", 404, "not_found", "station"),
        ("script=999999", 404, "not_found", "script"),
        ("dai=A", 400, "unknown_fields", "dai"),
    ],
)
def test_bad_airtime_parameters_are_refused(api, world, lagi, query, status, code, field):
    assert_error(api("supervisor2").get(f"{AIRTIME}?{query}"), status, code, field)


@pytest.mark.parametrize(
    ("query", "status", "code", "field"),
    [
        (f"campaign={DOT6}&period=week&date=2026-02-30", 422, "validation_failed", "date"),
        (f"campaign={DOT6}&format=pdf", 422, "validation_failed", "format"),
        (f"campaign={DOT6}&station=LAGI", 404, "not_found", "station"),
        (f"campaign={DOT6}&unit=D2", 404, "not_found", "unit"),
        (f"campaign={DOT6}&kenh=1", 400, "unknown_fields", "kenh"),
    ],
)
def test_bad_campaign_parameters_are_refused(api, world, lagi, query, status, code, field):
    assert_error(api("supervisor2").get(f"{CAMPAIGN}?{query}"), status, code, field)


def test_a_refused_csv_export_is_not_audited(api, world, lagi):
    response = api("supervisor2").get(f"{AIRTIME}?station=LAGI&format=csv")
    assert_error(response, 404, "not_found", "station")
    assert export_events() == []


def test_reports_need_a_token(client):
    assert_error(client.get(AIRTIME), 401, "unauthorized")
    assert_error(client.get(f"{CAMPAIGN}?campaign=x"), 401, "unauthorized")
