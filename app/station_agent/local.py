"""The agent's own database, and how a plan from the server is applied to it.

The agent's database has the server's schema (the playout core reads the same models), but
holds only its station's rows, copied from the plan: the station, the scripts, versions and
renders its airings use (under the server's ids, which its log rows name), the airings
themselves (under their airing_key; local ids, since the runner adds requeued airings of its
own), and the station's log, continuing the server's chain. It is a cache of what the server
guarantees, so the columns the playout core does not read hold neutral values and foreign
keys are not enforced.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from sqlalchemy import delete, func, select

from app.broadcast.models import BroadcastLog
from app.broadcast.service import compute_row_hash, row_from_json
from app.core.clock import Clock, SystemClock
from app.extensions import db
from app.org.models import PlayoutMode, Station, StationKind
from app.playout.runner import AGENT_HOST
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import Priority, Script, ScriptStatus, ScriptVersion
from app.speech.models import Render, RenderStatus
from app.station_agent.state import StateDir

# A requeued airing (the runner's requeue() after an emergency cut a spot off) exists only
# here until its log row reaches the server: a plan never lists it, so it is never dropped.
REQUEUED_MARK = "~r"


class CacheConnection(sqlite3.Connection):
    """SQLite connections of the agent's database: the app's connect hook leaves foreign keys
    off for them (see app._sqlite_pragmas), as the cache holds only some of the rows."""

    loa_foreign_keys = False


def create_local_app(state: StateDir, clock: Clock | None = None, **config: Any) -> Flask:
    """The Flask app the playout core runs in on the agent: its database and audio, no web."""
    from app import models  # noqa: F401  (registers every model with the metadata)

    app = Flask("loa_station_agent")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{state.database}",
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"factory": CacheConnection}},
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        AUDIO_DIR=state.audio,
        PLAYOUT_HOST=AGENT_HOST,
        PLAYOUT_OUTPUT="simulate",
        PLAYOUT_SETTINGS={},
        PLAYOUT_STATIONS={},
        PLAYOUT_GRACE_S=300.0,
    )
    app.config.update(config)
    app.extensions["loa.clock"] = clock or SystemClock()
    db.init_app(app)
    with app.app_context():
        db.create_all()
    return app


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def _station(plan: dict[str, Any], now: datetime) -> Station:
    info, playout = plan["station"], plan["playout"]
    station = db.session.get(Station, info["id"])
    if station is None:
        station = Station(id=info["id"], created_at=now)
        db.session.add(station)
    station.unit_id = info["unit_id"]
    station.kind = StationKind(info["kind"])
    station.code = info["code"]
    station.name = info["name"]
    station.active = info["active"]
    station.misfire_policy = playout["misfire_policy"]
    station.grace_s = playout["grace_s"]
    station.interrupt_policy = playout["interrupt_policy"]
    station.playout_mode = PlayoutMode(playout["mode"])
    return station


def _script(item: dict[str, Any], unit_id: int, now: datetime) -> None:
    script = db.session.get(Script, item["script"]["id"])
    if script is None:
        script = Script(
            id=item["script"]["id"],
            unit_id=unit_id,
            priority=Priority(item["priority"]),
            status=ScriptStatus.APPROVED,
            created_at=now,
            updated_at=now,
        )
        db.session.add(script)
    script.title = item["script"]["title"]
    version = item["version"]
    if db.session.get(ScriptVersion, version["id"]) is None:
        db.session.add(
            ScriptVersion(
                id=version["id"],
                script_id=script.id,
                number=version["number"] or 0,
                body="",
                sha256="",
                origin="agent",
                created_at=now,
            )
        )


def _render(item: dict[str, Any], now: datetime) -> None:
    audio = item["audio"]
    render = db.session.get(Render, item["render"])
    if render is None:
        render = Render(
            id=item["render"],
            version_id=item["version"]["id"],
            status=RenderStatus.DONE,
            cache_key="",
            spoken_text="",
            engine_requested="",
            voice="",
            created_at=now,
        )
        db.session.add(render)
    render.audio_sha256 = audio["sha256"] or ""
    render.spoken_sha256 = audio.get("spoken_sha256") or ""
    render.audio_format = audio["format"] or ""
    render.duration_s = audio["duration_s"]
    render.audio_path = f"{audio['sha256']}.{audio['format']}" if audio["sha256"] else ""


def _fields(item: dict[str, Any], station_id: int) -> dict[str, Any]:
    """The airing's columns as the plan gives them."""
    return {
        "schedule_id": item.get("schedule"),
        "station_id": station_id,
        "planned_at": _time(item["planned_at"]),
        "sequenced_at": _time(item["start_at"]),
        "session_name": item.get("session") or "",
        "duration_s": float(item["duration_s"]),
        "priority": Priority(item["priority"]),
        "script_id": item["script"]["id"],
        "version_id": item["version"]["id"],
        "render_id": item["render"],
        "operator_id": item.get("operator"),
        "note": item.get("note") or "",
    }


def apply_plan(plan: dict[str, Any], now: datetime) -> dict[str, int]:
    """Make the local airings match the plan, in one transaction (never half a plan).

    Per airing_key, in the plan's window: a new planned airing is added; a planned one the
    agent has not claimed yet takes the plan's time, audio and priority; one the server
    cancelled (or dropped from the plan, or no longer lists as planned) is cancelled here
    unless the agent already claimed or aired it. What the agent aired stays as it aired:
    the server learns it from the log. Returns counts for the agent's log.
    """
    counts = {"added": 0, "changed": 0, "cancelled": 0}
    try:
        station = _station(plan, now)
        items = plan["items"]
        for item in items:
            _script(item, station.unit_id, now)
            _render(item, now)
        db.session.flush()
        start, until = _time(plan["from"]), _time(plan["until"])
        local = {
            a.airing_key: a
            for a in db.session.scalars(
                select(Airing).where(
                    Airing.station_id == station.id,
                    Airing.sequenced_at >= start,
                    Airing.sequenced_at < until,
                )
            )
        }
        listed = set()
        for item in items:
            key = item["airing_key"]
            listed.add(key)
            airing = local.get(key) or db.session.scalar(
                select(Airing).where(Airing.airing_key == key)
            )
            planned = item["status"] == AiringStatus.PLANNED.value
            if airing is None:
                if planned:
                    db.session.add(
                        Airing(
                            **_fields(item, station.id),
                            airing_key=key,
                            status=AiringStatus.PLANNED,
                            created_at=now,
                        )
                    )
                    counts["added"] += 1
                continue
            if airing.status != AiringStatus.PLANNED:
                continue  # claimed or done here: the log tells the server
            if not planned:
                airing.status = AiringStatus.CANCELLED
                counts["cancelled"] += 1
                continue
            changed = False
            for name, value in _fields(item, station.id).items():
                if getattr(airing, name) != value:
                    setattr(airing, name, value)
                    changed = True
            counts["changed"] += changed
        for key, airing in local.items():
            if key in listed or REQUEUED_MARK in key or airing.status != AiringStatus.PLANNED:
                continue
            airing.status = AiringStatus.CANCELLED
            counts["cancelled"] += 1
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return counts


def continue_chain(head: dict[str, Any]) -> bool:
    """Make the server's newest row of the station the base the agent's rows continue from.

    Only when every local row is on the server already (the caller checks): rows older than
    the head are dropped from the cache, the head's copy is kept. True when the base changed.
    Refuses (ValueError) a head whose hash does not match its fields.
    """
    row = head.get("row")
    newest = db.session.scalar(select(func.max(BroadcastLog.seq)))
    if row is None or (newest is not None and newest >= int(head["seq"])):
        return False
    base = row_from_json(row)
    if compute_row_hash(base) != base.row_hash:
        raise ValueError("the server's newest log row does not match its hash")
    db.session.execute(delete(BroadcastLog))
    db.session.add(base)
    db.session.commit()
    return True


def pending_rows(after_seq: int, limit: int) -> list[BroadcastLog]:
    """The station's rows the server has not acknowledged yet, oldest first."""
    return db.session.scalars(
        select(BroadcastLog)
        .where(BroadcastLog.seq > after_seq)
        .order_by(BroadcastLog.seq)
        .limit(limit)
    ).all()


def plan_through(now: datetime) -> datetime | None:
    """The time of the last planned airing held here: how long the agent can air offline."""
    return db.session.scalar(
        select(Airing.sequenced_at)
        .where(Airing.status == AiringStatus.PLANNED, Airing.sequenced_at >= now)
        .order_by(Airing.sequenced_at.desc())
        .limit(1)
    )
