"""Switching a station between the central runner and its agent, both ways, with the real
agent over real HTTP: nothing airs twice, nothing is dropped, and the station's one chain
verifies on the server with rows from both sides."""

# ruff: noqa: F811 (fixtures imported from conftest modules)

from __future__ import annotations

from sqlalchemy import select

from app.agents import service
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import verify_chain
from app.extensions import db
from app.playout import runner
from app.schedules.models import AiringStatus
from tests.agents.conftest import desk, station_airings  # noqa: F401

CENTRAL = "central-1"


def server_rows(station) -> list[BroadcastLog]:
    db.session.expire_all()
    return db.session.scalars(
        select(BroadcastLog).where(BroadcastLog.station_id == station.id).order_by(BroadcastLog.seq)
    ).all()


def air_on_agent(agent, clock) -> dict:
    """One pass of the agent's playout core on its own database, at the clock's time."""
    with agent.app.app_context():
        try:
            return runner.run_once(clock, agent.host)
        finally:
            db.session.remove()


def test_switch_back_to_central_airs_nothing_twice(desk, make_agent, clock):
    first, second = station_airings(desk.commune)[:2]
    agent = make_agent(desk.commune)
    agent.sync()
    service.set_playout_mode(None, desk.commune, "agent")
    agent.sync()
    assert agent.airs()
    clock.current = first.sequenced_at
    assert air_on_agent(agent, clock)["logged"] == 1  # aired by the agent, not sent yet

    service.set_playout_mode(None, desk.commune, "central")
    # Until the agent hands over, the central runner leaves the station alone, even past the
    # grace of an airing the agent aired but has not reported.
    clock.advance(minutes=10)
    runner.run_once(clock, CENTRAL)  # airs the city's station, which it also airs
    assert server_rows(desk.commune) == []
    assert first.status == AiringStatus.PLANNED

    result = agent.sync()

    assert result.uploaded == 1 and not agent.airs() and agent.handover is None
    db.session.expire_all()
    assert desk.commune.awaiting_agent_since is None
    assert first.status == AiringStatus.AIRED  # moved by the agent's row: not aired again
    clock.current = second.sequenced_at
    runner.run_once(clock, CENTRAL)
    rows = server_rows(desk.commune)
    assert [(r.airing_key, r.runner_host) for r in rows] == [
        (first.airing_key, agent.host),
        (second.airing_key, CENTRAL),
    ]
    assert verify_chain(desk.commune.id).ok
    # The agent now only keeps its copy: a later sync airs nothing there.
    agent.sync()
    assert not agent.airs()


def test_switch_to_agent_while_the_central_runner_plays_forks_nothing(desk, make_agent, clock):
    first, second = station_airings(desk.commune)[:2]
    agent = make_agent(desk.commune)
    agent.sync()
    clock.current = first.sequenced_at
    claimed = runner.claim_airing(first.id, CENTRAL, clock.now())  # on air centrally
    service.set_playout_mode(None, desk.commune, "agent")

    agent.sync()
    assert agent.mode == "agent" and not agent.airs()  # waits for the central runner's row

    entry = runner.log_entry(claimed, claimed.render, CENTRAL, status=LogStatus.AIRED, reason="")
    assert runner.finish(first.id, entry, claim=runner.Claim.of(claimed)) is not None
    agent.sync()
    assert agent.airs()
    clock.current = second.sequenced_at
    assert air_on_agent(agent, clock)["logged"] == 1
    result = agent.sync()

    assert result.uploaded == 1
    rows = server_rows(desk.commune)
    assert [(r.seq, r.airing_key, r.runner_host) for r in rows] == [
        (1, first.airing_key, CENTRAL),
        (2, second.airing_key, agent.host),
    ]
    assert verify_chain(desk.commune.id).ok
    db.session.expire_all()
    assert [first.status, second.status] == [AiringStatus.AIRED, AiringStatus.AIRED]
