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

import contextlib
import functools
import hashlib
import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import SQLAlchemyError

from app.broadcast.models import BroadcastLog
from app.broadcast.service import ROW_JSON_FIELDS, compute_row_hash, row_from_json, row_json
from app.core.clock import Clock, SystemClock
from app.extensions import db
from app.org.models import PlayoutMode, Station, StationKind
from app.playout.runner import AGENT_HOST
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import Priority, Script, ScriptStatus, ScriptVersion
from app.speech.models import Render, RenderStatus
from app.station_agent.client import ServerError
from app.station_agent.state import Settings, StateDir, StateError

log = logging.getLogger(__name__)

# Rows per upload batch (the server takes up to 1,000).
UPLOAD_BATCH = 500

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
    stored = stored_revision(state.database)
    if stored is not None and stored != schema_revision():
        raise StateError(
            f"{state.database} được tạo bởi phiên bản máy trạm khác (lược đồ cơ sở dữ liệu đã "
            "đổi): chạy “run” để máy trạm nâng cấp nó trước."
        )
    db.init_app(app)
    with app.app_context():
        db.create_all()
        if stored is None:
            _stamp(db.engine)
    return app


# --- the schema of the agent's database -----------------------------------------------------

# The revision the file was built with: one row, written when the file is created.
SCHEMA_TABLE = "loa_agent_schema"
_SKIPPED_OBJECTS = ("sqlite_%", SCHEMA_TABLE)


def _schema_of(connection) -> list[tuple]:
    """Every table, index and trigger of an SQLite database as SQLite stores them."""
    return connection.execute(
        text(
            "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master "
            "WHERE name NOT LIKE :internal AND name != :own ORDER BY type, name"
        ),
        {"internal": _SKIPPED_OBJECTS[0], "own": _SKIPPED_OBJECTS[1]},
    ).all()


@functools.cache
def schema_revision() -> str:
    """The sha256 of the schema this version of the project builds for the agent's database.

    Taken from what create_all() really makes in an in-memory SQLite database (tables,
    indexes, the append-only triggers, the search tables), so any change of the models, of
    their DDL hooks or of SQLAlchemy's DDL changes it; a migration that changes nothing
    here leaves it alone.
    """
    from app import models  # noqa: F401  (registers every model with the metadata)

    engine = create_engine("sqlite://", connect_args={"factory": CacheConnection})
    try:
        db.metadata.create_all(engine)
        with engine.connect() as connection:
            objects = _schema_of(connection)
    finally:
        engine.dispose()
    return hashlib.sha256(repr(objects).encode()).hexdigest()


def _stamp(engine) -> None:
    """Record the schema revision in a database just built."""
    with engine.begin() as connection:
        connection.execute(text(f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (revision TEXT)"))
        connection.execute(text(f"DELETE FROM {SCHEMA_TABLE}"))
        connection.execute(
            text(f"INSERT INTO {SCHEMA_TABLE} (revision) VALUES (:r)"), {"r": schema_revision()}
        )


def stored_revision(path: Path) -> str | None:
    """The revision a database file was built with: None when there is no file, "" when it
    predates revisions (or cannot be read as one)."""
    if not path.is_file():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            row = conn.execute(f"SELECT revision FROM {SCHEMA_TABLE} LIMIT 1").fetchone()
    except sqlite3.Error:
        return ""
    return (row[0] or "") if row else ""


def _old_rows(engine, after_seq: int) -> list[dict[str, Any]]:
    """The rows of an old database the server has not acknowledged, as the JSON uploaded.

    Only the hashed columns are read (under the current column types): they are fixed by
    the row's hash_version, so a file of an older schema still holds them."""
    table = BroadcastLog.__table__
    columns = [table.c[name] for name in ROW_JSON_FIELDS]
    with engine.connect() as connection:
        found = connection.execute(
            select(*columns).where(table.c.seq > after_seq).order_by(table.c.seq)
        ).all()
    return [row_json(SimpleNamespace(**row._mapping)) for row in found]


def _old_claims(engine) -> list[str]:
    """The airings an old database holds claimed and not logged: the runner was stopped
    hard in the middle of them."""
    table = Airing.__table__
    with engine.connect() as connection:
        return list(
            connection.scalars(
                select(table.c.airing_key).where(table.c.status == AiringStatus.CLAIMED.value)
            )
        )


def upgrade_database(state: StateDir, settings: Settings, upload) -> str:
    """Make the agent's database one this version can use; what was done ("new", "current"
    or "rebuilt"). StateError when it must stay as it is, saying why.

    A database built by another version (its schema revision differs, or it has none) is a
    cache of what the server holds, so it is rebuilt: deleted and made again empty, keeping
    the audio cache and the settings, with the plan's ETag cleared so the next sync fetches
    the whole plan (and the chain head to continue). What the server does not hold yet is
    sent first: the log rows after settings.uploaded_seq go up through upload(rows) (the
    client's upload) before anything is deleted; when they cannot (no link, a refusal), the
    old file is kept and the agent does not start. Nor does it while the old file holds an
    airing claimed and not logged (the agent was killed in the middle of it): only the
    version that claimed it can log it interrupted, so that version must run once more.
    """
    path = state.database
    stored = stored_revision(path)
    if stored is None:
        return "new"
    if stored == schema_revision():
        return "current"
    engine = create_engine(f"sqlite:///{path}", connect_args={"factory": CacheConnection})
    try:
        try:
            claims = _old_claims(engine)
            rows = _old_rows(engine, settings.uploaded_seq)
        except SQLAlchemyError as exc:
            raise StateError(
                f"Không đọc được nhật ký trong {path} (phiên bản cũ): {exc}. Tệp được giữ "
                "nguyên; máy trạm không phát cho đến khi xử lý xong."
            ) from exc
    finally:
        engine.dispose()
    if claims:
        raise StateError(
            f"{path} (phiên bản máy trạm cũ) còn {len(claims)} lượt phát đang dở, chưa ghi "
            f"nhật ký ({', '.join(claims[:3])}). Chạy phiên bản cũ một lần để nó ghi nhật ký "
            "các lượt đó, rồi nâng cấp. Tệp được giữ nguyên; máy trạm không phát."
        )
    for start in range(0, len(rows), UPLOAD_BATCH):
        batch = rows[start : start + UPLOAD_BATCH]
        try:
            answer = upload(batch)
        except ServerError as exc:
            raise StateError(
                f"{path} được tạo bởi phiên bản máy trạm cũ và còn {len(rows) - start} dòng "
                f"nhật ký chưa gửi lên máy chủ; gửi không được ({exc.message}). Tệp được giữ "
                "nguyên; máy trạm không phát cho đến khi gửi xong (sẽ thử lại khi khởi động "
                "lại)."
            ) from exc
        settings.uploaded_seq = max(batch[-1]["seq"], int(answer["head"]["seq"]))
        state.save(settings)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    settings.plan_etag = ""
    state.save(settings)
    log.warning(
        "%s was built by another version of the agent: rebuilt (%d rows sent first); "
        "the next sync fetches the plan again",
        path,
        len(rows),
    )
    return "rebuilt"


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

    Only when every local row is on the server already (the caller checks). The head's copy
    is added after the rows held (the local log is append-only like the server's, and the
    runner continues from the highest seq). True when the base changed. Refuses (ValueError)
    a head whose hash does not match its fields.
    """
    row = head.get("row")
    newest = db.session.scalar(select(func.max(BroadcastLog.seq)))
    if row is None or (newest is not None and newest >= int(head["seq"])):
        return False
    base = row_from_json(row)
    if compute_row_hash(base) != base.row_hash:
        raise ValueError("the server's newest log row does not match its hash")
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
