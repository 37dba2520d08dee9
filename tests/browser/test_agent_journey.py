"""Journey of a station agent: an admin adds an agent for a station on the agents page and
hands its one-time code to the technician; the agent program enrols with it (the real command,
as a separate process) and syncs with the live server over HTTP; the admin sees the station
come online with its health and warnings, and switches it to its agent; the operator does
"phát ngay" from the console; the agent airs it to its folder output and uploads its log row,
which the broadcast log then shows, in a chain that verifies.

The live server and the agent share the test's FixedClock (08:00 on Friday 27/11/2026 in
Vietnam). The agent runs in this process (StationAgent, as `python -m app.station_agent run`
does, minus its threads): the test calls each sync and one cycle of its playout core, so
nothing waits on wall-clock time.
"""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.auth.models import Role
from app.broadcast.models import BroadcastLog
from app.core.clock import FixedClock
from app.extensions import db
from app.org.models import Unit
from app.playout import runner
from app.station_agent.state import StateDir
from app.station_agent.sync import StationAgent
from tests.browser.conftest import LiveServer, OnAir
from tests.browser.test_schedule_journey import (
    TODAY_VN,
    cells,
    filter_log,
    log_rows,
    rundown_items,
)
from tests.browser.test_script_journey import flash, log_in, log_out
from tests.factories import make_user
from tests.station_agent.test_command import agent_command

pytestmark = pytest.mark.browser

AGENT_NAME = "Máy phòng truyền thanh Phan Thiết"
NOTE = "Cháy chợ Phan Thiết, bà con tránh khu vực"


def station_row(page: Page, station_id: int):
    """The station's row on the agents page."""
    return page.locator(f"tr#dai-{station_id}")


def add_admin(server: LiveServer) -> str:
    """An admin of the province; returns the user name."""
    with server.app.app_context():
        province = db.session.scalar(select(Unit).where(Unit.code == "P"))
        username = make_user(province, Role.ADMIN, "admin").username
        db.session.remove()
    return username


def sync(agent: StationAgent):
    """One sync of the agent with the live server (plan, audio, log, health)."""
    result = agent.sync()
    assert result.problems == [], result.problems
    return result


def test_admin_enrols_an_agent_and_the_agent_airs_air_now_and_uploads_its_log(
    page: Page, live_server: LiveServer, on_air: OnAir, clock: FixedClock, tmp_path
):
    admin = add_admin(live_server)
    folder = tmp_path / "agent-out"

    # The admin finds the agents page from the station's page, adds an agent, gets the code.
    log_in(page, admin)
    page.locator("nav.nav").get_by_role("link", name="Đài", exact=True).click()
    page.get_by_role("link", name=on_air.station_name).click()
    page.get_by_role("link", name="Máy trạm và chế độ phát của đài").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Máy trạm tại đài")
    station_id = int(re.search(r"#dai-(\d+)$", page.url).group(1))
    row = station_row(page, station_id)
    expect(row).to_contain_text(on_air.station_code)
    expect(row).to_contain_text("Máy chủ trung tâm phát")
    expect(row).to_contain_text("Chưa có máy trạm.")
    # No switch to offer before an agent has enrolled and synced.
    expect(row.locator("[data-mode-blocked]")).to_have_text(
        "Thêm máy trạm và đăng ký nó trước khi chuyển đài sang chế độ máy trạm."
    )
    expect(row.get_by_role("button", name="Chuyển sang máy trạm")).to_have_count(0)

    page.get_by_label("Đài", exact=True).select_option(
        label=f"{on_air.station_name} ({on_air.station_code})"
    )
    page.get_by_label("Tên máy trạm (để nhận ra máy)").fill(AGENT_NAME)
    page.get_by_role("button", name="Thêm và tạo mã đăng ký").click()
    expect(flash(page, "Đã thêm máy trạm")).to_have_text(
        f"Đã thêm máy trạm “{AGENT_NAME}”. Mã đăng ký dùng được đến 08:00 ngày 28/11/2026."
    )
    code = page.locator("#new-code").inner_text()
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code)
    expect(page.locator("#new-command")).to_have_text(
        f"python -m app.station_agent enrol --server {live_server.url} --code {code}"
    )
    expect(row.locator("[data-connection]")).to_have_text("Chưa đăng ký")

    # The technician enrols the agent with the code: the real command, in its own process.
    output = {"output": "folder", "settings": {"path": str(folder)}}
    enrolled = agent_command(
        tmp_path,
        "enrol",
        "--server",
        live_server.url,
        "--code",
        code,
        "--output",
        json.dumps(output),
    )
    assert enrolled.returncode == 0, enrolled.stderr
    assert f"Đã đăng ký máy trạm cho đài {on_air.station_code}" in enrolled.stdout
    page.goto("/admin/agents")
    expect(page.locator("#new-code")).to_have_count(0)  # shown once
    expect(row.locator("[data-connection]")).to_have_text("Chưa kết nối")
    expect(row.locator("[data-mode-blocked]")).to_contain_text("Chờ máy trạm đồng bộ lần đầu")

    # The agent syncs. Its output folder does not exist yet: the page says so.
    agent = StationAgent(StateDir(tmp_path / "state"), clock=clock, runner_poll_s=0.1)
    first = sync(agent)
    assert first.plan_changed and agent.mode == "central"
    page.reload()
    health = row.locator(".agent-health")
    expect(health.locator("[data-connection]")).to_have_text("Trực tuyến")
    expect(health).to_contain_text(f"đồng bộ lần cuối 08:00:00 {TODAY_VN}")
    expect(health.locator("[data-warning='output']")).to_contain_text(
        f"Bộ phát “folder” của máy trạm báo lỗi: Thư mục {folder} không tồn tại"
    )
    expect(health).to_contain_text("Đồng hồ lệch so với máy chủ: 0,0 giây")
    expect(health).to_contain_text("Tệp âm thanh còn thiếu: 0")

    # Three minutes without a sync: offline since its last one.
    clock.advance(minutes=3)
    page.reload()
    expect(health.locator("[data-connection]")).to_have_text(f"Ngoại tuyến từ {TODAY_VN} 08:00")

    # The technician creates the folder; the next sync brings the station back, healthy.
    folder.mkdir()
    sync(agent)
    page.reload()
    expect(health.locator("[data-connection]")).to_have_text("Trực tuyến")
    expect(health).to_contain_text(f"đồng bộ lần cuối 08:03:00 {TODAY_VN}")
    expect(health).to_contain_text("Bộ phát folder: hoạt động tốt")
    expect(health.locator("[data-warning='output']")).to_have_count(0)
    expect(health.locator("[data-warning='offline']")).to_have_count(0)
    expect(health.locator("[data-warning='clock']")).to_have_count(0)

    # The admin switches the station to its agent; the switch needs the tick.
    row.get_by_role("button", name="Chuyển sang máy trạm").click()
    expect(flash(page, "Hãy đánh dấu xác nhận trước khi chuyển.")).to_be_visible()
    row.get_by_label("Tôi hiểu: từ lúc chuyển, chỉ nơi được chọn phát lịch của đài này.").check()
    row.get_by_role("button", name="Chuyển sang máy trạm").click()
    expect(flash(page, "chuyển sang")).to_have_text(
        f"Đài “{on_air.station_name}” chuyển sang “Máy trạm tại đài phát”."
    )
    expect(row.locator(".badge").first).to_have_text("Máy trạm tại đài phát")
    sync(agent)
    assert agent.airs()

    # The operator's console says the agent airs the station, online.
    log_out(page)
    log_in(page, live_server.users["operator"])
    page.locator("nav.nav").get_by_role("link", name="Điều phối phát sóng").click()
    panel = page.locator("#may-tram")
    expect(panel).to_contain_text("Chế độ phát: Máy trạm tại đài phát")
    expect(panel).to_contain_text(f"Máy trạm “{AGENT_NAME}”:")
    expect(panel.locator("[data-connection]")).to_have_text("Trực tuyến")
    expect(panel.get_by_role("link", name="Quản lý máy trạm")).to_have_count(0)  # admins only

    # "Phát ngay" from the console.
    page.locator("summary", has_text="Phát ngay (khẩn cấp)").click()
    air_now = page.locator("details.po-airnow")
    air_now.get_by_label("Kịch bản đã duyệt").select_option(str(on_air.script_id))
    air_now.get_by_label("Ghi chú (lý do phát ngay)").fill(NOTE)
    air_now.get_by_label("Tôi hiểu: phát ngay sẽ ngắt bản tin đang phát").check()
    air_now.get_by_role("button", name="Phát ngay").click()
    expect(flash(page, "Đã gửi lệnh phát ngay")).to_contain_text(
        f"Đã gửi lệnh phát ngay “{on_air.script_title}” trên {on_air.station_name}."
    )
    item = rundown_items(page)
    expect(item).to_have_count(1)
    expect(item.locator(".po-badge")).to_have_text("chờ phát")

    # The agent takes it at its next sync (with its audio), airs it to its folder from its own
    # database, and uploads the row at the sync after.
    taken = sync(agent)
    assert taken.plan_changed and taken.downloaded == 1
    with agent.app.app_context():
        try:
            assert runner.run_once(clock, agent.host)["logged"] == 1
        finally:
            db.session.remove()
    aired = [f.name for f in folder.iterdir()]
    assert aired == [f"{on_air.station_code}_20261127_080300_{on_air.script_id}.wav"]
    assert sync(agent).uploaded == 1
    with live_server.app.app_context():
        kept = db.session.scalars(select(BroadcastLog)).one()
        assert kept.runner_host == agent.host and kept.received_at == clock.now()
        db.session.remove()

    # The console shows it aired, without a reload.
    page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
    expect(item.locator(".po-badge")).to_have_text("đã phát")
    expect(item).to_have_attribute("data-status", "aired")

    # The broadcast log shows the agent's row, named after the operator who asked for it,
    # and the station's chain verifies with it.
    filter_log(page, on_air)
    rows = log_rows(page)
    expect(rows).to_have_count(1)
    row_cells = cells(rows)[0]
    assert row_cells[0] == f"{TODAY_VN} 08:03:00"
    assert row_cells[3:] == [
        on_air.station_code,
        on_air.script_title,
        "đã phát",
        f"ghi chú: {NOTE}",
        f"{live_server.full_names['operator']}\nmáy trạm ghi, gửi lên {TODAY_VN} 08:03:00",
        "#1",
    ]
    page.get_by_role("button", name="Kiểm tra chuỗi").click()
    expect(page.locator(".po-verify")).to_contain_text("Kiểm tra tính toàn vẹn: OK.")
