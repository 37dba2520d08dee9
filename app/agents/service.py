"""Rules for station agents: adding and revoking them, the one-time enrolment code, the
credential, a station's playout mode, and the plan and audio an agent pulls."""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import current_app
from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from app.agents.models import Agent, AgentStatus, EnrolmentCode
from app.audit.service import record_event
from app.auth.models import User
from app.auth.permissions import Permission, in_scope, require
from app.broadcast.models import BroadcastLog
from app.core import clock
from app.core.clock import LOCAL_TZ
from app.core.errors import Conflict, DomainError, NotFound, ValidationError
from app.extensions import db
from app.org.models import PlayoutMode, Station, Unit
from app.schedules.models import Airing, AiringStatus
from app.schedules.service import AIRING_HORIZON_DAYS, airing_horizon_end
from app.scripts.models import Priority, Script, ScriptVersion
from app.speech.models import Render, RenderStatus
from app.speech.service import audio_dir

CREDENTIAL_PREFIX = "loa_agent_"
# Crockford's base32: no I, L, O or U, so a code read over the phone is typed right.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 80 random bits
CODE_EXAMPLE = "ABCD-EFGH-JKMN-PQRS"
DEFAULT_CODE_HOURS = 24
DEFAULT_PLAN_DAYS = 7
# The plan never reaches past the airings the runner materialises.
MAX_PLAN_DAYS = AIRING_HORIZON_DAYS
# last_seen_at is written at most this often per agent: a sync every 30 s from a thousand
# agents must not turn every read into a write. Well under health.ONLINE_S (120 s): an agent
# syncing every 30 s never looks offline.
SEEN_EVERY_S = 60
NAME_CHARS = 100
NOT_IN_PLAN = "Tệp âm thanh này không có trong lịch phát của đài."
BAD_CREDENTIAL = "Mã máy trạm không hợp lệ."
_RANK = {Priority.EMERGENCY: 0, Priority.HIGH: 1}
# Output settings that must not leave the server (an Icecast source password and the like).
_SECRET_WORDS = ("password", "secret", "token")


class AgentRefused(DomainError):
    """An enrolment code or agent credential refused; code names why (the JSON `error`)."""

    status = 401
    code = "unauthorized"

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class NewAgent:
    """An agent just added, with its enrolment code in clear (shown once, never stored)."""

    agent: Agent
    code: str
    expires_at: datetime


def _sha256(value: str) -> str:
    """Codes and credentials are random, so a plain sha256 is enough and allows lookup."""
    return hashlib.sha256(value.encode()).hexdigest()


def _local(value: datetime) -> str:
    """A time as a message shows it: 08:00 ngày 27/11/2026."""
    return value.astimezone(LOCAL_TZ).strftime("%H:%M ngày %d/%m/%Y")


def code_hours() -> float:
    """How long an enrolment code stays valid (AGENT_CODE_HOURS)."""
    return float(current_app.config.get("AGENT_CODE_HOURS", DEFAULT_CODE_HOURS))


def normalise_code(raw: str) -> str | None:
    """The code as hashed: upper case, no dashes or spaces, O read as 0 and I, L as 1
    (Crockford); None when it cannot be a code."""
    cleaned = "".join(raw.split()).replace("-", "").upper().translate(str.maketrans("OIL", "011"))
    if len(cleaned) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in cleaned):
        return None
    return cleaned


def _new_code() -> tuple[str, str]:
    """A fresh code as shown (four groups of four) and the sha256 stored."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4)), _sha256(raw)


# --- Admin: scope, listing, adding, revoking ---------------------------------------------------


def _require_admin_scope(actor: User | None, station: Station) -> None:
    """Admins act on stations of their subtree; the command line (actor None) on any."""
    if actor is None:
        return
    require(actor, Permission.ADMIN)
    if not in_scope(actor, station.unit):
        raise NotFound("Đài không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.")


def stations_in_scope(actor: User) -> list[Station]:
    """The stations of the admin's subtree, by unit and code."""
    return list(
        db.session.scalars(
            select(Station)
            .join(Unit)
            .where(Unit.path.startswith(actor.unit.path))
            .order_by(Unit.path, Station.code)
        )
    )


def agents_of(stations: list[Station]) -> dict[int, list[Agent]]:
    """The agents of these stations by station id, active first, newest first."""
    found: dict[int, list[Agent]] = {s.id: [] for s in stations}
    if not stations:
        return found
    rows = db.session.scalars(
        select(Agent)
        .where(Agent.station_id.in_(list(found)))
        .order_by(Agent.status, Agent.created_at.desc(), Agent.id.desc())
    )
    for agent in rows:
        found[agent.station_id].append(agent)
    return found


def list_agents(station: Station | None = None) -> list[Agent]:
    """Every agent (of one station), by station code then newest first (command line)."""
    query = (
        select(Agent)
        .join(Station)
        .options(selectinload(Agent.station))
        .order_by(Station.code, Agent.created_at.desc(), Agent.id.desc())
    )
    if station is not None:
        query = query.where(Agent.station_id == station.id)
    return list(db.session.scalars(query))


def active_agent(station: Station) -> Agent | None:
    """The station's one active agent, if any."""
    return db.session.scalar(
        select(Agent).where(Agent.station_id == station.id, Agent.status == AgentStatus.ACTIVE)
    )


def get_agent(actor: User | None, agent_id: int) -> Agent:
    """An agent of the admin's subtree, or NotFound."""
    agent = db.session.get(Agent, agent_id)
    if agent is None:
        raise NotFound("Không tìm thấy máy trạm.")
    _require_admin_scope(actor, agent.station)
    return agent


def add_agent(actor: User | None, station: Station, name: str = "") -> NewAgent:
    """Add an agent for a station, with a one-time enrolment code returned in clear."""
    _require_admin_scope(actor, station)
    name = " ".join(name.split()) or f"Máy trạm {station.code}"
    if len(name) > NAME_CHARS:
        message = f"Tên máy trạm tối đa {NAME_CHARS} ký tự."
        raise ValidationError(message, {"name": message})
    busy = active_agent(station)
    message = (
        f"Đài “{station.name}” đã có máy trạm đang hoạt động"
        + (f" (“{busy.name}”)" if busy else "")
        + ". Hai máy cùng phát một đài sẽ phát trùng: hãy thu hồi máy cũ trước khi thêm máy mới."
    )
    if busy is not None:
        raise ValidationError(message, {"station_id": "Đài đã có máy trạm đang hoạt động."})
    now = clock.now()
    shown, code_hash = _new_code()
    expires = now + timedelta(hours=code_hours())
    actor_id = actor.id if actor else None
    agent = Agent(
        station=station,
        name=name,
        status=AgentStatus.ACTIVE,
        created_by_id=actor_id,
        created_at=now,
    )
    db.session.add(agent)
    db.session.add(
        EnrolmentCode(
            agent=agent,
            code_hash=code_hash,
            created_by_id=actor_id,
            created_at=now,
            expires_at=expires,
        )
    )
    try:
        db.session.flush()
    except IntegrityError as exc:
        # Another admin added one for the same station meanwhile (the partial unique index).
        db.session.rollback()
        raise Conflict(message) from exc
    record_event(
        "agent.create",
        "agent",
        agent.id,
        f"Thêm máy trạm “{name}” cho đài {station.name} ({station.code})",
        actor=actor,
        unit_id=station.unit_id,
        details={"station": station.code, "code_expires_at": expires.isoformat()},
    )
    db.session.commit()
    return NewAgent(agent, shown, expires)


def revoke_agent(actor: User | None, agent: Agent) -> Agent:
    """Revoke an agent: its credential and unused code stop working at once.

    The station's playout mode stays as it is: a station in agent mode then airs nowhere until
    an admin switches it to central or enrols a new agent (the page says so). Switching it to
    central here could make the log claim airings the station's loudspeakers never played.
    """
    _require_admin_scope(actor, agent.station)
    if agent.status == AgentStatus.REVOKED:
        raise Conflict(f"Máy trạm “{agent.name}” đã bị thu hồi rồi.")
    now = clock.now()
    agent.status = AgentStatus.REVOKED
    agent.revoked_at = now
    agent.revoked_by_id = actor.id if actor else None
    station = agent.station
    # A station waiting for this agent to hand it back is taken back at once: an admin who
    # revokes accepts that an offline agent's unsent airings are not known here.
    taken_back = station.awaiting_agent_since is not None
    station.awaiting_agent_since = None
    record_event(
        "agent.revoke",
        "agent",
        agent.id,
        f"Thu hồi máy trạm “{agent.name}” của đài {station.name} ({station.code})",
        actor=actor,
        unit_id=station.unit_id,
        details={
            "station": station.code,
            "playout_mode": station.playout_mode.value,
            "taken_back": taken_back,
        },
    )
    db.session.commit()
    return agent


# --- Playout mode -------------------------------------------------------------------------------


def set_playout_mode(actor: User | None, station: Station, mode: PlayoutMode | str) -> Station:
    """Switch who airs the station: the central runner or its agent (never both).

    To agent only when the station's active agent has enrolled and fetched its plan at least
    once, so it holds the plan and can fetch the audio. See docs/api.md, "Playout mode", for
    how the runners hand a station over without airing anything twice.
    """
    _require_admin_scope(actor, station)
    try:
        mode = PlayoutMode(mode)
    except ValueError:
        message = "Chế độ phát phải là “central” hoặc “agent”."
        raise ValidationError(message, {"mode": message}) from None
    if station.playout_mode == mode:
        raise Conflict(f"Đài “{station.name}” đã ở chế độ “{mode.label}”.")
    agent = active_agent(station)
    if mode == PlayoutMode.AGENT:
        if agent is None or agent.enrolled_at is None:
            message = (
                "Đài chưa có máy trạm đã đăng ký: hãy thêm máy trạm và đăng ký nó bằng mã "
                "trước khi chuyển sang chế độ máy trạm."
            )
            raise ValidationError(message, {"mode": message})
        if agent.last_seen_at is None:
            message = (
                f"Máy trạm “{agent.name}” chưa tải lịch phát lần nào: hãy chạy máy trạm và "
                "chờ nó đồng bộ trước khi chuyển."
            )
            raise ValidationError(message, {"mode": message})
    before = station.playout_mode
    now = clock.now()
    station.playout_mode = mode
    station.playout_mode_changed_at = now
    # Back to central from an agent that may still be airing its cached plan: nobody airs the
    # station until that agent has stopped and uploaded its rows (release_station()), or is
    # revoked. Without an enrolled agent there is nothing to wait for.
    waits = mode == PlayoutMode.CENTRAL and agent is not None and agent.enrolled_at is not None
    station.awaiting_agent_since = now if waits else None
    record_event(
        "station.playout_mode",
        "station",
        station.id,
        f"Chuyển đài {station.name} ({station.code}) sang “{mode.label}”",
        actor=actor,
        unit_id=station.unit_id,
        details={
            "from": before.value,
            "to": mode.value,
            "agent": agent.id if agent else None,
            "awaiting_agent": waits,
        },
    )
    db.session.commit()
    return station


class Handover:
    """Where a station's switch of playout mode stands (handover_state())."""

    CENTRAL_FINISHING = "central_finishing"  # agent mode; the central runner ends its claims
    AWAITING_AGENT = "awaiting_agent"  # central mode; the agent has not handed back yet


def central_claims(station_id: int) -> int:
    """Airings of the station the central runner has claimed and not finished yet."""
    return db.session.scalar(
        select(func.count(Airing.id)).where(
            Airing.station_id == station_id, Airing.status == AiringStatus.CLAIMED
        )
    )


def handover_state(station: Station) -> str | None:
    """Handover.CENTRAL_FINISHING while a station just switched to its agent still has
    airings the central runner claimed before the switch (the agent starts airing once they
    are logged, so the chain does not fork); Handover.AWAITING_AGENT while a station switched
    back to central waits for its agent to stop and upload; None once the switch is done.

    The agent never leaves an airing claimed on the server (its rows move them to where they
    ended), so every claimed airing is the central runner's.
    """
    if station.playout_mode == PlayoutMode.CENTRAL:
        return Handover.AWAITING_AGENT if station.awaiting_agent_since is not None else None
    return Handover.CENTRAL_FINISHING if central_claims(station.id) else None


def release_station(agent: Agent, head_seq: int) -> dict[str, Any]:
    """The agent hands a station switched back to central over: it has stopped airing, and
    head_seq is the newest row it wrote. Refused (409 rows_pending) while the server's chain
    ends before it; otherwise the central runner airs the station from now on.

    Idempotent: a release of a station already handed over answers the same.
    """
    station = agent.station
    if station.playout_mode == PlayoutMode.AGENT:
        raise AgentRefused(
            "not_central",
            "Đài vẫn ở chế độ máy trạm phát: máy trạm tiếp tục phát, không bàn giao.",
            409,
        )
    server_seq = (
        db.session.scalar(
            select(func.max(BroadcastLog.seq)).where(BroadcastLog.station_id == station.id)
        )
        or 0
    )
    if head_seq > server_seq:
        raise AgentRefused(
            "rows_pending",
            f"Máy chủ mới có nhật ký đến dòng {server_seq}, máy trạm đã ghi đến dòng {head_seq}: "
            "hãy gửi hết nhật ký trước khi bàn giao.",
            409,
        )
    released = station.awaiting_agent_since is not None
    if released:
        waited_s = (clock.now() - station.awaiting_agent_since).total_seconds()
        station.awaiting_agent_since = None
        record_event(
            "station.handed_back",
            "station",
            station.id,
            f"Máy trạm “{agent.name}” bàn giao đài {station.name} ({station.code}) cho máy chủ",
            unit_id=station.unit_id,
            details={"agent": agent.id, "head_seq": server_seq, "waited_s": round(waited_s, 1)},
        )
        db.session.commit()
    return {"station": station.code, "mode": station.playout_mode.value, "released": released}


def _aired_centrally():
    return (Station.playout_mode == PlayoutMode.CENTRAL) & Station.awaiting_agent_since.is_(None)


def stations_aired_centrally() -> Select:
    """Ids of the stations the central runner airs (playout mode central, and no agent still
    handing the station back), as a subquery: `Airing.station_id.in_(stations_aired_centrally())`.

    A subquery rather than a list, so a runner's claim can check the mode in the same
    conditional UPDATE that claims the airing: a switch committed before the claim wins.
    """
    return select(Station.id).where(_aired_centrally())


def is_aired_centrally(station_id: int) -> bool:
    """Whether the central runner airs this station now."""
    return (
        db.session.scalar(select(Station.id).where(Station.id == station_id, _aired_centrally()))
        is not None
    )


# --- The agent's side: enrolment and credential -------------------------------------------------


def enrol_agent(raw_code: str) -> tuple[Agent, str]:
    """Trade a one-time enrolment code for the agent's credential (returned in clear once)."""
    code = normalise_code(raw_code)
    if code is None:
        message = f"Mã đăng ký gồm {CODE_LENGTH} chữ và số, ví dụ {CODE_EXAMPLE}."
        raise ValidationError(message, {"code": message})
    row = db.session.scalar(select(EnrolmentCode).where(EnrolmentCode.code_hash == _sha256(code)))
    now = clock.now()
    again = "Hãy nhờ quản trị viên thêm máy trạm mới để có mã khác."
    if row is None:
        raise AgentRefused(
            "code_invalid", "Mã đăng ký không đúng. Hãy kiểm tra lại mã quản trị viên đã đưa."
        )
    used = AgentRefused(
        "code_used",
        f"Mã đăng ký này đã được dùng lúc {_local(row.used_at or now)}; mỗi mã chỉ dùng "
        f"được một lần. {again}",
    )
    if row.used_at is not None:
        raise used
    if row.expires_at <= now:
        raise AgentRefused(
            "code_expired", f"Mã đăng ký đã hết hạn lúc {_local(row.expires_at)}. {again}"
        )
    agent = row.agent
    if not agent.is_active:
        raise AgentRefused(
            "agent_revoked", f"Máy trạm “{agent.name}” đã bị thu hồi. {again}", status=403
        )
    # Conditional, so of two enrolments racing with one code exactly one gets a credential.
    taken = db.session.execute(
        update(EnrolmentCode)
        .where(EnrolmentCode.id == row.id, EnrolmentCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        db.session.rollback()
        raise AgentRefused("code_used", f"Mã đăng ký này vừa được dùng. {again}")
    credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    agent.token_hash = _sha256(credential)
    agent.token_prefix = credential[:16]
    agent.enrolled_at = now
    station = agent.station
    record_event(
        "agent.enrol",
        "agent",
        agent.id,
        f"Máy trạm “{agent.name}” của đài {station.name} ({station.code}) đã đăng ký",
        unit_id=station.unit_id,
        details={"station": station.code, "code": row.id},
    )
    db.session.commit()
    return agent, credential


def agent_for_credential(plaintext: str) -> Agent:
    """The active agent a credential belongs to, noting that it was seen; AgentRefused if
    unknown (401) or revoked (403)."""
    if not plaintext.startswith(CREDENTIAL_PREFIX):
        raise AgentRefused("unauthorized", BAD_CREDENTIAL)
    # The station and its unit come in the same query: every agent call reads them.
    agent = db.session.scalar(
        select(Agent)
        .where(Agent.token_hash == _sha256(plaintext))
        .options(joinedload(Agent.station).joinedload(Station.unit))
    )
    if agent is None:
        raise AgentRefused("unauthorized", BAD_CREDENTIAL)
    if not agent.is_active:
        when = _local(agent.revoked_at) if agent.revoked_at else "trước đây"
        raise AgentRefused(
            "agent_revoked",
            f"Máy trạm “{agent.name}” của đài {agent.station.name} đã bị thu hồi lúc {when}: "
            "nó không tải được lịch phát và âm thanh nữa. Hãy dừng máy trạm; muốn phát lại từ "
            "máy này, nhờ quản trị viên thêm máy trạm mới và đăng ký lại.",
            status=403,
        )
    now = clock.now()
    seen = agent.last_seen_at
    if seen is None or not timedelta(0) <= now - seen < timedelta(seconds=SEEN_EVERY_S):
        agent.last_seen_at = now
        db.session.commit()
    return agent


# --- The agent's side: plan and audio -----------------------------------------------------------


def _utc(value: datetime) -> str:
    """An aware time as ISO 8601 in UTC."""
    return value.astimezone(UTC).isoformat()


def plan_window(now: datetime, days: int) -> tuple[datetime, datetime]:
    """From today's local midnight to the local midnight after now + days.

    Starting at midnight, not now, keeps the plan (and its ETag) the same all day unless
    something in it changes; ending like the materialised airings covers whole days.
    """
    today = now.astimezone(LOCAL_TZ).date()
    start = datetime.combine(today, time(), LOCAL_TZ).astimezone(UTC)
    return start, airing_horizon_end(now, days)


def _without_secrets(settings: dict[str, Any]) -> dict[str, Any]:
    """Output settings without passwords (and without one inside a URL)."""
    clean: dict[str, Any] = {}
    for key, value in settings.items():
        lowered = str(key).lower()
        if any(word in lowered for word in _SECRET_WORDS) and not lowered.endswith("_env"):
            continue
        if isinstance(value, str) and "@" in value and "://" in value:
            parts = urlsplit(value)
            if parts.password is not None:
                host = parts.hostname or ""
                netloc = f"{parts.username or ''}@{host}" + (f":{parts.port}" if parts.port else "")
                value = urlunsplit(parts._replace(netloc=netloc))
        clean[key] = value
    return clean


def station_output(station: Station) -> dict[str, Any]:
    """The output the server's configuration names for the station, without secrets.

    The same lookup as the central runner's output_for(): PLAYOUT_STATIONS[code], else
    PLAYOUT_OUTPUT with PLAYOUT_SETTINGS.
    """
    config = current_app.config
    own = (config.get("PLAYOUT_STATIONS") or {}).get(station.code) or {}
    name = own.get("output") or config.get("PLAYOUT_OUTPUT") or "simulate"
    settings = own.get("settings", config.get("PLAYOUT_SETTINGS") or {})
    return {"name": name, "settings": _without_secrets(dict(settings or {}))}


def _audio_json(render: Any) -> dict[str, Any]:
    """What the agent needs to fetch and check a file (sha256, size in bytes, format) and to
    log its airing as the central runner does (the sha256 of the spoken text)."""
    if render is None or render.status != RenderStatus.DONE or not render.audio_path:
        return {
            "sha256": None,
            "size": None,
            "format": None,
            "duration_s": None,
            "spoken_sha256": None,
        }
    path = audio_dir() / render.audio_path
    return {
        "sha256": render.audio_sha256,
        "size": path.stat().st_size if path.is_file() else None,
        "format": render.audio_format,
        "duration_s": render.duration_s,
        "spoken_sha256": render.spoken_sha256,
    }


@dataclass(frozen=True)
class _PlanInputs:
    """Everything a plan document is made of, as read from the database and the config."""

    airings: list[Any]
    audio: dict[int | None, dict[str, Any]]
    head: dict[str, Any]

    def key(self) -> tuple[int, int]:
        """A fingerprint of the inputs: equal inputs make byte-equal documents.

        Rows are tuples of plain values (ints, strings, enums, aware datetimes), so hashing
        them costs a fraction of building and serialising the document. Two hashes and the
        row count make an accidental match of different inputs vanishingly unlikely.
        """
        rows = tuple(tuple(row) for row in self.airings)
        rest = json.dumps(
            [self.head, sorted(self.audio.items(), key=lambda kv: kv[0] or 0)],
            sort_keys=True,
            default=str,
        )
        return hash((rows, rest)), hash((len(rows), rest, rows))


def _plan_inputs(agent: Agent, days: int, now: datetime) -> _PlanInputs:
    """Read the station's airings from today to now + days and what the agent needs to air
    them: one query for the airings with their script, version and render."""
    station = agent.station
    start, until = plan_window(now, days)
    # Plain rows, not ORM objects: a thousand agents ask every 30 s.
    rows = db.session.execute(
        select(
            Airing.id,
            Airing.airing_key,
            Airing.schedule_id,
            Airing.status,
            Airing.planned_at,
            Airing.sequenced_at,
            Airing.duration_s,
            Airing.priority,
            Airing.session_name,
            Airing.script_id,
            Script.title,
            Airing.version_id,
            ScriptVersion.number,
            Airing.render_id,
            Airing.note,
            Airing.operator_id,
            Airing.requeued_from_id,
            Render.status.label("render_status"),
            Render.audio_path,
            Render.audio_sha256,
            Render.audio_format,
            Render.duration_s.label("render_duration_s"),
            Render.spoken_sha256,
        )
        .join(Script, Script.id == Airing.script_id)
        .outerjoin(ScriptVersion, ScriptVersion.id == Airing.version_id)
        .outerjoin(Render, Render.id == Airing.render_id)
        .where(
            Airing.station_id == station.id,
            Airing.sequenced_at >= start,
            Airing.sequenced_at < until,
        )
    ).all()
    rows.sort(key=lambda a: (a.sequenced_at, _RANK.get(a.priority, 2), a.planned_at, a.id))
    audio: dict[int | None, dict[str, Any]] = {}
    for row in rows:
        if row.render_id not in audio:
            audio[row.render_id] = _audio_json(
                _RenderFields(
                    row.render_status,
                    row.audio_path,
                    row.audio_sha256,
                    row.audio_format,
                    row.render_duration_s,
                    row.spoken_sha256,
                )
                if row.render_id is not None
                else None
            )
    grace = station.grace_s
    if grace is None:
        grace = current_app.config.get("PLAYOUT_GRACE_S", 300.0)
    head = {
        "station": {
            "id": station.id,
            "code": station.code,
            "name": station.name,
            "unit": station.unit.code,
            "unit_id": station.unit_id,
            "kind": station.kind.value,
            "active": station.active,
        },
        "agent": {"id": agent.id, "name": agent.name},
        "playout": {
            "mode": station.playout_mode.value,
            # The agent airs only when mode is agent and handover is null (handover_state()).
            "handover": handover_state(station),
            "misfire_policy": station.misfire_policy,
            "grace_s": float(grace),
            "interrupt_policy": station.interrupt_policy,
            "output": station_output(station),
        },
        "days": days,
        "from": _utc(start),
        "until": _utc(until),
    }
    return _PlanInputs(rows, audio, head)


@dataclass(frozen=True)
class _RenderFields:
    """The render columns of a plan row, as _audio_json reads them."""

    status: Any
    audio_path: str | None
    audio_sha256: str | None
    audio_format: str | None
    duration_s: float | None
    spoken_sha256: str | None


def _plan_body(inputs: _PlanInputs) -> dict[str, Any]:
    """The plan document from its inputs."""
    audio = inputs.audio
    items = [
        {
            "id": a.id,
            "airing_key": a.airing_key,
            "schedule": a.schedule_id,
            "status": a.status.value,
            "planned_at": _utc(a.planned_at),
            "start_at": _utc(a.sequenced_at),
            "duration_s": a.duration_s,
            "priority": a.priority.value,
            "session": a.session_name or None,
            "script": {"id": a.script_id, "title": a.title},
            "version": {"id": a.version_id, "number": a.number},
            "render": a.render_id,
            "audio": audio[a.render_id],
            "note": a.note,
            # Who asked for a "phát ngay", and the airing a requeued one airs again: the
            # agent's log rows name them as the central runner's do.
            "operator": a.operator_id,
            "requeued_from": a.requeued_from_id,
        }
        for a in inputs.airings
    ]
    needed = {
        item["audio"]["sha256"]: item["audio"]
        for item in items
        if item["status"] == "planned" and item["audio"]["sha256"]
    }
    return {
        **inputs.head,
        "items": items,
        "audio": [needed[sha] for sha in sorted(needed)],
    }


def agent_plan(agent: Agent, days: int, now: datetime) -> dict[str, Any]:
    """The station's airings from today to now + days, with what the agent needs to air them.

    Every airing of the window is listed with its status; the agent airs the `planned` ones.
    The document holds nothing that changes by itself (no server time), so its sha256 is a
    strong ETag: it changes exactly when the plan does.
    """
    return _plan_body(_plan_inputs(agent, days, now))


# (agent id, days) -> (fingerprint of the inputs, sha256 of the document they made), in this
# process. An unchanged plan is answered 304 from it without building and serialising the
# document; the inputs are still read from the database on every request, so a change made
# by any process (another worker, the runner, a CLI) is seen at once.
_PLAN_DIGESTS: OrderedDict[tuple[int, int], tuple[tuple[int, int], str]] = OrderedDict()
_PLAN_DIGESTS_MAX = 20_000
_PLAN_DIGESTS_LOCK = threading.Lock()


def plan_document(
    agent: Agent, days: int, now: datetime, held: Callable[[str], bool] | None = None
) -> tuple[bytes | None, str]:
    """The plan as the exact bytes sent, and their sha256 (the strong ETag).

    held tells whether the caller already has a document of a given sha256 (If-None-Match);
    when it has the current one, the bytes are None and the document is not built.
    """
    inputs = _plan_inputs(agent, days, now)
    key = inputs.key()
    slot = (agent.id, days)
    with _PLAN_DIGESTS_LOCK:
        cached = _PLAN_DIGESTS.get(slot)
    if cached is not None and cached[0] == key and held is not None and held(cached[1]):
        return None, cached[1]
    raw = json.dumps(
        _plan_body(inputs), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode()
    digest = hashlib.sha256(raw).hexdigest()
    with _PLAN_DIGESTS_LOCK:
        _PLAN_DIGESTS[slot] = (key, digest)
        _PLAN_DIGESTS.move_to_end(slot)
        while len(_PLAN_DIGESTS) > _PLAN_DIGESTS_MAX:
            _PLAN_DIGESTS.popitem(last=False)
    if held is not None and held(digest):
        return None, digest
    return raw, digest


def audio_for(agent: Agent, sha256: str) -> tuple[Render, Path]:
    """The finished audio with this sha256 if an airing of the agent's station (planned,
    past or cancelled) uses it; otherwise NotFound, whether or not the file exists."""
    render = db.session.scalar(
        select(Render)
        .join(Airing, Airing.render_id == Render.id)
        .where(
            Airing.station_id == agent.station_id,
            Render.audio_sha256 == sha256,
            Render.status == RenderStatus.DONE,
        )
        .order_by(Render.id)
        .limit(1)
    )
    if render is None or not render.audio_path:
        raise NotFound(NOT_IN_PLAN)
    path = audio_dir() / render.audio_path
    if not path.is_file():
        raise NotFound("Tệp âm thanh không còn trên máy chủ; hãy báo quản trị viên tạo lại.")
    return render, path
