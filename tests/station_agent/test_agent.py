"""The station agent end to end over real HTTP: enrol, pull the plan and its audio, air the
plan from its own database with the playout core, and send the log back."""

# ruff: noqa: F811 (fixtures imported from conftest modules)

from __future__ import annotations

from datetime import UTC, datetime, time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import func, select

from app.agents import service
from app.agents.models import Agent, AgentHealth
from app.broadcast.models import BroadcastLog, LogStatus
from app.extensions import db
from app.playout import runner
from app.schedules import service as schedules
from app.schedules.models import Airing, AiringStatus
from app.station_agent.client import ServerError
from tests.agents.conftest import desk, schedule_on  # noqa: F401

FIRST = datetime(2026, 11, 27, 22, 30, tzinfo=UTC)  # 05:45 on 28/11, sequenced to 05:30


def local_airings(agent) -> list[Airing]:
    with agent.app.app_context():
        rows = db.session.scalars(select(Airing).order_by(Airing.sequenced_at)).all()
        db.session.expunge_all()
        return rows


def test_agent_pulls_its_plan_and_audio_once_and_an_unchanged_plan_costs_a_304(desk, make_agent):
    agent = make_agent(desk.commune)

    first = agent.sync()
    again = agent.sync()

    assert first.plan_changed and first.downloaded == 1
    assert first.applied["added"] == 14  # 7 days, twice a day, its own station only
    assert not again.plan_changed and again.downloaded == 0
    airings = local_airings(agent)
    assert {a.station_id for a in airings} == {desk.commune.id}
    files = list(agent.state.audio.glob("*.wav"))
    assert [f.name for f in files] == [f"{desk.script.approved_render.audio_sha256}.wav"]


class Recorder:
    """Wraps an agent's HTTP session: the (method, path, status) of every request it makes;
    paths in `missing` are answered 404, as a server older than them would."""

    def __init__(self, agent, missing: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[str, str, int]] = []
        self.missing = missing
        self._request = agent.client.http.request
        agent.client.http.request = self

    def __call__(self, method, url, **kwargs):
        path = urlsplit(url).path
        if path in self.missing:
            response = requests.Response()
            response.status_code = 404
            response._content = b'{"error":"http_404","message":"Not found","fields":{}}'
            response.headers["Content-Type"] = "application/json"
        else:
            response = self._request(method, url, **kwargs)
        self.calls.append((method, path, response.status_code))
        return response


def test_an_unchanged_plan_costs_one_request_that_carries_the_health_report(desk, make_agent):
    agent = make_agent(desk.commune)
    calls = Recorder(agent).calls

    agent.sync()
    first = list(calls)
    calls.clear()
    agent.sync()

    assert first[1] == ("POST", "/api/v1/agent/sync", 200)  # after the chain head
    assert first[-1] == ("POST", "/api/v1/agent/health", 200)  # what the new plan left
    assert calls == [("GET", "/api/v1/agent/log", 200), ("POST", "/api/v1/agent/sync", 204)]
    db.session.expire_all()
    kept = db.session.get(AgentHealth, agent.settings.agent_id)
    assert kept.plan_until is not None and kept.audio_missing == 0


def test_against_a_server_without_sync_the_agent_asks_the_old_way(desk, make_agent):
    agent = make_agent(desk.commune)
    calls = Recorder(agent, missing=("/api/v1/agent/sync",)).calls

    first = agent.sync()
    calls.clear()
    again = agent.sync()

    assert first.plan_changed and first.downloaded == 1 and not again.plan_changed
    # Asked once; from then on only the old pair: GET plan (304) and POST health.
    assert calls == [
        ("GET", "/api/v1/agent/log", 200),
        ("GET", "/api/v1/agent/plan", 304),
        ("POST", "/api/v1/agent/health", 200),
    ]
    db.session.expire_all()
    assert db.session.get(AgentHealth, agent.settings.agent_id) is not None


def test_agent_airs_offline_and_its_rows_reach_the_servers_chain(desk, make_agent, served, clock):
    agent = make_agent(desk.commune)
    agent.sync()
    service.set_playout_mode(None, desk.commune, "agent")
    agent.sync()
    assert agent.mode == "agent"
    served.httpd.shutdown()  # the server goes away; the plan held still airs

    clock.current = FIRST
    with agent.app.app_context():
        totals = runner.run_once(clock, agent.host)
        rows = db.session.scalars(select(BroadcastLog).order_by(BroadcastLog.seq)).all()
        assert totals["logged"] == 1
        assert [r.status for r in rows] == [LogStatus.AIRED]
        assert rows[0].runner_host == agent.host and rows[0].planned_at == FIRST
        db.session.remove()
    assert db.session.scalar(select(func.count(BroadcastLog.id))) == 0


def test_a_cancelled_occurrence_and_a_new_schedule_reach_the_agent_at_its_next_sync(
    desk, make_agent, users, clock
):
    agent = make_agent(desk.commune)
    agent.sync()
    schedules.cancel_occurrence(
        users["operator"],
        desk.schedule,
        desk.commune,
        datetime(2026, 11, 27, 22, 45, tzinfo=UTC),
        "trùng lễ mít tinh",
    )
    schedule_on(users, desk.script, [desk.commune], time(11, 0))

    result = agent.sync()

    assert result.plan_changed and result.downloaded == 0  # same audio: not fetched twice
    assert result.applied == {"added": 7, "changed": 0, "cancelled": 1}
    by_status = {}
    for airing in local_airings(agent):
        by_status.setdefault(airing.status, []).append(airing)
    assert len(by_status[AiringStatus.CANCELLED]) == 1
    assert len(by_status[AiringStatus.PLANNED]) == 20


def test_a_revoked_agent_is_refused_at_its_next_call_and_says_so(desk, make_agent):
    agent = make_agent(desk.commune)
    agent.sync()
    service.revoke_agent(None, db.session.get(Agent, agent.settings.agent_id))

    with pytest.raises(ServerError) as refused:
        agent.sync()

    assert refused.value.status == 403 and refused.value.code == "agent_revoked"
    assert not refused.value.retry and "đã bị thu hồi" in refused.value.message
    assert agent.revoked == refused.value.message


def test_a_download_whose_sha256_does_not_match_is_discarded_then_fetched_again(
    desk, make_agent, app
):
    render = desk.script.approved_render
    path = Path(app.config["AUDIO_DIR"]) / render.audio_path
    good = path.read_bytes()
    path.write_bytes(good[:-100] + bytes(100))  # damaged on the server's disk
    agent = make_agent(desk.commune)

    first = agent.sync()

    assert first.downloaded == 0 and "không khớp mã sha256" in first.problems[0]
    assert list(agent.state.audio.glob("*.wav")) == []
    assert list(agent.state.partial.iterdir()) == []
    assert agent.settings.plan_etag == ""  # the next sync asks for the whole plan again
    path.write_bytes(good)

    again = agent.sync()

    assert again.plan_changed and again.downloaded == 1 and again.problems == []
    assert agent.settings.plan_etag


def test_a_download_cut_off_resumes_where_it_stopped(desk, make_agent, app, served):
    render = desk.script.approved_render
    whole = (Path(app.config["AUDIO_DIR"]) / render.audio_path).read_bytes()
    agent = make_agent(desk.commune)
    partial = agent.state.partial / f"{render.audio_sha256}.wav"
    partial.write_bytes(whole[:1000])  # what arrived before the link dropped
    ranges = []

    def seen(sender, **extra):
        from flask import request

        if "/audio/" in request.path:
            ranges.append(request.headers.get("Range"))

    from flask import request_started

    request_started.connect(seen, app)
    try:
        agent.sync()
    finally:
        request_started.disconnect(seen, app)

    assert ranges == ["bytes=1000-"]
    cached = agent.state.audio / f"{render.audio_sha256}.wav"
    assert cached.read_bytes() == whole and not partial.exists()


def test_an_archived_script_stops_airing_and_its_agent_drops_it_at_the_next_sync(
    desk, make_agent, users, clock
):
    from app.scripts.service import archive_script

    agent = make_agent(desk.commune)
    agent.sync()
    clock.current = FIRST
    runner.run_once(clock, "central-1")  # the first airings air centrally
    clock.advance(hours=1)

    archive_script(users["supervisor"], desk.script)
    result = agent.sync()

    # 13 airings to come, and the one the central runner aired: none is the agent's to air.
    assert result.plan_changed and result.applied["cancelled"] == 14
    statuses = [a.status for a in local_airings(agent)]
    assert AiringStatus.PLANNED not in statuses
    server = db.session.scalars(select(Airing).where(Airing.script_id == desk.script.id)).all()
    # What aired stays, with its row; nothing is left to air anywhere.
    assert {a.status for a in server} == {AiringStatus.AIRED}
    assert len(server) == 2  # the 05:45 airing on the commune's and the city's stations
