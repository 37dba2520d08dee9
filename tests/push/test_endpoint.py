"""GET /api/v1/agent/broker: the agent's own broker user and topic, only with its credential; 404
when the server does not push; and the agent's fetch of it over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import threading

import pytest
from werkzeug.serving import make_server

from app import push
from app.agents import service
from app.auth.service import create_token
from app.extensions import db
from app.station_agent.push import fetch_broker_settings
from tests.push.conftest import free_port

URL = "mqtt://127.0.0.1:1883"


@pytest.fixture
def pushing(app):
    """The server pushes through a broker on its own host."""
    app.config.update(MQTT_URL=URL, MQTT_PASSWORD="server-secret")
    yield app
    push.close_publishers()


def test_the_answer_is_the_agents_own_user_password_and_topic(pushing, desk, enrolled):
    caller = enrolled(desk.commune)

    response = caller.get("/api/v1/agent/broker")

    assert response.status_code == 200
    token_hash = hashlib.sha256(caller.credential.encode()).hexdigest()
    expected = hmac.new(b"test-secret", b"mqtt:" + token_hash.encode(), hashlib.sha256)
    assert response.get_json() == {
        "url": URL,
        "username": f"agent-{caller.agent.id}",
        "password": expected.hexdigest(),
        "topic": "loa/stations/PT-PHUTHUY/wake",
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_agents_get_the_public_address_and_the_configured_prefix(pushing, desk, enrolled):
    pushing.config.update(MQTT_AGENT_URL="mqtts://loa.example.vn:8883", MQTT_TOPIC_PREFIX="/a/b/")
    commune, city = enrolled(desk.commune), enrolled(desk.city)

    one = commune.get("/api/v1/agent/broker").get_json()
    other = city.get("/api/v1/agent/broker").get_json()

    assert one["url"] == "mqtts://loa.example.vn:8883"
    assert (one["topic"], other["topic"]) == ("a/b/PT-PHUTHUY/wake", "a/b/PT-CITY/wake")
    assert one["password"] != other["password"]


def test_it_is_404_when_the_server_does_not_push(app, desk, enrolled):
    app.config["MQTT_URL"] = ""
    caller = enrolled(desk.commune)

    response = caller.get("/api/v1/agent/broker")

    assert response.status_code == 404
    assert response.get_json()["error"] == "push_disabled"


def test_only_an_agent_credential_opens_it(pushing, desk, enrolled, client, users):
    caller = enrolled(desk.commune)
    _, token = create_token(users["admin"], "thử")

    assert client.get("/api/v1/agent/broker").status_code == 401
    user = client.get("/api/v1/agent/broker", headers={"Authorization": f"Bearer {token}"})
    assert user.status_code == 401
    wrong = client.get("/api/v1/agent/broker", headers={"Authorization": "Bearer loa_agent_x"})
    assert wrong.status_code == 401
    assert "password" not in wrong.get_data(as_text=True)

    service.revoke_agent(None, caller.agent)
    revoked = caller.get("/api/v1/agent/broker")
    assert revoked.status_code == 403 and revoked.get_json()["error"] == "agent_revoked"


def test_it_is_described_for_agents(pushing, users):
    _, token = create_token(users["writer"], "thử")
    doc = pushing.test_client().get(
        "/api/v1/openapi.json", headers={"Authorization": f"Bearer {token}"}
    )

    broker = doc.get_json()["paths"]["/api/v1/agent/broker"]["get"]

    assert broker["security"] == [{"agentAuth": []}]
    assert {"200", "401", "403", "404"} <= set(broker["responses"])
    schema = broker["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["url", "username", "password", "topic"]


@pytest.fixture
def live_server(pushing):
    """The app over real HTTP on 127.0.0.1 (a thread), for the agent's requests."""
    server = make_server("127.0.0.1", 0, pushing, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_the_agent_fetches_its_settings_over_http(live_server, pushing, desk, enrolled):
    caller = enrolled(desk.commune)
    db.session.commit()

    settings = fetch_broker_settings(live_server, caller.credential)

    assert settings == caller.get("/api/v1/agent/broker").get_json()


def test_the_agent_gets_none_when_it_cannot_use_push(live_server, pushing, desk, enrolled):
    caller = enrolled(desk.commune)
    db.session.commit()

    assert fetch_broker_settings(live_server, "loa_agent_wrong") is None
    pushing.config["MQTT_URL"] = ""
    assert fetch_broker_settings(live_server, caller.credential) is None
    assert fetch_broker_settings(f"http://127.0.0.1:{free_port()}", caller.credential) is None
