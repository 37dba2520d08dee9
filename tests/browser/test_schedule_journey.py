"""Journeys through playout: schedule a spot, see it in the rundown, the runner airs it, the log
shows it; and "phát ngay" from the operator console.

The live server's clock is the test's FixedClock (08:00 on Friday 27/11/2026 in Vietnam). The
browser never waits for wall-clock time: the test moves the clock to the airing's time and runs
the runner once in this process, inside the live app's context; its simulate output "plays" the
0.2 s approved audio by advancing that same clock.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.auth.models import User
from app.broadcast.models import BroadcastLog, LogStatus
from app.core.clock import LOCAL_TZ, FixedClock
from app.extensions import db
from app.org.models import Station
from app.playout import runner
from app.schedules import service as schedules
from app.schedules.recurrence import Recurrence
from app.scripts.models import Script, ScriptReview
from tests.browser.conftest import LiveServer, OnAir
from tests.browser.test_script_journey import flash, log_in

pytestmark = pytest.mark.browser

RUNNER_HOST = "runner-test"
TODAY = "2026-11-27"
TODAY_VN = "27/11/2026"
TODAY_LABEL = f"Thứ Sáu {TODAY_VN}"
# Planned at 08:15, inside the morning session (08:10-08:40): it airs at the session's start.
# 11:30 lies outside every session, which the check warns about.
TIMES_TYPED = "8h15, 11:30"
SEQUENCED = datetime(2026, 11, 27, 8, 10, tzinfo=LOCAL_TZ).astimezone(UTC)


def run_runner(server: LiveServer, clock: FixedClock) -> dict:
    """One runner cycle (`flask scheduler run --once`) in the live app, on the test's clock."""
    assert server.app.extensions["loa.clock"] is clock
    with server.app.app_context():
        try:
            return runner.run_once(clock, RUNNER_HOST)
        finally:
            db.session.remove()


def approve_schedule_and_air(
    server: LiveServer, on_air: OnAir, clock: FixedClock, title: str, render_id: int, sha: str
) -> None:
    """The journeys' common end: the approval named the render and its sha256; the operator
    schedules the script at 08:15 on the journey's day (it airs at the session's start, 08:10)
    on the on-air station; one runner cycle ten minutes later airs it, and its log row names
    that exact audio."""
    with server.app.app_context():
        script = db.session.scalar(select(Script).where(Script.title == title))
        review = db.session.scalar(select(ScriptReview).where(ScriptReview.script_id == script.id))
        assert (review.render_id, review.audio_sha256) == (render_id, sha)
        operator = db.session.scalar(select(User).where(User.username == server.users["operator"]))
        station = db.session.scalar(select(Station).where(Station.code == on_air.station_code))
        day = date(2026, 11, 27)
        schedules.create_schedule(
            operator,
            schedules.ScheduleInput(
                script=script,
                recurrence=Recurrence(
                    kind="times", times=(time(8, 15),), start_date=day, end_date=day
                ),
                stations=[station],
            ),
        )
        db.session.remove()
    clock.advance(minutes=10)
    assert run_runner(server, clock)["logged"] == 1
    with server.app.app_context():
        row = db.session.scalar(select(BroadcastLog))
        assert row.status == LogStatus.AIRED
        assert (row.render_id, row.audio_sha256) == (render_id, sha)
        db.session.remove()


def rundown_items(page: Page):
    """The airings of the rundown on the page, in time order."""
    return page.locator(".po-live .po-item")


def band(page: Page, name: str):
    """The rundown band (a session, or the time outside sessions) whose heading starts so."""
    heading = page.get_by_role("heading", level=3, name=re.compile(f"^{re.escape(name)}"))
    return page.locator(".po-live .po-band").filter(has=heading)


def log_rows(page: Page):
    """The rows of the broadcast log table."""
    return page.locator("table.po-log tbody tr")


def cells(rows) -> list[list[str]]:
    """The visible text of each cell of each row."""
    return rows.evaluate_all("rows => rows.map(r => Array.from(r.cells, c => c.innerText.trim()))")


def filter_log(page: Page, on_air: OnAir) -> None:
    """Open the broadcast log from the menu and filter it to the station and today."""
    page.locator("nav.nav").get_by_role("link", name="Nhật ký phát sóng").click()
    expect(page.get_by_role("heading", name="Nhật ký phát sóng")).to_be_visible()
    filters = page.locator("form.po-log-filters")
    filters.locator("select[name='station']").select_option(on_air.station_code)
    filters.locator("input[name='date_from']").fill(TODAY)
    filters.locator("input[name='date_to']").fill(TODAY)
    filters.get_by_role("button", name="Lọc").click()
    expect(page).to_have_url(
        re.compile(
            rf"/playout/log\?station={on_air.station_code}&date_from={TODAY}&date_to={TODAY}"
        )
    )


def test_scheduled_spot_airs_and_is_logged(
    page: Page, live_server: LiveServer, on_air: OnAir, clock: FixedClock
):
    title = on_air.script_title
    log_in(page, live_server.users["operator"])

    # From the approved script to the schedule form, with the script already chosen.
    page.goto(f"/scripts/{on_air.script_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    page.get_by_role("link", name="Lập lịch phát").click()
    expect(page.get_by_role("heading", name="Lập lịch phát mới")).to_be_visible()
    expect(page.get_by_label("Kịch bản đã duyệt")).to_have_value(str(on_air.script_id))

    # Two fixed times today, on the seeded station.
    page.get_by_label("Vào các giờ cố định").check()
    page.get_by_label("Giờ phát").fill(TIMES_TYPED)
    page.get_by_role("checkbox", name=re.compile(re.escape(on_air.station_name))).check()
    page.get_by_label("Từ ngày").fill(TODAY)
    page.get_by_label("Đến ngày").fill(TODAY)

    # The check saves nothing; it counts the airings, gives the times they will really air
    # (08:15 sequenced to the session's start, 08:10) and warns about the 11:30 one.
    page.get_by_role("button", name="Kiểm tra (chưa lưu)").click()
    summary = page.locator(".check-summary")
    expect(summary).to_contain_text("Kết quả kiểm tra (chưa lưu)")
    expect(summary.locator("dd")).to_have_text(["2", "1", f"{TODAY_VN} 08:10", f"{TODAY_VN} 11:30"])
    listed = summary.locator("table.airings tbody tr")
    expect(listed).to_have_count(2)
    assert [row[2:4] for row in cells(listed)] == [["08:15", "08:10"], ["11:30", "11:30"]]
    warnings = page.locator(".problem-warning")
    expect(warnings.get_by_role("heading")).to_have_text("1 cảnh báo cần xem")
    expect(warnings.locator("ul.problems li")).to_have_text(
        f"cảnh báo {TODAY_VN} 11:30 Đài “{on_air.station_name}”: Lần phát “{title}” lúc 11:30 "
        f"ngày {TODAY_VN} nằm ngoài các buổi phát của đài."
    )
    expect(page.locator(".problem-blocking")).to_have_count(0)

    # Saving without ticking the confirmation is refused, and says why.
    page.locator(".form-actions").get_by_role("button", name="Lưu lịch").click()
    expect(flash(page, "Chưa lưu")).to_have_text(
        "Chưa lưu: lịch có 1 cảnh báo. Hãy đọc và đánh dấu ô xác nhận nếu vẫn muốn lưu."
    )
    confirm = page.get_by_label("Tôi đã xem các cảnh báo trên và vẫn muốn lưu")
    expect(confirm).not_to_be_checked()
    confirm.check()
    warnings.get_by_role("button", name="Lưu lịch").click()
    expect(flash(page, "Đã lưu lịch phát")).to_have_text(f"Đã lưu lịch phát “{title}”.")
    expect(page).to_have_url(re.compile(r"/schedules/\d+$"))

    # The schedule page lists both airings: 08:15 moved to the session's start.
    upcoming = page.locator(".airings-table").first.locator("tbody tr")
    expect(upcoming).to_have_count(2)
    assert cells(upcoming) == [
        [f"{TODAY_LABEL} 08:15", "08:10:00", "Buổi sáng", "chờ phát", "Hủy…"],
        [f"{TODAY_LABEL} 11:30", "11:30:00", "ngoài buổi phát", "chờ phát", "Hủy…"],
    ]

    # The station's day rundown: the spot waits at its sequenced time, in its session.
    page.locator("nav.nav").get_by_role("link", name="Điều phối phát sóng").click()
    page.get_by_role("link", name="Theo ngày").click()
    expect(page).to_have_url(re.compile(rf"/playout/stations/{on_air.station_code}\?date={TODAY}$"))
    expect(page.get_by_role("heading", level=2)).to_have_text(f"{TODAY_LABEL} (hôm nay)")
    items = rundown_items(page)
    expect(items).to_have_count(2)
    expect(items.locator("time")).to_have_text(["08:10", "11:30"])
    expect(items.locator(".po-badge")).to_have_text(["chờ phát", "chờ phát"])
    expect(items.locator(".po-title")).to_have_text([title, title])
    expect(items.first.locator(".po-meta")).to_have_text(
        "08:10:00–08:10:00 · dài dưới 1 giây · theo lịch 08:15"
    )
    expect(band(page, "Buổi sáng").locator(".po-item")).to_have_count(1)
    expect(band(page, "Ngoài buổi phát").locator(".po-item")).to_have_count(1)
    expect(band(page, "Buổi chiều")).to_contain_text("Chưa có lượt phát nào trong buổi này.")
    expect(page.locator(".po-onair")).to_contain_text(f"Tiếp theo: 08:10 · {title}")
    expect(page.locator(".po-onair")).to_contain_text("còn 10 phút")

    # Ten minutes later the runner airs what is due, and only that.
    clock.advance(minutes=10)
    assert clock.now() == SEQUENCED
    assert run_runner(live_server, clock)["logged"] == 1
    assert clock.now() == SEQUENCED + timedelta(seconds=0.2)  # the simulate output played it

    page.reload()
    expect(items.locator(".po-badge")).to_have_text(["đã phát", "chờ phát"])
    expect(items.first).to_have_attribute("data-status", "aired")
    expect(page.locator(".po-onair")).to_contain_text(f"Tiếp theo: 11:30 · {title}")
    page.screenshot(path="/tmp/loa-rundown-aired.png", full_page=True)

    # The broadcast log, filtered to the station and today, has the one row the runner wrote.
    filter_log(page, on_air)
    rows = log_rows(page)
    expect(rows).to_have_count(1)
    assert cells(rows) == [
        [
            f"{TODAY_VN} 08:10:00",
            "08:10:00–08:10:00",
            "dưới 1 giây",
            on_air.station_code,
            title,
            "đã phát",
            "—",
            f"tự động ({RUNNER_HOST})",
            "#1",
        ]
    ]

    # The hash chain of those rows is intact.
    page.get_by_role("button", name="Kiểm tra chuỗi").click()
    expect(page).to_have_url(re.compile(r"/playout/log/verify\?"))
    verdict = page.locator(".po-verify")
    expect(verdict).to_contain_text("Kiểm tra tính toàn vẹn: OK.")
    expect(verdict).to_contain_text("Đã kiểm tra 1 dòng của 1 đài")
    expect(verdict).to_contain_text("không dòng nào bị sửa hay bị xóa")
    expect(log_rows(page)).to_have_count(1)
    page.screenshot(path="/tmp/loa-log-verified.png", full_page=True)


def test_air_now_from_console_airs_and_names_operator(
    page: Page, live_server: LiveServer, on_air: OnAir, clock: FixedClock
):
    title = on_air.script_title
    operator = live_server.full_names["operator"]
    note = "Trạm y tế báo có ca sởi ở khu phố 3"
    log_in(page, live_server.users["operator"])

    page.locator("nav.nav").get_by_role("link", name="Điều phối phát sóng").click()
    expect(page.get_by_role("heading", name="Điều phối phát sóng")).to_be_visible()
    expect(page.locator(".po-station")).to_have_text(
        f"{on_air.station_name} ({on_air.station_code}) · hôm nay {TODAY_LABEL}"
    )
    expect(rundown_items(page)).to_have_count(0)
    expect(page.locator(".po-onair")).to_contain_text("Hôm nay không còn lượt phát nào đang chờ.")

    # "Phát ngay" needs the confirmation ticked.
    page.locator("summary", has_text="Phát ngay (khẩn cấp)").click()
    air_now = page.locator("details.po-airnow")
    air_now.get_by_label("Kịch bản đã duyệt").select_option(str(on_air.script_id))
    station_box = air_now.get_by_role("checkbox", name=re.compile(re.escape(on_air.station_name)))
    expect(station_box).to_be_checked()
    air_now.get_by_label("Ghi chú (lý do phát ngay)").fill(note)
    air_now.get_by_role("button", name="Phát ngay").click()
    expect(flash(page, "Chưa phát ngay được")).to_be_visible()
    expect(air_now.locator(".error-text")).to_have_text(
        "Hãy đánh dấu ô xác nhận trước khi phát ngay."
    )
    expect(rundown_items(page)).to_have_count(0)

    air_now.get_by_label("Tôi hiểu: phát ngay sẽ ngắt bản tin đang phát").check()
    air_now.get_by_role("button", name="Phát ngay").click()
    expect(flash(page, "Đã gửi lệnh phát ngay")).to_contain_text(
        f"Đã gửi lệnh phát ngay “{title}” trên {on_air.station_name}."
    )

    # The emergency airing waits at the time it was asked for, outside the sessions.
    item = rundown_items(page)
    expect(item).to_have_count(1)
    expect(item.locator("time")).to_have_text("08:00")
    expect(item.locator(".po-badge")).to_have_text("chờ phát")
    expect(item.locator(".prio-emergency")).to_have_text("khẩn cấp")
    expect(item.locator(".po-meta")).to_contain_text(f"phát ngay bởi {operator} · ghi chú: {note}")
    expect(band(page, "Ngoài buổi phát").locator(".po-item")).to_have_count(1)
    expect(page.locator(".po-onair")).to_contain_text(f"Tiếp theo: 08:00 · {title}")

    # The runner airs it; the console's live refresh shows it without a reload. Returning to
    # the tab makes console.js refresh at once instead of after its 5 s timer.
    assert run_runner(live_server, clock)["logged"] == 1
    page.evaluate("window.__sameDocument = true")
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(item.locator(".po-badge")).to_have_text("đã phát")
    expect(item).to_have_attribute("data-status", "aired")
    expect(page.locator(".po-onair")).to_contain_text("Hôm nay không còn lượt phát nào đang chờ.")
    expect(page.locator(".po-stale")).to_be_hidden()
    assert page.evaluate("window.__sameDocument") is True
    page.screenshot(path="/tmp/loa-console-air-now.png", full_page=True)

    # The log row names the operator who asked for it, with the note as its reason.
    filter_log(page, on_air)
    rows = log_rows(page)
    expect(rows).to_have_count(1)
    assert cells(rows) == [
        [
            f"{TODAY_VN} 08:00:00",
            "08:00:00–08:00:00",
            "dưới 1 giây",
            on_air.station_code,
            title,
            "đã phát",
            f"ghi chú: {note}",
            operator,
            "#1",
        ]
    ]
