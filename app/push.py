"""Push: wake a station's agent through the MQTT broker (Mosquitto) the moment its plan changes.

After every commit that added, changed or deleted airings of stations their agents air, that
switched a station's playout mode, or that withdrew the approval of a script with planned
airings there, the server publishes {"station", "reason", "at"} (QoS 1) on each such station's
topic, `<MQTT_TOPIC_PREFIX>/<station code>/wake`; "phát ngay" publishes reason "air_now". The
message carries nothing else: the agent syncs its plan as usual (docs/api.md, "Push").

Publishing never blocks a request and never fails one: the paho client runs its own network
thread, reconnects by itself, and a broker that is down costs a warning; the agents then find
the change at their next poll. Broker credentials need no database column: an agent's broker
password is an HMAC of its credential's sha256 under SECRET_KEY, which `flask broker files`
writes (hashed, as Mosquitto's password_file wants) with an ACL that lets each agent read
only its own station's topic and the server write only wake topics.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import threading
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, Protocol

from flask import Flask, current_app, g, has_app_context, has_request_context
from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, aliased
from sqlalchemy.pool import Pool

from app.agents.models import Agent, AgentStatus
from app.core import clock
from app.extensions import db
from app.org.models import PlayoutMode, Station
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import Priority, Script, ScriptStatus
from app.station_agent.push import (
    WAKE_QOS,
    BrokerURLError,
    new_client,
    parse_broker_url,
)

log = logging.getLogger(__name__)

PLAN = "plan"
AIR_NOW = "air_now"
DEFAULT_USERNAME = "loa-server"
DEFAULT_TOPIC_PREFIX = "loa/stations"
AGENT_USER_PREFIX = "agent-"
# Wakes kept while the broker is unreachable, sent when it is back; past this many they are
# dropped (each agent syncs on reconnecting anyway).
MAX_QUEUED = 1000
# What `mosquitto_passwd` of Mosquitto 2 writes: PBKDF2-SHA512, 101 rounds, 12-byte salt.
# Every agent's password is 256 random bits, so more rounds would only slow the broker down.
PBKDF2_ITERATIONS = 101
SALT_BYTES = 12
FILE_MODE = 0o640
_PENDING = "loa.push.pending"


class BrokerFilesError(Exception):
    """`flask broker files` cannot write usable files (the message says why)."""


class Publisher(Protocol):
    """Sends one wake message; True when handed to the broker (or queued for it)."""

    def publish(self, topic: str, payload: bytes) -> bool: ...

    def close(self) -> None: ...


# --- Settings --------------------------------------------------------------------------------


def topic_prefix(app: Flask | None = None) -> str:
    """MQTT_TOPIC_PREFIX without slashes at its ends."""
    config = (app or current_app).config
    return (config.get("MQTT_TOPIC_PREFIX") or DEFAULT_TOPIC_PREFIX).strip("/")


def station_topic(code: str, app: Flask | None = None) -> str:
    """The one topic of a station: <prefix>/<code>/wake (codes hold no + # or /)."""
    return f"{topic_prefix(app)}/{code}/wake"


def server_username(app: Flask | None = None) -> str:
    """The server's broker user (MQTT_USERNAME)."""
    return (app or current_app).config.get("MQTT_USERNAME") or DEFAULT_USERNAME


def agent_username(agent: Agent) -> str:
    """An agent's broker user: agent-<id>."""
    return f"{AGENT_USER_PREFIX}{agent.id}"


def agent_password(agent: Agent, secret_key: str | None = None) -> str:
    """An agent's broker password: HMAC-SHA256(SECRET_KEY, "mqtt:" + credential sha256), hex.

    Recomputed whenever needed, never stored; it changes with the credential and with
    SECRET_KEY (rerun `flask broker files` after changing that).
    """
    if not agent.token_hash:
        raise ValueError("an agent that has not enrolled has no broker password")
    key = (secret_key or current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, b"mqtt:" + agent.token_hash.encode(), hashlib.sha256).hexdigest()


def is_enabled(app: Flask | None = None) -> bool:
    """Whether this server pushes (MQTT_URL set, or a test's PUSH_PUBLISHER)."""
    config = (app or current_app).config
    return bool(config.get("PUSH_PUBLISHER") or (config.get("MQTT_URL") or "").strip())


def broker_settings(agent: Agent) -> dict[str, str] | None:
    """What an agent needs to listen for its wakes, or None when push is off."""
    config = current_app.config
    url = (config.get("MQTT_AGENT_URL") or config.get("MQTT_URL") or "").strip()
    if not (config.get("MQTT_URL") or "").strip() or not url:
        return None
    return {
        "url": url,
        "username": agent_username(agent),
        "password": agent_password(agent),
        "topic": station_topic(agent.station.code),
    }


def wake_payload(code: str, reason: str) -> bytes:
    """The message: the station, why, and when (UTC); nothing secret."""
    at = clock.now().astimezone(UTC).isoformat(timespec="seconds")
    body = {"station": code, "reason": reason, "at": at}
    return json.dumps(body, separators=(",", ":")).encode()


# --- The publisher ---------------------------------------------------------------------------


class MqttPublisher:
    """One paho client for the process, connected on first use in its own network thread."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url
        self.address = parse_broker_url(url)
        self.username = username
        self.password = password
        self._client = None
        self._pid = 0
        self._lock = threading.Lock()
        # Set once a connection attempt failed or was refused, cleared when one succeeds:
        # a wake queued before the first connection is no reason for a warning.
        self.down = threading.Event()
        self.connected = threading.Event()

    def _connected_client(self):
        """The client, started on first use (again in a forked worker: threads do not fork)."""
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                return self._client
            host = os.uname().nodename
            client_id = f"{self.username}-{host}-{os.getpid()}-{secrets.token_hex(2)}"
            client = new_client(self.address, self.username, self.password, client_id[:64])
            client.max_queued_messages_set(MAX_QUEUED)
            client.on_connect = self._on_connect
            client.on_connect_fail = self._on_connect_fail
            client.on_disconnect = self._on_disconnect
            client.connect_async(self.address.host, self.address.port)
            client.loop_start()
            self._client, self._pid = client, os.getpid()
            return client

    def publish(self, topic: str, payload: bytes) -> bool:
        """Hand one wake to the client (QoS 1); a warning, never an error, when it cannot go."""
        try:
            info = self._connected_client().publish(topic, payload, qos=WAKE_QOS)
        except Exception as exc:
            log.warning("Wake on %s not published: %s; agents will poll", topic, exc)
            return False
        # 0, or 4 (MQTT_ERR_NO_CONN): kept in the client's queue until connected. Which of the
        # two paho answers while the broker is away depends on whether its reconnect attempt
        # has a socket open just then, so the warning goes by the publisher's own state.
        if info.rc in (0, 4):
            if self.down.is_set() and not self.connected.is_set():
                log.warning("MQTT broker %s unreachable: wake on %s queued", self.url, topic)
            return True
        log.warning("Wake on %s not published (paho error %s); agents will poll", topic, info.rc)
        return False

    def close(self) -> None:
        """Stop the network thread (tests; a process that ends needs nothing)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            try:
                client.disconnect()
                client.loop_stop()
            except Exception as exc:
                log.warning("MQTT publisher did not stop cleanly: %s", exc)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.down.set()
            log.warning("MQTT broker %s refused the server: %s", self.url, reason_code)
        else:
            self.down.clear()
            self.connected.set()
            log.info("Connected to the MQTT broker %s", self.url)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        if reason_code.is_failure:
            self.down.set()
            log.warning("Lost the MQTT broker %s (%s); reconnecting", self.url, reason_code)

    def _on_connect_fail(self, client, userdata) -> None:
        self.down.set()
        log.warning("MQTT broker %s unreachable; retrying, agents poll meanwhile", self.url)


_publishers: dict[tuple[str, str, str], MqttPublisher] = {}
_publishers_lock = threading.Lock()


def get_publisher(app: Flask | None = None) -> Publisher | None:
    """PUSH_PUBLISHER (tests), else the process's MQTT publisher for MQTT_URL, else None."""
    config = (app or current_app).config
    if config.get("PUSH_PUBLISHER") is not None:
        return config["PUSH_PUBLISHER"]
    url = (config.get("MQTT_URL") or "").strip()
    if not url:
        return None
    key = (url, server_username(app), config.get("MQTT_PASSWORD") or "")
    with _publishers_lock:
        publisher = _publishers.get(key)
        if publisher is None:
            try:
                publisher = _publishers[key] = MqttPublisher(*key)
            except BrokerURLError as exc:
                log.warning("Push off: MQTT_URL %s", exc)
                return None
        return publisher


def close_publishers() -> None:
    """Stop every MQTT client this process started."""
    with _publishers_lock:
        publishers = list(_publishers.values())
        _publishers.clear()
    for publisher in publishers:
        publisher.close()


def publish_wakes(wakes: dict[str, str]) -> int:
    """Publish one wake per station code ({code: reason}); how many were handed over."""
    publisher = get_publisher()
    if publisher is None or not wakes:
        return 0
    sent = 0
    for code, reason in sorted(wakes.items()):
        try:
            sent += bool(publisher.publish(station_topic(code), wake_payload(code, reason)))
        except Exception as exc:
            log.warning("Wake for %s not published: %s", code, exc)
    return sent


# --- What changed: session events ------------------------------------------------------------


def _active() -> bool:
    """Whether the session in use belongs to an app that pushes."""
    return has_app_context() and "loa.push" in current_app.extensions and is_enabled()


def _merge(into: dict[str, str], wakes: dict[str, str]) -> None:
    """Add wakes; air_now wins over plan for a station."""
    for code, reason in wakes.items():
        if into.get(code) != AIR_NOW:
            into[code] = reason


def _pending(session: Session) -> dict[str, str]:
    """The wakes this session's transaction will publish when it commits."""
    return session.info.setdefault(_PENDING, {})


def _airing_reason(airing: Airing) -> str:
    """air_now for an operator's "phát ngay" (an emergency no rule made), plan otherwise."""
    manual = airing.schedule_id is None and airing.requeued_from_id is None
    return AIR_NOW if manual and airing.priority == Priority.EMERGENCY else PLAN


def _history_values(obj: Any, name: str) -> list[Any]:
    """Every value the attribute had or has in this flush, without loading anything."""
    hist = inspect(obj).attrs[name].history
    return [*hist.added, *hist.unchanged, *hist.deleted]


def _approval_withdrawn(script: Script) -> bool:
    """The script was approved before this flush and is not now."""
    hist = inspect(script).attrs.status.history
    return ScriptStatus.APPROVED in hist.deleted and ScriptStatus.APPROVED not in hist.added


def _changes_of_flush(session: Session) -> tuple[dict[int, str], set[int], set[int]]:
    """Airings' stations with reasons, stations whose mode changed, scripts whose approval
    was withdrawn, from the objects of this flush."""
    airings: dict[int, str] = {}
    modes: set[int] = set()
    scripts: set[int] = set()

    def add(station_ids: Iterable[Any], reason: str) -> None:
        for station_id in station_ids:
            if isinstance(station_id, int) and airings.get(station_id) != AIR_NOW:
                airings[station_id] = reason

    for obj in session.new:
        if isinstance(obj, Airing):
            add([obj.__dict__.get("station_id")], _airing_reason(obj))
    for obj in session.dirty:
        if isinstance(obj, Airing) and session.is_modified(obj, include_collections=False):
            add(_history_values(obj, "station_id"), PLAN)
        elif isinstance(obj, Station) and inspect(obj).attrs.playout_mode.history.has_changes():
            modes.add(obj.id)
        elif isinstance(obj, Script) and _approval_withdrawn(obj):
            scripts.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, Airing):
            add(_history_values(obj, "station_id"), PLAN)
    return airings, modes, scripts


def _after_flush(session: Session, flush_context) -> None:
    """Note the agent-run stations this flush changed (published after the commit)."""
    if not _active():
        return
    try:
        airings, modes, scripts = _changes_of_flush(session)
        if not (airings or modes or scripts):
            return
        # The flush's own connection: the rows are written, and a query through the session
        # would flush again.
        connection = session.connection()
        wakes: dict[str, str] = {}
        ids = set(airings) | modes
        if ids:
            rows = connection.execute(
                select(Station.id, Station.code, Station.playout_mode).where(Station.id.in_(ids))
            )
            for station_id, code, mode in rows:
                # A switch either way wakes the agent: it starts or stops airing.
                if station_id in modes:
                    _merge(wakes, {code: PLAN})
                if station_id in airings and mode == PlayoutMode.AGENT:
                    _merge(wakes, {code: airings[station_id]})
        if scripts:
            rows = connection.execute(
                select(Station.code)
                .join(Airing, Airing.station_id == Station.id)
                .where(
                    Airing.script_id.in_(scripts),
                    Airing.status == AiringStatus.PLANNED,
                    Station.playout_mode == PlayoutMode.AGENT,
                )
                .distinct()
            )
            _merge(wakes, {code: PLAN for (code,) in rows})
        _merge(_pending(session), wakes)
    except Exception as exc:
        log.warning("Push: changes of a flush not read (%s); agents will poll", exc)


def _bulk_parameters(state) -> list[dict]:
    """The parameter sets of an executemany-style bulk statement (else none)."""
    params = state.parameters
    if isinstance(params, list):
        return [p for p in params if isinstance(p, dict)]
    return []


def _do_orm_execute(state) -> None:
    """Bulk INSERT/UPDATE/DELETE of airings (cancel an occurrence, delete a schedule) pass
    no object through the flush: read the agent-run stations they touch before they run."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) != Airing.__tablename__ or not _active():
        return
    try:
        station = aliased(Station)
        query = select(station.code).where(station.playout_mode == PlayoutMode.AGENT).distinct()
        bulk = _bulk_parameters(state)
        reason = PLAN
        if state.is_insert:
            rows = bulk or [state.parameters or {}]
            ids = {p.get("station_id") for p in rows} - {None}
            if any(
                p.get("priority") == Priority.EMERGENCY and not p.get("schedule_id") for p in rows
            ):
                reason = AIR_NOW
            if not ids:
                return
            query = query.where(station.id.in_(ids))
        else:
            query = query.join(Airing, Airing.station_id == station.id)
            if bulk:
                query = query.where(Airing.id.in_({p.get("id") for p in bulk} - {None}))
            elif state.statement.whereclause is not None:
                query = query.where(state.statement.whereclause)
        codes = state.session.execute(query).scalars().all()
        _merge(_pending(state.session), dict.fromkeys(codes, reason))
    except Exception as exc:
        log.warning("Push: stations of a bulk statement not read (%s); agents will poll", exc)


def _own_station_code() -> str | None:
    """The station of the agent calling now: its own uploads need no wake."""
    if not has_request_context():
        return None
    agent = g.get("agent")
    try:
        return agent.station.code if agent is not None else None
    except Exception:
        return None


# Wakes of savepoints a session committed inside a caller's transaction, by its connection.
_deferred: weakref.WeakKeyDictionary[Connection, dict[str, str]] = weakref.WeakKeyDictionary()


def _after_commit(session: Session) -> None:
    """Publish the wakes of the transaction just committed."""
    wakes = session.info.pop(_PENDING, None)
    if not wakes or not _active():
        return
    bind = session.bind
    if isinstance(bind, Connection) and bind.in_transaction():
        # The session commits a savepoint of a caller's transaction (schedule file imports):
        # publish when that transaction commits, or never if it rolls back.
        _defer(bind, wakes)
        return
    _publish(wakes)


def _publish(wakes: dict[str, str]) -> None:
    """Publish, leaving out the calling agent's own station."""
    own = _own_station_code()
    if own is not None:
        wakes = {code: reason for code, reason in wakes.items() if code != own}
    try:
        publish_wakes(wakes)
    except Exception as exc:
        log.warning("Wakes not published: %s", exc)


def _defer(connection: Connection, wakes: dict[str, str]) -> None:
    """Keep wakes until the connection's own transaction ends."""
    if not event.contains(connection, "commit", _connection_committed):
        # Left in place afterwards: removing a listener while it runs is not allowed, and
        # the connection goes with its caller.
        event.listen(connection, "commit", _connection_committed)
        event.listen(connection, "rollback", _connection_rolled_back)
        event.listen(connection, "begin", _connection_began)
    _merge(_deferred.setdefault(connection, {}), wakes)


def _connection_committed(connection: Connection) -> None:
    """The outer transaction is about to commit (this event comes just before the database's
    COMMIT): its wakes go out once the connection is used again or returned to the pool."""
    wakes = _deferred.pop(connection, None)
    if wakes and _active():
        dbapi = connection.connection.dbapi_connection
        _committed[id(dbapi)] = (current_app._get_current_object(), wakes)


def _connection_rolled_back(connection: Connection) -> None:
    """The outer transaction rolled back: nothing changed, nothing to say."""
    _deferred.pop(connection, None)


# Wakes of a caller's transaction whose COMMIT is under way, by DBAPI connection.
_committed: dict[int, tuple[Flask, dict[str, str]]] = {}


def _publish_committed(dbapi_connection) -> None:
    """Publish what the connection's last transaction committed, now that it is done."""
    item = _committed.pop(id(dbapi_connection), None) if _committed else None
    if item is None:
        return
    app, wakes = item
    if has_app_context() and current_app._get_current_object() is app:
        _publish(wakes)
    else:
        with app.app_context():
            _publish(wakes)


def _connection_began(connection: Connection) -> None:
    """The connection starts another transaction: the one before is committed."""
    if _committed:
        _publish_committed(connection.connection.dbapi_connection)


def _pool_checkin(dbapi_connection, connection_record) -> None:
    """The connection went back to the pool: its transaction is over."""
    if _committed and dbapi_connection is not None:
        _publish_committed(dbapi_connection)


def _after_rollback(session: Session) -> None:
    """Rolled back: nothing of it is published."""
    session.info.pop(_PENDING, None)


def _after_transaction_end(session: Session, transaction) -> None:
    """A session closed without commit or rollback forgets its wakes too."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


_LISTENERS = (
    ("after_flush", _after_flush),
    ("do_orm_execute", _do_orm_execute),
    ("after_commit", _after_commit),
    ("after_rollback", _after_rollback),
    ("after_transaction_end", _after_transaction_end),
)


def init_app(app: Flask) -> None:
    """Watch every session for changes agents must hear of (once per process); the app
    pushes when MQTT_URL is set."""
    app.extensions["loa.push"] = True
    for name, fn in _LISTENERS:
        # On Session itself: schedule imports use a plain Session of their own.
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
    if not event.contains(Pool, "checkin", _pool_checkin):
        event.listen(Pool, "checkin", _pool_checkin)


# --- Broker files: Mosquitto's password_file and acl_file ------------------------------------


@dataclass(frozen=True)
class BrokerUser:
    """One broker user: its password in clear (hashed only into the file) and its rights."""

    username: str
    password: str
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()


@dataclass(frozen=True)
class BrokerFiles:
    """What `flask broker files` wrote."""

    users: list[BrokerUser]
    agents: int
    changed: bool


def hash_password(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS):
    """A password_file hash as Mosquitto 2 reads it: $7$<rounds>$<b64 salt>$<b64 PBKDF2-SHA512>."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, encoded: str) -> bool:
    """Whether a $7$ hash is of this password."""
    try:
        _, kind, rounds, salt, digest = encoded.split("$")
        if kind != "7":
            return False
        expected = base64.b64decode(digest, validate=True)
        got = hashlib.pbkdf2_hmac(
            "sha512", password.encode(), base64.b64decode(salt, validate=True), int(rounds), 64
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def broker_users() -> list[BrokerUser]:
    """The server (may write every wake topic) and each active enrolled agent (may read its
    own station's), by agent id."""
    config = current_app.config
    username = server_username()
    password = config.get("MQTT_PASSWORD") or ""
    if not password:
        raise BrokerFilesError(
            "MQTT_PASSWORD is not set: the server could not sign in to the broker."
        )
    if username.startswith(AGENT_USER_PREFIX) or not _plain_name(username):
        raise BrokerFilesError(
            f"MQTT_USERNAME {username!r}: letters, digits, - _ . only, not starting with "
            f"{AGENT_USER_PREFIX!r}."
        )
    users = [BrokerUser(username, password, write=(station_topic("+"),))]
    agents = db.session.scalars(
        select(Agent)
        .join(Station)
        .where(Agent.status == AgentStatus.ACTIVE, Agent.token_hash.is_not(None))
        .order_by(Agent.id)
    )
    for agent in agents:
        users.append(
            BrokerUser(
                agent_username(agent),
                agent_password(agent),
                read=(station_topic(agent.station.code),),
            )
        )
    return users


def _plain_name(name: str) -> bool:
    """A name safe in both files (no ':' or spaces)."""
    return bool(name) and name.isascii() and all(c.isalnum() or c in "-_." for c in name)


def _previous_hashes(path: Path) -> dict[str, str]:
    """user -> hash of an existing password file (none when there is none)."""
    try:
        text = path.read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        return {}
    found = {}
    for line in text.splitlines():
        user, sep, encoded = line.strip().partition(":")
        if sep and not user.startswith("#"):
            found[user] = encoded
    return found


def password_file_text(users: list[BrokerUser], previous: dict[str, str] | None = None) -> str:
    """The password_file: one user:$7$… line each; a hash that still matches is kept, so an
    unchanged set of users writes the same file."""
    previous = previous or {}
    lines = []
    for user in users:
        old = previous.get(user.username, "")
        encoded = (
            old if old and check_password(user.password, old) else hash_password(user.password)
        )
        lines.append(f"{user.username}:{encoded}")
    return "\n".join(lines) + "\n"


def acl_file_text(users: list[BrokerUser]) -> str:
    """The acl_file: per user, the topics it may read and write; nothing else is allowed."""
    lines = [
        "# Written by `flask broker files`; the next run replaces it. Each user may use only",
        "# the topics listed under it: the server writes wakes, an agent reads its station's.",
    ]
    for user in users:
        lines += ["", f"user {user.username}"]
        lines += [f"topic read {topic}" for topic in user.read]
        lines += [f"topic write {topic}" for topic in user.write]
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str, mode: int = FILE_MODE) -> bool:
    """Replace the file in one step (a broker reloading mid-write never reads half of it);
    False, and nothing written, when it already holds exactly this."""
    path = Path(path)
    try:
        if path.read_text() == text and (path.stat().st_mode & 0o777) == mode:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def write_broker_files(passwords: Path, acl: Path) -> BrokerFiles:
    """Write Mosquitto's password_file and acl_file for the server and every active agent."""
    users = broker_users()
    passwords, acl = Path(passwords), Path(acl)
    if passwords.resolve() == acl.resolve():
        raise BrokerFilesError("--passwords and --acl must be two different files.")
    changed = write_atomically(passwords, password_file_text(users, _previous_hashes(passwords)))
    changed = write_atomically(acl, acl_file_text(users)) or changed
    return BrokerFiles(users, len(users) - 1, changed)
