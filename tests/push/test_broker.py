"""Push through a real Mosquitto: the server's wake reaches the agent's listener, each agent hears
only its own station and can publish nothing, wrong and revoked credentials are refused, and
with the broker down every change still succeeds."""

from __future__ import annotations

import logging
import threading
from datetime import time

from app import push
from app.agents import service
from app.auth.service import create_token
from app.playout import manual
from app.schedules import service as schedules
from app.station_agent.push import WakeListener
from tests.agents.conftest import schedule_on
from tests.push.conftest import SERVER_PASSWORD, WAIT_S

COMMUNE_TOPIC = "loa/stations/PT-PHUTHUY/wake"
CITY_TOPIC = "loa/stations/PT-CITY/wake"


def test_the_servers_wake_reaches_the_agents_listener(desk, users, agent_run, broker, listeners):
    caller = agent_run(desk.commune)
    broker.start()
    listener = listeners(caller)

    manual.air_now(users["operator"], desk.script, [desk.commune], "Bão số 9")

    assert listener.wake.wait(WAIT_S)
    assert listener.last_wake == {
        "station": "PT-PHUTHUY",
        "reason": "air_now",
        "at": "2026-11-27T01:00:00+00:00",
    }


def test_a_schedule_change_wakes_the_agent_through_the_broker(
    desk, users, agent_run, broker, listeners
):
    caller = agent_run(desk.commune)
    broker.start()
    listener = listeners(caller)

    schedule_on(users, desk.script, [desk.commune], time(17, 30))
    assert listener.wake.wait(WAIT_S)
    assert listener.last_wake["reason"] == "plan"

    listener.wake.clear()
    schedules.delete_schedule(users["operator"], desk.schedule)
    assert listener.wake.wait(WAIT_S)
    assert listener.received == 2


def test_an_agent_hears_only_its_own_stations_wakes(
    desk, users, agent_run, broker, listeners, probes
):
    commune = agent_run(desk.commune)
    city = agent_run(desk.city)
    broker.start()
    city_listener = listeners(city)
    # The commune's agent tries to listen to every station, and to the city's by name.
    probe = probes(broker.port, push.agent_username(commune.agent), _password(commune))
    probe.client.subscribe([("loa/stations/+/wake", 1), (CITY_TOPIC, 1), ("#", 1)])
    probe.client.subscribe(COMMUNE_TOPIC, 1)
    assert probe.publish(COMMUNE_TOPIC).is_failure  # a round trip: the subscriptions are in

    # Published in code order: the city's wake goes out before the commune's.
    manual.air_now(users["operator"], desk.script, [desk.city, desk.commune])

    assert city_listener.wake.wait(WAIT_S)
    assert probe.wait_for(COMMUNE_TOPIC)
    # Once per matching subscription (the wildcards match its own topic too), never the city's.
    assert set(probe.messages) == {COMMUNE_TOPIC}


def test_an_agent_can_publish_nothing(desk, users, agent_run, broker, listeners, probes):
    commune = agent_run(desk.commune)
    city = agent_run(desk.city)
    broker.start()
    city_listener = listeners(city)
    probe = probes(broker.port, push.agent_username(commune.agent), _password(commune))

    # Neither another station's topic nor its own: only the server wakes agents.
    assert probe.publish(CITY_TOPIC).getName() == "Not authorized"
    assert probe.publish(COMMUNE_TOPIC).getName() == "Not authorized"
    assert probe.publish("loa/other").getName() == "Not authorized"
    broker.wait_for_log(f"Denied PUBLISH from probe-{push.agent_username(commune.agent)}")

    manual.air_now(users["operator"], desk.script, [desk.city])
    assert city_listener.wake.wait(WAIT_S)
    assert city_listener.received == 1
    assert city_listener.last_wake["reason"] == "air_now"


def test_the_server_may_only_publish_wakes(desk, agent_run, broker, probes):
    agent_run(desk.commune)
    broker.start()
    server = probes(broker.port, "loa-server", SERVER_PASSWORD)

    assert not server.publish(COMMUNE_TOPIC).is_failure
    assert server.publish("loa/stations/PT-PHUTHUY/other").getName() == "Not authorized"
    assert server.publish("$SYS/x").is_failure


def test_a_wrong_password_is_refused(desk, agent_run, broker, probes):
    caller = agent_run(desk.commune)
    broker.start()
    settings = caller.get("/api/v1/agent/broker").get_json()

    assert probes(broker.port, settings["username"], "not-the-password").reason.is_failure

    wrong = WakeListener({**settings, "password": "x" * 64}, threading.Event())
    try:
        assert wrong.start()  # refused later, in the background: never raised here
        assert wrong.refused.wait(WAIT_S)
        assert not wrong.subscribed.is_set() and "từ chối" in wrong.problem
    finally:
        wrong.stop()


def test_an_agents_listener_waits_for_a_broker_that_is_down(desk, agent_run, broker):
    caller = agent_run(desk.commune)
    broker.use()
    settings = caller.get("/api/v1/agent/broker").get_json()
    listener = WakeListener(settings, threading.Event())
    try:
        assert listener.start()  # nothing listens there yet: no error

        broker.start()

        # It reconnects by itself, and the (re)connection wakes the agent to catch up.
        assert listener.subscribed.wait(WAIT_S)
        assert listener.wake.is_set()
    finally:
        listener.stop()


def test_unusable_settings_leave_the_agent_polling():
    listener = WakeListener({"url": "http://x", "topic": "t"}, threading.Event())

    assert listener.start() is False
    assert "MQTT" in listener.problem
    listener.stop()


def test_a_revoked_agent_is_refused_once_the_files_are_written_again(
    desk, agent_run, broker, listeners, probes
):
    caller = agent_run(desk.commune)
    broker.start()
    settings = caller.get("/api/v1/agent/broker").get_json()
    assert not probes(broker.port, settings["username"], settings["password"]).reason.is_failure

    service.revoke_agent(None, caller.agent)
    broker.reload()

    assert probes(broker.port, settings["username"], settings["password"]).reason.is_failure


def test_an_agent_enrolled_later_gets_in_after_a_reload(desk, agent_run, broker, listeners):
    agent_run(desk.commune)
    broker.start()
    city = agent_run(desk.city)
    broker.reload()

    listener = listeners(city)

    assert listener.subscribed.is_set() and listener.problem == ""


def test_with_the_broker_down_a_change_still_succeeds_and_waits_for_it(
    app, desk, users, agent_run, broker, listeners, caplog
):
    caller = agent_run(desk.commune)
    _, token = create_token(users["operator"], "thử")
    broker.use()  # pushing to a broker that is not running
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    body = {"script": desk.script.id, "note": "Bão số 9"}

    first = client.post("/api/v1/stations/PT-PHUTHUY/air-now", json=body, headers=headers)
    assert first.status_code == 201, first.get_json()
    publisher = push.get_publisher()
    assert publisher.down.wait(WAIT_S)  # nothing listens on the broker's port
    with caplog.at_level(logging.WARNING, logger="app.push"):
        second = client.post("/api/v1/stations/PT-PHUTHUY/air-now", json=body, headers=headers)
    assert second.status_code == 201
    assert any(
        "unreachable: wake on loa/stations/PT-PHUTHUY/wake queued" in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]

    # The broker comes up: the publisher reconnects by itself and the next wake gets through.
    broker.start()
    listener = listeners(caller)
    # Its next try comes after a delay that doubles with each failure (1 s, 2 s, 4 s, …).
    assert publisher.connected.wait(6 * WAIT_S)
    manual.air_now(users["operator"], desk.script, [desk.commune])
    assert listener.wake.wait(WAIT_S)


def _password(caller) -> str:
    """The agent's broker password as the server hands it out."""
    return caller.get("/api/v1/agent/broker").get_json()["password"]
