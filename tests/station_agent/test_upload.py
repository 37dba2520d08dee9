"""The agent's log on its way to the server, end to end over real HTTP: rows aired offline
reach the server's chain (which `flask logs verify` passes) and move the server's airings; a
link cut mid-upload, or an answer lost after the server stored the batch, is retried without
a double row; a refused chain waits for the admin's clear-flag, then goes up by itself."""

# ruff: noqa: F811 (fixtures imported from conftest modules)

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.agents import service
from app.agents.models import Agent
from app.broadcast.models import BroadcastLog, LogStatus
from app.broadcast.service import row_json, verify_chain
from app.extensions import db
from app.playout import runner
from app.schedules.models import Airing, AiringStatus
from app.station_agent import local
from app.station_agent.client import ServerError
from tests.agents.conftest import desk  # noqa: F401
from tests.station_agent.proxy import CUT_REQUEST, DROP_RESPONSE, Proxy
from tests.station_agent.test_agent import FIRST, local_airings

LOG_POST = b"POST /api/v1/agent/log"


@pytest.fixture
def link(served):
    """The agent's link to the server, through a proxy the test switches."""
    proxy = Proxy(served.httpd.server_port)
    yield proxy
    proxy.close()


def agent_on_air(desk, make_agent, **options):
    """An agent that synced, had its station switched to it, and synced again."""
    agent = make_agent(desk.commune, **options)
    agent.sync()
    service.set_playout_mode(None, desk.commune, "agent")
    agent.sync()
    assert agent.mode == "agent"
    return agent


def air_first_two(agent, clock) -> list[str]:
    """With no server in reach: the first airing on time, the second missed (the clock jumps
    past its grace). Returns the two airing keys."""
    first, second = local_airings(agent)[:2]
    with agent.app.app_context():
        clock.current = FIRST
        assert runner.run_once(clock, agent.host)["logged"] == 1
        clock.current = second.sequenced_at + timedelta(minutes=10)
        assert runner.run_once(clock, agent.host)["missed"] == 1
        db.session.remove()
    return [first.airing_key, second.airing_key]


def server_rows(station) -> list[BroadcastLog]:
    """The station's rows as the server holds them now, by seq."""
    db.session.rollback()
    return db.session.scalars(
        select(BroadcastLog).where(BroadcastLog.station_id == station.id).order_by(BroadcastLog.seq)
    ).all()


def server_status(key: str) -> AiringStatus:
    """The status of the server's airing with this key."""
    return db.session.scalar(select(Airing.status).where(Airing.airing_key == key))


def test_rows_aired_offline_go_up_verify_and_move_the_servers_airings(
    desk, make_agent, link, clock, runner
):
    agent = agent_on_air(desk, make_agent, url=link.url)
    link.up = False  # the link is down while the spots air
    keys = air_first_two(agent, clock)
    with pytest.raises(ServerError):
        agent.sync()
    assert server_rows(desk.commune) == []

    link.up = True
    result = agent.sync()

    assert (result.uploaded, result.duplicates) == (2, 0)
    rows = server_rows(desk.commune)
    assert [(r.airing_key, r.status) for r in rows] == [
        (keys[0], LogStatus.AIRED),
        (keys[1], LogStatus.MISSED),
    ]
    assert all(r.runner_host == agent.host and r.received_at is not None for r in rows)
    assert [server_status(k) for k in keys] == [AiringStatus.AIRED, AiringStatus.MISSED]
    assert verify_chain().ok
    verified = runner.invoke(args=["logs", "verify", "--station", desk.commune.code])
    assert verified.exit_code == 0, verified.output
    assert agent.settings.uploaded_seq == rows[-1].seq


def test_an_upload_cut_mid_request_is_sent_again_whole(desk, make_agent, link, clock):
    agent = agent_on_air(desk, make_agent, url=link.url)
    air_first_two(agent, clock)
    link.on_request[LOG_POST] = CUT_REQUEST

    with pytest.raises(ServerError):
        agent.sync()
    assert link.cuts == 1 and server_rows(desk.commune) == []

    result = agent.sync()
    assert (result.uploaded, result.duplicates) == (2, 0)
    assert len(server_rows(desk.commune)) == 2 and verify_chain().ok


def test_an_answer_lost_after_the_server_stored_the_batch_counts_duplicates_not_rows(
    desk, make_agent, link, clock
):
    agent = agent_on_air(desk, make_agent, url=link.url)
    keys = air_first_two(agent, clock)
    link.on_request[LOG_POST] = DROP_RESPONSE

    with pytest.raises(ServerError):
        agent.sync()
    assert link.cuts == 1 and len(server_rows(desk.commune)) == 2  # stored; agent unaware
    assert agent.settings.uploaded_seq < server_rows(desk.commune)[-1].seq

    result = agent.sync()

    assert (result.uploaded, result.duplicates) == (0, 2)
    rows = server_rows(desk.commune)
    assert [r.airing_key for r in rows] == keys and verify_chain().ok
    assert agent.settings.uploaded_seq == rows[-1].seq


def test_an_upload_cut_by_byte_count_mid_batch_is_retried_without_a_double_row(
    desk, make_agent, link, clock
):
    agent = agent_on_air(desk, make_agent, url=link.url)
    air_first_two(agent, clock)
    with agent.app.app_context():
        batch = json.dumps({"rows": [row_json(r) for r in local.pending_rows(0, 10)]})
        db.session.remove()
    # The plan's request (under 700 bytes) goes through; the cut falls inside the batch,
    # whether or not the upload reuses the plan's connection.
    assert len(batch) > 1400
    agent.client.http.close()
    link.cut_upload_after = 700 + len(batch) // 2

    with pytest.raises(ServerError):
        agent.sync()
    assert link.cuts == 1 and server_rows(desk.commune) == []

    result = agent.sync()
    assert (result.uploaded, result.duplicates) == (2, 0)
    assert len(server_rows(desk.commune)) == 2 and verify_chain().ok


def test_a_refused_chain_uploads_again_once_the_admin_clears_the_flag(
    desk, make_agent, clock, runner
):
    agent = agent_on_air(desk, make_agent)
    keys = air_first_two(agent, clock)
    # A row altered on the way out (a damaged copy, a bug): its hash no longer matches.
    upload = agent.client.upload
    agent.client.upload = lambda rows: upload([{**rows[0], "reason": "sửa tay"}, *rows[1:]])

    with pytest.raises(ServerError) as refused:
        agent.sync()
    assert refused.value.code == "chain_broken" and agent.settings.chain_refused
    record = db.session.get(Agent, agent.settings.agent_id)
    db.session.refresh(record)
    assert record.chain_flagged

    # Still flagged: the agent asks the head, sends nothing, and says why.
    still = agent.sync()
    assert still.uploaded == 0 and agent.settings.chain_refused in still.problems
    assert server_rows(desk.commune) == []

    agent.client.upload = upload  # the cause is found and fixed...
    cleared = runner.invoke(args=["agents", "clear-flag", str(agent.settings.agent_id)])
    assert cleared.exit_code == 0, cleared.output  # ...and the admin clears the flag

    result = agent.sync()  # no restart: the next sync sees the flag gone

    assert result.uploaded == 2 and agent.settings.chain_refused == ""
    assert agent.state.load().chain_refused == ""
    assert [r.airing_key for r in server_rows(desk.commune)] == keys
    assert verify_chain().ok
    count = db.session.scalar(select(func.count(BroadcastLog.id)))
    assert count == 2
