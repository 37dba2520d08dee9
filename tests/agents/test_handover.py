"""Handing a station over between the central runner and its agent: while the central runner
ends what it claimed before a switch to agent, the plan says so and the agent waits; a switch
back to central waits for the agent to stop and send its last rows (POST /agent/release), or for
it to be revoked; every bad release is refused with nothing changed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.agents import service
from app.audit.models import AuditEvent
from app.broadcast.models import BroadcastLog, LogStatus
from app.core.errors import Conflict
from app.extensions import db
from app.playout import manual, runner
from app.schedules.models import AiringStatus
from tests.agents.conftest import agent_chain, station_airings
from tests.api.conftest import assert_error

RELEASE = "/api/v1/agent/release"


def playout_of(caller) -> dict:
    response = caller.get("/api/v1/agent/plan")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["playout"]


def in_agent_mode(desk, enrolled):
    agent = enrolled(desk.commune)
    playout_of(agent)
    service.set_playout_mode(None, desk.commune, "agent")
    return agent


def test_switch_to_agent_waits_for_the_central_runners_open_claims(desk, enrolled, clock):
    airing = station_airings(desk.commune)[0]
    clock.current = airing.sequenced_at
    agent = enrolled(desk.commune)
    playout_of(agent)
    claimed = runner.claim_airing(airing.id, "central-1", clock.now())
    service.set_playout_mode(None, desk.commune, "agent")

    assert playout_of(agent)["handover"] == service.Handover.CENTRAL_FINISHING
    assert service.handover_state(desk.commune) == "central_finishing"
    entry = runner.log_entry(
        claimed, claimed.render, "central-1", status=LogStatus.AIRED, reason=""
    )
    assert runner.finish(airing.id, entry, claim=runner.Claim.of(claimed)) is not None

    assert playout_of(agent) == {**playout_of(agent), "mode": "agent", "handover": None}
    db.session.expire_all()
    assert airing.status == AiringStatus.AIRED


def test_switch_back_to_central_waits_for_the_agent_to_release(desk, enrolled, clock):
    agent = in_agent_mode(desk, enrolled)
    airings = station_airings(desk.commune)
    rows = agent_chain(desk.commune, airings[:2])
    assert agent.post("/api/v1/agent/log", json={"rows": rows}).status_code == 200
    clock.advance(minutes=1)
    service.set_playout_mode(None, desk.commune, "central")

    assert desk.commune.awaiting_agent_since == clock.now()
    assert not service.is_aired_centrally(desk.commune.id)
    assert playout_of(agent) == {
        **playout_of(agent),
        "mode": "central",
        "handover": "awaiting_agent",
    }
    assert runner.claim_airing(airings[2].id, "central-1", clock.now()) is None

    # The agent wrote a third row the server has not got: not handed over yet.
    refused = agent.post(RELEASE, json={"head_seq": 3})
    assert_error(refused, 409, "rows_pending")
    db.session.expire_all()
    assert desk.commune.awaiting_agent_since is not None

    clock.advance(seconds=30)
    answer = agent.post(RELEASE, json={"head_seq": 2})
    assert answer.status_code == 200
    assert answer.get_json() == {"station": "PT-PHUTHUY", "mode": "central", "released": True}
    db.session.expire_all()
    assert desk.commune.awaiting_agent_since is None
    assert service.is_aired_centrally(desk.commune.id)
    assert playout_of(agent)["handover"] is None
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "station.handed_back")
    ).one()
    assert event.details == {"agent": agent.agent.id, "head_seq": 2, "waited_s": 30.0}
    assert runner.claim_airing(airings[2].id, "central-1", clock.now()) is not None

    again = agent.post(RELEASE, json={"head_seq": 2})
    assert again.get_json()["released"] is False


def test_release_is_refused_while_the_station_is_aired_by_its_agent(desk, enrolled):
    agent = in_agent_mode(desk, enrolled)

    assert_error(agent.post(RELEASE, json={"head_seq": 0}), 409, "not_central")
    db.session.expire_all()
    assert desk.commune.playout_mode.value == "agent"


def test_a_malformed_release_is_refused(desk, enrolled):
    agent = in_agent_mode(desk, enrolled)
    service.set_playout_mode(None, desk.commune, "central")

    for body in ({}, {"head_seq": -1}, {"head_seq": "2"}, {"head_seq": None}):
        assert_error(agent.post(RELEASE, json=body), 422, "validation_failed")
    assert_error(agent.post(RELEASE, json={"head_seq": 1, "x": 1}), 400, "unknown_fields", "x")
    db.session.expire_all()
    assert desk.commune.awaiting_agent_since is not None


def test_another_stations_agent_cannot_release_it(desk, enrolled):
    in_agent_mode(desk, enrolled)
    service.set_playout_mode(None, desk.commune, "central")
    other = enrolled(desk.city)

    answer = other.post(RELEASE, json={"head_seq": 0})

    # It can only speak for its own station, which was never waiting.
    assert answer.get_json() == {"station": "PT-CITY", "mode": "central", "released": False}
    db.session.expire_all()
    assert desk.commune.awaiting_agent_since is not None


def test_revoking_the_agent_takes_a_waiting_station_back(desk, enrolled):
    agent = in_agent_mode(desk, enrolled)
    service.set_playout_mode(None, desk.commune, "central")

    service.revoke_agent(None, agent.agent)

    db.session.expire_all()
    assert service.is_aired_centrally(desk.commune.id)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "agent.revoke")).one()
    assert event.details["taken_back"] is True


def test_without_an_enrolled_agent_a_switch_back_takes_effect_at_once(desk, enrolled):
    agent = in_agent_mode(desk, enrolled)
    service.revoke_agent(None, agent.agent)

    service.set_playout_mode(None, desk.commune, "central")

    assert desk.commune.awaiting_agent_since is None
    assert service.is_aired_centrally(desk.commune.id)


def test_skip_and_live_read_wait_for_the_agent_to_hand_over(desk, enrolled, users, clock):
    in_agent_mode(desk, enrolled)
    service.set_playout_mode(None, desk.commune, "central")
    airing = station_airings(desk.commune)[0]

    with pytest.raises(Conflict, match="đang chờ máy trạm bàn giao"):
        manual.skip_airing(users["operator"], airing, "mất điện ở xã")
    read = manual.LiveRead(
        station=desk.commune,
        started_at=clock.now(),
        duration_s=60,
        note="đọc thông báo mất điện",
    )
    with pytest.raises(Conflict, match="đang chờ máy trạm bàn giao"):
        manual.record_live_read(users["operator"], read)
    db.session.rollback()
    assert db.session.scalar(select(func.count(BroadcastLog.id))) == 0
