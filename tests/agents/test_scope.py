"""An agent's credential reaches only its own station, and only the agent API; a revoked agent
is refused at once; user tokens open nothing here."""

from __future__ import annotations

from datetime import time

import pytest
from sqlalchemy import select

from app.agents import service
from app.agents.models import Agent
from app.auth.service import create_token
from app.extensions import db
from app.org.models import PlayoutMode
from tests.agents.conftest import foreign_script, schedule_on
from tests.agents.test_health import report
from tests.api.conftest import assert_error

ENDPOINTS = ("plan", "audio", "sync")
SYNC = "/api/v1/agent/sync"


def path(endpoint: str, sha: str) -> str:
    return {
        "plan": "/api/v1/agent/plan",
        "audio": f"/api/v1/agent/audio/{sha}",
        "sync": SYNC,
    }[endpoint]


def call(client, url: str, credential: str | None = None, scheme: str = "Bearer"):
    """GET the URL (POST a sync with a healthy report) with that credential."""
    headers = {"Authorization": f"{scheme} {credential}"} if credential is not None else {}
    if url == SYNC:
        response = client.post(url, headers=headers, json={"health": report()})
    else:
        response = client.get(url, headers=headers)
    with response:
        response.get_data()
    return response


@pytest.fixture
def sha(desk) -> str:
    """The audio of the commune's (and the city's) plan."""
    return desk.script.approved_render.audio_sha256


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_endpoint_works_for_the_stations_own_agent(desk, enrolled, sha, endpoint):
    agent = enrolled(desk.commune)
    assert call(agent.client, path(endpoint, sha), agent.credential).status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(
    ("scheme", "credential", "message"),
    [
        ("Bearer", None, "Thiếu mã máy trạm"),
        ("Basic", "dXNlcjpwYXNz", "Thiếu mã máy trạm"),
        ("Bearer", "", "Thiếu mã máy trạm"),
        ("Bearer", "loa_agent_khong-co-that", "Mã máy trạm không hợp lệ."),
        ("Bearer", "loa_khong-phai-may-tram", "Mã máy trạm không hợp lệ."),
    ],
)
def test_missing_or_wrong_credentials_are_refused(
    desk, client, sha, endpoint, scheme, credential, message
):
    response = call(client, path(endpoint, sha), credential, scheme)
    body = assert_error(response, 401, "unauthorized")
    assert body["message"].startswith(message)
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="loa"'


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_users_api_token_opens_no_agent_endpoint(desk, client, users, sha, endpoint):
    _, token = create_token(users["admin"], "thử")
    assert_error(call(client, path(endpoint, sha), token), 401, "unauthorized")


@pytest.mark.parametrize(
    "url", ["/api/v1/scripts", "/api/v1/stations/PT-PHUTHUY", "/api/v1/openapi.json"]
)
def test_an_agent_credential_opens_nothing_of_the_user_api(desk, enrolled, url):
    agent = enrolled(desk.commune)
    assert_error(call(agent.client, url, agent.credential), 401, "unauthorized")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_revoked_agent_is_refused_at_once(desk, enrolled, sha, endpoint, clock):
    agent = enrolled(desk.commune, "Máy cũ")
    url = path(endpoint, sha)
    assert call(agent.client, url, agent.credential).status_code == 200
    seen = agent.agent.last_seen_at
    service.revoke_agent(None, agent.agent)
    # The very next call, in the same second: no grace, no cached answer.
    body = assert_error(call(agent.client, url, agent.credential), 403, "agent_revoked")
    assert "“Máy cũ”" in body["message"] and "Đài Phú Thủy" in body["message"]
    assert "08:00 ngày 27/11/2026" in body["message"]
    clock.advance(minutes=5)
    assert_error(call(agent.client, url, agent.credential), 403, "agent_revoked")
    db.session.expire_all()
    assert db.session.get(Agent, agent.agent.id).last_seen_at == seen


def test_a_revoked_agent_stays_refused_after_a_new_agent_enrols(desk, enrolled, sha):
    old = enrolled(desk.commune)
    service.revoke_agent(None, old.agent)
    new = enrolled(desk.commune)
    assert call(new.client, path("plan", sha), new.credential).status_code == 200
    assert_error(call(old.client, path("plan", sha), old.credential), 403, "agent_revoked")


def test_another_stations_agent_gets_only_its_own_plan_and_audio(desk, enrolled, users, org):
    elsewhere, operator = foreign_script(users, org)
    schedule_on(users, elsewhere, [desk.foreign], time(17, 30), actor=operator)
    own_sha = desk.script.approved_render.audio_sha256
    foreign_sha = elsewhere.approved_render.audio_sha256
    commune, foreign = enrolled(desk.commune), enrolled(desk.foreign)
    commune_plan = call(commune.client, path("plan", ""), commune.credential).get_json()
    foreign_plan = call(foreign.client, path("plan", ""), foreign.credential).get_json()
    assert commune_plan["station"]["code"] == "PT-PHUTHUY"
    assert foreign_plan["station"]["code"] == "LG-RADIO"
    assert [a["sha256"] for a in commune_plan["audio"]] == [own_sha]
    assert [a["sha256"] for a in foreign_plan["audio"]] == [foreign_sha]
    assert_error(call(foreign.client, path("audio", own_sha), foreign.credential), 404, "not_found")
    assert_error(
        call(commune.client, path("audio", foreign_sha), commune.credential), 404, "not_found"
    )


def test_a_code_enrols_only_the_agent_it_was_made_for(desk, client):
    commune = service.add_agent(None, desk.commune)
    city = service.add_agent(None, desk.city)
    body = client.post("/api/v1/agent/enrol", json={"code": city.code}).get_json()
    assert body["agent"]["station"]["code"] == "PT-CITY"
    db.session.expire_all()
    enrolled_ids = {a.id for a in db.session.scalars(select(Agent)) if a.enrolled_at}
    assert enrolled_ids == {city.agent.id} and commune.agent.id not in enrolled_ids


def test_stations_aired_centrally_leaves_out_agent_stations(desk, enrolled):
    agent = enrolled(desk.commune)
    call(agent.client, path("plan", ""), agent.credential)
    assert set(db.session.scalars(service.stations_aired_centrally())) == {
        desk.commune.id,
        desk.city.id,
        desk.foreign.id,
    }
    service.set_playout_mode(None, desk.commune, PlayoutMode.AGENT)
    assert set(db.session.scalars(service.stations_aired_centrally())) == {
        desk.city.id,
        desk.foreign.id,
    }
    assert not service.is_aired_centrally(desk.commune.id)
    assert service.is_aired_centrally(desk.city.id)
