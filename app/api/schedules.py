"""Station, schedule and playout endpoints: stations, schedules with their checks, rundowns,
air now, skip and live reads.

Times go out in Vietnam time (+07:00) and come in with any offset; dates are local days.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time

from flask import jsonify
from flask_login import current_user
from sqlalchemy import select

from app.agents import service as agents_service
from app.agents.health import state_json, station_states
from app.api import bp
from app.api.openapi import operation, page_response
from app.api.schemas import (
    CODE_CHARS,
    MAX_PER_PAGE,
    AirNowIn,
    CancelIn,
    LiveReadIn,
    RecurrenceIn,
    RundownQuery,
    ScheduleIn,
    ScheduleQuery,
    SkipIn,
    StationQuery,
    is_clean,
    read_body,
    read_query,
)
from app.auth.permissions import Permission, in_scope, require
from app.broadcast.models import BroadcastLog
from app.core import clock
from app.core.errors import NotFound, ValidationError
from app.extensions import db
from app.org.models import Station, Unit
from app.playout import manual as playout
from app.schedules import service
from app.schedules.models import Airing, CancelledOccurrence, Schedule
from app.schedules.plan import BLOCKING, DEFAULT_GAP_SECONDS, Problem
from app.schedules.recurrence import (
    LOCAL_TZ,
    Recurrence,
    RecurrenceError,
    parse_times,
    stored_rule,
    to_rrule,
)
from app.scripts.models import PRIORITY_LABELS, Priority, Script, ScriptVersion

BAD_INPUT = "Dữ liệu gửi lên chưa hợp lệ: hãy sửa các trường được đánh dấu."
BAD_FILTER = "Tham số lọc không hợp lệ."
NO_STATION = "Không có đài mã này trong phạm vi của bạn."
NO_SCRIPT = "Kịch bản không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn."
# The recurrence fields that belong to one kind only.
KIND_FIELDS = {
    "times": "times",
    "per_session": "per_session",
    "every_minutes": "every",
    "window_start": "every",
    "window_end": "every",
}
RECURRENCE_FIELDS = frozenset(RecurrenceIn.model_fields)


# --- Shared helpers (the logs endpoints use them too) -----------------------------------------


def local_iso(value: datetime | None) -> str | None:
    """An aware datetime as ISO 8601 in Vietnam time, or None."""
    return value.astimezone(LOCAL_TZ).isoformat() if value else None


def today() -> date:
    """Today in Vietnam, whatever the server's time zone."""
    return clock.now().astimezone(LOCAL_TZ).date()


def local_midnight(day: date) -> datetime:
    """The start of a local day, in UTC."""
    return datetime.combine(day, time(), LOCAL_TZ).astimezone(UTC)


def page_of(items: list, page: int, per_page: int, to_json: Callable) -> dict:
    """One page of an already filtered list, in the scripts API's shape."""
    chunk = items[(page - 1) * per_page : page * per_page]
    return {
        "items": [to_json(i) for i in chunk],
        "page": page,
        "per_page": per_page,
        "total": len(items),
    }


def find_station(code: str) -> Station | None:
    """The station with this code (codes are stored upper-case), in the caller's scope."""
    if not code.strip() or len(code) > CODE_CHARS or not is_clean(code):
        return None
    station = db.session.scalar(select(Station).where(Station.code == code.strip().upper()))
    if station is None or not in_scope(current_user, station.unit):
        # The same answer for both, so codes of other units cannot be probed.
        return None
    return station


def station_by_code(code: str) -> Station:
    """The station of a URL, or 404."""
    station = find_station(code)
    if station is None:
        raise NotFound("Đài không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.")
    return station


def station_field(code, key: str, errors: dict) -> Station | None:
    """A station named in a body or query: a field error when unknown or out of scope."""
    station = find_station(code)
    if station is None:
        errors[key] = NO_STATION
    return station


def log_json(row: BroadcastLog) -> dict:
    """One broadcast log row with its chain fields, times in Vietnam time."""
    script = db.session.get(Script, row.script_id) if row.script_id else None
    version = db.session.get(ScriptVersion, row.version_id) if row.version_id else None
    return {
        "id": row.id,
        "station": row.station.code,
        "seq": row.seq,
        "status": row.status.value,
        "status_label": row.status.label,
        "priority": row.priority.value,
        "planned_at": local_iso(row.planned_at),
        "started_at": local_iso(row.started_at),
        "ended_at": local_iso(row.ended_at),
        "duration_s": row.duration_s,
        "reason": row.reason,
        "script": {"id": script.id, "title": script.title} if script else None,
        "version": version.number if version else None,
        "render": row.render_id,
        "schedule": row.schedule_id,
        "airing_key": row.airing_key,
        "spoken_sha256": row.spoken_sha256 or None,
        "audio_sha256": row.audio_sha256 or None,
        "operator": row.operator.username if row.operator else None,
        "runner_host": row.runner_host,
        "corrects": row.corrects_id,
        "correction_reason": row.correction_reason,
        "created_at": local_iso(row.created_at),
        "received_at": local_iso(row.received_at),
        "hash_version": row.hash_version,
        "prev_hash": row.prev_hash,
        "row_hash": row.row_hash,
    }


# --- JSON of stations, schedules and airings --------------------------------------------------


def station_json(station: Station, states: dict[int, dict | None] | None = None) -> dict:
    """A station with its sessions, its playout and speech settings, who airs it and the state
    of its agent (null without an active agent); states are app.agents.health's, looked up
    when not given."""
    if states is None or station.id not in states:
        states = station_states([station], clock.now())
    return {
        "id": station.id,
        "code": station.code,
        "name": station.name,
        "kind": station.kind.value,
        "kind_label": station.kind.label,
        "unit": station.unit.code,
        "active": station.active,
        "playout_mode": station.playout_mode.value,
        "handover": agents_service.handover_state(station),
        "agent": state_json(states[station.id], local_iso),
        "sessions": [
            {
                "name": s.name,
                "start": f"{s.start_time:%H:%M}",
                "end": f"{s.end_time:%H:%M}",
                "cap_minutes": s.cap_minutes,
                "weekdays": s.weekday_list,
            }
            for s in station.sessions
        ],
        "playout": {
            "misfire_policy": station.misfire_policy,
            "grace_s": station.grace_s,
            "interrupt_policy": station.interrupt_policy,
        },
        "speech": {
            "intro_text": station.intro_text,
            "engine": station.speech_engine or None,
            "voice": station.speech_voice or None,
            "target_lufs": station.target_lufs,
            "true_peak_db": station.true_peak_db,
        },
    }


def _hhmm(value: time | None) -> str | None:
    """A wall-clock time as HH:MM."""
    return f"{value:%H:%M}" if value else None


def recurrence_json(rec: Recurrence) -> dict:
    """A rule in the shape the create endpoint reads; fields of other kinds are null."""
    return {
        "kind": rec.kind,
        "times": [f"{t:%H:%M}" for t in rec.times] if rec.kind == "times" else None,
        "per_session": rec.per_session if rec.kind == "per_session" else None,
        "every_minutes": rec.every_minutes if rec.kind == "every" else None,
        "window_start": _hhmm(rec.window_start) if rec.kind == "every" else None,
        "window_end": _hhmm(rec.window_end) if rec.kind == "every" else None,
        "weekdays": sorted(rec.weekdays),
        "start_date": rec.start_date.isoformat(),
        "end_date": rec.end_date.isoformat(),
        "count": rec.count,
        "exceptions": [e.replace(tzinfo=LOCAL_TZ).isoformat() for e in sorted(rec.exceptions)],
    }


def schedule_json(schedule: Schedule, detail: bool = False) -> dict:
    """A schedule: what airs, where, its rule (structured and RFC 5545), its state."""
    data = {
        "id": schedule.id,
        "status": schedule.status.value,
        "script": {
            "id": schedule.script_id,
            "title": schedule.script.title,
            "version": schedule.version.number,
            "render": schedule.render_id,
        },
        "unit": schedule.unit.code,
        "priority": schedule.priority.value,
        "priority_label": PRIORITY_LABELS[schedule.priority],
        "stations": [s.code for s in schedule.stations],
        "units": [u.code for u in schedule.units],
        "airs_on": [s.code for s in service.resolve_stations(schedule.stations, schedule.units)],
        "recurrence": recurrence_json(stored_rule(schedule.rrule)),
        "rrule": schedule.rrule,
        "gap_seconds": schedule.gap_seconds,
        "revision": schedule.revision,
        "created_by": schedule.created_by.username if schedule.created_by else None,
        "created_at": local_iso(schedule.created_at),
        "updated_at": local_iso(schedule.updated_at),
    }
    if detail:
        rows = db.session.scalars(
            select(CancelledOccurrence)
            .where(CancelledOccurrence.schedule_id == schedule.id)
            .order_by(CancelledOccurrence.occurs_at, CancelledOccurrence.id)
        )
        data["cancelled"] = [cancellation_json(c) for c in rows]
    return data


def cancellation_json(row: CancelledOccurrence) -> dict:
    """One cancelled occurrence; station null means on every station of the schedule."""
    return {
        "id": row.id,
        "schedule": row.schedule_id,
        "occurs_at": local_iso(row.occurs_at),
        "station": row.station.code if row.station else None,
        "reason": row.reason,
        "cancelled_by": row.cancelled_by.username if row.cancelled_by else None,
        "created_at": local_iso(row.created_at),
    }


def problem_json(problem: Problem) -> dict:
    """A problem of a schedule check."""
    return {
        "severity": problem.severity,
        "code": problem.code,
        "message": problem.message,
        "at": local_iso(problem.when),
    }


def airing_json(airing: Airing) -> dict:
    """An airing as the runner will play it."""
    return {
        "id": airing.id,
        "airing_key": airing.airing_key,
        "station": airing.station.code,
        "schedule": airing.schedule_id,
        "script": {"id": airing.script_id, "title": airing.script.title},
        "priority": airing.priority.value,
        "status": airing.status.value,
        "status_label": airing.status.label,
        "planned": local_iso(airing.planned_at),
        "start": local_iso(airing.sequenced_at),
        "duration_s": airing.duration_s,
        "note": airing.note,
        "operator": airing.operator.username if airing.operator else None,
    }


def rundown_row_json(row: service.RundownRow) -> dict:
    """One line of a station's day."""
    return {
        "id": row.airing_id,
        "airing_key": row.airing_key,
        "schedule": row.schedule_id,
        "title": row.title,
        "priority": row.priority.value,
        "priority_label": row.priority_label,
        "status": row.status.value,
        "status_label": row.status_label,
        "session": row.session,
        "planned": local_iso(row.planned),
        "start": local_iso(row.start),
        "end": local_iso(row.end),
        "duration_s": row.duration_s,
    }


# --- Stations ---------------------------------------------------------------------------------


@bp.get("/stations")
@operation(query=StationQuery, response=page_response())
def list_stations():
    """Stations of the caller's units, by code."""
    args = read_query(StationQuery, BAD_FILTER)
    query = (
        select(Station)
        .join(Unit, Station.unit_id == Unit.id)
        .where(Unit.path.startswith(current_user.unit.path))
        .order_by(Station.code)
    )
    if args.unit:
        unit = db.session.scalar(select(Unit).where(Unit.code == args.unit.strip().upper()))
        if unit is None or not in_scope(current_user, unit):
            raise ValidationError(
                BAD_FILTER, {"unit": "Không có đơn vị mã này trong phạm vi của bạn."}
            )
        query = query.where(Unit.path.startswith(unit.path))
    if args.active is not None:
        query = query.where(Station.active.is_(args.active))
    per_page = args.per_page or MAX_PER_PAGE
    stations = list(db.session.scalars(query))
    shown = stations[(args.page - 1) * per_page : args.page * per_page]
    states = station_states(shown, clock.now())
    return page_of(stations, args.page, per_page, lambda s: station_json(s, states))


@bp.get("/stations/<code>")
@operation()
def get_station(code: str):
    """One station with its sessions."""
    return station_json(station_by_code(code))


@bp.get("/stations/<code>/rundown")
@operation(query=RundownQuery)
def station_rundown(code: str):
    """The station's airings of one local day (?date=YYYY-MM-DD, default today)."""
    station = station_by_code(code)
    day = read_query(RundownQuery, BAD_FILTER).date or today()
    rows = service.rundown(current_user, station, day)
    return {
        "station": station.code,
        "date": day.isoformat(),
        "items": [rundown_row_json(r) for r in rows],
    }


# --- Schedules --------------------------------------------------------------------------------


def _prefixed(fields: dict[str, str]) -> dict[str, str]:
    """Name recurrence fields by their place in the body: "end_date" -> "recurrence.end_date"."""
    return {(f"recurrence.{k}" if k in RECURRENCE_FIELDS else k): v for k, v in fields.items()}


@contextmanager
def _rule_fields() -> Iterator[None]:
    """Map the service's recurrence field names onto the body's nested ones."""
    try:
        yield
    except service.ScheduleProblems:
        raise
    except RecurrenceError as exc:
        raise ValidationError(exc.message, _prefixed(exc.fields)) from exc
    except ValidationError as exc:
        exc.fields = _prefixed(exc.fields)
        raise


def _one_time(value: str | None, key: str, errors: dict) -> time | None:
    """A single wall-clock time such as "05:00" or "5h"."""
    if value is None:
        return None
    try:
        found = parse_times(value)
    except RecurrenceError as exc:
        errors[key] = exc.message
        return None
    if len(found) != 1:
        errors[key] = "Chỉ một giờ, dạng HH:MM."
        return None
    return found[0]


def _recurrence_parts(rule: RecurrenceIn, errors: dict) -> dict:
    """The Recurrence keyword arguments of a validated rule (dates may be None)."""
    p = "recurrence."
    kind = rule.kind
    for name, owner in KIND_FIELDS.items():
        if getattr(rule, name) is not None and owner != kind:
            errors[p + name] = f"Chỉ dùng với kind “{owner}”."
    parts: dict = {"kind": kind}
    if kind == "times":
        raw = rule.times
        if isinstance(raw, list):
            raw = ", ".join(raw)
        if raw is None:
            errors[p + "times"] = "Bắt buộc: chuỗi như “05:45, 17:15” hoặc danh sách giờ HH:MM."
        else:
            try:
                parts["times"] = parse_times(raw)
            except RecurrenceError as exc:
                errors[p + "times"] = exc.message
    for name in ("per_session", "every_minutes"):
        if KIND_FIELDS[name] == kind:
            value = getattr(rule, name)
            if value is None:
                errors[p + name] = "Bắt buộc, số nguyên."
            else:
                parts[name] = value
    if kind == "every":
        parts["window_start"] = _one_time(rule.window_start, p + "window_start", errors)
        parts["window_end"] = _one_time(rule.window_end, p + "window_end", errors)
    parts["weekdays"] = rule.weekdays
    parts["count"] = rule.count
    parts["start_date"] = rule.start_date
    parts["end_date"] = rule.end_date
    return parts


def _code_list(codes: list[str] | None, key: str, errors: dict, find: Callable) -> list:
    """Stations or units named by code in a list."""
    found = []
    for code in codes or []:
        item = find(code)
        if item is None:
            what = "đài" if key == "stations" else "đơn vị"
            errors[key] = f"Không có {what} mã “{code}” trong phạm vi của bạn."
        else:
            found.append(item)
    return found


def _find_unit(code: str) -> Unit | None:
    """A unit by code, in the caller's scope."""
    unit = db.session.scalar(select(Unit).where(Unit.code == code.strip().upper()))
    return unit if unit is not None and in_scope(current_user, unit) else None


def _script_ref(value: int) -> Script:
    """The script a body names by id; unknown ones answer like invisible ones (404)."""
    script = db.session.get(Script, value)
    if script is None:
        raise NotFound(NO_SCRIPT, {"script": NO_SCRIPT})
    service.check_script_visible(current_user, script)
    return script


def _schedule_input(data: ScheduleIn) -> tuple[service.ScheduleInput, bool]:
    """Read a validated create body into the service's input; the second value is dry_run."""
    errors: dict[str, str] = {}
    stations = _code_list(data.stations, "stations", errors, find_station)
    units = _code_list(data.units, "units", errors, _find_unit)
    parts = _recurrence_parts(data.recurrence, errors)
    if errors:
        raise ValidationError(BAD_INPUT, errors)
    script = _script_ref(data.script)
    if parts["start_date"] is None or parts["end_date"] is None:
        start, end = service.default_dates(script, today())
        parts["start_date"] = parts["start_date"] or start
        parts["end_date"] = parts["end_date"] or end
    gap = DEFAULT_GAP_SECONDS if data.gap_seconds is None else data.gap_seconds
    result = service.ScheduleInput(
        script=script,
        recurrence=Recurrence(**parts),
        stations=stations,
        units=units,
        priority=Priority(data.priority) if data.priority else None,
        gap_seconds=float(gap),
        confirm_warnings=data.confirm_warnings,
    )
    return result, data.dry_run


def placed_json(placed: service.PlacedAiring) -> dict:
    """One airing as the check places it: the rule's time and when it really airs."""
    return {
        "station": placed.station.code,
        "planned": local_iso(placed.planned),
        "start": local_iso(placed.start),
        "end": local_iso(placed.end),
        "session": placed.session or None,
    }


def _problems_response(exc: service.ScheduleProblems):
    """422 when a problem blocks the save, 409 when only warnings wait for confirmation."""
    blocking = any(p.severity == BLOCKING for p in exc.problems)
    code, status = ("schedule_problems", 422) if blocking else ("confirmation_required", 409)
    body = {
        "error": code,
        "message": exc.message,
        "fields": exc.fields,
        "problems": [problem_json(p) for p in exc.problems],
    }
    if exc.result is not None:
        body["airings"] = [placed_json(a) for a in exc.result.airings]
    return jsonify(body), status


@bp.get("/schedules")
@operation(query=ScheduleQuery, response=page_response())
def list_schedules():
    """Schedules the caller may see, newest first."""
    args = read_query(ScheduleQuery, BAD_FILTER)
    errors: dict[str, str] = {}
    station = station_field(args.station, "station", errors) if args.station else None
    if errors:
        raise ValidationError(BAD_FILTER, errors)
    script = db.session.get(Script, args.script) if args.script else None
    if args.script and script is None:
        found: list[Schedule] = []
    else:
        found = service.list_schedules(
            current_user, station=station, script=script, include_deleted=args.include_deleted
        )
    return page_of(found, args.page, args.per_page or 20, schedule_json)


@bp.get("/schedules/<int:schedule_id>")
@operation()
def get_schedule(schedule_id: int):
    """One schedule with its cancelled occurrences."""
    return schedule_json(service.get_schedule(current_user, schedule_id), detail=True)


@bp.post("/schedules")
@operation(body=ScheduleIn, status=201, extra_statuses=(200,))
def create_schedule():
    """Check and save a schedule; {"dry_run": true} only checks."""
    require(current_user, Permission.SCHEDULE_EDIT)
    data = read_body(ScheduleIn, BAD_INPUT)
    with _rule_fields():
        schedule_input, dry_run = _schedule_input(data)
        if dry_run:
            result = service.check_schedule(current_user, schedule_input, clock.now())
            rec = schedule_input.recurrence
            return {
                "dry_run": True,
                "can_save": not result.blocking
                and (not result.warnings or schedule_input.confirm_warnings),
                "problems": [problem_json(p) for p in result.problems],
                "occurrences": result.occurrences,
                "first": local_iso(result.first),
                "last": local_iso(result.last),
                "airs_on": [s.code for s in result.stations],
                "airings": [placed_json(a) for a in result.airings],
                "recurrence": recurrence_json(rec),
                "rrule": to_rrule(rec),
            }
        try:
            schedule = service.create_schedule(current_user, schedule_input)
        except service.ScheduleProblems as exc:
            return _problems_response(exc)
    return schedule_json(schedule, detail=True), 201


@bp.delete("/schedules/<int:schedule_id>")
@operation()
def delete_schedule(schedule_id: int):
    """Stop a schedule; its future planned airings go."""
    require(current_user, Permission.SCHEDULE_EDIT)
    schedule = service.get_schedule(current_user, schedule_id)
    return schedule_json(service.delete_schedule(current_user, schedule), detail=True)


@bp.post("/schedules/<int:schedule_id>/cancellations")
@operation(body=CancelIn, status=201)
def cancel_occurrence(schedule_id: int):
    """Call off one occurrence, on one station or (no station) on all."""
    require(current_user, Permission.SCHEDULE_EDIT)
    schedule = service.get_schedule(current_user, schedule_id)
    data = read_body(CancelIn, BAD_INPUT)
    errors: dict[str, str] = {}
    station = None
    if data.station is not None:
        station = station_field(data.station, "station", errors)
    if errors:
        raise ValidationError(BAD_INPUT, errors)
    row = service.cancel_occurrence(current_user, schedule, station, data.occurs_at, data.reason)
    return cancellation_json(row), 201


# --- Playout ----------------------------------------------------------------------------------


@bp.post("/stations/<code>/air-now")
@operation(body=AirNowIn, status=201)
def air_now(code: str):
    """Air an approved script on the station at once, as khẩn cấp."""
    require(current_user, Permission.PLAYOUT_CONTROL)
    station = station_by_code(code)
    data = read_body(AirNowIn, BAD_INPUT)
    script = _script_ref(data.script)
    airings = playout.air_now(current_user, script, [station], data.note)
    return airing_json(airings[0]), 201


@bp.post("/airings/<int:airing_id>/skip")
@operation(body=SkipIn)
def skip_airing(airing_id: int):
    """Take a planned airing off the air, with a reason; answers its log row."""
    require(current_user, Permission.PLAYOUT_CONTROL)
    airing = playout.get_airing(current_user, airing_id)
    data = read_body(SkipIn, BAD_INPUT)
    return log_json(playout.skip_airing(current_user, airing, data.reason))


@bp.post("/stations/<code>/live-reads")
@operation(body=LiveReadIn, status=201)
def record_live_read(code: str):
    """Log a spot an operator read on air by hand; answers its log row."""
    require(current_user, Permission.PLAYOUT_CONTROL)
    station = station_by_code(code)
    data = read_body(LiveReadIn, BAD_INPUT)
    errors: dict[str, str] = {}
    script = airing = None
    if data.script is not None:
        script = db.session.get(Script, data.script)
        if script is None:
            errors["script"] = NO_SCRIPT
    if data.airing is not None:
        try:
            airing = playout.get_airing(current_user, data.airing)
        except NotFound as exc:
            errors["airing"] = exc.message
    if errors:
        raise ValidationError(BAD_INPUT, errors)
    read = playout.LiveRead(
        station=station,
        started_at=data.started_at,
        duration_s=float(data.duration_s),
        script=script,
        note=data.note,
        airing=airing,
    )
    return log_json(playout.record_live_read(current_user, read)), 201
