"""A station's playout mode: central or agent, never both; switched only explicitly, to agent
only once its agent has enrolled and synced; revoking leaves the mode alone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.agents import service
from app.audit.models import AuditEvent
from app.auth.models import Role
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.extensions import db
from app.org.models import PlayoutMode
from tests.agents.conftest import enrol
from tests.factories import make_user


def sync(caller) -> None:
    assert caller.get("/api/v1/agent/plan").status_code == 200


def test_stations_start_aired_centrally(desk):
    assert desk.commune.playout_mode == PlayoutMode.CENTRAL
    assert desk.commune.playout_mode_changed_at is None


def test_switching_to_agent_needs_an_enrolled_agent_that_has_synced(desk, client, clock):
    with pytest.raises(ValidationError, match="chưa có máy trạm đã đăng ký"):
        service.set_playout_mode(None, desk.commune, "agent")
    new = service.add_agent(None, desk.commune, "Máy xã")
    with pytest.raises(ValidationError, match="chưa có máy trạm đã đăng ký"):
        service.set_playout_mode(None, desk.commune, "agent")
    credential = enrol(client, new.code).get_json()["credential"]
    with pytest.raises(ValidationError, match="chưa tải lịch phát lần nào"):
        service.set_playout_mode(None, desk.commune, "agent")
    db.session.rollback()
    client.get("/api/v1/agent/plan", headers={"Authorization": f"Bearer {credential}"})
    clock.advance(minutes=1)
    station = service.set_playout_mode(None, desk.commune, "agent")
    assert station.playout_mode == PlayoutMode.AGENT
    assert station.playout_mode_changed_at == clock.now()
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "station.playout_mode")
    ).one()
    assert event.details == {
        "from": "central",
        "to": "agent",
        "agent": new.agent.id,
        "awaiting_agent": False,
    }
    assert event.unit_id == desk.commune.unit_id


def test_switching_back_to_central_always_works_and_is_audited(desk, enrolled):
    sync(enrolled(desk.commune))
    service.set_playout_mode(None, desk.commune, "agent")
    service.set_playout_mode(None, desk.commune, PlayoutMode.CENTRAL)
    assert desk.commune.playout_mode == PlayoutMode.CENTRAL
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.action == "station.playout_mode")
    ).all()
    assert len(actions) == 2


def test_switching_to_the_current_mode_or_an_unknown_one_is_refused(desk):
    with pytest.raises(Conflict, match="đã ở chế độ"):
        service.set_playout_mode(None, desk.commune, "central")
    with pytest.raises(ValidationError, match="central"):
        service.set_playout_mode(None, desk.commune, "both")


def test_revoking_the_agent_keeps_the_mode(desk, enrolled):
    agent = enrolled(desk.commune)
    sync(agent)
    service.set_playout_mode(None, desk.commune, "agent")
    service.revoke_agent(None, agent.agent)
    db.session.expire_all()
    assert desk.commune.playout_mode == PlayoutMode.AGENT
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "agent.revoke")).one()
    assert event.details == {"station": "PT-PHUTHUY", "playout_mode": "agent", "taken_back": False}
    with pytest.raises(Conflict, match="đã bị thu hồi rồi"):
        service.revoke_agent(None, agent.agent)


def test_only_admins_of_the_stations_subtree_switch_or_manage(desk, users, org):
    with pytest.raises(PermissionDenied):
        service.set_playout_mode(users["operator"], desk.commune, "agent")
    with pytest.raises(PermissionDenied):
        service.add_agent(users["supervisor"], desk.commune)
    lagi_admin = make_user(org.other_district, Role.ADMIN, "admin-lagi")
    with pytest.raises(NotFound):
        service.add_agent(lagi_admin, desk.commune)
    new = service.add_agent(users["admin"], desk.commune)
    with pytest.raises(NotFound):
        service.revoke_agent(lagi_admin, new.agent)
    with pytest.raises(NotFound):
        service.get_agent(lagi_admin, new.agent.id)
