"""Schedule pages: list, the new-schedule form with its checks, one schedule, cancel, delete,
iCalendar downloads; bad input and refused requests save nothing."""

from __future__ import annotations

import re
import time as systime
from datetime import UTC, date, datetime, time

import pytest
from dateutil.rrule import rrulestr
from sqlalchemy import func, select

from app.auth.models import Role
from app.extensions import db
from app.org.service import add_session
from app.schedules import service
from app.schedules.models import (
    Airing,
    AiringStatus,
    CancelledOccurrence,
    Schedule,
    ScheduleStatus,
)
from app.schedules.recurrence import LOCAL_TZ, Recurrence, expand
from app.scripts.models import Priority
from app.scripts.service import archive_script
from tests.conftest import build_test_app, login
from tests.factories import PASSWORD, make_script, make_station, make_unit, make_user
from tests.schedules.test_service import approved_script, with_sessions

START = date(2026, 11, 28)  # the day after the test clock's "today" (27/11/2026)
END = date(2026, 12, 4)


def local(day: date, hh: int, mm: int = 0) -> datetime:
    """An aware UTC datetime from a wall-clock time in Asia/Ho_Chi_Minh."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


def counts() -> tuple[int, int, int]:
    """Rows of schedules, airings and cancelled occurrences."""
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Schedule, Airing, CancelledOccurrence)
    )


def field_errors(page: str, name: str) -> list[str]:
    """The error messages shown inside the form field (the macro's div) holding input `name`."""
    for block in re.split(r'(?=<div class="field)', page)[1:]:
        own = block.split("</div>", 1)[0]
        if f'name="{name}"' in own:
            return re.findall(r'<small class="error-text">(.*?)</small>', own)
    raise AssertionError(f"no field {name}")


def fieldset_errors(page: str, legend: str) -> list[str]:
    """Error messages shown in the fieldset with this legend."""
    match = re.search(rf"<legend>{legend}</legend>(.*?)</fieldset>", page, re.S)
    assert match, legend
    return re.findall(r'<small class="error-text">(.*?)</small>', match.group(1))


@pytest.fixture
def desk(org, users):
    """An approved script and two stations of the district with sessions."""
    script = approved_script(users, org.district)
    commune = with_sessions(make_station(org.commune, "PT-PHUTHUY", "Truyền thanh Phú Thủy"))
    district = with_sessions(make_station(org.district, "PT-CITY", "Đài Phan Thiết"))
    return {"script": script, "stations": [commune, district]}


def form_data(desk, **overrides) -> dict:
    """A valid new-schedule form: 05:45 and 17:15 every day of the test week on both stations."""
    data = {
        "script": desk["script"].id,
        "stations": [s.id for s in desk["stations"]],
        "kind": "times",
        "times": "05:45, 17:15",
        "weekdays": [str(d) for d in range(1, 8)],
        "start_date": START.isoformat(),
        "end_date": END.isoformat(),
        "count": "",
        "priority": "",
        "gap_seconds": "5",
        "action": "save",
    }
    data.update(overrides)
    return data


def make_schedule(desk, users, *hhmm: time, stations=None, end: date = END) -> Schedule:
    """A saved fixed-times schedule of the desk script."""
    rec = Recurrence(kind="times", times=hhmm, start_date=START, end_date=end)
    return service.create_schedule(
        users["operator"],
        service.ScheduleInput(
            script=desk["script"], recurrence=rec, stations=stations or desk["stations"]
        ),
    )


# --- Pages for each role ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["writer", "operator", "supervisor", "admin"])
def test_list_and_schedule_page_show_the_rule_to_every_role(login_as, desk, users, role):
    schedule = make_schedule(desk, users, time(5, 45), time(17, 15))
    client = login_as(role)

    listing = client.get("/schedules/").get_data(as_text=True)
    assert "05:45, 17:15 hằng ngày từ 28/11 đến 04/12/2026" in listing
    assert f'href="/schedules/{schedule.id}"' in listing
    # The next airing is the first one, sequenced at the session's start (05:30).
    assert "28/11/2026 05:30" in listing
    assert '28<br><small class="muted nowrap">2 đài</small>' in listing
    assert ("+ Lập lịch mới" in listing) == (role in {"operator", "supervisor"})

    page = client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    assert "05:45, 17:15 hằng ngày từ 28/11 đến 04/12/2026" in page
    assert "RRULE:FREQ=DAILY;BYHOUR=5,17;BYMINUTE=15,45;BYSETPOS=2,3" in page
    assert "Thứ Bảy 28/11/2026 05:45" in page and "Truyền thanh Phú Thủy" in page
    assert ("Hủy một lần phát" in page) == (role in {"operator", "supervisor"})
    assert ("Xem nhật ký kiểm tra của lịch này" in page) == (role in {"supervisor", "admin"})


@pytest.mark.parametrize("role", ["operator", "supervisor"])
def test_new_form_groups_stations_by_unit_for_schedulers(login_as, desk, role):
    page = login_as(role).get("/schedules/new").get_data(as_text=True)
    assert "Phường Phú Thủy" in page and "Truyền thanh Phú Thủy" in page
    assert 'name="units"' in page and "mọi đài của đơn vị (2 đài)" in page
    for label in ("Vào các giờ cố định", "N lần mỗi buổi phát", "Cứ N phút một lần"):
        assert label in page
    for day in ("Thứ Hai", "Thứ Bảy", "Chủ Nhật"):
        assert day in page
    assert "Kêu gọi tiêm chủng · hiệu lực đến 31/12/2026" in page


@pytest.mark.parametrize("role", ["writer", "admin"])
def test_writer_and_admin_cannot_open_or_post_the_form(login_as, desk, role):
    client = login_as(role)
    assert client.get("/schedules/new").status_code == 403
    response = client.post("/schedules/new", data=form_data(desk))
    assert response.status_code == 403
    assert "Chỉ nhân viên đài và người duyệt mới được lập" in response.get_data(as_text=True)
    assert counts() == (0, 0, 0)


def test_script_page_offers_scheduling_only_for_approved_scripts(login_as, org, desk, users):
    draft = make_script(users["writer"], org.district, title="Bản nháp")
    operator = login_as("operator")
    approved = operator.get(f"/scripts/{desk['script'].id}").get_data(as_text=True)
    assert f'href="/schedules/new?script={desk["script"].id}"' in approved
    assert "Lập lịch phát" not in operator.get(f"/scripts/{draft.id}").get_data(as_text=True)
    writer = login_as("writer").get(f"/scripts/{desk['script'].id}").get_data(as_text=True)
    assert "Lập lịch phát" not in writer


def test_prefilled_script_shows_its_default_dates(login_as, desk):
    page = login_as("operator").get(f"/schedules/new?script={desk['script'].id}")
    text = page.get_data(as_text=True)
    assert re.search(rf'<option selected value="{desk["script"].id}"', text) or re.search(
        rf'<option value="{desk["script"].id}" selected', text
    )
    assert "Để trống: từ 27/11/2026 đến 31/12/2026 (hiệu lực của kịch bản)." in text
    assert "Theo kịch bản (ưu tiên)" in text


def test_prefilling_a_draft_says_why_it_cannot_be_scheduled(login_as, org, users, desk):
    draft = make_script(users["writer"], org.district, title="Bản nháp")
    page = login_as("operator").get(f"/schedules/new?script={draft.id}").get_data(as_text=True)
    assert "Kịch bản “Bản nháp” chưa được duyệt (trạng thái: Bản nháp)" in page


# --- Creating through the form ----------------------------------------------------------------


def test_fixed_times_form_saves_and_plans_airings(login_as, desk):
    response = login_as("operator").post("/schedules/new", data=form_data(desk))
    assert response.status_code == 302, response.get_data(as_text=True)
    schedule = db.session.scalars(select(Schedule)).one()
    assert response.headers["Location"].endswith(f"/schedules/{schedule.id}")
    assert schedule.kind == "times" and schedule.priority == Priority.HIGH
    assert "BYHOUR=5,17;BYMINUTE=15,45" in schedule.rrule
    assert (schedule.start_date, schedule.end_date) == (START, END)
    assert counts() == (1, 28, 0)


def test_per_session_form_saves(login_as, desk):
    data = form_data(desk, kind="per_session", per_session="2", times="")
    response = login_as("supervisor").post("/schedules/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    schedule = db.session.scalars(select(Schedule)).one()
    assert schedule.kind == "per_session" and "X-LOA-PER-SESSION:2" in schedule.rrule
    # Two a session, two sessions a day, seven days, two stations.
    assert counts() == (1, 56, 0)


def test_every_n_minutes_form_saves_with_cap_and_priority(login_as, desk):
    data = form_data(
        desk,
        kind="every",
        times="",
        every_minutes="15",
        window_start="05:30",
        window_end="06:00",
        count="10",
        priority="emergency",
        gap_seconds="2,5",
    )
    response = login_as("operator").post("/schedules/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    schedule = db.session.scalars(select(Schedule)).one()
    assert schedule.kind == "every" and schedule.count == 10
    assert schedule.priority == Priority.EMERGENCY and schedule.gap_seconds == 2.5
    assert "X-LOA-EVERY:INTERVAL=15;START=0530;END=0600" in schedule.rrule
    # 05:30, 05:45, 06:00 a day, capped at 10 per station.
    assert counts() == (1, 20, 0)
    page = login_as("operator").get(f"/schedules/{schedule.id}").get_data(as_text=True)
    assert "cứ 15 phút một lần trong khung 05:30–06:00, hằng ngày" in page
    assert "tối đa 10 lần mỗi đài" in page


def test_empty_dates_follow_the_scripts_validity(login_as, desk):
    data = form_data(desk, start_date="", end_date="")
    assert login_as("operator").post("/schedules/new", data=data).status_code == 302
    schedule = db.session.scalars(select(Schedule)).one()
    assert (schedule.start_date, schedule.end_date) == (date(2026, 11, 27), date(2026, 12, 31))


def test_units_target_every_station_below_them(login_as, org, desk):
    data = form_data(desk, stations=[], units=[org.district.id])
    assert login_as("operator").post("/schedules/new", data=data).status_code == 302
    schedule = db.session.scalars(select(Schedule)).one()
    assert schedule.units == [org.district] and schedule.stations == []
    assert counts() == (1, 28, 0)


# --- Refusals: shown next to their field, nothing saved ---------------------------------------


def test_25_00_is_shown_next_to_the_times_field(login_as, desk):
    response = login_as("operator").post(
        "/schedules/new", data=form_data(desk, times="05:45, 25:00")
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_errors(page, "times") == ["Giờ “25:00” không hợp lệ (00:00–23:59)."]
    # What the user typed stays in the form.
    assert 'value="05:45, 25:00"' in page
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"start_date": "2026-12-04", "end_date": "2026-11-30"}, "end_date", "trước ngày bắt đầu"),
        (
            {"weekdays": ["7"], "start_date": "2026-11-30", "end_date": "2026-12-02"},
            "weekdays",
            "không tạo ra lần phát nào",
        ),
        (
            {
                "kind": "every",
                "every_minutes": "1",
                "window_start": "00:00",
                "window_end": "23:59",
                "end_date": "2027-03-31",
            },
            "count",
            "quá mức tối đa 100.000",
        ),
        ({"kind": "every", "every_minutes": "", "window_start": ""}, "every_minutes", "1 đến 1440"),
        ({"kind": "per_session", "per_session": "0"}, "per_session", "từ 1 đến 60"),
        ({"gap_seconds": "900"}, "gap_seconds", "từ 0 đến 600 giây"),
        ({"count": "0"}, "count", "từ 1 trở lên"),
    ],
    ids=[
        "end-before-start",
        "no-occurrence",
        "over-100000",
        "every-empty",
        "per-session-0",
        "gap",
        "count-0",
    ],
)
def test_bad_rules_are_shown_next_to_their_field(login_as, desk, overrides, field, fragment):
    response = login_as("operator").post("/schedules/new", data=form_data(desk, **overrides))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert any(fragment in e for e in field_errors(page, field)), field_errors(page, field)
    assert counts() == (0, 0, 0)


def test_unapproved_script_is_refused_next_to_the_script(login_as, org, users, desk):
    draft = make_script(users["writer"], org.district, title="Bản nháp")
    response = login_as("operator").post("/schedules/new", data=form_data(desk, script=draft.id))
    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True), "script")
    assert errors and "Kịch bản chưa được duyệt" in errors[0]
    assert counts() == (0, 0, 0)


def test_archived_script_is_refused(login_as, users, desk):
    archive_script(users["supervisor"], desk["script"])
    response = login_as("operator").post("/schedules/new", data=form_data(desk))
    assert response.status_code == 422
    assert "Kịch bản đã lưu trữ" in field_errors(response.get_data(as_text=True), "script")[0]
    assert counts() == (0, 0, 0)


def test_expired_script_is_refused(login_as, org, users, desk):
    expired = approved_script(users, org.district, title="Hết hạn", valid_until=date(2026, 11, 1))
    response = login_as("operator").post("/schedules/new", data=form_data(desk, script=expired.id))
    assert response.status_code == 422
    errors = field_errors(response.get_data(as_text=True), "script")
    assert "Kịch bản đã hết hiệu lực ngày 1/11/2026" in errors[0]
    assert counts() == (0, 0, 0)


def test_missing_script_is_asked_for(login_as, desk):
    response = login_as("operator").post("/schedules/new", data=form_data(desk, script="0"))
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "script") == [
        "Chọn một kịch bản đã duyệt."
    ]


def test_station_outside_the_users_units_is_refused(login_as, org, desk):
    elsewhere = make_station(org.other_district, "LAGI", "Đài La Gi")
    stations = [*desk["stations"], elsewhere]
    response = login_as("operator").post(
        "/schedules/new", data=form_data(desk, stations=[s.id for s in stations])
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert fieldset_errors(page, "Phát ở đâu") == [
        "Đài đã chọn không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn."
    ]
    # The station outside the user's units is neither offered nor named.
    assert "Đài La Gi" not in page
    assert counts() == (0, 0, 0)


def test_unit_outside_the_users_units_is_refused(login_as, org, desk):
    response = login_as("operator").post(
        "/schedules/new", data=form_data(desk, stations=[], units=[org.other_district.id])
    )
    assert response.status_code == 422
    errors = fieldset_errors(response.get_data(as_text=True), "Phát ở đâu")
    assert errors and "nằm ngoài phạm vi" in errors[0]
    assert counts() == (0, 0, 0)


def test_no_station_chosen_is_refused(login_as, desk):
    response = login_as("operator").post("/schedules/new", data=form_data(desk, stations=[]))
    assert response.status_code == 422
    assert fieldset_errors(response.get_data(as_text=True), "Phát ở đâu") == [
        "Chọn ít nhất một đài hoặc một đơn vị."
    ]


# --- Checks, warnings and blocking problems ---------------------------------------------------


def _warnings_seen(page: str) -> str:
    """The fingerprint of the warnings the page showed."""
    match = re.search(r'name="warnings_seen" type="hidden" value="([^"]*)"', page) or re.search(
        r'type="hidden" name="warnings_seen" value="([^"]*)"', page
    )
    assert match, "no warnings_seen field"
    return match.group(1)


def test_check_shows_the_summary_and_saves_nothing(login_as, desk):
    response = login_as("operator").post("/schedules/new", data=form_data(desk, action="check"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Kết quả kiểm tra" in page
    summary = re.search(r'<dl class="summary-grid">(.*?)</dl>', page, re.S).group(1)
    words = " ".join(re.sub(r"<[^>]+>", " ", summary).split())
    # Times as they air: 05:45 and 17:15 open their sessions, at 05:30 and 17:00.
    assert words == "Số lần phát 28 Số đài 2 Lần đầu 28/11/2026 05:30 Lần cuối 04/12/2026 17:00"
    assert "Không thấy vấn đề nào" in page
    assert counts() == (0, 0, 0)


def test_warning_needs_the_confirmation_box_then_saves(login_as, desk):
    client = login_as("operator")
    data = form_data(desk, times="12:00", stations=[desk["stations"][0].id])
    first = client.post("/schedules/new", data=data)
    page = first.get_data(as_text=True)
    assert first.status_code == 422
    assert "7 cảnh báo cần xem" in page
    assert "7 × lần phát nằm ngoài các buổi phát" in page
    assert "28/11/2026 12:00</time> Đài “Truyền thanh Phú Thủy”: Lần phát" in page
    assert "nằm ngoài các buổi phát của đài" in page
    assert "Tôi đã xem các cảnh báo trên và vẫn muốn lưu" in page
    assert counts() == (0, 0, 0)

    # Ticking the box without having been shown these warnings is not a confirmation.
    blind = client.post("/schedules/new", data={**data, "confirm_warnings": "y"})
    assert blind.status_code == 422
    assert "các cảnh báo đã thay đổi" in blind.get_data(as_text=True)
    assert counts() == (0, 0, 0)

    seen = _warnings_seen(page)
    confirmed = client.post(
        "/schedules/new", data={**data, "confirm_warnings": "y", "warnings_seen": seen}
    )
    assert confirmed.status_code == 302, confirmed.get_data(as_text=True)
    assert counts() == (1, 7, 0)


def test_warnings_seen_by_check_can_be_confirmed(login_as, desk):
    client = login_as("operator")
    data = form_data(desk, times="12:00", stations=[desk["stations"][0].id])
    checked = client.post("/schedules/new", data={**data, "action": "check"})
    page = checked.get_data(as_text=True)
    assert "7 cảnh báo cần xem" in page and "Kết quả kiểm tra" in page
    seen = _warnings_seen(page)
    response = client.post(
        "/schedules/new", data={**data, "confirm_warnings": "y", "warnings_seen": seen}
    )
    assert response.status_code == 302
    assert counts()[0] == 1


def test_blocking_problem_never_saves_even_when_confirmed(login_as, org, users):
    script = approved_script(users, org.district)
    script.approved_render.duration_s = 200.0
    db.session.commit()
    station = make_station(org.district, "SHORT", "Đài buổi ngắn")
    add_session(None, station, "Buổi sáng", time(5, 30), time(5, 35), 5, "1234567")
    client = login_as("operator")
    data = form_data(
        {"script": script, "stations": [station]},
        times="05:30, 05:31, 05:32",
        end_date=START.isoformat(),
    )
    first = client.post("/schedules/new", data=data)
    page = first.get_data(as_text=True)
    assert first.status_code == 422
    assert "Không lưu được:" in page and "vấn đề phải sửa" in page
    assert "sau khi Buổi sáng 05:30–05:35" in page
    # No confirmation box while something blocks the save.
    assert 'name="confirm_warnings"' not in page
    seen = _warnings_seen(page)
    again = client.post(
        "/schedules/new", data={**data, "confirm_warnings": "y", "warnings_seen": seen}
    )
    assert again.status_code == 422
    assert "Không lưu được lịch" in again.get_data(as_text=True)
    assert counts() == (0, 0, 0)


# --- CSRF -------------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(tmp_path, clock):
    """An app with CSRF checks on, as in production."""
    app = build_test_app(tmp_path, clock, WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _token(page: str) -> str:
    return re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', page).group(1)


def test_posts_without_csrf_token_are_refused(csrf_app, clock):
    province = make_unit("P", "Tỉnh Bình Thuận", level="Tỉnh")
    district = make_unit("D", "Thành phố Phan Thiết", parent=province)
    people = {
        "writer": make_user(district, Role.WRITER, "writer"),
        "supervisor": make_user(province, Role.SUPERVISOR, "supervisor"),
    }
    make_user(district, Role.OPERATOR, "operator")
    script = approved_script(people, district)
    station = with_sessions(make_station(district, "PT-CITY"))
    desk = {"script": script, "stations": [station]}
    client = csrf_app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "operator", "password": PASSWORD, "csrf_token": token})
    assert client.post("/schedules/new", data=form_data(desk)).status_code == 400
    forged = client.post("/schedules/new", data={**form_data(desk), "csrf_token": "forged"})
    assert forged.status_code == 400
    assert counts() == (0, 0, 0)
    real = _token(client.get("/schedules/new").get_data(as_text=True))
    assert (
        client.post("/schedules/new", data={**form_data(desk), "csrf_token": real}).status_code
        == 302
    )
    schedule = db.session.scalars(select(Schedule)).one()

    page = client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    cancel = {"occurs_at": "2026-11-29T05:45", "station": station.id, "reason": "Mất điện"}
    assert client.post(f"/schedules/{schedule.id}/cancel", data=cancel).status_code == 400
    assert client.post(f"/schedules/{schedule.id}/delete", data={"confirm": "y"}).status_code == 400
    assert counts()[2] == 0 and schedule.status == ScheduleStatus.ACTIVE
    token = _token(page)
    done = client.post(f"/schedules/{schedule.id}/cancel", data={**cancel, "csrf_token": token})
    assert done.status_code == 302 and counts()[2] == 1


# --- One schedule: cancel and delete ----------------------------------------------------------


def test_cancel_one_occurrence_with_a_reason(login_as, desk, users):
    schedule = make_schedule(desk, users, time(5, 45), time(17, 15))
    station = desk["stations"][0]
    client = login_as("operator")
    page = client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    # Each planned row links to the cancel form with its time and station chosen.
    link = (
        f"/schedules/{schedule.id}?occurs_at=2026-11-30T17:15&amp;station={station.id}#huy-lan-phat"
    )
    assert link in page
    prefilled = client.get(
        f"/schedules/{schedule.id}?occurs_at=2026-11-30T17:15&station={station.id}"
    ).get_data(as_text=True)
    assert re.search(r'<option selected value="2026-11-30T17:15">', prefilled)

    response = client.post(
        f"/schedules/{schedule.id}/cancel",
        data={"occurs_at": "2026-11-30T17:15", "station": station.id, "reason": "Mất điện"},
        follow_redirects=True,
    )
    text = response.get_data(as_text=True)
    assert "Đã hủy lần phát lúc Thứ Hai 30/11/2026 17:15 tại Truyền thanh Phú Thủy." in text
    row = db.session.scalars(select(CancelledOccurrence)).one()
    assert row.occurs_at == local(date(2026, 11, 30), 17, 15) and row.station_id == station.id
    key = service.airing_key(schedule.id, station.id, row.occurs_at)
    assert db.session.scalar(select(Airing.status).where(Airing.airing_key == key)) == (
        AiringStatus.CANCELLED
    )
    assert "Mất điện" in text and users["operator"].full_name in text


def test_cancel_without_a_reason_changes_nothing(login_as, desk, users):
    schedule = make_schedule(desk, users, time(5, 45))
    response = login_as("operator").post(
        f"/schedules/{schedule.id}/cancel",
        data={"occurs_at": "2026-11-30T05:45", "station": "", "reason": "  "},
        follow_redirects=True,
    )
    assert "Hãy ghi lý do hủy lần phát." in response.get_data(as_text=True)
    assert counts() == (1, 14, 0)
    assert "EXDATE" not in db.session.get(Schedule, schedule.id).rrule


def test_cancel_on_every_station_adds_an_exdate_to_the_ics(login_as, desk, users):
    schedule = make_schedule(desk, users, time(5, 45))
    client = login_as("supervisor")
    response = client.post(
        f"/schedules/{schedule.id}/cancel",
        data={"occurs_at": "2026-12-01T05:45", "station": "", "reason": "Nghỉ lễ"},
        follow_redirects=True,
    )
    assert "trên mọi đài của lịch" in response.get_data(as_text=True)
    ics = client.get(f"/schedules/{schedule.id}.ics").get_data(as_text=True)
    assert "EXDATE;TZID=Asia/Ho_Chi_Minh:20261201T054500\r\n" in ics


@pytest.mark.parametrize(
    ("occurs_at", "message"),
    [
        ("2026-12-01T06:00", "Lịch không có lần phát lúc 06:00 ngày 1/12/2026"),
        ("2026-11-27T05:45", "Lịch không có lần phát lúc 05:45 ngày 27/11/2026"),
        ("không phải giờ", "Chọn lần phát cần hủy."),
    ],
)
def test_cancel_of_a_time_the_rule_does_not_make_is_refused(
    login_as, desk, users, occurs_at, message
):
    schedule = make_schedule(desk, users, time(5, 45))
    response = login_as("operator").post(
        f"/schedules/{schedule.id}/cancel",
        data={"occurs_at": occurs_at, "station": desk["stations"][0].id, "reason": "Nhầm"},
        follow_redirects=True,
    )
    assert message in response.get_data(as_text=True)
    assert counts() == (1, 14, 0)


def test_commune_operator_sees_only_own_station_and_cannot_change_the_whole_schedule(
    app, org, desk, users
):
    schedule = make_schedule(desk, users, time(5, 45))
    make_user(org.commune, Role.OPERATOR, "op-phuthuy")
    client = login(app.test_client(), "op-phuthuy")
    page = client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    # Only their own station is listed and offered; no "every station", no delete.
    assert "Đài Phan Thiết</h3>" not in page and "Truyền thanh Phú Thủy" in page
    assert "Mọi đài của lịch" not in page and "Xóa lịch" not in page
    everywhere = client.post(
        f"/schedules/{schedule.id}/cancel",
        data={"occurs_at": "2026-12-01T05:45", "station": "", "reason": "Họp dân"},
        follow_redirects=True,
    )
    assert "Lịch này do đơn vị cấp trên lập" in everywhere.get_data(as_text=True)
    deleted = client.post(
        f"/schedules/{schedule.id}/delete", data={"confirm": "y"}, follow_redirects=True
    )
    assert "Lịch này do đơn vị cấp trên lập" in deleted.get_data(as_text=True)
    assert db.session.get(Schedule, schedule.id).status == ScheduleStatus.ACTIVE
    assert counts() == (1, 14, 0)


def test_delete_needs_the_confirmation_box(login_as, desk, users):
    schedule = make_schedule(desk, users, time(5, 45))
    client = login_as("operator")
    unconfirmed = client.post(f"/schedules/{schedule.id}/delete", follow_redirects=True)
    assert "Chưa xóa: hãy đánh dấu ô xác nhận" in unconfirmed.get_data(as_text=True)
    assert counts() == (1, 14, 0)
    response = client.post(f"/schedules/{schedule.id}/delete", data={"confirm": "y"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/schedules/")
    assert db.session.get(Schedule, schedule.id).status == ScheduleStatus.DELETED
    assert counts() == (1, 0, 0)
    listing = client.get("/schedules/").get_data(as_text=True)
    assert "Chưa có lịch phát nào." in listing
    with_deleted = client.get("/schedules/?deleted=1").get_data(as_text=True)
    assert "đã xóa" in with_deleted
    again = client.post(
        f"/schedules/{schedule.id}/delete", data={"confirm": "y"}, follow_redirects=True
    )
    assert "Lịch đã được xóa rồi." in again.get_data(as_text=True)


@pytest.mark.parametrize("role", ["writer", "admin"])
def test_writer_and_admin_cannot_cancel_or_delete(login_as, desk, users, role):
    schedule = make_schedule(desk, users, time(5, 45))
    client = login_as(role)
    cancel = {"occurs_at": "2026-11-30T05:45", "station": "", "reason": "Thử"}
    assert client.post(f"/schedules/{schedule.id}/cancel", data=cancel).status_code == 403
    assert client.post(f"/schedules/{schedule.id}/delete", data={"confirm": "y"}).status_code == 403
    assert counts() == (1, 14, 0)
    assert db.session.get(Schedule, schedule.id).status == ScheduleStatus.ACTIVE


def test_another_districts_user_gets_not_found(app, org, desk, users):
    schedule = make_schedule(desk, users, time(5, 45))
    make_user(org.other_district, Role.OPERATOR, "op-lagi")
    client = login(app.test_client(), "op-lagi")
    assert client.get(f"/schedules/{schedule.id}").status_code == 404
    assert client.get(f"/schedules/{schedule.id}.ics").status_code == 404
    assert client.post(f"/schedules/{schedule.id}/delete", data={"confirm": "y"}).status_code == 404
    assert "Chưa có lịch phát nào." in client.get("/schedules/").get_data(as_text=True)
    assert counts() == (1, 14, 0)


# --- List filters -----------------------------------------------------------------------------


def test_list_filters_by_station_and_script(login_as, org, desk, users):
    make_schedule(desk, users, time(5, 45), stations=[desk["stations"][0]])
    other = approved_script(users, org.district, title="Phòng cháy rừng")
    rec = Recurrence(kind="times", times=(time(17, 15),), start_date=START, end_date=END)
    service.create_schedule(
        users["operator"],
        service.ScheduleInput(script=other, recurrence=rec, stations=[desk["stations"][1]]),
    )
    client = login_as("operator")

    def titles(query: str) -> list[str]:
        page = client.get(f"/schedules/{query}").get_data(as_text=True)
        body = page.split("<tbody>", 1)[1]
        return re.findall(r'<td data-label="Kịch bản"><a [^>]+>([^<]+)</a>', body)

    assert sorted(titles("")) == ["Kêu gọi tiêm chủng", "Phòng cháy rừng"]
    assert titles("?station=PT-PHUTHUY") == ["Kêu gọi tiêm chủng"]
    assert titles("?station=PT-CITY") == ["Phòng cháy rừng"]
    assert titles(f"?script={other.id}") == ["Phòng cháy rừng"]
    assert titles(f"?station=PT-PHUTHUY&script={other.id}") == []


# --- iCalendar --------------------------------------------------------------------------------


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


def test_schedule_ics_carries_the_stored_rule(login_as, desk, users):
    schedule = make_schedule(desk, users, time(5, 45), time(17, 15))
    response = login_as("writer").get(f"/schedules/{schedule.id}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert f'filename="lich-phat-{schedule.id}.ics"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.endswith("END:VCALENDAR\r\n")
    lines = _unfold(text)
    stored = schedule.rrule.splitlines()
    assert stored[0] in lines and stored[1] in lines  # DTSTART and RRULE, as stored
    assert f"UID:schedule-{schedule.id}@loa" in lines
    assert "SUMMARY:Kêu gọi tiêm chủng" in lines
    assert "LOCATION:Đài Phan Thiết\\, Truyền thanh Phú Thủy" in lines
    assert "DURATION:PT1S" in lines
    assert "TZOFFSETFROM:+0700" in lines and "TZOFFSETTO:+0700" in lines
    assert not [line for line in lines if line.startswith("X-LOA")]


def test_export_of_one_station_excludes_its_own_cancellations(login_as, desk, users):
    schedule = make_schedule(desk, users, time(5, 45))
    station = desk["stations"][0]
    at = local(date(2026, 12, 1), 5, 45)
    service.cancel_occurrence(users["operator"], schedule, station, at, "Mất điện")
    client = login_as("operator")
    exdate = "EXDATE;TZID=Asia/Ho_Chi_Minh:20261201T054500"
    own = _unfold(client.get("/schedules/export.ics?station=PT-PHUTHUY").get_data(as_text=True))
    assert exdate in own and "LOCATION:Truyền thanh Phú Thủy" in own
    other = _unfold(client.get("/schedules/export.ics?station=PT-CITY").get_data(as_text=True))
    assert exdate not in other and "LOCATION:Đài Phan Thiết" in other
    everything = _unfold(client.get("/schedules/export.ics").get_data(as_text=True))
    # Still airs on the other station then, so a calendar of both keeps it.
    assert exdate not in everything
    assert sum(1 for line in everything if line == "BEGIN:VEVENT") == 1
    unknown = client.get("/schedules/export.ics?station=NOPE")
    assert unknown.status_code == 422


def test_cancelling_on_each_station_of_a_schedule_is_an_exdate(login_as, desk, users):
    schedule = make_schedule(desk, users, time(5, 45))
    at = local(date(2026, 12, 1), 5, 45)
    exdate = "EXDATE;TZID=Asia/Ho_Chi_Minh:20261201T054500"
    client = login_as("operator")
    service.cancel_occurrence(users["operator"], schedule, desk["stations"][0], at, "Mất điện")
    assert exdate not in _unfold(client.get(f"/schedules/{schedule.id}.ics").get_data(as_text=True))
    service.cancel_occurrence(users["operator"], schedule, desk["stations"][1], at, "Mất điện")
    assert exdate in _unfold(client.get(f"/schedules/{schedule.id}.ics").get_data(as_text=True))


def test_export_leaves_out_deleted_schedules(login_as, desk, users):
    kept = make_schedule(desk, users, time(5, 45))
    gone = make_schedule(desk, users, time(17, 15))
    service.delete_schedule(users["operator"], gone)
    lines = _unfold(login_as("operator").get("/schedules/export.ics").get_data(as_text=True))
    uids = [line for line in lines if line.startswith("UID:")]
    assert uids == [f"UID:schedule-{kept.id}@loa"]


# --- Time zone --------------------------------------------------------------------------------


@pytest.fixture
def new_york(monkeypatch):
    """Run the process in America/New_York, restored afterwards."""
    monkeypatch.setenv("TZ", "America/New_York")
    systime.tzset()
    yield
    monkeypatch.undo()
    systime.tzset()


def test_pages_show_vietnam_times_whatever_the_server_zone(login_as, desk, new_york):
    client = login_as("operator")
    assert client.post("/schedules/new", data=form_data(desk)).status_code == 302
    schedule = db.session.scalars(select(Schedule)).one()
    page = client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    assert "Thứ Bảy 28/11/2026 05:45" in page
    ics = _unfold(client.get(f"/schedules/{schedule.id}.ics").get_data(as_text=True))
    assert "DTSTART;TZID=Asia/Ho_Chi_Minh:20261128T054500" in ics


def test_per_session_schedule_is_one_event_per_station(login_as, desk, users):
    rec = Recurrence(kind="per_session", per_session=2, start_date=START, end_date=END)
    schedule = service.create_schedule(
        users["operator"],
        service.ScheduleInput(script=desk["script"], recurrence=rec, stations=desk["stations"]),
    )
    text = login_as("operator").get(f"/schedules/{schedule.id}.ics").get_data(as_text=True)
    lines = _unfold(text)
    uids = sorted(line for line in lines if line.startswith("UID:"))
    assert uids == [
        f"UID:schedule-{schedule.id}-PT-CITY@loa",
        f"UID:schedule-{schedule.id}-PT-PHUTHUY@loa",
    ]
    # Sessions 05:30-06:15 and 17:00-17:45, twice each: one fixed-times rule per station.
    rules = [line for line in lines if line.startswith(("DTSTART;", "RRULE:"))]
    assert len(rules) == 4 and rules[0] == rules[2] and rules[1] == rules[3]
    parsed = rrulestr("\n".join(rules[:2]), forceset=True, tzids={"Asia/Ho_Chi_Minh": LOCAL_TZ})
    airings = [d.astimezone(UTC) for d in parsed]
    sessions = service.sessions_of(desk["stations"][0])
    assert airings == expand(rec, local(START, 0), local(END, 23, 59), sessions)
    assert [f"{d.astimezone(LOCAL_TZ):%H:%M}" for d in airings[:4]] == [
        "05:30",
        "05:52",
        "17:00",
        "17:22",
    ]


@pytest.mark.parametrize("station", ["²", "①", "9" * 30])
def test_cancel_on_a_station_id_in_other_digits_is_refused(login_as, desk, users, station):
    schedule = make_schedule(desk, users, time(5, 45))
    response = login_as("operator").post(
        f"/schedules/{schedule.id}/cancel",
        data={"occurs_at": "2026-11-30T05:45", "station": station, "reason": "Mất điện"},
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Đài không tồn tại hoặc nằm ngoài phạm vi" in response.get_data(as_text=True)
    assert counts() == (1, 14, 0)
