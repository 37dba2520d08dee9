"""Push on the agent's side: listen on the station's MQTT topic and wake the sync at once.

The server publishes a small wake message (no plan, nothing secret) on the station's topic
whenever its plan changes or an operator airs something now; the listener only sets the
agent's wake event, and the agent then syncs as it would on its timer. Without a broker, or
with the broker down, nothing changes but the delay: the agent keeps polling.
"""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import requests

log = logging.getLogger(__name__)

WAKE_QOS = 1
KEEPALIVE_S = 60
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 120
FETCH_TIMEOUT_S = (10.0, 30.0)
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class BrokerURLError(ValueError):
    """A broker URL this code cannot use (only mqtt:// and mqtts://, no credentials)."""


@dataclass(frozen=True)
class BrokerAddress:
    """Where a broker listens, read from mqtt://host:port or mqtts://host:port."""

    host: str
    port: int
    tls: bool


def parse_broker_url(url: str) -> BrokerAddress:
    """The broker's host, port and whether it speaks TLS; BrokerURLError when unusable."""
    parts = urlsplit((url or "").strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise BrokerURLError(f"broker URL must be mqtt://host:port or mqtts://host:port: {url!r}")
    if parts.username or parts.password:
        raise BrokerURLError("the broker URL must not hold credentials")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise BrokerURLError(f"bad port in broker URL {url!r}") from exc
    if not parts.hostname:
        raise BrokerURLError(f"no host in broker URL {url!r}")
    return BrokerAddress(parts.hostname, port, scheme == "mqtts")


def new_client(address: BrokerAddress, username: str, password: str, client_id: str):
    """A paho client (MQTT 3.1.1, clean session) that never lets a callback error kill its
    network thread and reconnects with doubling delays by itself."""
    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=True,
        protocol=mqtt.MQTTv311,
    )
    client.suppress_exceptions = True
    client.username_pw_set(username, password)
    client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
    if address.tls:
        client.tls_set(cert_reqs=ssl.CERT_REQUIRED)
    return client


def _client_id(username: str) -> str:
    """A client id unique per connection: two copies of one agent must not kick each other
    off the broker in turn (a fixed id would)."""
    return f"{username}-{secrets.token_hex(4)}"


class WakeListener:
    """Subscribes to the station's wake topic (QoS 1) and sets wake on every message.

    settings is the answer of GET /api/v1/agent/broker: {url, username, password, topic}.
    A (re)connection also sets wake: a message sent while the listener was away is lost, so
    the agent syncs once to catch up. A broker that is down, or refuses the credentials, is
    retried with doubling delays (1 s to 2 min); nothing raises out of start() or stop().
    """

    def __init__(self, settings: dict[str, Any], wake: threading.Event) -> None:
        self.settings = settings
        self.wake = wake
        self.topic = str(settings.get("topic") or "")
        # Set while subscribed; cleared when the connection drops.
        self.subscribed = threading.Event()
        # Set while the broker refuses these credentials (fetch the settings again: the
        # server's SECRET_KEY or the agent's credential may have changed).
        self.refused = threading.Event()
        # Why the broker last refused or dropped the connection ("" while all is well).
        self.problem = ""
        # The last wake received, as sent ({station, reason, at}), for the agent's log.
        self.last_wake: dict[str, Any] | None = None
        self.received = 0
        self._client = None

    def start(self) -> bool:
        """Connect in the background and keep connected; False when the settings are unusable."""
        if self._client is not None:
            return True
        try:
            address = parse_broker_url(str(self.settings.get("url") or ""))
            if not self.topic:
                raise BrokerURLError("no topic in the broker settings")
            username = str(self.settings.get("username") or "")
            client = new_client(
                address, username, str(self.settings.get("password") or ""), _client_id(username)
            )
            client.on_connect = self._on_connect
            client.on_subscribe = self._on_subscribe
            client.on_message = self._on_message
            client.on_disconnect = self._on_disconnect
            client.on_connect_fail = self._on_connect_fail
            client.connect_async(address.host, address.port, keepalive=KEEPALIVE_S)
            client.loop_start()
        except Exception as exc:  # a listener never takes the agent down; it polls instead
            self.problem = f"không dùng được máy chủ tin nhắn (MQTT): {exc}"
            log.warning("Push off: %s", self.problem)
            return False
        self._client = client
        return True

    def stop(self) -> None:
        """Disconnect and end the network thread."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.disconnect()
            client.loop_stop()
        except Exception as exc:
            log.warning("MQTT listener did not stop cleanly: %s", exc)
        self.subscribed.clear()

    # paho's network thread calls these.

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.problem = f"máy chủ tin nhắn từ chối kết nối: {reason_code}"
            self.refused.set()
            log.warning("MQTT broker refused the agent (%s); retrying later", reason_code)
            return
        self.problem = ""
        self.refused.clear()
        client.subscribe(self.topic, qos=WAKE_QOS)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(code.is_failure for code in reason_codes):
            self.problem = f"máy chủ tin nhắn không cho nghe {self.topic}"
            log.warning("MQTT broker refused the subscription to %s", self.topic)
            return
        log.info("Listening for wakes on %s", self.topic)
        self.subscribed.set()
        self.wake.set()

    def _on_message(self, client, userdata, message) -> None:
        try:
            payload = json.loads(message.payload.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            payload = None
        self.last_wake = payload if isinstance(payload, dict) else None
        self.received += 1
        self.wake.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.subscribed.clear()
        if reason_code.is_failure and self._client is not None:
            log.warning("MQTT connection lost (%s); reconnecting", reason_code)

    def _on_connect_fail(self, client, userdata) -> None:
        self.problem = "không kết nối được máy chủ tin nhắn (MQTT)"
        log.warning("MQTT broker unreachable; the agent polls meanwhile")


def fetch_broker_settings(server: str, credential: str, session=None) -> dict[str, Any] | None:
    """The agent's broker settings from GET /api/v1/agent/broker, or None when the server has
    no broker (404), refuses, or cannot be reached: the agent then only polls."""
    http = session or requests
    try:
        response = http.get(
            f"{server.rstrip('/')}/api/v1/agent/broker",
            headers={"Authorization": f"Bearer {credential}"},
            timeout=FETCH_TIMEOUT_S,
        )
    except requests.RequestException as exc:
        log.warning("Broker settings not fetched: %s", exc)
        return None
    if response.status_code != 200:
        if response.status_code != 404:
            log.warning("Broker settings not fetched: the server answered %s", response.status_code)
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    wanted = ("url", "username", "password", "topic")
    if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in wanted):
        return None
    return {k: body[k] for k in wanted}
