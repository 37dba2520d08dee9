"""POST /api/v1/agent/sync: a sync in one request. The agent sends its health report with the
ETag of the plan it holds; the server keeps the report and answers 204 when that plan is still
current, or the plan itself, byte for byte as GET /plan gives it."""

from __future__ import annotations

import hashlib
from datetime import time

import pytest
from sqlalchemy import select

from app.agents import service
from app.agents.models import AgentHealth
from app.extensions import db
from tests.agents.conftest import schedule_on
from tests.agents.test_health import report
from tests.api.conftest import assert_error

SYNC = "/api/v1/agent/sync"


@pytest.fixture
def agent(desk, enrolled):
    return enrolled(desk.commune, "Máy xã")


def kept(agent) -> AgentHealth | None:
    db.session.expire_all()
    return db.session.get(AgentHealth, agent.agent.id)


def test_a_sync_without_a_plan_gets_the_plan_and_keeps_the_report(agent, clock):
    response = agent.post(SYNC, json={"health": report()})

    assert response.status_code == 200, response.get_json()
    plan = agent.get("/api/v1/agent/plan")
    assert response.get_data() == plan.get_data()
    assert response.headers["ETag"] == plan.headers["ETag"]
    assert response.headers["ETag"].strip('"') == hashlib.sha256(response.get_data()).hexdigest()
    assert response.headers["Loa-Clock-Offset"] == "0.400"
    assert response.headers["Loa-Received-At"] == clock.now().isoformat()
    assert "no-store" in response.headers["Cache-Control"]
    assert response.get_json()["station"]["code"] == "PT-PHUTHUY"
    health = kept(agent)
    assert (health.clock_offset_s, health.reported_at) == (0.4, clock.now())


def test_a_sync_with_the_current_etag_is_answered_204_and_still_reports(agent, clock):
    first = agent.post(SYNC, json={"health": report()})
    etag = first.headers["ETag"].strip('"')
    clock.advance(seconds=60)

    again = agent.post(SYNC, json={"health": report(audio_missing=3), "plan_etag": etag})

    assert again.status_code == 204 and again.get_data() == b""
    assert again.headers["ETag"] == first.headers["ETag"]
    health = kept(agent)
    assert (health.audio_missing, health.reported_at) == (3, clock.now())
    assert health.clock_offset_s == -59.6  # the agent's clock stood still in the report


def test_a_changed_plan_comes_back_whole_with_its_new_etag(desk, agent, users):
    etag = agent.post(SYNC, json={"health": report()}).headers["ETag"].strip('"')
    schedule_on(users, desk.script, [desk.commune], time(11, 0))

    response = agent.post(SYNC, json={"health": report(), "plan_etag": etag})

    assert response.status_code == 200
    assert response.headers["ETag"].strip('"') != etag
    assert len(response.get_json()["items"]) == 21  # a third airing a day now


def test_an_etag_of_no_plan_gets_the_plan(agent):
    response = agent.post(SYNC, json={"health": report(), "plan_etag": "a" * 64})
    assert response.status_code == 200 and response.get_json()["items"]


def test_days_bounds_the_plan_as_on_get(agent):
    one = agent.post(SYNC, json={"health": report(), "days": 1}).get_json()
    assert one["days"] == 1
    assert one["items"] == agent.get("/api/v1/agent/plan?days=1").get_json()["items"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "health"),
        ({"health": report(), "plan_etag": "W/abc"}, "plan_etag"),
        ({"health": report(), "plan_etag": 7}, "plan_etag"),
        ({"health": report(), "days": 0}, "days"),
        ({"health": report(), "days": 15}, "days"),
        ({"health": report(), "days": "7"}, "days"),
        ({"health": report(audio_missing=-1)}, "health.audio_missing"),
        ({"health": {**report(), "agent_time": "hôm qua"}}, "health.agent_time"),
    ],
)
def test_a_bad_sync_is_refused_and_keeps_nothing(agent, body, field):
    response = agent.post(SYNC, json=body)
    assert_error(response, 422, "validation_failed", field)
    assert kept(agent) is None


def test_a_sync_with_a_field_it_does_not_know_is_refused(agent):
    response = agent.post(SYNC, json={"health": report(), "extra": 1})
    assert_error(response, 400, "unknown_fields", "extra")
    assert kept(agent) is None


def test_a_sync_that_is_not_json_is_refused(agent):
    response = agent.post(SYNC, data="health=ok", content_type="text/plain")
    assert response.status_code in (400, 415, 422)
    assert set(response.get_json()) == {"error", "message", "fields"}
    assert kept(agent) is None


def test_a_revoked_agent_syncs_no_more_and_its_report_is_not_kept(agent):
    service.revoke_agent(None, agent.agent)
    assert_error(agent.post(SYNC, json={"health": report()}), 403, "agent_revoked")
    assert kept(agent) is None
    assert db.session.scalars(select(AgentHealth)).all() == []
