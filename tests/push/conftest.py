"""Fixtures of the push tests: a publisher that records wakes, agent-run stations, and a real
Mosquitto started per test on a free 127.0.0.1 port with files `flask broker files` wrote."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from app import push
from app.agents import service
from app.org.models import Station
from app.station_agent.push import WakeListener
from tests.agents.conftest import AgentCaller, desk, enrolled  # noqa: F401  (fixtures)

MOSQUITTO = Path(os.environ.get("MOSQUITTO_BINARY", "/usr/sbin/mosquitto"))
MOSQUITTO_MISSING = (
    f"Mosquitto NOT INSTALLED ({MOSQUITTO}): the push tests against a real broker are "
    "skipped; apt-get install mosquitto"
)
SERVER_PASSWORD = "server-secret-for-tests"
WAIT_S = 10.0


class RecordingPublisher:
    """Stands in for the MQTT publisher (PUSH_PUBLISHER): keeps every wake."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def publish(self, topic: str, payload: bytes) -> bool:
        self.sent.append((topic, json.loads(payload)))
        return True

    def close(self) -> None:
        return None

    def wakes(self) -> dict[str, str]:
        """{station code: reason} of what was published."""
        return {body["station"]: body["reason"] for _, body in self.sent}

    def clear(self) -> None:
        self.sent.clear()


@pytest.fixture
def published(app) -> RecordingPublisher:
    """Push on, into a recorder (set up the test's data first, then clear() it)."""
    recorder = RecordingPublisher()
    app.config["PUSH_PUBLISHER"] = recorder
    return recorder


@pytest.fixture
def agent_run(enrolled):  # noqa: F811
    """Enrol an agent for a station, let it fetch its plan once, switch the station to it."""

    def _agent_run(station: Station) -> AgentCaller:
        caller = enrolled(station)
        assert caller.get("/api/v1/agent/plan").status_code == 200
        service.set_playout_mode(None, station, "agent")
        return caller

    return _agent_run


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    """A Mosquitto of the test's own: its config, password and ACL files in a folder."""

    def __init__(self, app, folder: Path, port: int) -> None:
        self.app = app
        self.folder = folder
        self.port = port
        self.passwords = folder / "passwd"
        self.acl = folder / "acl"
        self.url = f"mqtt://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []
        self._seen = threading.Condition()

    def use(self) -> None:
        """Point the app's push at this broker (whether it runs or not)."""
        self.app.config.update(MQTT_URL=self.url, MQTT_PASSWORD=SERVER_PASSWORD)

    def write_files(self) -> None:
        """Write the password and ACL files as `flask broker files` does."""
        push.write_broker_files(self.passwords, self.acl)

    def start(self) -> Broker:
        """Write the files, start the broker, return once it listens; the app pushes to it."""
        self.use()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.write_files()
        config = self.folder / "mosquitto.conf"
        config.write_text(
            "per_listener_settings false\n"
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous false\n"
            f"password_file {self.passwords}\n"
            f"acl_file {self.acl}\n"
            "persistence false\n"
            "log_dest stderr\n"
            "log_type all\n"
            # As root (CI containers), Mosquitto would switch to the mosquitto user, which
            # cannot read files in the test's folder.
            f"user {_user()}\n"
        )
        self.lines.clear()
        self.process = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        self.wait_for_log(" running")
        return self

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stderr:
            with self._seen:
                self.lines.append(line.rstrip())
                self._seen.notify_all()

    def wait_for_log(self, text: str, after: int = 0) -> str:
        """The first log line from index `after` on holding text (fails after WAIT_S)."""
        with self._seen:
            found = self._seen.wait_for(
                lambda: next((x for x in self.lines[after:] if text in x), None), WAIT_S
            )
        assert found, f"Mosquitto never logged {text!r}:\n" + "\n".join(self.lines)
        return found

    def reload(self) -> None:
        """Rewrite the files and send SIGHUP, as `systemctl reload mosquitto` does."""
        self.write_files()
        mark = len(self.lines)
        self.process.send_signal(signal.SIGHUP)
        self.wait_for_log("Reloading config", mark)

    def stop(self) -> None:
        """Stop the broker."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=WAIT_S)
        if self.process is not None:
            self.process.stderr.close()
        self.process = None


def _user() -> str:
    """The name of the user running the tests."""
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture
def broker(app, tmp_path):
    """A Mosquitto on a free port, not started yet: start() it once the agents are enrolled
    (the app pushes to it from then on). Skipped loudly without Mosquitto."""
    if not MOSQUITTO.exists():
        print(MOSQUITTO_MISSING)
        pytest.skip(MOSQUITTO_MISSING)
    server = Broker(app, tmp_path / "mosquitto", free_port())
    yield server
    push.close_publishers()
    server.stop()


@pytest.fixture
def listeners():
    """Start WakeListeners for agents; every one is stopped after the test."""
    started: list[WakeListener] = []

    def _listen(caller: AgentCaller, subscribed: bool = True) -> WakeListener:
        settings = caller.get("/api/v1/agent/broker").get_json()
        listener = WakeListener(settings, threading.Event())
        started.append(listener)
        assert listener.start()
        if subscribed:
            assert listener.subscribed.wait(WAIT_S), listener.problem
            # Subscribing wakes the agent once (to catch up); the test starts after that.
            listener.wake.clear()
        return listener

    yield _listen
    for listener in started:
        listener.stop()


class Probe:
    """A bare MQTT client for what an agent's listener never does (publish, other topics)."""

    def __init__(self, port: int, username: str, password: str) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"probe-{username}",
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(username, password)
        self.connected = threading.Event()
        self.reason = None
        self.messages: list[str] = []
        self.arrived = threading.Condition()
        self.acks: dict[int, object] = {}
        self.acked = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.reason = reason_code
        self.connected.set()

    def _on_message(self, client, userdata, message) -> None:
        with self.arrived:
            self.messages.append(message.topic)
            self.arrived.notify_all()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self.acked:
            self.acks[mid] = reason_code
            self.acked.notify_all()

    def publish(self, topic: str):
        """Publish with QoS 1; the broker's PUBACK reason code."""
        info = self.client.publish(topic, b'{"station": "x", "reason": "plan"}', qos=1)
        with self.acked:
            assert self.acked.wait_for(lambda: info.mid in self.acks, WAIT_S)
            return self.acks[info.mid]

    def wait_for(self, topic: str) -> bool:
        """Whether a message on topic arrives within WAIT_S."""
        with self.arrived:
            return self.arrived.wait_for(lambda: topic in self.messages, WAIT_S)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def probes():
    """Bare clients, closed after the test."""
    made: list[Probe] = []

    def _probe(port: int, username: str, password: str) -> Probe:
        probe = Probe(port, username, password)
        made.append(probe)
        assert probe.connected.wait(WAIT_S)
        return probe

    yield _probe
    for probe in made:
        probe.close()
