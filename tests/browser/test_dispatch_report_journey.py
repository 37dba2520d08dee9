"""Journey from a dispatch to its report back: the writer takes the seed dispatch in and makes
two drafts (test_dispatch_journey.take_in_seed_with_two_drafts); the drafts are approved and
scheduled today on two stations, and the day's log is written as the runner writes it (seven
aired, one missed); the supervisor then opens the dispatch, follows it to its tracking page,
sees the aired counts, opens the report back, downloads it as DOCX, and the file read back with
python-docx carries the title and the totals.

The live server's clock is the test's FixedClock (08:00 on 27/11/2026 in Vietnam).
"""

from __future__ import annotations

import io
import re
from datetime import date, time, timedelta

import docx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import Role, User
from app.broadcast.models import LogStatus
from app.core.clock import FixedClock
from app.extensions import db
from app.org.models import Station
from app.org.service import add_session
from app.playout import runner
from app.schedules import service as schedules
from app.schedules.models import Airing
from app.schedules.recurrence import Recurrence
from app.scripts.models import Script
from app.scripts.service import approve_script
from app.speech.models import Render
from tests.browser.conftest import STATION_CODE, LiveServer
from tests.browser.test_dispatch_journey import take_in_seed_with_two_drafts
from tests.browser.test_script_journey import log_in, log_out
from tests.factories import make_station, make_user, submit

pytestmark = pytest.mark.browser

TODAY = date(2026, 11, 27)
SECOND_CODE = "PTH-PHUTHUY"
SECOND_NAME = "Đài Truyền thanh phường Phú Thủy"
MISS_DETAIL = "mất điện lưới khu phố 3"
AIRED_S = 90.0  # seven aired spots: 10,5 minutes
SIGNER = "Trần Thị Bích Ngọc"
SUBJECT = (
    "Kết quả thực hiện Công văn số 855/BCĐ-TBTTTT ngày 30/8/2021 của Tiểu ban Thông tin "
    "Tuyên truyền - BCĐ phòng chống dịch COVID-19 tỉnh Bình Thuận"
)


def approve_schedule_and_air(server: LiveServer, dispatch_id: int, clock: FixedClock) -> None:
    """Approve the dispatch's two drafts, schedule each today at 08:10 and 17:00 on the city
    radio and a ward's station, and log the day: everything aired but the ward's last spot."""
    with server.app.app_context():
        station = db.session.scalar(select(Station).where(Station.code == STATION_CODE))
        ward = make_station(station.unit, SECOND_CODE, SECOND_NAME)
        for each in (station, ward):
            add_session(None, each, "Buổi sáng", time(8, 10), time(8, 40), 15, "1234567")
            add_session(None, each, "Buổi chiều", time(17, 0), time(17, 45), 15, "1234567")
        db.session.commit()
        operator = make_user(station.unit, Role.OPERATOR, "operator")
        writer, supervisor = (
            db.session.scalar(select(User).where(User.username == server.users[name]))
            for name in ("writer", "supervisor")
        )
        scripts = db.session.scalars(
            select(Script).where(Script.dispatch_id == dispatch_id).order_by(Script.id)
        ).all()
        assert len(scripts) == 2
        airings: list[Airing] = []
        for script in scripts:
            script.valid_until = date(2026, 12, 31)
            db.session.commit()
            submit(writer, script)
            approve_script(supervisor, script)
            rule = Recurrence(
                kind="times", times=(time(8, 10), time(17, 0)), start_date=TODAY, end_date=TODAY
            )
            data = schedules.ScheduleInput(
                script=script, recurrence=rule, stations=[station, ward], confirm_warnings=True
            )
            schedule = schedules.create_schedule(operator, data)
            airings += db.session.scalars(
                select(Airing).where(Airing.schedule_id == schedule.id)
            ).all()
        airings.sort(key=lambda a: (a.sequenced_at, a.station_id, a.script_id))
        assert len(airings) == 8
        clock.advance(hours=9, minutes=30)  # 17:30: the day's spots are past
        *aired, last = airings
        assert last.station_id == ward.id
        for airing in aired:
            render = db.session.get(Render, airing.render_id)
            start = airing.sequenced_at
            entry = runner.log_entry(
                airing,
                render,
                "runner-test",
                status=LogStatus.AIRED,
                started_at=start,
                ended_at=start + timedelta(seconds=AIRED_S),
                duration_s=AIRED_S,
            )
            runner.finish(airing.id, entry)
        render = db.session.get(Render, last.render_id)
        entry = runner.log_entry(
            last, render, "runner-test", status=LogStatus.MISSED, reason=f"bỏ lỡ: {MISS_DETAIL}"
        )
        runner.finish(last.id, entry)
        db.session.remove()


def test_supervisor_follows_the_dispatch_to_its_report_and_downloads_the_docx(
    page: Page, live_server: LiveServer, clock: FixedClock
):
    dispatch_id = take_in_seed_with_two_drafts(page, live_server)
    log_out(page)
    approve_schedule_and_air(live_server, dispatch_id, clock)

    # The supervisor opens the dispatch and follows it to its tracking page.
    log_in(page, live_server.users["supervisor"])
    page.goto(f"/dispatches/{dispatch_id}")
    page.get_by_role("link", name="Theo dõi thực hiện").click()
    expect(page).to_have_url(re.compile(rf"/dispatches/{dispatch_id}/tracking$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Theo dõi thực hiện")
    figures = page.get_by_role("region", name="Số liệu chính")
    for label, value in (
        ("Kế hoạch", "8"),
        ("Đã phát", "7"),
        ("Không phát được", "1"),
        ("Chờ phát", "0"),
        ("Thời lượng phát (phút)", "10,5"),
    ):
        box = figures.locator(".rp-figure").filter(
            has=page.locator(".rp-label", has_text=re.compile(f"^{re.escape(label)}"))
        )
        expect(box.locator(".rp-value"), label).to_have_text(value)
    # The district asked to act (ticked on the confirm page): both scripts drafted, approved
    # and scheduled; 8 planned, 7 aired, 1 not aired, 10,5 minutes.
    row = page.locator("table.tracking-units tbody tr").filter(has_text="Thành phố Phan Thiết")
    expect(row).to_have_count(1)
    cells = row.locator("td")
    for n, value in enumerate(["2", "2", "2", "8", "7", "1", "10,5"]):
        expect(cells.nth(n)).to_have_text(value)
    expect(row.locator("td[data-label='Cần chú ý']")).to_contain_text(
        "1 lượt không phát được (bỏ lỡ, lỗi hoặc bỏ qua)."
    )
    scripts = page.locator("table.tracking-scripts tbody tr")
    expect(scripts).to_have_count(2)
    for n in range(2):
        expect(scripts.nth(n).locator("td[data-label='Trạng thái']")).to_contain_text("Đã duyệt")
    page.screenshot(path="/tmp/loa-dispatch-tracking.png", full_page=True)

    # The report back: defaults from the unit and the dispatch, a number and the signer set.
    page.get_by_role("link", name="Lập báo cáo kết quả").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Báo cáo kết quả thực hiện")
    expect(page.get_by_label("Ký hiệu")).to_have_value("BC-D")
    expect(page.get_by_label("Địa danh")).to_have_value("Phan Thiết")
    expect(page.get_by_label("Đến ngày")).to_have_value("2026-11-27")
    page.get_by_label("Số", exact=True).fill("15")
    page.get_by_label("Ký hiệu").fill("BC-TTVH")
    page.get_by_label("Chức vụ người ký").fill("Giám đốc")
    page.get_by_label("Họ và tên người ký").fill(SIGNER)
    page.screenshot(path="/tmp/loa-dispatch-report.png", full_page=True)
    with page.expect_download() as caught:
        page.get_by_role("button", name="Tải bản Word (DOCX)").click()
    download = caught.value
    assert download.failure() is None
    assert download.suggested_filename == "bao-cao-ket-qua-855-bcd-tbtttt-2026-11-27.docx"
    with open(download.path(), "rb") as stream:
        document = docx.Document(io.BytesIO(stream.read()))

    paragraphs = [p.text for p in document.paragraphs if p.text]
    assert paragraphs[:2] == ["BÁO CÁO", SUBJECT]
    head = document.tables[0].rows[0].cells
    assert "Số: 15/BC-TTVH" in head[0].text
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in head[1].text
    assert "Phan Thiết, ngày 27 tháng 11 năm 2026" in head[1].text
    stations = next(t for t in document.tables if t.rows[0].cells[1].text == "Đài")
    rows = [[c.text for c in row.cells] for row in stations.rows[1:]]
    assert rows == [  # stations by code
        ["1", SECOND_NAME, "4", "3", "1", "4,5"],
        ["2", "Đài Truyền thanh thành phố Phan Thiết", "4", "4", "0", "6"],
        ["", "Tổng cộng", "8", "7", "1", "10,5"],
    ]
    assert any(MISS_DETAIL in p for p in paragraphs)
    signer = [p.text for p in document.tables[-1].rows[0].cells[1].paragraphs if p.text]
    assert signer == ["GIÁM ĐỐC", SIGNER]

    # Back on the tracking page, the report is on record.
    page.get_by_role("link", name="← Theo dõi thực hiện").click()
    expect(page.locator("dl.meta")).to_contain_text("đã xuất lần cuối 27/11/2026 17:30 (15/BC-TTVH")
    with live_server.app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "report.export")
        ).all()
        found = [(e.actor_name, e.object_id, e.details["format"]) for e in events]
        db.session.remove()
    assert found == [(live_server.users["supervisor"], dispatch_id, "docx")]
