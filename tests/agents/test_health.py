"""Station health: the agent's report kept with its clock offset, online or offline since when,
the warnings (offline, plan running short, clock, disk, output, audio, chain), on the agents page
and in the station's JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.agents import health, service
from app.agents.models import Agent, AgentHealth
from app.auth.models import Role
from app.auth.service import create_token
from app.extensions import db
from app.org.models import PlayoutMode
from tests.agents.conftest import agent_chain, station_airings
from tests.api.conftest import assert_error
from tests.auth.test_csrf import _token
from tests.conftest import build_test_app, login
from tests.factories import PASSWORD, make_station, make_unit, make_user

HEALTH = "/api/v1/agent/health"
GB = 10**9


def report(**changes) -> dict:
    """A healthy agent's report at the test clock's now (08:00 on 27/11), plan through 4/12."""
    body = {
        "agent_version": "0.1.0",
        "plan_until": "2026-12-04T10:15:00+00:00",
        "audio_missing": 0,
        "output": {"name": "local", "ok": True, "message": ""},
        "disk_free_bytes": 20 * GB,
        "disk_total_bytes": 32 * GB,
        "agent_time": "2026-11-27T01:00:00.400000+00:00",
    }
    body.update(changes)
    return body


def state_at(station, now) -> dict:
    db.session.expire_all()
    return health.station_states([station], now)[station.id]


def codes(state) -> set[str]:
    return {w["code"] for w in state["warnings"]}


@pytest.fixture
def agent(desk, enrolled):
    """The commune's agent, synced once."""
    caller = enrolled(desk.commune, "Máy xã")
    caller.get("/api/v1/agent/plan")
    return caller


def test_a_report_is_kept_with_the_agents_clock_offset(desk, agent, clock):
    response = agent.post(HEALTH, json=report())
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "received_at": "2026-11-27T01:00:00+00:00",
        "clock_offset_s": 0.4,
    }
    kept = db.session.get(AgentHealth, agent.agent.id)
    assert (kept.agent_version, kept.audio_missing, kept.output_name) == ("0.1.0", 0, "local")
    assert kept.plan_until == datetime(2026, 12, 4, 10, 15, tzinfo=UTC)
    assert (kept.disk_free_bytes, kept.disk_total_bytes) == (20 * GB, 32 * GB)
    assert kept.reported_at == clock.now()
    # The next report replaces it; the clock behind is negative.
    clock.advance(seconds=30)
    agent.post(HEALTH, json=report(agent_time="2026-11-27T01:00:18+00:00", audio_missing=2))
    db.session.expire_all()
    kept = db.session.scalars(select(AgentHealth)).one()
    assert (kept.clock_offset_s, kept.audio_missing) == (-12.0, 2)


@pytest.mark.parametrize(
    ("changes", "status", "code", "field"),
    [
        ({"agent_time": None}, 422, "validation_failed", "agent_time"),
        ({"agent_time": "2026-11-27 08:00"}, 422, "validation_failed", "agent_time"),
        ({"plan_until": "ngày mai"}, 422, "validation_failed", "plan_until"),
        ({"audio_missing": -1}, 422, "validation_failed", "audio_missing"),
        ({"disk_free_bytes": "20GB"}, 422, "validation_failed", "disk_free_bytes"),
        (
            {"output": {"name": "local", "ok": "yes", "message": ""}},
            422,
            "validation_failed",
            "output.ok",
        ),
        ({"battery": 90}, 400, "unknown_fields", "battery"),
    ],
)
def test_bad_reports_are_refused_and_keep_nothing(desk, agent, changes, status, code, field):
    assert_error(agent.post(HEALTH, json=report(**changes)), status, code, field)
    assert db.session.scalars(select(AgentHealth)).first() is None


def test_a_clock_far_off_is_still_reported(desk, agent):
    """A PC without a clock battery starts in 1970: exactly what the offset must show."""
    body = agent.post(HEALTH, json=report(agent_time="1970-01-01T00:00:00+00:00")).get_json()
    assert body["clock_offset_s"] < -1.7e9
    state = state_at(desk.commune, datetime(2026, 11, 27, 1, 0, tzinfo=UTC))
    assert "clock" in codes(state)


def test_a_healthy_agent_is_online_without_warnings(desk, agent, clock):
    agent.post(HEALTH, json=report())
    state = state_at(desk.commune, clock.now() + timedelta(seconds=90))
    assert state["online"] is True and state["offline_since"] is None
    assert state["warnings"] == []


def test_an_agent_offline_over_an_hour_is_warned_about(desk, agent, clock):
    seen = db.session.get(Agent, agent.agent.id).last_seen_at
    later = state_at(desk.commune, clock.now() + timedelta(minutes=3))
    assert later["online"] is False and later["offline_since"] == seen
    assert "offline" not in codes(later)
    gone = state_at(desk.commune, clock.now() + timedelta(hours=1, minutes=5))
    warning = next(w for w in gone["warnings"] if w["code"] == "offline")
    assert warning["message"] == "Máy trạm mất kết nối từ 08:00 ngày 27/11/2026 (đã 1 giờ 5 phút)."


def test_less_than_two_days_of_plan_is_warned_about_while_the_server_has_more(desk, agent, clock):
    # The server plans through 4/12 (17:15, sequenced 17:00 local); the agent holds only
    # through tomorrow.
    agent.post(HEALTH, json=report(plan_until="2026-11-28T10:15:00+00:00"))
    state = state_at(desk.commune, clock.now())
    warning = next(w for w in state["warnings"] if w["code"] == "plan_short")
    assert "chỉ còn lịch phát đến 17:15 ngày 28/11/2026 (dưới hai ngày)" in warning["message"]
    assert "máy chủ có lịch đến 17:00 ngày 04/12/2026" in warning["message"]
    # Holding everything the server has is no problem, however soon it ends.
    agent.post(HEALTH, json=report(plan_until="2026-12-04T10:15:00+00:00"))
    assert "plan_short" not in codes(state_at(desk.commune, datetime(2026, 12, 3, tzinfo=UTC)))
    agent.post(HEALTH, json=report(plan_until=None))
    assert "không còn lịch phát nào" in next(
        w["message"] for w in state_at(desk.commune, clock.now())["warnings"]
    )


@pytest.mark.parametrize(
    ("changes", "code", "message"),
    [
        (
            {"agent_time": "2026-11-27T01:00:06+00:00"},
            "clock",
            "Đồng hồ máy trạm nhanh 6 giây so với máy chủ",
        ),
        (
            {"agent_time": "2026-11-27T00:59:50+00:00"},
            "clock",
            "Đồng hồ máy trạm chậm 10 giây",
        ),
        (
            {"disk_free_bytes": 400 * 10**6, "disk_total_bytes": 2 * GB},
            "disk",
            "Ổ đĩa máy trạm sắp đầy: còn trống 400 MB trên 2,0 GB.",
        ),
        (
            {"disk_free_bytes": 3 * GB, "disk_total_bytes": 64 * GB},
            "disk",
            "còn trống 3,0 GB trên 64,0 GB",
        ),
        (
            {"output": {"name": "local", "ok": False, "message": "không thấy card âm thanh"}},
            "output",
            "Bộ phát “local” của máy trạm báo lỗi: không thấy card âm thanh.",
        ),
        (
            {"output": {"name": "folder", "ok": False, "message": "Thư mục /srv/x không tồn tại."}},
            "output",
            "Bộ phát “folder” của máy trạm báo lỗi: Thư mục /srv/x không tồn tại.",
        ),
        ({"audio_missing": 3}, "audio_missing", "còn thiếu 3 tệp âm thanh"),
    ],
)
def test_each_problem_the_report_shows_is_warned_about(desk, agent, clock, changes, code, message):
    agent.post(HEALTH, json=report(**changes))
    state = state_at(desk.commune, clock.now())
    assert codes(state) == {code}
    assert message in state["warnings"][0]["message"]
    assert ".." not in state["warnings"][0]["message"]


def test_a_clock_within_five_seconds_and_a_disk_with_room_are_fine(desk, agent, clock):
    agent.post(
        HEALTH,
        json=report(
            agent_time="2026-11-27T01:00:04.900000+00:00",
            disk_free_bytes=600 * 10**6,
            disk_total_bytes=5 * GB,
        ),
    )
    assert state_at(desk.commune, clock.now())["warnings"] == []


def test_a_flagged_chain_is_warned_about(desk, agent, clock):
    rows = agent_chain(desk.commune, station_airings(desk.commune)[:2])
    rows[1] = {**rows[1], "row_hash": "f" * 64}
    assert agent.post("/api/v1/agent/log", json={"rows": rows}).status_code == 409
    state = state_at(desk.commune, clock.now())
    assert codes(state) == {"chain_flagged"}
    assert state["warnings"][0]["message"].startswith(
        "Chuỗi nhật ký bị đánh dấu đứt lúc 08:00 ngày 27/11/2026 (dòng #2: mã băm không khớp"
    )


# --- The station's JSON ------------------------------------------------------------------------


def station_api(client, user, code="PT-PHUTHUY"):
    _, token = create_token(user, "thử")
    return client.get(f"/api/v1/stations/{code}", headers={"Authorization": f"Bearer {token}"})


def test_the_station_json_shows_who_airs_it_and_its_agents_state(desk, agent, users, client):
    agent.post(HEALTH, json=report(disk_free_bytes=100 * 10**6))
    service.set_playout_mode(None, desk.commune, PlayoutMode.AGENT)
    body = station_api(client, users["writer"]).get_json()
    assert body["playout_mode"] == "agent"
    state = body["agent"]
    assert state == {
        "id": agent.agent.id,
        "name": "Máy xã",
        "enrolled_at": "2026-11-27T08:00:00+07:00",
        "last_seen_at": "2026-11-27T08:00:00+07:00",
        "online": True,
        "offline_since": None,
        "reported_at": "2026-11-27T08:00:00+07:00",
        "version": "0.1.0",
        "plan_until": "2026-12-04T17:15:00+07:00",
        "server_plan_until": "2026-12-04T17:00:00+07:00",
        "audio_missing": 0,
        "output": {"name": "local", "ok": True, "message": ""},
        "disk_free_bytes": 100 * 10**6,
        "disk_total_bytes": 32 * GB,
        "clock_offset_s": 0.4,
        "chain_flag": None,
        "warnings": [
            {"code": "disk", "message": "Ổ đĩa máy trạm sắp đầy: còn trống 100 MB trên 32,0 GB."}
        ],
    }
    city = station_api(client, users["writer"], "PT-CITY").get_json()
    assert (city["playout_mode"], city["agent"]) == ("central", None)
    listed = client.get(
        "/api/v1/stations",
        headers={"Authorization": f"Bearer {create_token(users['operator'], 'x')[1]}"},
    ).get_json()["items"]
    by_code = {s["code"]: s for s in listed}
    assert by_code["PT-PHUTHUY"]["agent"]["warnings"][0]["code"] == "disk"
    assert by_code["PT-CITY"]["agent"] is None


def test_the_agents_state_is_only_for_users_of_the_stations_units(desk, agent, users, client):
    assert_error(station_api(client, users["outsider"]), 404, "not_found")


# --- The agents page ---------------------------------------------------------------------------


def test_the_page_shows_each_stations_agent_health_in_vietnamese(desk, agent, login_as, clock):
    agent.post(
        HEALTH,
        json=report(
            output={"name": "local", "ok": False, "message": "không thấy card âm thanh"},
            agent_time="2026-11-27T01:00:07+00:00",
        ),
    )
    page = login_as("admin").get("/admin/agents").get_data(as_text=True)
    assert "Trực tuyến" in page
    assert "Phiên bản máy trạm: <code>0.1.0</code>" in page
    assert "Lịch phát trên máy trạm đến: 04/12/2026 17:15" in page
    assert "Tệp âm thanh còn thiếu: 0" in page
    assert "lỗi: không thấy card âm thanh" in page
    assert "Ổ đĩa còn trống: 20,0 GB / 32,0 GB" in page
    assert "Đồng hồ lệch so với máy chủ: +7,0 giây" in page
    assert "Đồng hồ máy trạm nhanh 7 giây so với máy chủ" in page
    assert 'data-warning="output"' in page
    # Two hours later, without a call: offline since its last call, warned.
    clock.advance(hours=2)
    later = login_as("admin").get("/admin/agents").get_data(as_text=True)
    assert "Ngoại tuyến từ 27/11/2026 08:00" in later
    assert "Máy trạm mất kết nối từ 08:00 ngày 27/11/2026 (đã 2 giờ)." in later


def test_the_page_shows_a_flag_and_clears_it(desk, agent, login_as):
    rows = agent_chain(desk.commune, station_airings(desk.commune)[:2])
    agent.post("/api/v1/agent/log", json={"rows": [rows[1]]})
    admin = login_as("admin")
    page = admin.get("/admin/agents").get_data(as_text=True)
    assert "Chuỗi nhật ký bị đánh dấu đứt lúc 08:00 ngày 27/11/2026 (dòng #2: thiếu dòng #1" in page
    assert "Gỡ đánh dấu chuỗi nhật ký đứt" in page
    done = admin.post(f"/admin/agents/{agent.agent.id}/clear-flag", follow_redirects=True)
    text = done.get_data(as_text=True)
    assert "Đã gỡ đánh dấu chuỗi nhật ký đứt của máy trạm “Máy xã”" in text
    assert "Gỡ đánh dấu chuỗi nhật ký đứt</button>" not in text
    db.session.expire_all()
    assert not db.session.get(Agent, agent.agent.id).chain_flagged
    assert agent.post("/api/v1/agent/log", json={"rows": rows}).get_json()["accepted"] == 2
    again = admin.post(f"/admin/agents/{agent.agent.id}/clear-flag", follow_redirects=True)
    assert "không bị đánh dấu" in again.get_data(as_text=True)


@pytest.mark.parametrize("role", ["writer", "operator", "supervisor", "outsider"])
def test_only_admins_clear_a_flag(desk, agent, login_as, role):
    rows = agent_chain(desk.commune, station_airings(desk.commune)[:2])
    agent.post("/api/v1/agent/log", json={"rows": [rows[1]]})
    assert login_as(role).post(f"/admin/agents/{agent.agent.id}/clear-flag").status_code == 403
    db.session.expire_all()
    assert db.session.get(Agent, agent.agent.id).chain_flagged


def test_an_admin_of_another_district_cannot_clear_a_flag(desk, agent, org, app):
    make_user(org.other_district, Role.ADMIN, "admin-lagi")
    rows = agent_chain(desk.commune, station_airings(desk.commune)[:2])
    agent.post("/api/v1/agent/log", json={"rows": [rows[1]]})
    client = login(app.test_client(), "admin-lagi")
    assert client.post(f"/admin/agents/{agent.agent.id}/clear-flag").status_code == 404
    db.session.expire_all()
    assert db.session.get(Agent, agent.agent.id).chain_flagged


@pytest.fixture
def csrf_app(tmp_path, clock):
    """An app with CSRF checks on, as in production."""
    app = build_test_app(tmp_path, clock, WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_clearing_a_flag_needs_the_csrf_token(csrf_app):
    unit = make_unit("D", "Phan Thiết")
    station = make_station(unit, "PT-CITY")
    make_user(unit, Role.ADMIN, username="admin")
    new = service.add_agent(None, station)
    new.agent.chain_broken_at = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    new.agent.chain_broken_seq = 3
    new.agent.chain_broken_reason = "mã băm không khớp"
    db.session.commit()
    client = csrf_app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    url = f"/admin/agents/{new.agent.id}/clear-flag"
    assert client.post(url, data={"csrf_token": "forged"}).status_code == 400
    db.session.expire_all()
    assert db.session.get(Agent, new.agent.id).chain_flagged
    token = _token(client.get("/admin/agents").get_data(as_text=True))
    assert client.post(url, data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert not db.session.get(Agent, new.agent.id).chain_flagged
