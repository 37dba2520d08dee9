"""The admin's agents page: admins of the station's subtree only, the one-time code shown once
on a page no cache keeps, revoke and mode switch through CSRF-protected forms."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import func, select

from app.agents import service
from app.agents.models import Agent, AgentStatus, EnrolmentCode
from app.auth.models import Role
from app.extensions import db
from app.org.models import PlayoutMode
from tests.agents.conftest import enrol
from tests.agents.test_health import HEALTH, report
from tests.auth.test_csrf import _token
from tests.conftest import build_test_app, login
from tests.factories import PASSWORD, make_station, make_unit, make_user


def agents_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Agent))


def shown_code(page: str) -> str:
    return page.split('id="new-code">')[1].split("<")[0]


@pytest.fixture
def lagi_admin(org):
    """An admin of the other district."""
    return make_user(org.other_district, Role.ADMIN, "admin-lagi")


def test_adding_an_agent_shows_its_code_once_on_an_unstored_page(desk, login_as, client):
    admin = login_as("admin")
    response = admin.post(
        "/admin/agents", data={"station_id": desk.commune.id, "name": "Máy phòng truyền thanh"}
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    code = shown_code(page)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code)
    assert "08:00 ngày 28/11/2026" in page
    row = db.session.scalars(select(EnrolmentCode)).one()
    assert row.code_hash == hashlib.sha256(code.replace("-", "").encode()).hexdigest()
    again = admin.get("/admin/agents")
    assert again.headers["Cache-Control"] == "no-store"
    listing = again.get_data(as_text=True)
    assert code not in listing and "Máy phòng truyền thanh" in listing
    assert "chưa đăng ký" in listing
    # The code shown is the one that enrols.
    assert enrol(client, code).status_code == 201
    assert "chưa kết nối" in admin.get("/admin/agents").get_data(as_text=True)


def test_the_page_lists_only_the_admins_stations(desk, lagi_admin, app):
    service.add_agent(None, desk.commune, "Máy Phú Thủy")
    service.add_agent(None, desk.foreign, "Máy La Gi")
    page = login(app.test_client(), "admin-lagi").get("/admin/agents").get_data(as_text=True)
    assert "Máy La Gi" in page and "LG-RADIO" in page
    assert "Máy Phú Thủy" not in page and "PT-PHUTHUY" not in page


def test_an_admin_cannot_add_revoke_or_switch_outside_their_units(desk, lagi_admin, app):
    new = service.add_agent(None, desk.commune)
    client = login(app.test_client(), "admin-lagi")
    refused = client.post("/admin/agents", data={"station_id": desk.commune.id, "name": "x"})
    assert refused.status_code == 422
    assert agents_count() == 1
    assert client.post(f"/admin/agents/{new.agent.id}/revoke").status_code == 404
    switched = client.post(
        f"/admin/stations/{desk.commune.id}/playout-mode", data={"mode": "agent", "confirm": "y"}
    )
    assert switched.status_code == 404
    db.session.expire_all()
    assert db.session.get(Agent, new.agent.id).status == AgentStatus.ACTIVE


@pytest.mark.parametrize("role", ["writer", "operator", "supervisor", "outsider"])
def test_only_admins_reach_the_page(desk, login_as, role):
    new = service.add_agent(None, desk.commune)
    client = login_as(role)
    assert client.get("/admin/agents").status_code == 403
    assert client.post("/admin/agents", data={"station_id": desk.commune.id}).status_code == 403
    assert client.post(f"/admin/agents/{new.agent.id}/revoke").status_code == 403
    url = f"/admin/stations/{desk.commune.id}/playout-mode"
    assert client.post(url, data={"mode": "agent", "confirm": "y"}).status_code == 403
    db.session.expire_all()
    assert agents_count() == 1 and db.session.get(Agent, new.agent.id).is_active


def test_signed_out_visitors_are_sent_to_login(desk, client):
    response = client.get("/admin/agents")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_second_active_agent_is_refused_on_the_page(desk, login_as):
    service.add_agent(None, desk.commune, "Máy cũ")
    response = login_as("admin").post("/admin/agents", data={"station_id": desk.commune.id})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "thu hồi máy cũ trước khi thêm máy mới" in page and 'id="new-code"' not in page
    assert agents_count() == 1


def test_revoking_on_the_page_stops_the_agent(desk, login_as, enrolled):
    agent = enrolled(desk.commune, "Máy cũ")
    admin = login_as("admin")
    response = admin.post(f"/admin/agents/{agent.agent.id}/revoke", follow_redirects=True)
    assert "Đã thu hồi máy trạm “Máy cũ”" in response.get_data(as_text=True)
    assert agent.get("/api/v1/agent/plan").status_code == 403
    again = admin.post(f"/admin/agents/{agent.agent.id}/revoke", follow_redirects=True)
    assert "đã bị thu hồi rồi" in again.get_data(as_text=True)


def test_switching_mode_needs_the_tick_and_a_synced_agent(desk, login_as, enrolled):
    admin = login_as("admin")
    url = f"/admin/stations/{desk.commune.id}/playout-mode"
    agent = enrolled(desk.commune)
    refused = admin.post(url, data={"mode": "agent"}, follow_redirects=True)
    assert "Hãy đánh dấu xác nhận" in refused.get_data(as_text=True)
    not_synced = admin.post(url, data={"mode": "agent", "confirm": "y"}, follow_redirects=True)
    assert "chưa tải lịch phát lần nào" in not_synced.get_data(as_text=True)
    db.session.expire_all()
    assert desk.commune.playout_mode == PlayoutMode.CENTRAL
    agent.get("/api/v1/agent/plan")
    done = admin.post(url, data={"mode": "agent", "confirm": "y"}, follow_redirects=True)
    assert "chuyển sang “Máy trạm tại đài phát”" in done.get_data(as_text=True)
    db.session.expire_all()
    assert desk.commune.playout_mode == PlayoutMode.AGENT
    bad = admin.post(url, data={"mode": "both", "confirm": "y"}, follow_redirects=True)
    assert bad.status_code == 200
    db.session.expire_all()
    assert desk.commune.playout_mode == PlayoutMode.AGENT


def test_the_page_warns_when_an_agent_station_has_no_agent(desk, login_as, enrolled):
    agent = enrolled(desk.commune)
    agent.get("/api/v1/agent/plan")
    service.set_playout_mode(None, desk.commune, "agent")
    admin = login_as("admin")
    assert "không được phát ở đâu cả" not in admin.get("/admin/agents").get_data(as_text=True)
    service.revoke_agent(None, agent.agent)
    assert "không được phát ở đâu cả" in admin.get("/admin/agents").get_data(as_text=True)


@pytest.fixture
def csrf_app(tmp_path, clock):
    """An app with CSRF checks on, as in production."""
    app = build_test_app(tmp_path, clock, WTF_CSRF_ENABLED=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_every_form_needs_its_csrf_token(csrf_app):
    unit = make_unit("D", "Phan Thiết")
    station = make_station(unit, "PT-CITY")
    make_user(unit, Role.ADMIN, username="admin")
    client = csrf_app.test_client()
    token = _token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": token})
    new = service.add_agent(None, station)
    forged = {"csrf_token": "forged"}
    assert (
        client.post("/admin/agents", data={"station_id": station.id, **forged}).status_code == 400
    )
    assert client.post(f"/admin/agents/{new.agent.id}/revoke", data=forged).status_code == 400
    url = f"/admin/stations/{station.id}/playout-mode"
    assert client.post(url, data={"mode": "central", "confirm": "y"}).status_code == 400
    db.session.expire_all()
    assert agents_count() == 1 and db.session.get(Agent, new.agent.id).is_active
    page = client.get("/admin/agents").get_data(as_text=True)
    token = _token(page)
    revoked = client.post(f"/admin/agents/{new.agent.id}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 302
    db.session.expire_all()
    assert not db.session.get(Agent, new.agent.id).is_active


def station_row(page: str, station_id: int) -> str:
    """The HTML of a station's row on the agents page."""
    return page.split(f'<tr id="dai-{station_id}">')[1].split("</tr>")[0]


def test_the_new_code_comes_with_the_command_the_technician_types(desk, login_as):
    page = (
        login_as("admin")
        .post("/admin/agents", data={"station_id": desk.commune.id, "name": "Máy xã"})
        .get_data(as_text=True)
    )
    code = shown_code(page)
    assert (
        f'<pre class="agent-command" id="new-command">python -m app.station_agent enrol '
        f"--server http://localhost --code {code}</pre>"
    ) in page


def test_the_switch_to_agent_is_offered_only_once_the_agent_has_synced(
    desk, login_as, enrolled, client
):
    admin = login_as("admin")

    def row() -> str:
        return station_row(admin.get("/admin/agents").get_data(as_text=True), desk.commune.id)

    assert "Thêm máy trạm và đăng ký nó trước khi chuyển" in row()
    assert 'value="agent"' not in row()
    new = service.add_agent(None, desk.commune, "Máy xã")
    assert "Chờ máy trạm đăng ký bằng mã rồi đồng bộ lần đầu" in row()
    assert 'data-connection="not-enrolled">Chưa đăng ký</span>' in row()
    credential = enrol(client, new.code).get_json()["credential"]
    assert "Chờ máy trạm đồng bộ lần đầu (tải lịch phát)" in row()
    assert 'data-connection="never">Chưa kết nối</span>' in row()
    client.get("/api/v1/agent/plan", headers={"Authorization": f"Bearer {credential}"})
    synced = row()
    assert "data-mode-blocked" not in synced
    assert '<input type="hidden" name="mode" value="agent">' in synced
    assert 'data-connection="online">Trực tuyến</span>' in synced
    # An agent-run station can always be switched back.
    service.set_playout_mode(None, desk.commune, "agent")
    assert '<input type="hidden" name="mode" value="central">' in row()


@pytest.mark.parametrize("agent_time", ["01:00:00.020000", "00:59:59.980000"])
def test_a_clock_offset_that_rounds_to_zero_has_no_sign(desk, login_as, enrolled, agent_time):
    agent = enrolled(desk.commune, "Máy xã")
    agent.post(HEALTH, json=report(agent_time=f"2026-11-27T{agent_time}+00:00"))
    page = login_as("admin").get("/admin/agents").get_data(as_text=True)
    assert "Đồng hồ lệch so với máy chủ: 0,0 giây" in page
