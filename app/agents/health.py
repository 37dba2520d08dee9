"""Station health as its agent reports it: the latest report per agent (version, plan held,
audio missing, output, disk, clock offset), and each station's state for the agents page and
the API: online or offline since when, with warnings in Vietnamese."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from app.agents.ingest import flag_json
from app.agents.models import Agent, AgentHealth, AgentStatus
from app.core.clock import LOCAL_TZ
from app.extensions import db
from app.org.models import Station
from app.schedules.models import Airing, AiringStatus

# Seen within this long: online (an agent calls every 30 s; last_seen_at is written at most
# every SEEN_EVERY_S).
ONLINE_S = 120
OFFLINE_WARN = timedelta(hours=1)
PLAN_WARN = timedelta(days=2)
CLOCK_WARN_S = 5.0
DISK_WARN_FRACTION = 0.10
DISK_WARN_BYTES = 500 * 1000 * 1000


@dataclass(frozen=True)
class HealthReport:
    """What an agent reports with each sync."""

    agent_version: str
    plan_until: datetime | None
    audio_missing: int
    output_name: str
    output_ok: bool
    output_message: str
    disk_free_bytes: int
    disk_total_bytes: int
    agent_time: datetime


def record_health(agent: Agent, report: HealthReport, received_at: datetime) -> float:
    """Keep the report as the agent's latest and commit; the clock offset it shows (agent_time
    minus the server's receipt time).

    One INSERT … ON CONFLICT DO UPDATE (PostgreSQL and SQLite both have it): a thousand agents
    report with every sync, so the row is not read first.
    """
    offset = round((report.agent_time - received_at).total_seconds(), 3)
    values = {
        "reported_at": received_at,
        "agent_time": report.agent_time,
        "clock_offset_s": offset,
        "agent_version": report.agent_version,
        "plan_until": report.plan_until,
        "audio_missing": report.audio_missing,
        "output_name": report.output_name,
        "output_ok": report.output_ok,
        "output_message": report.output_message,
        "disk_free_bytes": report.disk_free_bytes,
        "disk_total_bytes": report.disk_total_bytes,
    }
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        # The row is replaced by the next report 30 s later: losing the last one in a database
        # crash costs nothing, so this commit need not wait for the WAL to reach the disk.
        db.session.execute(text("SET LOCAL synchronous_commit TO OFF"))
    insert = _UPSERTS[dialect]
    statement = insert(AgentHealth).values(agent_id=agent.id, **values)
    db.session.execute(
        statement.on_conflict_do_update(index_elements=[AgentHealth.agent_id], set_=values)
    )
    # The commit expires any copy of the row this session holds.
    db.session.commit()
    return offset


_UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _when(value: datetime) -> str:
    """A time as a warning shows it: 08:00 ngày 27/11/2026."""
    return value.astimezone(LOCAL_TZ).strftime("%H:%M ngày %d/%m/%Y")


def _span(delta: timedelta) -> str:
    """A duration in words: 3 ngày 2 giờ, 5 giờ 10 phút, 12 phút."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} ngày" + (f" {hours} giờ" if hours else "")
    if hours:
        return f"{hours} giờ" + (f" {minutes} phút" if minutes else "")
    return f"{minutes} phút"


def size_text(count: int) -> str:
    """Bytes as a Vietnamese reader expects them: 1,5 GB, 320 MB."""
    if count >= 10**9:
        return f"{count / 10**9:.1f} GB".replace(".", ",")
    return f"{count // 10**6} MB"


def offset_text(seconds: float) -> str:
    """A clock offset with its sign and a decimal comma: +0,4, -12,0."""
    return f"{seconds:+.1f}".replace(".", ",")


def warnings_for(
    agent: Agent, now: datetime, server_plan_until: datetime | None
) -> list[dict[str, str]]:
    """The station's problems, each {code, message}: offline over an hour, under two days of
    plan left (while the server has more), clock off by over 5 s, disk nearly full, output
    failing, audio missing, chain flagged."""
    found = []
    seen = agent.last_seen_at
    if seen is not None and now - seen > OFFLINE_WARN:
        found.append(
            {
                "code": "offline",
                "message": f"Máy trạm mất kết nối từ {_when(seen)} (đã {_span(now - seen)}).",
            }
        )
    health = agent.health
    if health is not None:
        held = health.plan_until
        # Only when the server has more to give: a station whose schedules simply end
        # soon is not a sick agent.
        behind = server_plan_until is not None and (held is None or held < server_plan_until)
        if behind and (held is None or held - now < PLAN_WARN):
            left = (
                f"chỉ còn lịch phát đến {_when(held)}"
                if held is not None and held > now
                else "không còn lịch phát nào"
            )
            found.append(
                {
                    "code": "plan_short",
                    "message": f"Máy trạm {left} (dưới hai ngày), trong khi máy chủ có lịch "
                    f"đến {_when(server_plan_until)}: máy trạm chưa tải được lịch mới.",
                }
            )
        if abs(health.clock_offset_s) > CLOCK_WARN_S:
            way = "nhanh" if health.clock_offset_s > 0 else "chậm"
            found.append(
                {
                    "code": "clock",
                    "message": f"Đồng hồ máy trạm {way} {abs(health.clock_offset_s):.0f} giây "
                    "so với máy chủ (quá 5 giây): hãy bật đồng bộ giờ (NTP) trên máy trạm.",
                }
            )
        free, total = health.disk_free_bytes, health.disk_total_bytes
        if free < DISK_WARN_BYTES or (total > 0 and free < total * DISK_WARN_FRACTION):
            found.append(
                {
                    "code": "disk",
                    "message": f"Ổ đĩa máy trạm sắp đầy: còn trống {size_text(free)}"
                    + (f" trên {size_text(total)}" if total else "")
                    + ".",
                }
            )
        if not health.output_ok:
            message = (health.output_message or "").strip().rstrip(".")
            detail = f": {message}" if message else ""
            found.append(
                {
                    "code": "output",
                    "message": f"Bộ phát “{health.output_name}” của máy trạm báo lỗi{detail}.",
                }
            )
        if health.audio_missing:
            found.append(
                {
                    "code": "audio_missing",
                    "message": f"Máy trạm còn thiếu {health.audio_missing} tệp âm thanh của "
                    "lịch phát.",
                }
            )
    if agent.chain_flagged:
        found.append(
            {
                "code": "chain_flagged",
                "message": f"Chuỗi nhật ký bị đánh dấu đứt lúc {_when(agent.chain_broken_at)} "
                f"(dòng #{agent.chain_broken_seq}: {agent.chain_broken_reason}); máy chủ không "
                "nhận nhật ký của máy trạm cho đến khi quản trị viên gỡ đánh dấu.",
            }
        )
    return found


def agent_state(agent: Agent, now: datetime, server_plan_until: datetime | None) -> dict:
    """One agent's state as the page and the API show it (times aware; the API formats)."""
    seen = agent.last_seen_at
    online = seen is not None and timedelta(0) <= now - seen <= timedelta(seconds=ONLINE_S)
    health = agent.health
    return {
        "agent": agent,
        "online": online,
        "offline_since": seen if not online else None,
        "health": health,
        "server_plan_until": server_plan_until,
        "flag": flag_json(agent),
        "warnings": warnings_for(agent, now, server_plan_until),
    }


def _server_plans(station_ids: list[int], now: datetime) -> dict[int, datetime]:
    """The start of each station's last planned airing from now on, by station id."""
    if not station_ids:
        return {}
    rows = db.session.execute(
        select(Airing.station_id, func.max(Airing.sequenced_at))
        .where(
            Airing.station_id.in_(station_ids),
            Airing.status == AiringStatus.PLANNED,
            Airing.sequenced_at >= now,
        )
        .group_by(Airing.station_id)
    ).all()
    return {sid: _aware(when) for sid, when in rows}


def _aware(value) -> datetime:
    """Aggregates bypass the column type: SQLite gives naive UTC text."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def station_states(stations: list[Station], now: datetime) -> dict[int, dict | None]:
    """The active agent's state of each station by id (None without an active agent)."""
    ids = [s.id for s in stations]
    states: dict[int, dict | None] = dict.fromkeys(ids)
    if not ids:
        return states
    agents = db.session.scalars(
        select(Agent)
        .where(Agent.station_id.in_(ids), Agent.status == AgentStatus.ACTIVE)
        .options(selectinload(Agent.health))
    ).all()
    plans = _server_plans([a.station_id for a in agents], now)
    for agent in agents:
        states[agent.station_id] = agent_state(agent, now, plans.get(agent.station_id))
    return states


def state_json(state: dict | None, iso) -> dict[str, Any] | None:
    """A station's agent state for the API; iso formats a time (the API's local_iso)."""
    if state is None:
        return None
    agent, health = state["agent"], state["health"]
    return {
        "id": agent.id,
        "name": agent.name,
        "enrolled_at": iso(agent.enrolled_at),
        "last_seen_at": iso(agent.last_seen_at),
        "online": state["online"],
        "offline_since": iso(state["offline_since"]),
        "reported_at": iso(health.reported_at) if health else None,
        "version": health.agent_version if health else None,
        "plan_until": iso(health.plan_until) if health else None,
        "server_plan_until": iso(state["server_plan_until"]),
        "audio_missing": health.audio_missing if health else None,
        "output": (
            {"name": health.output_name, "ok": health.output_ok, "message": health.output_message}
            if health
            else None
        ),
        "disk_free_bytes": health.disk_free_bytes if health else None,
        "disk_total_bytes": health.disk_total_bytes if health else None,
        "clock_offset_s": health.clock_offset_s if health else None,
        "chain_flag": state["flag"],
        "warnings": state["warnings"],
    }
