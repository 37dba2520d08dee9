# ruff: noqa: F811 (the world fixture is imported from test_service)
"""Report pages against the hand-computed world: the dashboard for every role, drill-downs,
period boundaries, the campaign report, the printable logbook, charts, exports, the log's
integrity check, and bad input answered in Vietnamese."""

from __future__ import annotations

import html
import json
import re
import unicodedata
from datetime import date, timedelta
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.broadcast.models import BroadcastLog, LogStatus
from app.extensions import db
from tests.broadcast.test_log import tamper
from tests.factories import make_station
from tests.reports.test_exports import read_xlsx
from tests.reports.test_service import local, world  # noqa: F401

NOVEMBER = "period=month&date=2026-11-01"
LABELS = {
    "Kế hoạch": "planned",
    "Đã phát": "on_air",
    "Phát muộn": "late",
    "Bỏ lỡ": "missed",
    "Lỗi": "failed",
    "Bị ngắt / bỏ qua": "incomplete",
    "Phát ngoài lịch": "manual",
    "Chờ phát": "pending",
    "Thời lượng phát (phút)": "minutes",
    "Tỉ lệ thực hiện": "compliance",
}
# The district (supervisor2, operator, writer): A's ten planned rows and B's row of 5/11
# (B moved to the other district before its 20/11 row); see test_service's world.
DISTRICT = {
    "planned": "11",
    "on_air": "6",
    "late": "1",
    "missed": "1",
    "failed": "1",
    "incomplete": "1",
    "manual": "1",
    "pending": "3",
    "minutes": "7,8",  # 470 s
    "compliance": "54,5 %",  # 6 ÷ 11
}
# The province (supervisor, admin) also sees B's 20/11 row, filed under the other district.
PROVINCE = {**DISTRICT, "planned": "12", "on_air": "7", "minutes": "8,8", "compliance": "58,3 %"}
# writer2 wrote none of the world's scripts.
NOTHING = {**{k: "0" for k in DISTRICT}, "compliance": "—"}


def text(response) -> str:
    """A page's HTML as text."""
    return response.get_data(as_text=True)


def figures(page: str) -> dict[str, str]:
    """The dashboard's big figures by key."""
    section = page.split('class="rp-figures"', 1)[1].split("</section>", 1)[0]
    found = re.findall(
        r'<span class="rp-value">(.*?)</span><span class="rp-label">(.*?)</span>', section
    )
    return {LABELS[label.replace("⚠", "").strip()]: html.unescape(value) for value, label in found}


def figure_link(page: str, label: str) -> str:
    """The address a big figure links to."""
    match = re.search(
        rf'<a class="rp-figure[^"]*" href="([^"]+)"><span class="rp-value">[^<]*</span>'
        rf'<span class="rp-label">{re.escape(label)}',
        page,
    )
    assert match, label
    return html.unescape(match.group(1))


def row_count(page: str) -> int:
    """Rows of the drill-down's table (the empty-table line does not count)."""
    table = page.split('class="table rp-table rp-rows"', 1)[1]
    body = table.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr") - body.count('colspan="')


def counts() -> tuple[int, int]:
    """Audit events and log rows: what a page must never add (except an export's event)."""
    return (
        db.session.scalar(select(func.count()).select_from(AuditEvent)),
        db.session.scalar(select(func.count()).select_from(BroadcastLog)),
    )


def export_events() -> list[AuditEvent]:
    """The report.export audit events, oldest first."""
    return db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "report.export").order_by(AuditEvent.id)
    ).all()


def svgs(page: str) -> dict[str, ElementTree.Element]:
    """Every inline chart of a page, parsed as XML, by id."""
    found = re.findall(r"<svg .*?</svg>", page, flags=re.S)
    parsed = [ElementTree.fromstring(svg) for svg in found]
    return {svg.get("id"): svg for svg in parsed}


SVG = "{http://www.w3.org/2000/svg}"


# --- dashboard --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("supervisor2", DISTRICT),
        ("operator", DISTRICT),
        ("writer", DISTRICT),
        ("writer2", NOTHING),
        ("supervisor", PROVINCE),
        ("admin", PROVINCE),
    ],
)
def test_dashboard_shows_the_hand_counted_figures_for_each_role(world, login_as, role, expected):
    response = login_as(role).get(f"/reports/?{NOVEMBER}")
    assert response.status_code == 200
    page = text(response)
    assert figures(page) == expected
    assert "Tháng 11/2026" in page
    assert ("do chính bạn soạn" in page) == role.startswith("writer")


def test_dashboard_tables_by_station_campaign_script_priority(world, login_as):
    page = text(login_as("supervisor2").get(f"/reports/?{NOVEMBER}"))
    stations = page.split('id="rp-stations-title"', 1)[1].split("</section>", 1)[0]
    # A has the misses: highlighted, flagged (not by colour alone), 5 of 10 planned aired.
    row_a = stations.split("(A)", 1)[0].rsplit("<tr", 1)[1]
    assert "rp-alert-row" in row_a and "⚠" in row_a
    assert "50,0\xa0%" in stations and "100,0\xa0%" in stations
    alerts = page.split('id="rp-misses-title"', 1)[1].split("</section>", 1)[0]
    assert "1 bỏ lỡ" in alerts and "1 lỗi" in alerts and "(A)" in alerts and "(B)" not in alerts
    campaigns = page.split('id="rp-campaigns-title"', 1)[1].split("</section>", 1)[0]
    assert "Đợt 6" in campaigns and "(không thuộc chiến dịch)" in campaigns
    assert "campaign=-" in campaigns  # the no-campaign line drills down too
    scripts = page.split('id="rp-scripts-title"', 1)[1].split("</section>", 1)[0]
    assert "Kêu gọi tiêm chủng" in scripts and "Phòng chống bão" in scripts
    priorities = page.split('id="rp-priorities-title"', 1)[1].split("</section>", 1)[0]
    assert "ưu tiên" in priorities


def test_dashboard_period_links_and_station_filter(world, login_as):
    client = login_as("supervisor2")
    page = text(client.get(f"/reports/?{NOVEMBER}"))
    assert 'href="/reports/?period=month&amp;date=2026-10-01"' in page
    assert 'href="/reports/?period=month&amp;date=2026-12-01"' in page
    page = text(client.get(f"/reports/?{NOVEMBER}&station=A"))
    assert figures(page)["planned"] == "10"
    # Every link keeps the station: the next month and each figure's drill-down.
    assert "period=month&amp;date=2026-12-01&amp;station=A" in page
    assert "station=A" in figure_link(page, "Bỏ lỡ")


def test_over_cap_sessions_are_listed(world, login_as):
    from datetime import timedelta

    from app.broadcast.service import LogEntry, append_log
    from app.schedules.models import Airing

    airing = db.session.scalars(select(Airing).order_by(Airing.sequenced_at)).first()
    append_log(
        LogEntry(
            station_id=airing.station_id,
            status=LogStatus.AIRED,
            planned_at=airing.sequenced_at,
            started_at=airing.sequenced_at,
            ended_at=airing.sequenced_at + timedelta(seconds=1000),
            duration_s=1000.0,
            script_id=airing.script_id,
            version_id=airing.version_id,
            schedule_id=airing.schedule_id,
            airing_key=airing.airing_key,
            priority=airing.priority,
        )
    )
    page = text(login_as("supervisor2").get(f"/reports/?{NOVEMBER}"))
    section = page.split('id="rp-overcap-title"', 1)[1].split("</section>", 1)[0]
    assert "28/11/2026" in section and "Buổi sáng" in section
    assert "16,7" in section and ">15<" in section


# --- drill-down -------------------------------------------------------------------------------


def test_the_missed_figure_drills_down_to_exactly_the_missed_row(world, login_as):
    client = login_as("supervisor2")
    page = text(client.get(f"/reports/?{NOVEMBER}"))
    link = figure_link(page, "Bỏ lỡ")
    assert "figure=missed" in link and "period=month" in link
    drill = text(client.get(link))
    assert row_count(drill) == 1
    # The reason, without the "bỏ lỡ:" the status badge beside it already says.
    assert '<td data-label="Lý do">bộ phát không chạy</td>' in drill
    assert "11/11/2026 05:30:00" in drill
    assert "(1 lượt)" in drill
    # The corrected 14/11 row was missed first; only its correction counts (as aired).
    assert "14/11/2026" not in drill
    # The row links to its own line of the station's broadcast log on that day.
    missed = db.session.scalar(
        select(BroadcastLog).where(BroadcastLog.reason == "bỏ lỡ: bộ phát không chạy")
    )
    log_link = (
        f"/playout/log?station=A&amp;date_from=2026-11-11&amp;date_to=2026-11-11#log-{missed.id}"
    )
    assert f'href="{log_link}"' in drill


@pytest.mark.parametrize(
    ("figure", "rows"),
    [
        ("planned", 8),  # the logged planned rows; 3 more are pending
        ("on_air", 6),
        ("aired_late", 1),
        ("failed", 1),
        ("incomplete", 1),
        ("manual", 1),
        ("airtime", 8),
        ("pending", 3),
        ("", 11),  # every effective row of November: A's 10 and B's 5/11
    ],
)
def test_each_figure_drills_down_to_as_many_rows_as_it_counts(world, login_as, figure, rows):
    drill = text(login_as("supervisor2").get(f"/reports/airings?{NOVEMBER}&figure={figure}"))
    assert row_count(drill) == rows


def test_log_links_of_a_busy_day_open_the_page_the_row_is_on(world, login_as, monkeypatch):
    from app.schedules import console

    # A's 12/11 log, newest first as /playout/log lists it: the repeat at 17:02, the cut-off
    # 17:00 airing, the cancelled 05:30 one; two rows a page puts the last on page 2.
    monkeypatch.setattr(console, "LOG_PER_PAGE", 2)
    start, end = local(date(2026, 11, 12), 0), local(date(2026, 11, 13), 0)
    repeat, cut, cancelled = db.session.scalars(
        select(BroadcastLog)
        .where(BroadcastLog.station_id == world["a"].id, BroadcastLog.planned_at >= start)
        .where(BroadcastLog.planned_at < end)
        .order_by(BroadcastLog.planned_at.desc(), BroadcastLog.id.desc())
    ).all()
    assert cancelled.status == LogStatus.CANCELLED
    client = login_as("supervisor2")
    drill = text(client.get("/reports/airings?period=day&date=2026-11-12&station=A"))
    links = {
        int(m.group(2)): html.unescape(m.group(1))
        for m in re.finditer(r'href="(/playout/log\?[^"]*#log-(\d+))"', drill)
    }
    day = "station=A&date_from=2026-11-12&date_to=2026-11-12"
    assert links == {
        repeat.id: f"/playout/log?{day}#log-{repeat.id}",
        cut.id: f"/playout/log?{day}#log-{cut.id}",
        cancelled.id: f"/playout/log?{day}&page=2#log-{cancelled.id}",
    }
    # Each link's page holds the row it points at, with the id its fragment names.
    for row_id, link in links.items():
        log_page = text(client.get(link.split("#", 1)[0]))
        assert f'id="log-{row_id}"' in log_page


def test_planned_drill_down_points_at_the_pending_airings(world, login_as):
    drill = text(login_as("supervisor2").get(f"/reports/airings?{NOVEMBER}&figure=planned"))
    assert "3 lượt chờ phát" in drill
    pending = text(login_as("supervisor2").get(f"/reports/airings?{NOVEMBER}&figure=pending"))
    assert pending.count("chờ phát</span>") == 3
    assert "28/11/2026 05:30:00" in pending  # 05:45 sequenced into the morning session


def test_station_and_day_lines_drill_down_with_their_dimension(world, login_as):
    client = login_as("supervisor2")
    page = text(client.get(f"/reports/?{NOVEMBER}"))
    days = page.split('class="rp-day-table"', 1)[1].split("</details>", 1)[0]
    links = [html.unescape(h) for h in re.findall(r'href="([^"]+figure=failed[^"]*)"', days)]
    [link] = links
    assert "period=day" in link and "date=2026-11-11" in link
    drill = text(client.get(link))
    assert row_count(drill) == 1 and ">tệp âm thanh không còn<" in drill
    drill = text(client.get(f"/reports/airings?{NOVEMBER}&figure=on_air&station=B"))
    assert row_count(drill) == 1 and "05/11/2026 05:30:00" in drill


def test_a_station_that_moved_away_has_its_pages_for_its_rows_from_before(world, login_as):
    """B moved to the other district after its 5/11 row: the district's supervisor opens
    B's dashboard, logbook and drill-down over that row alone, marked as such."""
    client = login_as("supervisor2")
    board = client.get(f"/reports/?{NOVEMBER}&station=B")
    assert board.status_code == 200
    page = text(board)
    assert "(B), các lượt tính cho đơn vị này" in page
    assert re.search(r'rp-value">1</span><span class="rp-label">Kế hoạch<', page)
    logbook = client.get("/reports/logbook?station=B&period=week&date=2026-11-05")
    assert logbook.status_code == 200
    assert "05/11/2026" in text(logbook)
    later = text(client.get("/reports/logbook?station=B&period=week&date=2026-11-20"))
    assert "20/11/2026 05:30" not in later
    export = client.get(f"/reports/?{NOVEMBER}&station=B&format=json")
    assert "các lượt tính cho đơn vị này" in export.get_data(as_text=True)


def test_period_boundaries_are_vietnamese_days(world, login_as):
    client = login_as("supervisor2")
    november = text(client.get(f"/reports/airings?{NOVEMBER}&figure=on_air&station=A"))
    assert "30/11/2026 23:30:00" in november
    assert "01/12/2026" not in november
    december = text(client.get("/reports/airings?period=month&date=2026-12-01&figure=on_air"))
    assert "01/12/2026 00:10:00" in december
    assert "30/11/2026" not in december
    day = text(client.get("/reports/?period=day&date=2026-11-30"))
    assert figures(day)["on_air"] == "1"  # 23:30 on 30/11 (16:30 UTC)
    assert figures(day)["pending"] == "1"
    assert "Ngày 30/11/2026" in day


def test_pages_and_exports_name_who_aired_each_row_alike(world, login_as, users):
    from app.broadcast.service import LogEntry, append_log

    # Besides the runner's 00:10 airing of 1/12 (no host in the world): a live read by the
    # operator and a manual airing from another machine, a minute later.
    when = local(date(2026, 12, 1), 0, 11)

    def aired_by(**who) -> None:
        entry = LogEntry(
            station_id=world["a"].id,
            status=LogStatus.AIRED,
            started_at=when,
            ended_at=when + timedelta(seconds=30),
            duration_s=30.0,
            priority=world["script"].priority,
            **who,
        )
        append_log(entry)

    aired_by(operator_id=users["operator"].id, runner_host="tay:operator")
    aired_by(runner_host="may-phat-2")
    expected = ["tự động", users["operator"].full_name, "tự động (may-phat-2)"]
    client = login_as("supervisor2")
    drill = text(client.get("/reports/airings?period=day&date=2026-12-01"))
    assert re.findall(r'<td data-label="Người / máy">(.*?)</td>', drill) == expected
    logbook = text(client.get("/reports/logbook?station=A&period=day&date=2026-12-01"))
    assert re.findall(r'<td data-label="Người phát">(.*?)</td>', logbook) == expected
    with client.get("/reports/airings?period=day&date=2026-12-01&format=json") as response:
        doc = json.loads(response.get_data())
    assert [r["operator"] for r in doc["tables"]["rows"]["rows"]] == expected


def test_writers_drill_down_only_into_their_own_scripts(world, login_as):
    assert row_count(text(login_as("writer").get(f"/reports/airings?{NOVEMBER}"))) == 11
    assert row_count(text(login_as("writer2").get(f"/reports/airings?{NOVEMBER}"))) == 0


@pytest.mark.parametrize(
    ("role", "missed", "logbook_lines"),
    [("supervisor2", 1, 3), ("operator", 1, 3), ("writer", 1, 3), ("writer2", 0, 0),
     ("supervisor", 1, 3), ("admin", 1, 3)],
)  # fmt: skip
def test_drill_down_and_logbook_for_each_role(world, login_as, role, missed, logbook_lines):
    client = login_as(role)
    drill = text(client.get(f"/reports/airings?{NOVEMBER}&figure=missed"))
    assert row_count(drill) == missed
    page = text(client.get("/reports/logbook?station=A&period=day&date=2026-11-12"))
    assert page.count('<tr class="lb-st-') == logbook_lines


def test_drill_down_is_paginated(world, login_as):
    from app.reports import views

    views_per_page = views.PER_PAGE
    views.PER_PAGE = 5
    try:
        client = login_as("supervisor2")
        first = text(client.get(f"/reports/airings?{NOVEMBER}"))
        second = text(client.get(f"/reports/airings?{NOVEMBER}&page=3"))
    finally:
        views.PER_PAGE = views_per_page
    assert row_count(first) == 5 and row_count(second) == 1
    assert "Trang 1 / 3" in first


# --- campaign report --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "planned", "on_air"),
    [("supervisor2", "15", "7"), ("operator", "15", "7"), ("writer", "15", "7"),
     ("writer2", "0", "0"), ("supervisor", "16", "8"), ("admin", "16", "8")],
)  # fmt: skip
def test_campaign_report_for_each_role(world, login_as, role, planned, on_air):
    page = text(login_as(role).get("/reports/campaign?campaign=Đợt 6"))
    found = figures(page)
    assert (found["planned"], found["on_air"]) == (planned, on_air)


def test_campaign_report_per_station_and_script_with_misses_and_reasons(world, login_as):
    client = login_as("supervisor2")
    page = text(client.get("/reports/campaign?campaign=Đợt 6"))
    row_a = page.split("(A)", 1)[1].split("</tr>", 1)[0]
    # All time: 7 logged planned rows of the script at A and 7 pending (28/11 to 4/12).
    assert ">14</a>" in row_a and "7 chờ phát" in row_a
    assert ">6</a>" in row_a and "1 muộn" in row_a
    assert "10/11/2026 05:30" in row_a and "01/12/2026 00:10" in row_a
    assert "<details" in row_a and "2 lượt" in row_a
    assert "bộ phát không chạy" in row_a and "bị ngắt" in row_a
    assert "bỏ lỡ: bộ phát" not in row_a  # the badge beside the reason says "bỏ lỡ" once
    assert "Tổng cộng" in page
    by_source = text(client.get("/reports/campaign?source=855/BCĐ"))
    assert figures(by_source) == figures(page)
    november = text(client.get(f"/reports/campaign?campaign=Đợt 6&{NOVEMBER}"))
    assert figures(november)["planned"] == "10"  # as the dashboard's Đợt 6 line


def test_campaign_link_on_the_dashboard_keeps_its_period_and_unit(world, login_as):
    client = login_as("supervisor")
    page = text(client.get(f"/reports/?{NOVEMBER}&unit=D&station=A&priority=priority"))
    campaigns = page.split('id="rp-campaigns-title"', 1)[1].split("</section>", 1)[0]
    [link] = [
        html.unescape(h) for h in re.findall(r'href="([^"]+)">Báo cáo chiến dịch<', campaigns)
    ]
    # The period and the unit go along; the filters the campaign page has no field for do not.
    kept = {"period": "month", "date": "2026-11-01", "unit": "D", "campaign": "Đợt 6"}
    assert link == f"/reports/campaign?{urlencode(kept)}"
    report = text(client.get(link))
    assert "Tháng 11/2026 · Thành phố Phan Thiết" in report
    assert figures(report)["planned"] == "10"  # November's, as on the dashboard; 15 all time
    custom = "period=custom&date=2026-11-09&end=2026-11-15"
    page = text(client.get(f"/reports/?{custom}"))
    campaigns = page.split('id="rp-campaigns-title"', 1)[1].split("</section>", 1)[0]
    assert f'href="/reports/campaign?{custom.replace("&", "&amp;")}&amp;campaign=' in campaigns


def test_campaign_page_without_a_choice_asks_for_one(world, login_as):
    response = login_as("supervisor2").get("/reports/campaign")
    assert response.status_code == 200
    page = text(response)
    assert "Chọn một chiến dịch hoặc một văn bản nguồn" in page
    assert re.search(r"<option\s*>Đợt 6</option>", page) and "855/BCĐ" in page


# --- logbook ----------------------------------------------------------------------------------


def test_logbook_lists_a_day_in_airing_order_ready_to_print(world, login_as, users):
    client = login_as("supervisor2")
    page = text(client.get("/reports/logbook?station=A&period=day&date=2026-11-12"))
    order = [page.index(f"lb-st-{s}") for s in ("cancelled", "interrupted", "aired")]
    assert order == sorted(order)
    sheet = page.split('class="lb-sheet"', 1)[1]
    assert "SỔ NHẬT KÝ PHÁT SÓNG" in sheet
    assert "THÀNH PHỐ PHAN THIẾT" in sheet and "Ngày 12/11/2026" in sheet
    assert users["supervisor"].full_name in sheet  # approver
    assert "tự động" in sheet and "855/BCĐ" in sheet
    assert "Người lập sổ" in sheet and "Lãnh đạo đơn vị" in sheet
    assert "17:00:00–17:00:20" in sheet


def test_logbook_notes_do_not_repeat_the_result(world, login_as):
    page = text(login_as("supervisor2").get("/reports/logbook?station=A&date=2026-11-12"))
    sheet = page.split('class="lb-sheet"', 1)[1]
    assert '<td data-label="Ghi chú">bộ phát không chạy</td>' in sheet
    assert '<td data-label="Ghi chú">tệp âm thanh không còn</td>' in sheet
    # A reason that merely starts with the status's words, with no colon, is left whole.
    assert '<td data-label="Ghi chú">phát muộn 2 phút</td>' in sheet
    assert "bỏ lỡ:" not in sheet and "lỗi:" not in sheet


@pytest.mark.parametrize(
    ("reason", "label", "shown"),
    [
        ("bỏ lỡ: trễ 12 phút", "bỏ lỡ", "trễ 12 phút"),
        ("Bỏ lỡ : trễ 12 phút", "bỏ lỡ", "trễ 12 phút"),  # any case, spaces before the colon
        # Letters and their marks stored apart (NFD), as some keyboards type them.
        (unicodedata.normalize("NFD", "Bỏ lỡ: trễ"), "bỏ lỡ", unicodedata.normalize("NFD", "trễ")),
        ("lỗi: tệp âm thanh không còn", "bỏ lỡ", "lỗi: tệp âm thanh không còn"),
        ("phát muộn 2 phút", "phát muộn", "phát muộn 2 phút"),
        ("bỏ lỡ:", "bỏ lỡ", ""),
        ("", "đã phát", ""),
        (None, "đã phát", ""),
    ],
)
def test_a_reason_drops_only_a_leading_status_and_colon(app, reason, label, shown):
    assert app.jinja_env.filters["without_status"](reason, label) == shown


def test_logbook_week_has_a_section_per_day(world, login_as):
    page = text(login_as("supervisor2").get("/reports/logbook?station=A&date=2026-11-12"))
    assert "Tuần 09/11 – 15/11/2026" in page  # a week by default
    assert page.count('class="lb-day has-rows"') == 5  # 10 to 14/11
    assert page.count('class="lb-day lb-empty"') == 2
    assert page.index("ngày 10/11/2026") < page.index("ngày 14/11/2026")


def test_logbook_of_a_writer_holds_only_their_scripts(world, login_as):
    client = login_as("writer2")
    page = text(client.get("/reports/logbook?station=A&period=day&date=2026-11-12"))
    assert "lb-st-" not in page and "Không có lượt phát nào trong ngày" in page


def test_logbook_without_a_station_shows_the_picker(world, login_as):
    response = login_as("operator").get("/reports/logbook")
    assert response.status_code == 200
    assert "Chọn một đài" in text(response)


# --- charts -----------------------------------------------------------------------------------


def test_dashboard_charts_are_inline_svg_with_a_bar_per_day(world, login_as):
    page = text(login_as("supervisor2").get(f"/reports/?{NOVEMBER}"))
    charts = svgs(page)
    assert set(charts) == {"chart-airtime-days", "chart-airtime-stations", "chart-compliance"}
    bars = charts["chart-airtime-days"].findall(f"{SVG}rect[@class='bar']")
    assert len(bars) == 30
    values = {b.get("data-day"): float(b.get("data-value")) for b in bars}
    assert values["2026-11-10"] == 2.0 and values["2026-11-01"] == 0.0
    stations = charts["chart-airtime-stations"].findall(f"{SVG}rect[@class='bar']")
    assert [float(b.get("data-value")) for b in stations] == [6.8, 1.0]
    points = charts["chart-compliance"].findall(f"{SVG}circle[@class='point']")
    # Only settled days with something planned have a point: 5, 10, 11, 12 and 14/11; from
    # today (27/11) on, days with pending airings would read as misses and are left out.
    assert [p.get("data-day")[-2:] for p in points] == ["05", "10", "11", "12", "14"]
    assert "<script" not in page.split("<main", 1)[1]


# --- integrity --------------------------------------------------------------------------------


def test_integrity_check_counts_the_rows_it_verified(world, login_as):
    page = text(login_as("supervisor2").get(f"/reports/?{NOVEMBER}&verify=1"))
    # A's 11 rows and its correction; B belongs to the other district now.
    assert "Toàn vẹn: đã kiểm tra 12 dòng" in page
    logbook = "/reports/logbook?station=A&period=day&date=2026-11-12&verify=1"
    page = text(login_as("supervisor2").get(logbook))
    assert "Toàn vẹn: đã kiểm tra" in page


def test_integrity_check_shows_the_first_broken_row(world, login_as):
    row = db.session.scalars(
        select(BroadcastLog).where(BroadcastLog.station_id == world["a"].id, BroadcastLog.seq == 3)
    ).one()
    tamper("UPDATE broadcast_log SET reason = 'đã phát' WHERE id = :id", id=row.id)
    page = text(login_as("supervisor2").get(f"/reports/?{NOVEMBER}&verify=1"))
    box = page.split('class="rp-integrity rp-broken"', 1)[1].split("</div>", 1)[0]
    assert "chuỗi bị đứt" in box
    assert "(A)" in box and "#3" in box and "đã bị sửa" in box
    page = text(login_as("supervisor2").get("/reports/logbook?station=A&date=2026-11-11&verify=1"))
    assert "rp-broken" in page


# --- exports ----------------------------------------------------------------------------------

MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "json": "application/json",
}
PAGES = {
    "dashboard": f"/reports/?{NOVEMBER}",
    "drill": f"/reports/airings?{NOVEMBER}&figure=missed",
    "campaign": "/reports/campaign?campaign=Đợt 6",
    "logbook": "/reports/logbook?station=A&period=day&date=2026-11-12",
}


@pytest.mark.parametrize("report", list(PAGES))
@pytest.mark.parametrize("fmt", list(MIMETYPES))
def test_export_buttons_download_the_report_and_audit_it(world, login_as, report, fmt):
    client = login_as("supervisor2")
    page = text(client.get(PAGES[report]))
    links = [html.unescape(h) for h in re.findall(r'href="([^"]*format=[a-z]+[^"]*)"', page)]
    [link] = [h for h in links if f"format={fmt}" in h]
    before = len(export_events())
    with client.get(link) as response:
        data = response.get_data()
        assert response.status_code == 200
        assert response.mimetype == MIMETYPES[fmt]
        assert "attachment" in response.headers["Content-Disposition"]
    [event] = export_events()[before:]
    assert event.actor_name == "supervisor2"
    assert event.details["format"] == fmt and event.details["report"] == report
    assert data.startswith({"pdf": b"%PDF", "xlsx": b"PK"}.get(fmt, b""))


def test_exports_carry_the_pages_figures(world, login_as):
    client = login_as("supervisor2")
    with client.get(f"/reports/airings?{NOVEMBER}&figure=missed&format=json") as response:
        doc = json.loads(response.get_data())
    [rows] = [t["rows"] for t in doc["tables"].values()]
    assert [r["reason"] for r in rows] == ["bỏ lỡ: bộ phát không chạy"]
    assert doc["filters"]["Số liệu"] == "Bỏ lỡ"
    with client.get(f"/reports/airings?{NOVEMBER}&figure=pending&format=json") as response:
        doc = json.loads(response.get_data())
    assert len(doc["tables"]["pending"]["rows"]) == 3
    with client.get(f"/reports/?{NOVEMBER}&format=xlsx") as response:
        sheets = read_xlsx(response.get_data())
    by_station = next(rows for name, rows in sheets.items() if name.startswith("Theo đài"))
    assert any("A" in row and 10.0 in row for row in by_station)
    with client.get("/reports/logbook?station=A&period=day&date=2026-11-12&format=csv") as r:
        lines = r.get_data().decode("utf-8-sig").splitlines()
    assert [ln.split(",")[10] for ln in lines[1:]] == ["đã hủy", "bị ngắt", "đã phát"]


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/reports/?date=31/02/2026", 422, "Ngày “31/02/2026” không hợp lệ"),
        ("/reports/?period=year", 422, "Kỳ báo cáo không hợp lệ"),
        ("/reports/?period=custom&date=2026-11-10&end=2026-11-01", 422, "Ngày kết thúc phải sau"),
        ("/reports/?period=custom&date=2025-01-01&end=2026-11-01", 422, "366 ngày"),
        ("/reports/?period=custom&date=2026-11-10", 422, "Hãy chọn ngày kết thúc"),
        ("/reports/?unit=D2", 404, "Đơn vị “D2” không tồn tại hoặc nằm ngoài phạm vi"),
        ("/reports/?unit=KHONG-CO", 404, "Đơn vị “KHONG-CO” không tồn tại"),
        ("/reports/?station=LAGI", 404, "Đài “LAGI” không tồn tại hoặc nằm ngoài phạm vi"),
        ("/reports/?unit=C&station=A", 422, "Đài A không thuộc Phường Phú Thủy"),
        ("/reports/?priority=gap", 422, "Mức ưu tiên không hợp lệ"),
        ("/reports/?script=abc", 422, "Mã kịch bản “abc” không hợp lệ"),
        ("/reports/?script=²", 422, "Mã kịch bản “²” không hợp lệ"),
        ("/reports/?script=" + "9" * 30, 422, "không hợp lệ"),
        ("/reports/campaign?dispatch=²", 404, "Văn bản không tồn tại hoặc nằm ngoài phạm vi"),
        (f"/reports/?{NOVEMBER}&format=docx", 422, "Không xuất được dạng “docx”"),
        ("/reports/airings?figure=tat-ca", 422, "Số liệu “tat-ca” không có"),
        ("/reports/airings?period=custom&date=2026-11-10&end=2026-11-09", 422, "Ngày kết thúc"),
        ("/reports/campaign?campaign=Đợt 6&format=zip", 422, "Không xuất được dạng “zip”"),
        ("/reports/campaign?format=csv", 422, "Chọn một chiến dịch hoặc một văn bản nguồn"),
        ("/reports/campaign?campaign=Đợt 6&date=2026-13-01&period=day", 422, "không hợp lệ"),
        ("/reports/logbook?station=A&period=month", 422, "chỉ chọn được ngày hoặc tuần"),
        ("/reports/logbook?station=LAGI", 404, "Đài “LAGI” không tồn tại"),
        ("/reports/logbook?station=A&date=hôm-qua", 422, "Ngày “hôm-qua” không hợp lệ"),
        ("/reports/logbook?station=A&format=odt", 422, "Không xuất được dạng “odt”"),
    ],
)
def test_bad_input_is_answered_in_vietnamese_on_the_page(
    world, org, login_as, path, status, message
):
    make_station(org.other_district, "LAGI")  # never filed under the district
    client = login_as("supervisor2")
    before = counts()
    response = client.get(path)
    page = text(response)
    assert response.status_code == status, page[:400]
    errors = page.split('class="flash flash-error rp-errors"', 1)[1].split("</div>", 1)[0]
    assert message in html.unescape(errors)
    assert "<form" in page  # the filters stay on the page to be fixed
    assert counts() == before  # nothing stored, not even an export event


def test_report_pages_need_a_login(world, client):
    for path in ("/reports/", "/reports/airings", "/reports/campaign", "/reports/logbook"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
