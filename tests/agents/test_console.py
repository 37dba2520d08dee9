"""Who airs a station and how its agent is, where operators and admins look: the console (and
its live refresh) and the station's admin page, linked to the agents page."""

from __future__ import annotations

from app.agents import service
from tests.agents.test_health import HEALTH, report


def console(client, code: str) -> str:
    return client.get(f"/playout/?station={code}").get_data(as_text=True)


def test_the_console_says_an_agent_airs_the_station_and_whether_it_is_online(
    desk, enrolled, login_as, clock
):
    agent = enrolled(desk.commune, "Máy xã")
    agent.get("/api/v1/agent/plan")
    agent.post(HEALTH, json=report())
    service.set_playout_mode(None, desk.commune, "agent")

    page = console(login_as("operator"), desk.commune.code)

    assert 'id="may-tram" data-mode="agent"' in page
    assert "Chế độ phát: Máy trạm tại đài phát" in page
    assert "Máy trạm “Máy xã”:" in page
    assert 'data-connection="online">Trực tuyến</span>' in page
    assert "đồng bộ lần cuối 08:00:00 27/11/2026" in page
    assert "Quản lý máy trạm" not in page  # the agents page is for admins

    clock.advance(hours=2)
    later = console(login_as("operator"), desk.commune.code)
    assert 'data-connection="offline">Ngoại tuyến từ 27/11/2026 08:00</span>' in later
    assert "lệnh “Phát ngay” và lịch mới chỉ tới đài khi máy trạm kết nối lại" in later
    assert "Máy trạm mất kết nối từ 08:00 ngày 27/11/2026 (đã 2 giờ)." in later
    # The live refresh carries the same panel.
    fragment = login_as("operator").get(
        f"/playout/stations/{desk.commune.code}/rundown?date=2026-11-27"
    )
    assert fragment.status_code == 200
    assert "Ngoại tuyến từ 27/11/2026 08:00" in fragment.get_data(as_text=True)


def test_admins_reach_the_agents_page_from_the_console_and_the_station(desk, enrolled, login_as):
    enrolled(desk.commune, "Máy xã")
    admin = login_as("admin")
    anchor = f'href="/admin/agents#dai-{desk.commune.id}"'

    page = console(admin, desk.commune.code)
    assert "Máy trạm chưa được giao phát: máy chủ trung tâm vẫn phát đài này." in page
    assert f"{anchor}>Quản lý máy trạm</a>" in page
    station = admin.get(f"/admin/stations/{desk.commune.id}").get_data(as_text=True)
    assert f"{anchor}>Máy trạm và chế độ phát của đài</a>" in station
    listing = admin.get("/admin/stations").get_data(as_text=True)
    assert f"{anchor}>Máy chủ trung tâm phát</a>" in listing


def test_a_centrally_aired_station_without_agent_shows_no_agent_panel(desk, login_as):
    assert 'id="may-tram"' not in console(login_as("operator"), desk.commune.code)


def test_an_agent_station_without_an_agent_warns_the_operator(desk, enrolled, login_as):
    agent = enrolled(desk.commune, "Máy xã")
    agent.get("/api/v1/agent/plan")
    service.set_playout_mode(None, desk.commune, "agent")
    service.revoke_agent(None, agent.agent)

    page = console(login_as("operator"), desk.commune.code)

    assert "lịch của đài này không được phát ở đâu cả" in page


def test_a_station_switched_back_shows_that_it_waits_for_its_agent(desk, enrolled, login_as):
    agent = enrolled(desk.commune, "Máy xã")
    agent.get("/api/v1/agent/plan")
    service.set_playout_mode(None, desk.commune, "agent")
    service.set_playout_mode(None, desk.commune, "central")

    page = console(login_as("operator"), desk.commune.code)
    agents_page = login_as("admin").get("/admin/agents").get_data(as_text=True)

    assert "đang chờ máy trạm dừng phát và gửi hết nhật ký (từ 27/11/2026 08:00)" in page
    assert "Đang chờ máy trạm bàn giao (từ 27/11/2026 08:00)" in agents_page
    service.revoke_agent(None, agent.agent)  # taken back at once
    assert "data-handover" not in console(login_as("operator"), desk.commune.code)


def test_skip_and_live_read_are_not_offered_where_the_server_may_not_write(
    desk, enrolled, login_as
):
    """The agent keeps the station's log while it airs it, and until it hands it back."""

    def offers(client) -> tuple[bool, bool]:
        fragment = client.get(f"/playout/stations/{desk.commune.code}/rundown?date=2026-11-28")
        return (
            "Lý do bỏ qua" in fragment.get_data(as_text=True),
            "Ghi lượt đọc trực tiếp" in console(client, desk.commune.code),
        )

    agent = enrolled(desk.commune, "Máy xã")
    agent.get("/api/v1/agent/plan")
    assert offers(login_as("operator")) == (True, True)
    service.set_playout_mode(None, desk.commune, "agent")
    assert offers(login_as("operator")) == (False, False)
    service.set_playout_mode(None, desk.commune, "central")  # waits for the agent
    assert offers(login_as("operator")) == (False, False)
    agent.post("/api/v1/agent/release", json={"head_seq": 0})
    assert offers(login_as("operator")) == (True, True)


def test_the_log_page_says_which_rows_an_agent_wrote_and_when_they_arrived(
    desk, enrolled, login_as, clock
):
    from tests.agents.conftest import agent_chain, station_airings

    agent = enrolled(desk.commune, "Máy xã")
    rows = agent_chain(desk.commune, station_airings(desk.commune)[:1])
    clock.advance(minutes=5)
    assert agent.post("/api/v1/agent/log", json={"rows": rows}).status_code == 200

    page = login_as("supervisor").get("/playout/log").get_data(as_text=True)

    assert "tự động (agent:PT-PHUTHUY:may-xa)" in page
    assert 'data-origin="agent">máy trạm ghi, gửi lên 27/11/2026 08:05:00</small>' in page
