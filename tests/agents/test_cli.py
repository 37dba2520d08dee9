"""`flask agents add|list|revoke|mode`."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.agents.models import Agent, AgentStatus
from app.audit.models import AuditEvent
from app.extensions import db
from app.org.models import PlayoutMode
from tests.agents.conftest import enrol


def test_add_prints_a_code_that_enrols(desk, runner, client):
    result = runner.invoke(args=["agents", "add", "pt-phuthuy", "--name", "Máy xã"])
    assert result.exit_code == 0, result.output
    code = re.search(r"\b([0-9A-Z]{4}(?:-[0-9A-Z]{4}){3})\b", result.output).group(1)
    assert "valid until 2026-11-28 08:00" in result.output
    agent = db.session.scalars(select(Agent)).one()
    assert (agent.name, agent.station.code, agent.created_by_id) == ("Máy xã", "PT-PHUTHUY", None)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "agent.create")).one()
    assert event.actor_name == "hệ thống"
    assert enrol(client, code).status_code == 201


def test_add_refuses_unknown_stations_and_a_second_active_agent(desk, runner):
    unknown = runner.invoke(args=["agents", "add", "KHONG-CO"])
    assert unknown.exit_code == 1 and "No station with code" in unknown.output
    assert runner.invoke(args=["agents", "add", "PT-CITY"]).exit_code == 0
    second = runner.invoke(args=["agents", "add", "PT-CITY"])
    assert second.exit_code == 1 and "thu hồi máy cũ" in second.output
    assert len(db.session.scalars(select(Agent)).all()) == 1


def test_list_shows_every_agent_with_its_station_and_mode(desk, runner, enrolled):
    assert runner.invoke(args=["agents", "list"]).output.strip() == "No agents."
    enrolled(desk.commune, "Máy xã")
    runner.invoke(args=["agents", "add", "PT-CITY", "--name", "Máy thành phố"])
    lines = runner.invoke(args=["agents", "list"]).output.strip().splitlines()
    assert lines[0] == "id\tstation\tmode\tstatus\tname\tenrolled\tlast seen\tchain"
    assert lines[1].split("\t")[1:] == [
        "PT-CITY",
        "central",
        "active",
        "Máy thành phố",
        "-",
        "-",
        "ok",
    ]
    assert lines[2].split("\t")[1:6] == [
        "PT-PHUTHUY",
        "central",
        "active",
        "Máy xã",
        "2026-11-27 08:00",
    ]
    only = runner.invoke(args=["agents", "list", "--station", "pt-city"]).output
    assert "Máy thành phố" in only and "Máy xã" not in only


def test_revoke_stops_the_agent_and_warns_about_an_agent_station(desk, runner, enrolled):
    agent = enrolled(desk.commune)
    agent.get("/api/v1/agent/plan")
    assert runner.invoke(args=["agents", "mode", "PT-PHUTHUY", "agent"]).exit_code == 0
    result = runner.invoke(args=["agents", "revoke", str(agent.agent.id)])
    assert result.exit_code == 0
    assert f"Revoked agent {agent.agent.id}" in result.output
    assert "still in agent mode" in result.output
    db.session.expire_all()
    assert db.session.get(Agent, agent.agent.id).status == AgentStatus.REVOKED
    assert agent.get("/api/v1/agent/plan").status_code == 403
    again = runner.invoke(args=["agents", "revoke", str(agent.agent.id)])
    assert again.exit_code == 1 and "đã bị thu hồi rồi" in again.output
    missing = runner.invoke(args=["agents", "revoke", "999"])
    assert missing.exit_code == 1 and "Không tìm thấy máy trạm" in missing.output


def test_mode_switches_explicitly_and_refuses_without_a_synced_agent(desk, runner, enrolled):
    refused = runner.invoke(args=["agents", "mode", "PT-CITY", "agent"])
    assert refused.exit_code == 1 and "chưa có máy trạm đã đăng ký" in refused.output
    bad = runner.invoke(args=["agents", "mode", "PT-CITY", "both"])
    assert bad.exit_code == 2
    agent = enrolled(desk.city)
    agent.get("/api/v1/agent/plan")
    switched = runner.invoke(args=["agents", "mode", "pt-city", "agent"])
    assert switched.exit_code == 0 and "PT-CITY is now aired by: agent." in switched.output
    db.session.expire_all()
    assert desk.city.playout_mode == PlayoutMode.AGENT
    back = runner.invoke(args=["agents", "mode", "PT-CITY", "central"])
    assert back.exit_code == 0
