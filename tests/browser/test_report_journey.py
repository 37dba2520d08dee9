"""Journey through the airtime reports: a supervisor opens the dashboard, drills down to a
missed airing and its log row, then exports the campaign report as PDF and XLSX.

The live server's clock is the test's FixedClock (08:00 on Friday 27/11/2026 in Vietnam). The
test schedules today's airings on two stations, moves the clock past each session and writes
the rows the runner would have written (runner.log_entry and runner.finish, through
append_log): three aired, one missed with a reason. The reports then cover November 2026.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, date, datetime, time, timedelta

import pytest
from playwright.sync_api import Download, Page, expect
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.broadcast.models import LogStatus
from app.core.clock import LOCAL_TZ, FixedClock
from app.extensions import db
from app.org.models import Station
from app.org.service import add_session
from app.playout import runner
from app.schedules import service as schedules
from app.schedules.models import Airing
from app.schedules.recurrence import Recurrence
from app.scripts.models import Script
from app.speech.models import Render
from tests.browser.conftest import LiveServer, OnAir
from tests.browser.test_schedule_journey import RUNNER_HOST, cells
from tests.browser.test_script_journey import log_in
from tests.factories import make_station
from tests.reports.test_exports import read_xlsx

pytestmark = pytest.mark.browser

TODAY = date(2026, 11, 27)
TODAY_VN = "27/11/2026"
CAMPAIGN = "Tiêm chủng mở rộng"
# A second station of the same district: its evening airing is the one missed.
MISSING_CODE = "PTH-PHUTHUY"
MISSING_NAME = "Đài Truyền thanh phường Phú Thủy"
MISS_DETAIL = "mất điện lưới khu phố 3, bộ phát không khởi động"
# As the runner writes it; pages show only MISS_DETAIL beside the "bỏ lỡ" badge.
MISS_REASON = f"bỏ lỡ: {MISS_DETAIL}"
# The campaign export's table per station and script, as its XLSX sheet heads it.
LINES_HEADER = [
    "Mã đài",
    "Tên đài",
    "Kịch bản",
    "Kế hoạch",
    "Đã phát",
    "Trong đó phát muộn",
    "Chờ phát",
    "Bỏ lỡ",
    "Lỗi",
    "Tỉ lệ thực hiện (%)",
    "Lần phát đầu",
    "Lần phát cuối",
    "Thời lượng phát (phút)",
]
AIRED_S = 90.0  # each aired spot: three of them make 4,5 minutes


def local(hh: int, mm: int = 0) -> datetime:
    """Aware UTC from a wall-clock time today in Vietnam."""
    return datetime.combine(TODAY, time(hh, mm), LOCAL_TZ).astimezone(UTC)


def seed_airtime(server: LiveServer, on_air: OnAir, clock: FixedClock) -> None:
    """Schedule the on_air script at 08:10 and 17:00 today on both stations, and log the day:
    everything aired except the missing station's 17:00 airing."""
    with server.app.app_context():
        station = db.session.scalar(select(Station).where(Station.code == on_air.station_code))
        other = make_station(station.unit, MISSING_CODE, MISSING_NAME)
        for name, start, end in on_air.sessions:
            add_session(None, other, name, start, end, 15, "1234567")
        db.session.commit()
        operator = db.session.scalar(select(User).where(User.username == server.users["operator"]))
        script = db.session.get(Script, on_air.script_id)
        assert script.campaign == CAMPAIGN
        rule = Recurrence(
            kind="times", times=(time(8, 10), time(17, 0)), start_date=TODAY, end_date=TODAY
        )
        data = schedules.ScheduleInput(script=script, recurrence=rule, stations=[station, other])
        schedule = schedules.create_schedule(operator, data)
        airings = db.session.scalars(
            select(Airing)
            .where(Airing.schedule_id == schedule.id)
            .order_by(Airing.sequenced_at, Airing.station_id)
        ).all()
        assert [(a.station_id, a.sequenced_at) for a in airings] == [
            (station.id, local(8, 10)),
            (other.id, local(8, 10)),
            (station.id, local(17, 0)),
            (other.id, local(17, 0)),
        ]
        render = db.session.get(Render, script.approved_render_id)

        def aired(airing: Airing) -> None:
            start = airing.sequenced_at
            entry = runner.log_entry(
                airing,
                render,
                RUNNER_HOST,
                status=LogStatus.AIRED,
                started_at=start,
                ended_at=start + timedelta(seconds=AIRED_S),
                duration_s=AIRED_S,
            )
            runner.finish(airing.id, entry)

        clock.advance(minutes=15)  # 08:15: the morning spots have played
        aired(airings[0])
        aired(airings[1])
        clock.advance(hours=9, minutes=15)  # 17:30: the evening grace is long past
        aired(airings[2])
        missed = runner.log_entry(
            airings[3], render, RUNNER_HOST, status=LogStatus.MISSED, reason=MISS_REASON
        )
        runner.finish(airings[3].id, missed)
        db.session.remove()


def figure(page: Page, label: str):
    """The big figure (a link to its drill-down, or the compliance box) labelled so."""
    figures = page.get_by_role("region", name="Số liệu chính")
    return figures.locator(".rp-figure").filter(
        has=page.locator(".rp-label", has_text=re.compile(f"^{re.escape(label)}"))
    )


def expect_figures(page: Page, expected: dict[str, str]) -> None:
    """Each big figure shows its expected value."""
    for label, value in expected.items():
        expect(figure(page, label).locator(".rp-value"), label).to_have_text(value)


def download(page: Page, link) -> tuple[Download, bytes]:
    """Click an export link and catch the file it sends."""
    with page.expect_download() as caught:
        link.click()
    found = caught.value
    assert found.failure() is None
    with open(found.path(), "rb") as stream:
        return found, stream.read()


def table_rows(sheet: list[list]) -> list[list]:
    """A sheet's table, from its header row (the one starting "Mã đài" or "Thời gian") on."""
    start = next(n for n, row in enumerate(sheet) if row[:1] in (["Mã đài"], ["Thời gian"]))
    return sheet[start:]


def excel_day(hh: int, mm: int = 0):
    """A wall-clock time today in Vietnam as the serial number Excel stores, to the second
    (pytest.approx's default tolerance is relative: over an hour at this size)."""
    days = (datetime.combine(TODAY, time(hh, mm)) - datetime(1899, 12, 30)) / timedelta(days=1)
    return pytest.approx(days, abs=1 / 86400)


def pdf_text(data: bytes) -> str:
    """The text of every page of a PDF, as pdfium extracts it."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        texts = []
        for page in pdf:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
    finally:
        pdf.close()
    return "\n".join(texts)


def test_supervisor_finds_a_missed_airing_and_exports_the_campaign_proof(
    page: Page, live_server: LiveServer, on_air: OnAir, clock: FixedClock
):
    seed_airtime(live_server, on_air, clock)
    title = on_air.script_title
    log_in(page, live_server.users["supervisor"])

    # The dashboard opens on this month: 4 planned, 3 aired, 1 missed, nothing pending.
    page.locator("nav.nav").get_by_role("link", name="Báo cáo", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Báo cáo phát sóng")
    expect(page.locator(".rp-period")).to_have_text("Tháng 11/2026")
    expect_figures(
        page,
        {
            "Tỉ lệ thực hiện": "75,0 %",
            "Kế hoạch": "4",
            "Đã phát": "3",
            "Phát muộn": "0",
            "Bỏ lỡ": "1",
            "Lỗi": "0",
            "Chờ phát": "0",
            "Thời lượng phát (phút)": "4,5",
        },
    )
    expect(figure(page, "Bỏ lỡ")).to_have_class(re.compile(r"\bis-bad\b"))
    expect(figure(page, "Bỏ lỡ").locator(".rp-label")).to_have_text("Bỏ lỡ ⚠")
    expect(figure(page, "Đã phát")).not_to_have_class(re.compile(r"\bis-bad\b"))

    # The station with the miss stands out: listed on its own and flagged in the table.
    alerts = page.get_by_role("region", name=re.compile("Đài có lượt bỏ lỡ hoặc lỗi"))
    expect(alerts.get_by_role("heading")).to_have_text("⚠ Đài có lượt bỏ lỡ hoặc lỗi (1)")
    expect(alerts.locator("li")).to_have_count(1)
    expect(alerts.locator("li")).to_contain_text(
        f"{MISSING_NAME} ({MISSING_CODE}): 1 bỏ lỡ — tỉ lệ thực hiện 50,0 % trên 2 lượt kế hoạch"
    )
    by_station = page.get_by_role("region", name="Theo đài").locator("tbody tr")
    expect(by_station).to_have_count(2)
    missing_row = by_station.filter(has_text=MISSING_CODE)
    fine_row = by_station.filter(has_text=on_air.station_code)
    expect(missing_row).to_have_class(re.compile(r"\brp-alert-row\b"))
    expect(missing_row.locator(".rp-flag")).to_have_text("⚠")
    expect(missing_row.locator("td[data-label='Bỏ lỡ']")).to_have_text("1")
    expect(missing_row.locator("td[data-label='Tỉ lệ thực hiện']")).to_have_text("50,0\xa0%")
    expect(fine_row).not_to_have_class(re.compile(r"\brp-alert-row\b"))
    expect(fine_row.locator(".rp-flag")).to_have_count(0)
    expect(fine_row.locator("td[data-label='Tỉ lệ thực hiện']")).to_have_text("100,0\xa0%")
    page.screenshot(path="/tmp/loa-report-dashboard.png", full_page=True)

    # The missed figure drills down to exactly the missed row, with its reason (once "bỏ lỡ").
    figure(page, "Bỏ lỡ").click()
    expect(page).to_have_url(re.compile(r"/reports/airings\?.*figure=missed"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Chi tiết: Bỏ lỡ (1 lượt)")
    rows = page.locator("table.rp-rows tbody tr")
    expect(rows).to_have_count(1)
    missed = [
        f"{TODAY_VN} 17:00:00",
        "—",
        "—",
        MISSING_CODE,
        title,
        "bỏ lỡ",
        MISS_DETAIL,
        f"tự động ({RUNNER_HOST})",
        "#2",
    ]
    assert cells(rows) == [missed]

    # Its number leads to the station's broadcast log of that day, onto the row itself,
    # which is highlighted; who aired it and why read as in the report.
    rows.get_by_role("link", name="#2").click()
    expect(page).to_have_url(
        re.compile(
            rf"/playout/log\?station={MISSING_CODE}&date_from={TODAY}&date_to={TODAY}#log-\d+$"
        )
    )
    expect(page.get_by_role("heading", name="Nhật ký phát sóng")).to_be_visible()
    log_rows = page.locator("table.po-log tbody tr")
    expect(log_rows).to_have_count(2)
    missed_row = log_rows.filter(has_text=MISS_DETAIL)
    assert cells(missed_row) == [missed]
    target = page.locator("table.po-log tbody tr:target")
    expect(target).to_have_count(1)
    expect(target).to_contain_text(MISS_DETAIL)
    tint = "rgb(255, 244, 194)"
    expect(target.locator("td").first).to_have_css("background-color", tint)
    other = log_rows.filter(has_not_text=MISS_DETAIL).locator("td").first
    expect(other).not_to_have_css("background-color", tint)

    # Back through the drill-down to the dashboard, and on to the campaign's report of the
    # same month.
    page.go_back()
    page.get_by_role("link", name="← Báo cáo tổng hợp").click()
    expect(page.locator(".rp-period")).to_have_text("Tháng 11/2026")
    by_campaign = page.get_by_role("region", name="Theo chiến dịch").locator("tbody tr")
    expect(by_campaign).to_have_count(1)
    expect(by_campaign.locator("th")).to_contain_text(CAMPAIGN)
    by_campaign.get_by_role("link", name="Báo cáo chiến dịch").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Báo cáo thực hiện chiến dịch")
    expect(page.locator(".rp-campaign-head h2")).to_have_text(f"Chiến dịch “{CAMPAIGN}”")
    expect(page.locator(".rp-campaign-head p")).to_have_text("Tháng 11/2026 · Tỉnh Bình Thuận")
    expect(page.locator(".rp-period")).to_have_text("Tháng 11/2026")
    expect_figures(page, {"Tỉ lệ thực hiện": "75,0 %", "Kế hoạch": "4", "Đã phát": "3"})
    expect_figures(page, {"Bỏ lỡ": "1", "Lỗi": "0", "Chờ phát": "0"})
    lines = page.locator("table.rp-campaign tbody tr")
    expect(lines).to_have_count(2)
    missing_line = lines.filter(has_text=MISSING_CODE)
    expect(missing_line).to_have_class(re.compile(r"\brp-alert-row\b"))
    expect(missing_line.locator("td[data-label='Kế hoạch']")).to_have_text("2")
    expect(missing_line.locator("td[data-label='Đã phát']")).to_have_text("1")
    expect(missing_line.locator("td[data-label='Tỉ lệ thực hiện']")).to_have_text("50,0\xa0%")
    missing_line.locator("summary", has_text="1 lượt").click()
    expect(missing_line.locator(".rp-misses li")).to_have_text(
        f"{TODAY_VN} 17:00 bỏ lỡ {MISS_DETAIL}"
    )
    expect(
        lines.filter(has_text=on_air.station_code).locator("td[data-label='Tỉ lệ thực hiện']")
    ).to_have_text("100,0\xa0%")
    page.screenshot(path="/tmp/loa-report-campaign.png", full_page=True)

    # The PDF: a real PDF with an embedded font, naming the campaign and the miss.
    exports = page.get_by_role("group", name="Tải báo cáo")
    pdf, data = download(page, exports.get_by_role("link", name="PDF", exact=True))
    # Named after the campaign and the month the dashboard showed.
    stem = "chien-dich-tiem-chung-mo-rong-2026-11-01-den-2026-11-30"
    assert pdf.suggested_filename == f"{stem}.pdf"
    assert data.startswith(b"%PDF")
    assert b"/FontFile2" in data and b"DejaVuSans" in data
    text = pdf_text(data)
    assert "Báo cáo thực hiện chiến dịch" in text
    assert f"Chiến dịch “{CAMPAIGN}”" in text
    assert MISSING_CODE in text and on_air.station_code in text
    assert MISS_REASON in text  # exports keep the reason as the log stores it

    # The XLSX: a workbook with a line per station and the miss with its reason.
    xlsx, data = download(page, exports.get_by_role("link", name="Excel (XLSX)"))
    assert xlsx.suggested_filename == f"{stem}.xlsx"
    assert "xl/workbook.xml" in zipfile.ZipFile(io.BytesIO(data)).namelist()
    sheets = read_xlsx(data)
    assert list(sheets) == ["Theo đài và kịch bản", "Bỏ lỡ, lỗi và phát không trọn"]
    per_line, misses = (table_rows(sheet) for sheet in sheets.values())
    assert per_line[0] == LINES_HEADER
    morning, evening = excel_day(8, 10), excel_day(17)
    missing, fine = (MISSING_CODE, MISSING_NAME), (on_air.station_code, on_air.station_name)
    assert per_line[1:] == [
        [*missing, title, 2, 1, 0, 0, 1, 0, 0.5, morning, morning, 1.5],
        [*fine, title, 2, 2, 0, 0, 0, 0, 1.0, morning, evening, 3.0],
        ["", "Tổng cộng", "", 4, 3, 0, 0, 1, 0, 0.75, morning, evening, 4.5],
    ]
    assert misses == [
        ["Thời gian", "Mã đài", "Kịch bản", "Trạng thái", "Lý do"],
        [evening, MISSING_CODE, title, "bỏ lỡ", MISS_REASON],
    ]

    # Both downloads were audited as the supervisor's, with what each one held.
    with live_server.app.app_context():
        events = db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "report.export").order_by(AuditEvent.id)
        ).all()
        found = [(e.actor.username, e.ip, e.details) for e in events]
        db.session.remove()
    supervisor = live_server.users["supervisor"]
    exported = {
        "report": "campaign",
        "title": "Báo cáo thực hiện chiến dịch",
        "subtitle": f"Chiến dịch “{CAMPAIGN}” · Tháng 11/2026",
        "filters": {
            "Kỳ báo cáo": "Tháng 11/2026",
            "Đơn vị": "Tỉnh Bình Thuận",
            "Chiến dịch": CAMPAIGN,
        },
        "tables": ["lines", "misses"],
        "rows": 4,  # two stations, the total line and the miss
    }
    assert found == [
        (supervisor, "127.0.0.1", {**exported, "format": "pdf"}),
        (supervisor, "127.0.0.1", {**exported, "format": "xlsx"}),
    ]
