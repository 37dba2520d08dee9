"""The upward feed for the provincial "Hệ thống thông tin nguồn" under /feed/v1: bulletins
(approved announcements with their TT 39/2020 category), planned airings ahead, play results
(the broadcast log) and station status, read with a feed token of one unit's subtree.

Every list is ordered and paged by a cursor: each item carries its own `cursor`, and a page
that has more after it gives `next_cursor`. Times are ISO 8601 in Vietnam time (+07:00).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps

from flask import current_app, g, jsonify, request, url_for
from flask_limiter import RequestLimit
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from app.agents.health import state_json, station_states
from app.api.errors import json_error
from app.auth.throttle import client_address, retry_after
from app.broadcast.models import BroadcastLog, LogStatus
from app.core import clock
from app.core.clock import LOCAL_TZ
from app.core.errors import DomainError
from app.extensions import db, limiter
from app.org.models import PlayoutMode, Station, Unit
from app.playout.lock import RunnerLock
from app.playout.runner import LOCK_NAME, STALE_S
from app.portal import service, tokens
from app.portal.blueprint import bp
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import Priority, Script, ScriptReview, ScriptStatus, ScriptVersion
from app.speech.models import Render, RenderStatus

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
MAX_PARAM_CHARS = 200
AIRED = frozenset({LogStatus.AIRED, LogStatus.AIRED_LATE, LogStatus.PARTIAL})
BAD_PARAMS = "Tham số không hợp lệ: hãy sửa các tham số được đánh dấu."
UNKNOWN_PARAM = "Tham số không được hỗ trợ."


class FeedParamError(DomainError):
    """A query parameter of the upward feed is wrong."""

    status = 400
    code = "invalid_parameters"


class UnknownParams(FeedParamError):
    """The query names a parameter the endpoint does not know."""

    code = "unknown_fields"


def _too_many_failures(limit: RequestLimit):
    """429 once an address has sent too many missing or wrong feed tokens."""
    wait = retry_after(limit)
    response = json_error(
        "too_many_requests",
        "Quá nhiều lần gửi mã đọc nguồn tin sai hoặc thiếu từ địa chỉ này. "
        f"Vui lòng thử lại sau {wait} giây.",
        429,
    )
    response.headers["Retry-After"] = str(wait)
    return response


# Only 401s count, so a system sending a valid token never uses up its address's allowance.
_auth_limit = limiter.shared_limit(
    lambda: current_app.config["FEED_AUTH_FAILURE_LIMIT"],
    scope="feed-auth",
    key_func=client_address,
    deduct_when=lambda response: response.status_code == 401,
    on_breach=_too_many_failures,
)


def feed_endpoint(allowed: frozenset[str]):
    """Rate-limit failures, require a live feed token (g.feed_token), refuse unknown query
    parameters, and send the answer uncached."""

    def decorator(view: Callable):
        @wraps(view)
        def wrapped(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, plaintext = header.partition(" ")
            if scheme.lower() != "bearer" or not plaintext.strip():
                return json_error(
                    "unauthorized",
                    "Thiếu mã đọc nguồn tin. Gửi tiêu đề “Authorization: Bearer <mã>”.",
                    401,
                )
            token = tokens.token_for(plaintext.strip())
            if token is None:
                return json_error(
                    "unauthorized", "Mã đọc nguồn tin không hợp lệ hoặc đã bị thu hồi.", 401
                )
            g.feed_token = token
            unknown = sorted(set(request.args) - allowed)
            if unknown:
                raise UnknownParams(
                    "Có tham số không được hỗ trợ: " + ", ".join(unknown[:20]) + ".",
                    dict.fromkeys(unknown[:20], UNKNOWN_PARAM),
                )
            return view(*args, **kwargs)

        return _auth_limit(wrapped)

    return decorator


# --- Reading parameters ------------------------------------------------------------------------


class Params:
    """The query parameters of one call, read with a field error per bad one."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def text(self, name: str) -> str:
        """A raw parameter, stripped; too long or with control characters is an error."""
        value = request.args.get(name, "")
        if len(value) > MAX_PARAM_CHARS or any(ord(c) < 32 for c in value):
            self.errors[name] = f"Tối đa {MAX_PARAM_CHARS} ký tự, không có ký tự điều khiển."
            return ""
        return value.strip()

    def limit(self) -> int:
        """limit: 1 to MAX_LIMIT, default DEFAULT_LIMIT."""
        raw = self.text("limit")
        if not raw:
            return DEFAULT_LIMIT
        if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
            self.errors["limit"] = f"Phải là số nguyên từ 1 đến {MAX_LIMIT}."
            return DEFAULT_LIMIT
        return int(raw)

    def time(self, name: str) -> datetime | None:
        """An ISO 8601 time with its offset (Z or +07:00), years 2000 to 2100."""
        raw = self.text(name)
        if not raw:
            return None
        try:
            value = datetime.fromisoformat(raw.replace(" ", "+"))
        except ValueError:
            value = None
        if value is None or value.tzinfo is None or value.utcoffset() is None:
            self.errors[name] = (
                "Phải là thời điểm ISO 8601 có múi giờ, ví dụ 2026-11-27T08:00:00+07:00 "
                "hoặc 2026-11-27T01:00:00Z."
            )
            return None
        if not 2000 <= value.year <= 2100:
            self.errors[name] = "Năm phải từ 2000 đến 2100."
            return None
        return value.astimezone(UTC)

    def cursor(self) -> tuple[datetime | None, int] | None:
        """cursor: a continuation given by an earlier answer."""
        raw = self.text("cursor")
        if not raw:
            return None
        try:
            decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode("ascii")
            stamp, _, ident = decoded.partition("~")
            when = datetime.fromisoformat(stamp) if stamp else None
            if when is not None and when.tzinfo is None:
                raise ValueError(stamp)
            if not (ident.isascii() and ident.isdigit() and 0 < int(ident) < 2**31):
                raise ValueError(ident)
            return (when.astimezone(UTC) if when else None), int(ident)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            self.errors["cursor"] = "Con trỏ không hợp lệ: hãy dùng đúng giá trị cursor đã nhận."
            return None

    def unit(self, root: Unit) -> Unit:
        """unit: narrow to a unit of the token's subtree (default the token's unit)."""
        code = self.text("unit").upper()
        if not code:
            return root
        unit = db.session.scalar(select(Unit).where(Unit.code == code))
        if unit is None or not root.contains(unit):
            self.errors["unit"] = "Không có đơn vị mã này trong phạm vi của mã đọc nguồn tin."
            return root
        return unit

    def station(self, root: Unit) -> Station | None:
        """station: one station of the token's subtree."""
        code = self.text("station").upper()
        if not code:
            return None
        station = db.session.scalar(select(Station).where(Station.code == code))
        if station is None or not root.contains(station.unit):
            self.errors["station"] = "Không có đài mã này trong phạm vi của mã đọc nguồn tin."
            return None
        return station

    def check(self) -> None:
        """Raise the field errors gathered, if any."""
        if self.errors:
            raise FeedParamError(BAD_PARAMS, self.errors)


def make_cursor(when: datetime | None, ident: int) -> str:
    """An opaque continuation after an item: its time and id."""
    stamp = when.astimezone(UTC).isoformat() if when else ""
    return base64.urlsafe_b64encode(f"{stamp}~{ident}".encode()).decode().rstrip("=")


def after(cursor, time_col, id_col):
    """Rows after a cursor in (time, id) order."""
    when, ident = cursor
    if when is None:
        return id_col > ident
    return or_(time_col > when, and_(time_col == when, id_col > ident))


def iso(value: datetime | None) -> str | None:
    """An aware time in Vietnam time, ISO 8601."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LOCAL_TZ).isoformat()


def unit_json(unit: Unit) -> dict:
    """A unit as the feed names it."""
    return {"code": unit.code, "name": unit.name, "level": unit.level}


def category_json(priority: Priority) -> dict:
    """The TT 39/2020 category of an item."""
    code, label = service.TT39_CATEGORIES[priority]
    return {"code": code, "label": label, "priority": priority.value}


def envelope(unit: Unit, items: list[dict], has_more: bool) -> dict:
    """Every list answer: the unit read, the items, and where to go on."""
    return {
        "unit": unit_json(unit),
        "generated_at": iso(clock.now()),
        "items": items,
        "next_cursor": items[-1]["cursor"] if has_more and items else None,
    }


def _page(query, limit: int) -> tuple[list, bool]:
    """limit rows of a query and whether more follow."""
    rows = db.session.execute(query.limit(limit + 1)).all()
    return rows[:limit], len(rows) > limit


# --- Endpoints ---------------------------------------------------------------------------------


@bp.get("/feed/v1/unit")
@feed_endpoint(frozenset())
def feed_unit():
    """The unit the token reads and every unit of its subtree."""
    root: Unit = g.feed_token.unit
    units = db.session.scalars(
        select(Unit).where(Unit.path.startswith(root.path)).order_by(Unit.path)
    ).all()
    parents = {u.id: u.code for u in units}
    return jsonify(
        {
            "unit": unit_json(root),
            "generated_at": iso(clock.now()),
            "units": [
                {**unit_json(u), "parent": parents.get(u.parent_id), "active": u.active}
                for u in units
            ],
            "categories": [category_json(p) for p in Priority],
        }
    )


@bp.get("/feed/v1/bulletins")
@feed_endpoint(frozenset({"since", "cursor", "limit", "unit"}))
def bulletins():
    """Announcements approved now of the subtree's units, oldest approval first; since= keeps
    those approved from then on."""
    args = Params()
    root: Unit = g.feed_token.unit
    unit, since, cursor, limit = args.unit(root), args.time("since"), args.cursor(), args.limit()
    args.check()
    approved_at = ScriptReview.created_at
    query = (
        select(Script, ScriptVersion, Render, approved_at)
        .join(ScriptVersion, ScriptVersion.id == Script.approved_version_id)
        .join(Render, Render.id == Script.approved_render_id)
        .join(ScriptReview, service.approval_join())
        .where(
            Script.unit_id.in_(service.subtree_ids(unit)),
            Script.status == ScriptStatus.APPROVED,
            Script.current_version_id == Script.approved_version_id,
            Render.status == RenderStatus.DONE,
        )
        .options(selectinload(Script.unit), selectinload(Script.targets))
        .order_by(approved_at, Script.id)
    )
    if since is not None:
        query = query.where(approved_at >= since)
    if cursor is not None:
        query = query.where(after(cursor, approved_at, Script.id))
    rows, more = _page(query, limit)
    day = service.today()
    items = [_bulletin_json(*row, day) for row in rows]
    return jsonify(envelope(unit, items, more))


def _bulletin_json(script: Script, version, render, approved_at, day) -> dict:
    """One bulletin: the approved text, its category, source, validity and audio."""
    in_validity = (script.valid_from is None or script.valid_from <= day) and (
        script.valid_until is None or script.valid_until >= day
    )
    item = service.Announcement(script, version, render, approved_at, None)
    audio_path = service.approved_file(render) if in_validity else None
    return {
        "cursor": make_cursor(approved_at, script.id),
        "id": item.guid,
        "script_id": script.id,
        "version": version.number,
        "render_id": render.id,
        "title": script.title,
        "text": version.body,
        "text_sha256": version.sha256,
        "unit": unit_json(script.unit),
        "targets": [u.code for u in script.targets],
        "category": category_json(script.priority),
        "topic": script.category or None,
        "campaign": script.campaign or None,
        "source": {
            "kind": script.source_kind or None,
            "number": script.source_number or None,
            "date": script.source_date.isoformat() if script.source_date else None,
            "issuer": script.source_issuer or None,
            "label": script.source_label or None,
        },
        "valid_from": script.valid_from.isoformat() if script.valid_from else None,
        "valid_until": script.valid_until.isoformat() if script.valid_until else None,
        "in_validity": in_validity,
        "approved_at": iso(approved_at),
        "audio": {
            # The public URL works only while the bulletin is in its validity.
            "url": url_for(
                "portal.audio",
                code=script.unit.code,
                render_id=render.id,
                ext=render.audio_format,
                _external=True,
            )
            if audio_path
            else None,
            "type": item.mimetype,
            "bytes": audio_path.stat().st_size if audio_path else None,
            "duration_s": render.duration_s,
            "sha256": render.audio_sha256,
        },
        "page_url": url_for("portal.unit_page", code=script.unit.code, _external=True),
    }


def _stations_of(unit: Unit):
    """SELECT of the ids of the stations of the unit's subtree."""
    return select(Station.id).where(Station.unit_id.in_(service.subtree_ids(unit)))


@bp.get("/feed/v1/schedules")
@feed_endpoint(frozenset({"since", "until", "cursor", "limit", "unit", "station"}))
def schedules():
    """Planned airings ahead on the subtree's stations, in airing order, from since= (default
    now) to until= (default the end of the planned horizon)."""
    args = Params()
    root: Unit = g.feed_token.unit
    unit, station = args.unit(root), args.station(root)
    since, until = args.time("since"), args.time("until")
    cursor, limit = args.cursor(), args.limit()
    if since and until and until <= since:
        args.errors["until"] = "Phải sau thời điểm since."
    args.check()
    start = Airing.sequenced_at
    query = (
        select(Airing, Script, ScriptVersion, Station)
        .join(Script, Script.id == Airing.script_id)
        .join(ScriptVersion, ScriptVersion.id == Airing.version_id)
        .join(Station, Station.id == Airing.station_id)
        .where(
            Airing.status.in_([AiringStatus.PLANNED, AiringStatus.CLAIMED]),
            Airing.station_id.in_(_stations_of(unit)),
            start >= (since or clock.now()),
        )
        .options(selectinload(Station.unit))
        .order_by(start, Airing.id)
    )
    if station is not None:
        query = query.where(Airing.station_id == station.id)
    if until is not None:
        query = query.where(start < until)
    if cursor is not None:
        query = query.where(after(cursor, start, Airing.id))
    rows, more = _page(query, limit)
    items = [
        {
            "cursor": make_cursor(airing.sequenced_at, airing.id),
            "id": airing.id,
            "airing_key": airing.airing_key,
            "station": {"code": st.code, "name": st.name},
            "unit": st.unit.code,
            "status": airing.status.value,
            "planned_at": iso(airing.planned_at),
            "start_at": iso(airing.sequenced_at),
            "end_at": iso(airing.sequenced_at + timedelta(seconds=airing.duration_s)),
            "duration_s": airing.duration_s,
            "session": airing.session_name or None,
            "category": category_json(airing.priority),
            "script": {"id": script.id, "title": script.title},
            "version": version.number,
            "render_id": airing.render_id,
            "schedule_id": airing.schedule_id,
            "kind": "scheduled" if airing.schedule_id else "manual",
        }
        for airing, script, version, st in rows
    ]
    return jsonify(envelope(unit, items, more))


@bp.get("/feed/v1/play-results")
@feed_endpoint(frozenset({"since", "cursor", "limit", "unit", "station"}))
def play_results():
    """Broadcast log rows of the subtree's stations in the order they were written (aired,
    missed, failed, skipped…, with planned and actual times); since= keeps rows planned (or,
    for live reads, started) from then on."""
    args = Params()
    root: Unit = g.feed_token.unit
    unit, station = args.unit(root), args.station(root)
    since, cursor, limit = args.time("since"), args.cursor(), args.limit()
    args.check()
    ids = service.subtree_ids(unit)
    # A row counts for the unit its station belonged to when it was written (rows written
    # before that was recorded count for the station's unit now), as the reports count.
    query = (
        select(BroadcastLog, Station)
        .join(Station, Station.id == BroadcastLog.station_id)
        .where(
            or_(
                BroadcastLog.unit_id.in_(ids),
                and_(BroadcastLog.unit_id.is_(None), Station.unit_id.in_(ids)),
            )
        )
        .order_by(BroadcastLog.id)
    )
    if station is not None:
        query = query.where(BroadcastLog.station_id == station.id)
    if since is not None:
        when = func.coalesce(BroadcastLog.planned_at, BroadcastLog.started_at)
        query = query.where(when >= since)
    if cursor is not None:
        query = query.where(BroadcastLog.id > cursor[1])
    rows, more = _page(query, limit)
    units = _unit_codes({r.unit_id or s.unit_id for r, s in rows})
    scripts = _titles({r.script_id for r, _ in rows if r.script_id})
    versions = _numbers({r.version_id for r, _ in rows if r.version_id})
    items = []
    for row, st in rows:
        items.append(
            {
                "cursor": make_cursor(None, row.id),
                "id": row.id,
                "station": {"code": st.code, "name": st.name},
                "unit": units.get(row.unit_id or st.unit_id),
                "seq": row.seq,
                "result": row.status.value,
                "result_label": row.status.label,
                "aired": row.status in AIRED,
                "planned_at": iso(row.planned_at),
                "started_at": iso(row.started_at),
                "ended_at": iso(row.ended_at),
                "duration_s": row.duration_s,
                "reason": row.reason or None,
                "category": category_json(row.priority),
                "script": (
                    {"id": row.script_id, "title": scripts.get(row.script_id)}
                    if row.script_id
                    else None
                ),
                "version": versions.get(row.version_id),
                "render_id": row.render_id,
                "audio_sha256": row.audio_sha256 or None,
                "airing_key": row.airing_key,
                "kind": (
                    "scheduled" if row.schedule_id else ("live" if not row.script_id else "manual")
                ),
                "corrects": row.corrects_id,
                "correction_reason": row.correction_reason or None,
                "recorded_at": iso(row.created_at),
                "received_at": iso(row.received_at),
                "row_hash": row.row_hash,
            }
        )
    return jsonify(envelope(unit, items, more))


def _unit_codes(ids: set) -> dict[int, str]:
    """Unit codes by id."""
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(Unit.id, Unit.code).where(Unit.id.in_(ids))).all())


def _titles(ids: set) -> dict[int, str]:
    """Script titles by id."""
    if not ids:
        return {}
    return dict(db.session.execute(select(Script.id, Script.title).where(Script.id.in_(ids))).all())


def _numbers(ids: set) -> dict[int, int]:
    """Version numbers by version id."""
    if not ids:
        return {}
    rows = select(ScriptVersion.id, ScriptVersion.number).where(ScriptVersion.id.in_(ids))
    return dict(db.session.execute(rows).all())


def _runner_online(now: datetime) -> tuple[bool, datetime | None]:
    """Whether the central playout runner holds its lock with a fresh heartbeat, and when it
    last beat."""
    lock = db.session.get(RunnerLock, LOCK_NAME)
    if lock is None:
        return False, None
    beat = lock.heartbeat_at
    fresh = lock.holder is not None and now - beat <= timedelta(seconds=STALE_S)
    return fresh, beat


@bp.get("/feed/v1/stations")
@feed_endpoint(frozenset({"cursor", "limit", "unit"}))
def stations():
    """Every station of the subtree: online or offline, its health warnings, who airs it, and
    its last log row."""
    args = Params()
    root: Unit = g.feed_token.unit
    unit, cursor, limit = args.unit(root), args.cursor(), args.limit()
    args.check()
    query = (
        select(Station)
        .where(Station.unit_id.in_(service.subtree_ids(unit)))
        .options(selectinload(Station.unit))
        .order_by(Station.id)
    )
    if cursor is not None:
        query = query.where(Station.id > cursor[1])
    rows = db.session.scalars(query.limit(limit + 1)).all()
    found, more = list(rows[:limit]), len(rows) > limit
    now = clock.now()
    states = station_states(found, now)
    runner_online, runner_beat = _runner_online(now)
    last = _last_rows([s.id for s in found])
    items = []
    for st in found:
        state = states.get(st.id)
        agent_run = st.playout_mode == PlayoutMode.AGENT
        if not st.active:
            status, since = "inactive", None
        elif agent_run:
            online = bool(state and state["online"])
            status = "online" if online else "offline"
            since = None if online else (state["offline_since"] if state else None)
        else:
            status = "online" if runner_online else "offline"
            since = None if runner_online else runner_beat
        warnings = list(state["warnings"]) if (state and agent_run) else []
        if agent_run and state is None:
            warnings.append(
                {
                    "code": "no_agent",
                    "message": "Đài do máy trạm phát nhưng không có máy trạm đang hoạt động.",
                }
            )
        if not agent_run and st.active and not runner_online:
            warnings.append(
                {
                    "code": "runner_offline",
                    "message": "Bộ phát trung tâm của máy chủ không chạy.",
                }
            )
        row = last.get(st.id)
        items.append(
            {
                "cursor": make_cursor(None, st.id),
                "code": st.code,
                "name": st.name,
                "kind": st.kind.value,
                "kind_label": st.kind.label,
                "unit": st.unit.code,
                "active": st.active,
                "playout_mode": st.playout_mode.value,
                "status": status,
                "offline_since": iso(since),
                "health": "unknown" if status == "inactive" else ("warning" if warnings else "ok"),
                "warnings": warnings,
                "last_result": (
                    {
                        "id": row.id,
                        "result": row.status.value,
                        "planned_at": iso(row.planned_at),
                        "started_at": iso(row.started_at),
                    }
                    if row
                    else None
                ),
                "agent": state_json(state, iso) if agent_run else None,
            }
        )
    return jsonify(envelope(unit, items, more))


def _last_rows(station_ids: list[int]) -> dict[int, BroadcastLog]:
    """The latest log row of each station, by station id."""
    if not station_ids:
        return {}
    latest = (
        select(func.max(BroadcastLog.id))
        .where(BroadcastLog.station_id.in_(station_ids))
        .group_by(BroadcastLog.station_id)
    )
    rows = db.session.scalars(select(BroadcastLog).where(BroadcastLog.id.in_(latest))).all()
    return {r.station_id: r for r in rows}
