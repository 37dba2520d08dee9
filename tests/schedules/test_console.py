"""The operator pages: console, day and week rundowns, M3U, the broadcast log and its check.

The test clock stands at 08:00 on Friday 27/11/2026 in Vietnam (01:00 UTC).
"""

from __future__ import annotations

import itertools
import os
import re
import time as systime
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import LogEntry, append_log
from app.extensions import db
from app.org.models import Station
from app.org.service import add_session
from app.playout import runner
from app.schedules import service
from app.schedules.models import Airing, AiringStatus, CancelledOccurrence
from app.schedules.recurrence import LOCAL_TZ
from app.scripts.models import Priority, Script
from app.speech.service import audio_dir
from tests.broadcast.test_log import tamper
from tests.conftest import build_test_app, login
from tests.factories import make_script, make_station
from tests.schedules.test_service import approved_script, times_rule, with_sessions

TODAY = date(2026, 11, 27)
CODE = "PT-PHUTHUY"
ROLES = ["writer", "operator", "supervisor", "admin"]
CONTROLLERS = {"operator", "supervisor"}
_keys = itertools.count(1)


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """An aware UTC datetime from a wall-clock time in Vietnam."""
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=LOCAL_TZ).astimezone(UTC)


def text(response) -> str:
    """A response body as text."""
    return response.get_data(as_text=True)


def make_airing(
    station: Station,
    script: Script,
    when: datetime,
    *,
    duration_s: float = 30.0,
    status: AiringStatus = AiringStatus.PLANNED,
    session: str = "",
    priority: Priority | None = None,
) -> Airing:
    """A manual airing row of the script's approved audio on the station."""
    airing = Airing(
        schedule_id=None,
        station_id=station.id,
        planned_at=when,
        sequenced_at=when,
        session_name=session,
        duration_s=duration_s,
        priority=priority or script.priority,
        script_id=script.id,
        version_id=script.approved_version_id,
        render_id=script.approved_render_id,
        airing_key=f"test:{next(_keys)}",
        status=status,
        created_at=when,
    )
    db.session.add(airing)
    db.session.commit()
    return airing


def count(model) -> int:
    """Rows of a model."""
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def status_of(airing: Airing) -> AiringStatus:
    """The airing's status as stored now."""
    db.session.expire_all()
    return db.session.get(Airing, airing.id).status


@dataclass
class Desk:
    """An approved script, a commune station of the district and one outside it."""

    script: Script
    station: Station
    outside: Station


@pytest.fixture
def desk(org, users) -> Desk:
    """Stations with a morning (05:30-06:15) and an evening (17:00-17:45) session."""
    script = approved_script(users, org.district)
    station = with_sessions(make_station(org.commune, CODE, "Truyền thanh phường Phú Thủy"))
    outside = with_sessions(make_station(org.other_district, "LG-RADIO", "Đài La Gi"))
    return Desk(script, station, outside)


@pytest.fixture
def evening(desk, users) -> Airing:
    """A schedule at 17:15 from today to 29/11; today's airing is sequenced to 17:00."""
    rec = times_rule(time(17, 15), start=TODAY, end=date(2026, 11, 29))
    data = service.ScheduleInput(script=desk.script, recurrence=rec, stations=[desk.station])
    service.create_schedule(users["operator"], data)
    airing = db.session.scalar(
        select(Airing).where(Airing.station_id == desk.station.id).order_by(Airing.planned_at)
    )
    assert airing.sequenced_at == at(TODAY, 17, 0) and airing.planned_at == at(TODAY, 17, 15)
    return airing


# --- every page, every role -------------------------------------------------------------------

PAGES = {
    f"/playout/?station={CODE}": ["Kêu gọi tiêm chủng", "17:00", "chờ phát", "Buổi chiều"],
    f"/playout/stations/{CODE}?date=2026-11-27": ["Thứ Sáu 27/11/2026", "theo lịch 17:15"],
    f"/playout/stations/{CODE}/week?start=2026-11-27": ["Tuần 23/11–29/11/2026", "Chủ Nhật"],
    f"/playout/stations/{CODE}/rundown?date=2026-11-27": ['class="po-rundown"', "Buổi sáng"],
    f"/playout/stations/{CODE}/2026-11-27.m3u8": ["#EXTM3U", "#EXTINF:1,17:00 Kêu gọi"],
    "/playout/log": ["Nhật ký phát sóng", "Kiểm tra chuỗi"],
    f"/playout/log/verify?station={CODE}": ["Kiểm tra tính toàn vẹn: OK"],
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_for_every_role_in_scope(login_as, evening, role, path):
    response = login_as(role).get(path)

    assert response.status_code == 200
    for fragment in PAGES[path]:
        assert fragment in text(response)


@pytest.mark.parametrize("role", ROLES)
def test_only_operators_and_supervisors_get_the_actions(login_as, evening, role):
    page = text(login_as(role).get(f"/playout/?station={CODE}"))

    controls = ['action="/playout/air-now', 'action="/playout/live-read"', "Bỏ qua lượt này"]
    for fragment in controls:
        assert (fragment in page) == (role in CONTROLLERS)
    # Operators and supervisors may also edit schedules, so they may cancel an occurrence.
    assert ("Hủy lần phát này" in page) == (role in CONTROLLERS)
    assert "Kêu gọi tiêm chủng" in page


def test_console_starts_on_the_first_station_and_offers_the_others(login_as, org, desk, evening):
    make_station(org.district, "PT-CITY", "Đài Truyền thanh thành phố Phan Thiết")

    page = text(login_as("operator").get("/playout/"))

    # The district's own station comes before the commune's.
    assert "<strong>Đài Truyền thanh thành phố Phan Thiết</strong>" in page
    assert f'<option value="{CODE}">Truyền thanh phường Phú Thủy ({CODE})</option>' in page
    assert "LG-RADIO" not in page


def test_a_user_without_stations_sees_a_plain_message(app, org):
    from app.auth.models import Role
    from tests.factories import make_unit, make_user

    hamlet = make_unit("KP", "Khu phố 1", parent=org.commune)
    make_user(hamlet, Role.OPERATOR, "lonely")
    page = text(login(app.test_client(), "lonely").get("/playout/"))
    assert "Chưa có đài nào đang hoạt động trong phạm vi đơn vị của bạn." in page


OUT_OF_SCOPE = [
    "/playout/?station=LG-RADIO",
    "/playout/stations/LG-RADIO",
    "/playout/stations/LG-RADIO/week",
    "/playout/stations/LG-RADIO/rundown",
    "/playout/stations/LG-RADIO/2026-11-27.m3u8",
    "/playout/stations/NO-SUCH",
]


@pytest.mark.parametrize("path", OUT_OF_SCOPE)
def test_a_station_outside_the_users_units_is_not_found(login_as, desk, path):
    response = login_as("operator").get(path)
    assert response.status_code == 404
    assert "Đài La Gi" not in text(response)


def test_actions_on_an_airing_outside_the_users_units_are_not_found(login_as, desk):
    airing = make_airing(desk.outside, desk.script, at(TODAY, 17, 0))
    client = login_as("operator")

    for action in ("skip", "cancel"):
        response = client.post(f"/playout/airings/{airing.id}/{action}", data={"reason": "Lý do"})
        assert response.status_code == 404
    live = client.post(
        "/playout/live-read",
        data={"live-station_id": desk.outside.id, "live-start": "07:00", "live-minutes": "1"},
    )
    assert live.status_code == 404
    assert status_of(airing) == AiringStatus.PLANNED
    assert count(BroadcastLog) == 0


# --- the timeline -----------------------------------------------------------------------------


def test_the_timeline_places_airings_in_sessions_marks_now_and_highlights_the_one_on_air(
    login_as, desk
):
    make_airing(
        desk.station, desk.script, at(TODAY, 5, 30), status=AiringStatus.AIRED, session="Buổi sáng"
    )
    on_air = make_airing(
        desk.station, desk.script, at(TODAY, 7, 59, 50), duration_s=40, status=AiringStatus.CLAIMED
    )
    make_airing(desk.station, desk.script, at(TODAY, 17, 0), session="Buổi chiều")

    page = text(login_as("operator").get(f"/playout/stations/{CODE}/rundown?date=2026-11-27"))

    assert "Đang phát:</strong> Kêu gọi tiêm chủng" in page
    bands = re.findall(r"<h3>(.*?) <span|<h3>(Ngoài buổi phát)</h3>", page)
    assert [a or b for a, b in bands] == ["Buổi sáng", "Ngoài buổi phát", "Buổi chiều"]
    current = re.search(
        rf'<li class="po-item po-st-claimed is-current" data-airing="{on_air.id}"', page
    )
    assert current is not None
    # The now marker sits after the airing on air and before the evening's.
    assert page.index("is-current") < page.index("Bây giờ 08:00") < page.index("Buổi chiều")
    assert "1 lượt · 0,5 / 15 phút" in page


def test_a_session_over_its_cap_is_flagged(login_as, desk):
    for minute in range(0, 40, 10):
        make_airing(
            desk.station, desk.script, at(TODAY, 17, minute), duration_s=300, session="Buổi chiều"
        )

    page = text(login_as("writer").get(f"/playout/stations/{CODE}?date=2026-11-27"))

    assert "4 lượt · 20 / 15 phút · vượt giới hạn" in page
    assert 'class="po-load over"' in page


def test_the_console_shows_times_in_vietnam_whatever_the_server_time_zone(login_as, evening):
    old = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    systime.tzset()
    try:
        page = text(login_as("operator").get(f"/playout/?station={CODE}"))
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        systime.tzset()
    assert "hôm nay Thứ Sáu 27/11/2026" in page
    assert '<time datetime="2026-11-27T17:00:00+07:00">17:00</time>' in page
    assert "Tiếp theo:</strong> 17:00" in page


def test_a_malformed_day_falls_back_to_today_with_a_message(login_as, evening):
    page = text(
        login_as("operator").get(f"/playout/stations/{CODE}?date=27-11-2026", follow_redirects=True)
    )
    assert "Ngày không hợp lệ" in page
    assert "Thứ Sáu 27/11/2026" in page


# --- skip -------------------------------------------------------------------------------------


def test_skipping_needs_a_reason_and_changes_nothing_without_one(login_as, evening):
    client = login_as("operator")

    response = client.post(
        f"/playout/airings/{evening.id}/skip", data={"reason": " "}, follow_redirects=True
    )

    assert "Chưa bỏ qua được lượt phát 17:00 “Kêu gọi tiêm chủng”: Hãy ghi lý do" in text(response)
    assert status_of(evening) == AiringStatus.PLANNED
    assert count(BroadcastLog) == 0


def test_skipping_logs_the_airing_as_skipped_with_the_operator(login_as, users, evening):
    client = login_as("operator")

    response = client.post(
        f"/playout/airings/{evening.id}/skip",
        data={"reason": "Mất điện khu phố 3", "back": f"/playout/?station={CODE}"},
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/playout/?station={CODE}"
    assert status_of(evening) == AiringStatus.SKIPPED
    row = db.session.scalar(select(BroadcastLog))
    assert (row.status, row.reason) == (LogStatus.SKIPPED, "bỏ qua: Mất điện khu phố 3")
    assert row.operator_id == users["operator"].id
    assert row.runner_host == "tay:operator"
    page = text(client.get(f"/playout/?station={CODE}"))
    assert "Đã bỏ qua lượt phát 17:00" in page
    assert "Nhật ký: bỏ qua: Mất điện khu phố 3" in page
    assert "Bỏ qua lượt này" not in page


def test_skipping_an_airing_the_runner_already_claimed_is_a_conflict(login_as, evening, clock):
    assert runner.claim_airing(evening.id, "runner-a", clock.now()) is not None
    client = login_as("operator")

    response = client.post(
        f"/playout/airings/{evening.id}/skip", data={"reason": "Họp dân"}, follow_redirects=True
    )

    assert "Lượt phát đang ở trạng thái “đang phát”; không bỏ qua được." in text(response)
    assert status_of(evening) == AiringStatus.CLAIMED
    assert count(BroadcastLog) == 0


def test_a_foreign_back_address_is_ignored(login_as, evening):
    response = login_as("operator").post(
        f"/playout/airings/{evening.id}/skip",
        data={"reason": "Họp dân", "back": "https://example.com/playout/"},
    )
    assert response.headers["Location"] == f"/playout/?station={CODE}"


def test_writers_may_not_skip(login_as, evening):
    response = login_as("writer").post(
        f"/playout/airings/{evening.id}/skip", data={"reason": "Họp dân"}
    )
    assert response.status_code == 403
    assert status_of(evening) == AiringStatus.PLANNED


# --- cancel one occurrence --------------------------------------------------------------------


def test_cancelling_from_the_console_calls_off_this_occurrence_on_this_station(login_as, evening):
    client = login_as("supervisor")

    response = client.post(
        f"/playout/airings/{evening.id}/cancel",
        data={"reason": "Trùng buổi họp dân", "back": f"/playout/?station={CODE}"},
        follow_redirects=True,
    )

    done = "Đã hủy lần phát 17:00 “Kêu gọi tiêm chủng” tại Truyền thanh phường Phú Thủy."
    assert done in text(response)
    assert status_of(evening) == AiringStatus.CANCELLED
    cancelled = db.session.scalar(select(CancelledOccurrence))
    assert cancelled.station_id == evening.station_id
    assert cancelled.occurs_at == at(TODAY, 17, 15)
    assert cancelled.reason == "Trùng buổi họp dân"
    # Tomorrow's airing of the same schedule stays.
    assert count(Airing) == 3
    assert (
        db.session.scalar(
            select(func.count()).select_from(Airing).where(Airing.status == AiringStatus.PLANNED)
        )
        == 2
    )


def test_cancelling_needs_a_reason(login_as, evening):
    response = login_as("operator").post(
        f"/playout/airings/{evening.id}/cancel", data={"reason": ""}, follow_redirects=True
    )
    assert "Chưa hủy được lần phát 17:00 “Kêu gọi tiêm chủng”: Hãy ghi lý do hủy" in text(response)
    assert status_of(evening) == AiringStatus.PLANNED
    assert count(CancelledOccurrence) == 0


def test_a_manual_airing_cannot_be_cancelled_as_an_occurrence(login_as, desk):
    airing = make_airing(desk.station, desk.script, at(TODAY, 17, 0))
    response = login_as("operator").post(
        f"/playout/airings/{airing.id}/cancel", data={"reason": "Họp dân"}, follow_redirects=True
    )
    assert "không phải một lần phát của lịch" in text(response)
    assert status_of(airing) == AiringStatus.PLANNED


def test_writers_may_not_cancel_an_occurrence(login_as, evening):
    response = login_as("writer").post(
        f"/playout/airings/{evening.id}/cancel", data={"reason": "Họp dân"}
    )
    assert response.status_code == 403
    assert count(CancelledOccurrence) == 0


# --- phát ngay --------------------------------------------------------------------------------


def air_now_form(desk, **overrides) -> dict:
    """The "phát ngay" form, filled in."""
    data = {
        "now-script_id": desk.script.id,
        "now-stations": [desk.station.id],
        "now-note": "Cháy chợ Phú Thủy",
        "now-confirm": "y",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_air_now_queues_an_emergency_airing_the_runner_picks_up(login_as, users, desk, clock):
    client = login_as("operator")

    response = client.post(f"/playout/air-now?station={CODE}", data=air_now_form(desk))

    assert response.status_code == 302
    airing = db.session.scalar(select(Airing))
    assert airing.priority == Priority.EMERGENCY
    assert (airing.status, airing.operator_id) == (AiringStatus.PLANNED, users["operator"].id)
    assert airing.note == "Cháy chợ Phú Thủy"
    assert airing.planned_at == clock.now()
    page = text(client.get(response.headers["Location"]))
    assert "Đã gửi lệnh phát ngay “Kêu gọi tiêm chủng” trên Truyền thanh phường Phú Thủy" in page
    assert "phát ngay bởi" in page and "ghi chú: Cháy chợ Phú Thủy" in page
    assert "khẩn cấp" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("draft", "Kịch bản chưa được duyệt"),
        ("outside", "Đài không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn."),
        ("no_station", "Chọn ít nhất một đài để phát ngay."),
        ("no_script", "Chọn kịch bản cần phát."),
        ("no_confirm", "Hãy đánh dấu ô xác nhận trước khi phát ngay."),
    ],
)
def test_air_now_refuses_bad_input_and_queues_nothing(login_as, users, org, desk, change, message):
    overrides = {
        "draft": {"now-script_id": make_script(users["writer"], org.district, title="Nháp").id},
        "outside": {"now-stations": [desk.outside.id]},
        "no_station": {"now-stations": None},
        "no_script": {"now-script_id": "0"},
        "no_confirm": {"now-confirm": None},
    }[change]

    response = login_as("operator").post(
        f"/playout/air-now?station={CODE}", data=air_now_form(desk, **overrides)
    )

    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert '<details class="card po-airnow" open>' in page
    assert count(Airing) == 0


# --- live reads -------------------------------------------------------------------------------


def live_form(desk, **overrides) -> dict:
    """The live-read form, filled in: 07:30 today, 2 minutes 30 seconds."""
    data = {
        "live-station_id": desk.station.id,
        "live-day": "2026-11-27",
        "live-start": "07:30",
        "live-minutes": "2",
        "live-seconds": "30",
        "live-script_id": "0",
        "live-airing_id": "0",
        "live-note": "Thông báo lịch tiêm tại trạm y tế phường",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"live-start": "09:00"}, "Giờ bắt đầu đọc chưa tới"),
        ({"live-day": "2026-11-19"}, "Chỉ ghi được lượt đọc trong 7 ngày gần đây."),
        ({"live-minutes": "0", "live-seconds": ""}, "Thời lượng phải từ 1 giây đến 3 giờ."),
        ({"live-note": ""}, "Chọn kịch bản đã đọc hoặc ghi nội dung đã đọc."),
        ({"live-start": ""}, "Nhập giờ bắt đầu dạng HH:MM."),
        ({"live-seconds": "75"}, "Từ 0 đến 59 giây."),
    ],
)
def test_a_bad_live_read_is_refused_and_nothing_logged(login_as, desk, overrides, message):
    response = login_as("operator").post("/playout/live-read", data=live_form(desk, **overrides))

    assert response.status_code == 422
    page = text(response)
    assert message in page
    assert '<details class="card po-liveread" open>' in page
    assert count(BroadcastLog) == 0


def test_a_live_read_is_logged_once_with_the_operator(login_as, users, desk):
    client = login_as("operator")

    response = client.post("/playout/live-read", data=live_form(desk))

    assert response.status_code == 302
    row = db.session.scalar(select(BroadcastLog))
    assert count(BroadcastLog) == 1
    assert row.status == LogStatus.AIRED
    assert (row.started_at, row.ended_at) == (at(TODAY, 7, 30), at(TODAY, 7, 32, 30))
    assert row.duration_s == 150.0
    assert row.operator_id == users["operator"].id
    assert row.reason == "đọc trực tiếp: Thông báo lịch tiêm tại trạm y tế phường"
    assert "Đã ghi lượt đọc trực tiếp lúc 07:30 27/11/2026" in text(
        client.get(response.headers["Location"])
    )


def test_a_live_read_may_stand_in_for_a_planned_airing(login_as, desk):
    airing = make_airing(desk.station, desk.script, at(TODAY, 17, 0))
    client = login_as("supervisor")
    console = text(client.get(f"/playout/?station={CODE}"))
    assert f'<option value="{airing.id}">17:00 Kêu gọi tiêm chủng</option>' in console

    response = client.post(
        "/playout/live-read",
        data=live_form(
            desk, **{"live-airing_id": str(airing.id), "live-start": "07:00", "live-note": ""}
        ),
    )

    assert response.status_code == 302
    assert status_of(airing) == AiringStatus.AIRED
    row = db.session.scalar(select(BroadcastLog))
    assert row.airing_key == airing.airing_key
    assert row.reason == "đọc trực tiếp (thay cho bản ghi âm)"


# --- M3U --------------------------------------------------------------------------------------


def test_the_m3u_lists_what_will_or_did_air_in_airing_order(login_as, users, desk):
    other = approved_script(users, desk.script.unit, title="Phòng chống bão số 9")
    make_airing(desk.station, desk.script, at(TODAY, 17, 0), duration_s=61.2, session="Buổi chiều")
    make_airing(desk.station, other, at(TODAY, 5, 30), duration_s=30, status=AiringStatus.AIRED)
    make_airing(desk.station, desk.script, at(TODAY, 6, 0), status=AiringStatus.CANCELLED)
    make_airing(desk.station, desk.script, at(TODAY, 17, 5), status=AiringStatus.SKIPPED)
    make_airing(desk.station, other, at(TODAY, 9, 0), duration_s=12, priority=Priority.EMERGENCY)
    make_airing(desk.station, desk.script, at(TODAY + timedelta(days=1), 5, 30))

    response = login_as("writer").get(f"/playout/stations/{CODE}/2026-11-27.m3u8")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "audio/x-mpegurl; charset=utf-8"
    assert "loa-pt-phuthuy-2026-11-27.m3u8" in response.headers["Content-Disposition"]
    lines = response.get_data().decode("utf-8").splitlines()
    root = audio_dir().resolve()
    first, second = (root / s.approved_render.audio_path for s in (other, desk.script))
    assert lines == [
        "#EXTM3U",
        "#PLAYLIST:Truyền thanh phường Phú Thủy – Thứ Sáu 27/11/2026",
        "#EXTINF:30,05:30 Phòng chống bão số 9",
        str(first),
        "#EXTINF:12,09:00 Phòng chống bão số 9",
        str(first),
        "#EXTINF:62,17:00 Kêu gọi tiêm chủng",
        str(second),
    ]
    assert Path(lines[3]).is_file() and Path(lines[-1]).is_file()


def test_a_missing_audio_file_is_left_out_with_a_comment(login_as, desk):
    make_airing(desk.station, desk.script, at(TODAY, 17, 0))
    (audio_dir() / desk.script.approved_render.audio_path).unlink()

    body = login_as("operator").get(f"/playout/stations/{CODE}/2026-11-27.m3u8").get_data()

    assert body.decode("utf-8").splitlines()[2:] == [
        "# Thiếu tệp âm thanh, bỏ khỏi danh sách: 17:00 Kêu gọi tiêm chủng"
    ]


def test_a_malformed_m3u_day_is_not_found(login_as, desk):
    assert login_as("operator").get(f"/playout/stations/{CODE}/2026-02-30.m3u8").status_code == 404


# --- week -------------------------------------------------------------------------------------


def test_the_week_counts_spots_and_minutes_per_session_against_the_cap(login_as, desk):
    add_session(None, desk.station, "Buổi trưa", time(11, 0), time(11, 30), 10, "12345")
    monday = date(2026, 11, 23)
    for minute in (30, 40, 50):
        make_airing(
            desk.station, desk.script, at(monday, 5, minute), duration_s=400, session="Buổi sáng"
        )
    tuesday = monday + timedelta(days=1)
    make_airing(desk.station, desk.script, at(tuesday, 17, 0), duration_s=60, session="Buổi chiều")
    make_airing(
        desk.station,
        desk.script,
        at(tuesday, 17, 5),
        duration_s=600,
        session="Buổi chiều",
        status=AiringStatus.CANCELLED,
    )
    make_airing(desk.station, desk.script, at(tuesday, 20, 0), duration_s=90)

    page = text(login_as("operator").get(f"/playout/stations/{CODE}/week?start=2026-11-25"))

    table = page[page.index('<table class="table po-week">') : page.index("</table>")]
    rows = {
        re.search(r'<th scope="row">([^<]+)', row).group(1): row for row in table.split("<tr>")[2:]
    }
    morning = re.findall(r'<div class="po-load small( over)?">([^<]+)</div>', rows["Buổi sáng"])
    # Only Monday's morning has spots; an empty cell shows no count.
    assert morning == [(" over", "3 lượt · 20/15 phút · vượt")]
    assert rows["Buổi sáng"].count('<span class="muted small">—</span>') == 6
    evening = re.findall(r'<div class="po-load small( over)?">([^<]+)</div>', rows["Buổi chiều"])
    # Tuesday: the cancelled 10 minutes do not count against the cap.
    assert evening == [("", "1 lượt · 1/15 phút")]
    assert rows["Buổi trưa"].count("không phát") == 2  # Saturday and Sunday
    assert "Ngoài buổi phát" in rows
    assert "<time>20:00</time>" in rows["Ngoài buổi phát"]
    assert "<td>2 lượt · 2,5 phút</td>" in table  # Tuesday: 60 s + 90 s, the cancelled one not
    # Phones get the same week as one card per day.
    assert page.count('<section class="card po-week-day') == 7


# --- the log ----------------------------------------------------------------------------------


@dataclass
class Logged:
    """Log rows of two in-scope stations and one outside."""

    a: BroadcastLog
    b: BroadcastLog
    c: BroadcastLog
    outside: BroadcastLog
    city: Station


@pytest.fixture
def logged(org, users, desk) -> Logged:
    """A (aired 26/11), B (missed 27/11, storm campaign), C (aired 27/11 on the city radio)."""
    storm = approved_script(users, org.district, title="Phòng chống bão", campaign="Bão số 9")
    city = make_station(org.district, "PT-CITY", "Đài thành phố")

    def row(station, script, when, status, marker):
        return append_log(
            LogEntry(
                station_id=station.id,
                status=status,
                planned_at=when,
                started_at=when if status == LogStatus.AIRED else None,
                ended_at=when + timedelta(seconds=42) if status == LogStatus.AIRED else None,
                reason=marker,
                script_id=script.id,
                priority=script.priority,
                runner_host="may-phat-1",
            )
        )

    return Logged(
        a=row(desk.station, desk.script, at(date(2026, 11, 26), 5, 45), LogStatus.AIRED, "mốc-A"),
        b=row(desk.station, storm, at(TODAY, 5, 45), LogStatus.MISSED, "mốc-B"),
        c=row(city, desk.script, at(TODAY, 17, 0), LogStatus.AIRED, "mốc-C"),
        outside=row(desk.outside, desk.script, at(TODAY, 6, 0), LogStatus.AIRED, "mốc-X"),
        city=city,
    )


def markers(page: str) -> list[str]:
    """The rows on a log page, by their marker, newest first."""
    return re.findall(r"mốc-[A-Z]", page)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["mốc-C", "mốc-B", "mốc-A"]),
        ("?station=PT-CITY", ["mốc-C"]),
        ("?date_from=2026-11-27", ["mốc-C", "mốc-B"]),
        ("?date_to=2026-11-26", ["mốc-A"]),
        ("?date_from=2026-11-26&date_to=2026-11-26", ["mốc-A"]),
        ("?status=missed", ["mốc-B"]),
        ("?campaign=Bão+số+9", ["mốc-B"]),
        (f"?station={CODE}&status=aired", ["mốc-A"]),
    ],
)
def test_the_log_filters_by_station_days_status_and_campaign(login_as, logged, query, expected):
    response = login_as("writer").get(f"/playout/log{query}")
    assert response.status_code == 200
    assert markers(text(response)) == expected


def test_the_log_shows_every_column(login_as, logged):
    page = text(login_as("operator").get("/playout/log?station=PT-CITY"))
    row = page[page.index("mốc-C") - 1500 : page.index("mốc-C") + 600]
    for fragment in [
        "27/11/2026 17:00:00",
        "17:00:00–17:00:42",
        "42 giây",
        "PT-CITY",
        "Kêu gọi tiêm chủng",
        "đã phát",
        "tự động (may-phat-1)",
        "#1",
        f'id="log-{logged.c.id}"',  # what a report's link to this row points at
    ]:
        assert fragment in row


def test_the_log_names_who_aired_a_row_and_does_not_repeat_its_status(login_as, users, logged):
    append_log(
        LogEntry(
            station_id=logged.city.id,
            status=LogStatus.SKIPPED,
            planned_at=at(TODAY, 18, 0),
            reason="Bỏ qua: đài đang phát tin khẩn",
            priority=Priority.NORMAL,
            operator_id=users["operator"].id,
            runner_host="tay:operator",
        )
    )
    page = text(login_as("operator").get("/playout/log?station=PT-CITY"))
    # As the reports name them: the operator, or the runner's machine.
    who = re.findall(r'<td data-label="Người / máy">(.*?)</td>', page)
    assert who == [users["operator"].full_name, "tự động (may-phat-1)"]
    # The badge says "bỏ qua"; the reason beside it no longer starts with it again.
    reasons = re.findall(r'<td data-label="Lý do">(.*?)</td>', page)
    assert reasons == ["đài đang phát tin khẩn", "mốc-C"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?date_from=2026-13-45", "Ngày không hợp lệ"),
        ("?date_to=hôm-qua", "Ngày không hợp lệ"),
        (
            "?date_from=2026-11-27&date_to=2026-11-26",
            "Ngày bắt đầu lọc phải trước hoặc bằng ngày kết thúc.",
        ),
        ("?station=LG-RADIO", "Đài không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn."),
        ("?status=lost", "Trạng thái không hợp lệ."),
    ],
)
def test_bad_log_filters_say_why_in_vietnamese(login_as, logged, query, message):
    response = login_as("operator").get(f"/playout/log{query}")
    assert response.status_code == 200
    page = text(response)
    assert f'<small class="error-text">{message}' in page
    assert "Bộ lọc chưa hợp lệ" in page
    # The bad filter is dropped; the rows of the user's stations are still listed.
    assert "mốc-X" not in page and "mốc-A" in page


def test_the_log_check_says_ok_for_an_untouched_log(login_as, logged):
    page = text(login_as("operator").get("/playout/log/verify"))
    assert "Kiểm tra tính toàn vẹn: OK." in page
    assert "Đã kiểm tra 3 dòng của" in page


def test_the_log_check_names_the_first_broken_row(login_as, logged):
    tamper("UPDATE broadcast_log SET reason = 'sửa tay' WHERE id = :id", id=logged.b.id)

    page = text(login_as("operator").get(f"/playout/log/verify?station={CODE}"))

    assert "Kiểm tra tính toàn vẹn: chuỗi bị đứt." in page
    assert f"Dòng #2 của đài {CODE} đã bị sửa: mã băm không khớp." in page
    assert "lượt phát lúc 05:45:00 27/11/2026" in page
    assert f'<tr class="po-bad" id="log-{logged.b.id}">' in page
    # The other station's chain is intact.
    assert "Kiểm tra tính toàn vẹn: OK." in text(
        login_as("operator").get("/playout/log/verify?station=PT-CITY")
    )


def test_the_log_check_stays_within_the_users_stations(login_as, logged):
    tamper("UPDATE broadcast_log SET reason = 'sửa tay' WHERE id = :id", id=logged.outside.id)
    page = text(login_as("operator").get("/playout/log/verify"))
    assert "Kiểm tra tính toàn vẹn: OK." in page
    assert "LG-RADIO" not in page


# --- CSRF -------------------------------------------------------------------------------------


@pytest.fixture
def csrf_client(tmp_path, clock):
    """A client of an app with CSRF checks on, logged in as an operator."""
    from app.auth.models import Role
    from tests.factories import make_unit, make_user

    app = build_test_app(tmp_path, clock, WTF_CSRF_ENABLED=True)
    with app.app_context():
        unit = make_unit("D", "Phan Thiết")
        make_user(unit, Role.OPERATOR, "operator")
        client = app.test_client()
        page = text(client.get("/login"))
        token = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', page).group(1)
        client.post(
            "/login",
            data={"username": "operator", "password": "correct-horse-battery", "csrf_token": token},
        )
        yield client, unit
        db.session.remove()
        db.engine.dispose()


def test_console_posts_without_a_csrf_token_are_refused(csrf_client):
    client, unit = csrf_client
    station = make_station(unit, "PT-CITY")
    for path, data in [
        ("/playout/air-now", {"now-stations": [station.id], "now-confirm": "y"}),
        ("/playout/airings/1/skip", {"reason": "Họp dân"}),
        ("/playout/airings/1/cancel", {"reason": "Họp dân"}),
        ("/playout/live-read", {"live-station_id": station.id, "live-start": "07:00"}),
    ]:
        response = client.post(path, data=data)
        assert response.status_code == 400
        assert "mã chống giả mạo CSRF sai" in text(response)
    assert count(Airing) == 0 and count(BroadcastLog) == 0


@pytest.mark.parametrize("station", ["²", "①", "9" * 30])
def test_a_live_read_on_a_station_id_in_other_digits_is_not_found(login_as, desk, station):
    data = live_form(desk) | {"live-station_id": station}
    response = login_as("operator").post("/playout/live-read", data=data)
    assert response.status_code == 404
    assert "Đài không tồn tại hoặc nằm ngoài phạm vi" in text(response)
    assert count(BroadcastLog) == 0
