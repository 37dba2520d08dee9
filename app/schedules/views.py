"""Schedule pages: list, new schedule with its checks, one schedule, iCalendar export."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import func, or_, select

from app.auth.decorators import permission_required
from app.auth.models import User
from app.auth.permissions import Permission, can, in_scope
from app.core import clock
from app.core.errors import DomainError, ValidationError
from app.core.forms import apply_errors, flash_form_errors
from app.core.text import parse_id
from app.extensions import db
from app.org.models import Station, Unit
from app.org.service import subtree_units
from app.schedules import ical, service
from app.schedules.forms import (
    KIND_LABELS,
    WEEKDAY_LABELS,
    CancelForm,
    DeleteForm,
    ScheduleForm,
    rule_in_words,
)
from app.schedules.models import (
    Airing,
    AiringStatus,
    CancelledOccurrence,
    Schedule,
    ScheduleStatus,
)
from app.schedules.plan import BLOCKING, Problem
from app.schedules.recurrence import (
    LOCAL_TZ,
    Recurrence,
    RecurrenceError,
    first_occurrence,
    last_occurrence,
    occurrence_count,
    parse_times,
    stored_rule,
)
from app.scripts.models import Priority, Script, ScriptStatus

bp = Blueprint("schedules", __name__, url_prefix="/schedules")

# Upcoming airings shown on a schedule's page, per station.
UPCOMING_DAYS = service.AIRING_HORIZON_DAYS
MAX_UPCOMING_PER_STATION = 60
# Problems listed in each box of the form; the rest fold away, up to MAX_LISTED_PROBLEMS.
MAX_SHOWN_PROBLEMS = 10
MAX_LISTED_PROBLEMS = 500
# Airings listed with their real times under the check's summary.
MAX_LISTED_AIRINGS = 200
# What each problem code of app.schedules.plan means, for the count above each box.
PROBLEM_LABELS = {
    "outside_session": "lần phát nằm ngoài các buổi phát",
    "overlap": "lần phát chồng lên nhau",
    "over_cap": "buổi phát vượt thời lượng tối đa",
    "overruns_session": "lần phát kéo dài quá giờ kết thúc buổi",
    "after_session_end": "lần phát bị đẩy ra sau khi buổi phát đã kết thúc",
    "script_expires": "kịch bản hết hiệu lực trước lần phát cuối",
    "window_overrun": "ngày các lần phát bị đẩy quá giờ kết thúc khung",
    "duplicate": "đài đã phát kịch bản này vào cùng giờ",
}


# --- Shared helpers ---------------------------------------------------------------------------


def _today() -> date:
    """Today in Vietnam, whatever the server's zone."""
    return clock.now().astimezone(LOCAL_TZ).date()


def _clock_label(value: datetime | None) -> str:
    """Local "05:30", or "05:30:09" when the time has seconds (sequenced starts often do)."""
    if value is None:
        return ""
    local = value.astimezone(LOCAL_TZ)
    return f"{local:%H:%M:%S}" if local.second else f"{local:%H:%M}"


def _local_label(value: datetime) -> str:
    """ "Thứ Hai 30/11/2026 05:45" for an aware time."""
    local = value.astimezone(LOCAL_TZ)
    return f"{WEEKDAY_LABELS[local.isoweekday()]} {local:%d/%m/%Y %H:%M}"


def _stations_in_scope(user: User) -> list[Station]:
    """Active stations of the user's subtree, by code."""
    return list(
        db.session.scalars(
            select(Station)
            .join(Unit)
            .where(Unit.path.startswith(user.unit.path), Station.active.is_(True))
            .order_by(Station.code)
        )
    )


@dataclass
class UnitGroup:
    """A unit of the user's subtree and its own stations, for the grouped checkboxes."""

    unit: Unit
    indent: int
    stations: list[Station]
    # Active stations in the unit's whole subtree: what "mọi đài của đơn vị" would reach.
    reach: int


def _station_groups(user: User) -> list[UnitGroup]:
    """Units of the user's subtree in tree order with their stations; units reaching none
    are left out."""
    stations = _stations_in_scope(user)
    groups = []
    for unit in subtree_units(user.unit):
        reach = sum(1 for s in stations if unit.contains(s.unit))
        if reach:
            own = [s for s in stations if s.unit_id == unit.id]
            groups.append(UnitGroup(unit, unit.depth - user.unit.depth, own, reach))
    return groups


def _visible_scripts_query(user: User):
    """Approved scripts the user may schedule: of the subtree, or sent down from above."""
    ancestors = [int(p) for p in user.unit.path.strip("/").split("/") if p]
    return (
        select(Script)
        .join(Unit, Unit.id == Script.unit_id)
        .where(
            Script.status == ScriptStatus.APPROVED,
            or_(Unit.path.startswith(user.unit.path), Script.unit_id.in_(ancestors)),
        )
        .order_by(Script.title, Script.id)
    )


def _script_label(script: Script) -> str:
    """A script in the picker: title, then how long it is valid."""
    if script.valid_until:
        return f"{script.title} · hiệu lực đến {script.valid_until:%d/%m/%Y}"
    return f"{script.title} · không ghi hạn hiệu lực"


def _script_choices(user: User, today: date) -> list[tuple[int, str]]:
    """Approved, unexpired scripts with approved audio, for the picker."""
    scripts = db.session.scalars(_visible_scripts_query(user)).all()
    return [
        (s.id, _script_label(s))
        for s in scripts
        if s.approved_render_id is not None and (s.valid_until is None or s.valid_until >= today)
    ]


def _kinds(problems: list[Problem]) -> list[tuple[str, int]]:
    """(label, how many) of each kind of problem, most frequent first."""
    found: dict[str, int] = {}
    for p in problems:
        label = PROBLEM_LABELS.get(p.code, p.code)
        found[label] = found.get(label, 0) + 1
    return sorted(found.items(), key=lambda item: -item[1])


def _fingerprint(problems: list[Problem]) -> str:
    """A short digest of the warnings a page showed; a confirmation covers exactly those."""
    text = "\n".join(
        sorted(f"{p.code}|{p.message}|{p.when.isoformat() if p.when else ''}" for p in problems)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


# --- List -------------------------------------------------------------------------------------


@dataclass
class ScheduleRow:
    """One schedule as the list shows it."""

    schedule: Schedule
    words: str
    targets: str
    occurrences: int
    station_count: int
    next_airing: datetime | None
    status: str
    status_class: str


def _status(schedule: Schedule, first: datetime | None, last: datetime | None, now: datetime):
    """(label, css class) of a schedule: deleted, finished, not started or running."""
    if schedule.status == ScheduleStatus.DELETED:
        return "đã xóa", "deleted"
    if last is not None and last < now:
        return "đã kết thúc", "finished"
    if first is not None and first > now:
        return "chưa bắt đầu", "waiting"
    return "đang phát", "running"


def _counts(rec: Recurrence, stations: list[Station]):
    """Airings in all, first and last airing, over the stations."""
    total, firsts, lasts = 0, [], []
    for station in stations:
        sessions = service.sessions_of(station) if rec.kind == "per_session" else None
        total += occurrence_count(rec, sessions)
        first, last = first_occurrence(rec, sessions), last_occurrence(rec, sessions)
        firsts += [first] if first else []
        lasts += [last] if last else []
    return total, min(firsts, default=None), max(lasts, default=None)


def _targets_text(schedule: Schedule) -> str:
    """Named stations, then "mọi đài của <unit>"."""
    parts = [s.name for s in schedule.stations]
    parts += [f"mọi đài của {u.name}" for u in schedule.units]
    return "; ".join(parts)


def _next_airings(schedule_ids: list[int], station_ids: list[int], now: datetime) -> dict:
    """Each schedule's next planned airing on the given stations (sequenced time)."""
    if not schedule_ids or not station_ids:
        return {}
    rows = db.session.execute(
        select(Airing.schedule_id, func.min(Airing.sequenced_at))
        .where(
            Airing.schedule_id.in_(schedule_ids),
            Airing.station_id.in_(station_ids),
            Airing.status == AiringStatus.PLANNED,
            Airing.sequenced_at >= now,
        )
        .group_by(Airing.schedule_id)
    )
    found = {}
    for schedule_id, when in rows:
        if when is not None and when.tzinfo is None:  # SQLite through an aggregate
            when = when.replace(tzinfo=UTC)
        found[schedule_id] = when
    return found


def _earliest_airings(schedule_ids: list[int]) -> dict:
    """Each schedule's earliest airing on air (sequenced time), whatever its status."""
    if not schedule_ids:
        return {}
    rows = db.session.execute(
        select(Airing.schedule_id, func.min(Airing.sequenced_at))
        .where(Airing.schedule_id.in_(schedule_ids))
        .group_by(Airing.schedule_id)
    )
    return {
        sid: when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when
        for sid, when in rows
    }


def _row(
    schedule: Schedule,
    next_airing: datetime | None,
    now: datetime,
    earliest: datetime | None = None,
) -> ScheduleRow:
    """Build one list row.

    A spot airs at its place in the session (sequenced), which may come before the rule's
    time: the earliest airing counts for "started", and the rule's first time stands in for
    the next airing only while the schedule has no airings yet.
    """
    stations = service.resolve_stations(schedule.stations, schedule.units)
    try:
        rec = stored_rule(schedule.rrule)
    except RecurrenceError as exc:
        return ScheduleRow(schedule, exc.message, _targets_text(schedule), 0, 0, None, "lỗi", "")
    total, first, last = _counts(rec, stations)
    if next_airing is None and earliest is None and first is not None and first > now:
        next_airing = first
    if earliest is not None and first is not None:
        first = min(first, earliest)
    label, css = _status(schedule, first, last, now)
    if schedule.status != ScheduleStatus.ACTIVE:
        next_airing = None
    return ScheduleRow(
        schedule=schedule,
        words=rule_in_words(rec),
        targets=_targets_text(schedule),
        occurrences=total,
        station_count=len(stations),
        next_airing=next_airing,
        status=label,
        status_class=css,
    )


@bp.get("/")
@login_required
def index():
    """Schedules the user may see, filtered by station and script."""
    now = clock.now()
    stations = _stations_in_scope(current_user)
    station = next((s for s in stations if s.code == request.args.get("station")), None)
    show_deleted = request.args.get("deleted") == "1"
    everything = service.list_schedules(current_user, include_deleted=show_deleted)
    scripts = sorted({s.script for s in everything}, key=lambda s: (s.title, s.id))
    script_id = request.args.get("script", type=int)
    script = next((s for s in scripts if s.id == script_id), None)
    schedules = everything
    if station is not None or script is not None:
        schedules = service.list_schedules(
            current_user, station=station, script=script, include_deleted=show_deleted
        )
    upcoming = _next_airings([s.id for s in schedules], [s.id for s in stations], now)
    earliest = _earliest_airings([s.id for s in schedules])
    rows = [_row(s, upcoming.get(s.id), now, earliest.get(s.id)) for s in schedules]
    return render_template(
        "schedules/index.html",
        rows=rows,
        stations=stations,
        station=station,
        scripts=scripts,
        script=script,
        show_deleted=show_deleted,
    )


# --- New schedule -----------------------------------------------------------------------------


def _foreign(message: str, field: str) -> ValidationError:
    """A refusal of ids the form did not offer, without naming what lies outside the scope."""
    return ValidationError(message, {field: message})


def _input_from_form(form: ScheduleForm, today: date) -> service.ScheduleInput:
    """Build the service input; raise ValidationError naming the field at fault."""
    script = db.session.get(Script, form.script.data) if form.script.data else None
    if script is None:
        raise _foreign("Chọn một kịch bản đã duyệt.", "script")
    offered = {s.id: s for s in _stations_in_scope(current_user)}
    station_ids = list(dict.fromkeys(form.stations.data or []))
    if any(i not in offered for i in station_ids):
        message = "Đài đã chọn không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn."
        raise _foreign(message, "stations")
    units_offered = {g.unit.id: g.unit for g in _station_groups(current_user)}
    unit_ids = list(dict.fromkeys(form.units.data or []))
    if any(i not in units_offered for i in unit_ids):
        raise _foreign(
            "Đơn vị đã chọn không tồn tại, không có đài nào, hoặc nằm ngoài phạm vi của bạn.",
            "units",
        )
    kind = form.kind.data
    try:
        times = parse_times(form.times.data or "") if kind == "times" else ()
        start, end = _dates(form, script, today)
        rec = Recurrence(
            kind=kind,
            start_date=start,
            end_date=end,
            times=times,
            per_session=(form.per_session.data or 0) if kind == "per_session" else 0,
            every_minutes=(form.every_minutes.data or 0) if kind == "every" else 0,
            window_start=form.window_start.data if kind == "every" else None,
            window_end=form.window_end.data if kind == "every" else None,
            weekdays=frozenset(form.weekdays.data or []),
            count=form.count.data,
        )
    except RecurrenceError as exc:
        raise ValidationError(exc.message, exc.fields) from exc
    gap = form.gap_seconds.data
    return service.ScheduleInput(
        script=script,
        recurrence=rec,
        stations=[offered[i] for i in station_ids],
        units=[units_offered[i] for i in unit_ids],
        priority=Priority(form.priority.data) if form.priority.data else None,
        gap_seconds=service.DEFAULT_GAP_SECONDS if gap is None else gap,
    )


def _dates(form: ScheduleForm, script: Script, today: date) -> tuple[date, date]:
    """The dates typed, the empty ones taken from the script's validity (default_dates)."""
    start, end = form.start_date.data, form.end_date.data
    if start is not None and end is not None:
        return start, end
    try:
        default_start, default_end = service.default_dates(script, today)
    except ValidationError:
        if end is None:
            raise
        # Only the script's end is unknown, and the user gave one: the start still follows
        # the script's validity as default_dates() reads it.
        default_start, default_end = max(script.valid_from or today, today), end
    return start or default_start, end or default_end


def _date_hint(script: Script | None, today: date) -> str:
    """The hint under the date fields: what empty dates will mean."""
    if script is None:
        return "Để trống: theo thời hạn hiệu lực của kịch bản, tính từ hôm nay."
    try:
        start, end = service.default_dates(script, today)
    except ValidationError as exc:
        return exc.message
    return f"Để trống: từ {start:%d/%m/%Y} đến {end:%d/%m/%Y} (hiệu lực của kịch bản)."


def _save(form: ScheduleForm, data: service.ScheduleInput) -> Schedule:
    """Save; a ticked confirmation only covers the warnings the page showed."""
    try:
        return service.create_schedule(current_user, replace(data, confirm_warnings=False))
    except service.ScheduleProblems as exc:
        blocking = [p for p in exc.problems if p.severity == BLOCKING]
        if blocking or not form.confirm_warnings.data:
            raise
        if _fingerprint(exc.problems) != form.warnings_seen.data:
            raise
        db.session.rollback()
    return service.create_schedule(current_user, replace(data, confirm_warnings=True))


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.SCHEDULE_EDIT)
def new():
    """The schedule form: check without saving, or save once every problem is dealt with."""
    today = _today()
    form = ScheduleForm()
    form.script.choices = [(0, "— Chọn kịch bản —"), *_script_choices(current_user, today)]
    problems: list[Problem] | None = None
    result = None
    status = 200
    if request.method == "GET":
        _prefill_script(form, request.args.get("script", type=int))
    elif form.validate_on_submit():
        checking = request.form.get("action") == "check"
        try:
            data = _input_from_form(form, today)
            if checking:
                result = service.check_schedule(current_user, data, clock.now())
                problems = result.problems
            else:
                schedule = _save(form, data)
        except service.ScheduleProblems as exc:
            db.session.rollback()
            problems = exc.problems
            # The save's own check: the airings it would store, as the page's check shows.
            result = exc.result
            # Warnings left after a ticked box are ones the page did not show.
            _flash_problems(problems, bool(form.confirm_warnings.data))
            status = 422
        except DomainError as exc:
            db.session.rollback()
            apply_errors(form, exc)
            status = 422
        else:
            if not checking:
                flash(f"Đã lưu lịch phát “{schedule.script.title}”.", "success")
                return redirect(url_for("schedules.show", schedule_id=schedule.id))
    else:
        flash_form_errors(form)
        status = 422
    chosen = db.session.get(Script, form.script.data) if form.script.data else None
    if chosen is not None:
        default = ("", f"Theo kịch bản ({chosen.priority.label})")
        form.priority.choices = [default, *form.priority.choices[1:]]
    warnings = [p for p in problems or [] if p.severity != BLOCKING]
    # The box is always shown unticked: ticking it confirms what is on this page.
    form.confirm_warnings.data = False
    form.warnings_seen.data = _fingerprint(warnings) if warnings else ""
    return render_template(
        "schedules/new.html",
        form=form,
        groups=_station_groups(current_user),
        chosen=chosen,
        date_hint=_date_hint(chosen, today),
        result=result,
        blocking=[p for p in problems or [] if p.severity == BLOCKING],
        warnings=warnings,
        max_shown=MAX_SHOWN_PROBLEMS,
        max_listed=MAX_LISTED_PROBLEMS,
        max_airings=MAX_LISTED_AIRINGS,
        check_days=service.CHECK_HORIZON_DAYS,
        clock_label=_clock_label,
        kinds=_kinds,
        kind_labels=KIND_LABELS,
    ), status


def _prefill_script(form: ScheduleForm, script_id: int | None) -> None:
    """Preselect the script of ?script=<id>, or say why it cannot be scheduled."""
    if not script_id:
        return
    if script_id in {value for value, _ in form.script.choices}:
        form.script.data = script_id
        return
    script = db.session.get(Script, script_id)
    if script is not None and db.session.scalar(
        _visible_scripts_query(current_user).where(Script.id == script_id)
    ):
        flash(
            f"Kịch bản “{script.title}” hết hiệu lực hoặc thiếu âm thanh đã duyệt; "
            "không lập lịch phát được.",
            "warning",
        )
    elif script is not None and in_scope(current_user, script.unit):
        flash(
            f"Kịch bản “{script.title}” chưa được duyệt (trạng thái: {script.status.label}); "
            "chỉ lập lịch được cho kịch bản đã duyệt.",
            "warning",
        )


def _flash_problems(problems: list[Problem], changed: bool) -> None:
    """One short message; the problems themselves are listed in the boxes."""
    blocking = sum(1 for p in problems if p.severity == BLOCKING)
    if blocking:
        flash(f"Không lưu được lịch: có {blocking} vấn đề phải sửa (xem bên dưới).", "error")
    elif changed:
        flash(
            "Chưa lưu: các cảnh báo đã thay đổi so với lúc bạn xác nhận. Hãy xem lại và xác "
            "nhận lần nữa.",
            "warning",
        )
    else:
        flash(
            f"Chưa lưu: lịch có {len(problems)} cảnh báo. Hãy đọc và đánh dấu ô xác nhận nếu "
            "vẫn muốn lưu.",
            "warning",
        )


# --- One schedule -----------------------------------------------------------------------------


@dataclass
class StationAirings:
    """A station's upcoming airings of the schedule."""

    station: Station
    airings: list[Airing]
    more: int


def _occurs_value(when: datetime) -> str:
    """An occurrence as the cancel form sends it: local "2026-11-30T05:45"."""
    return f"{when.astimezone(LOCAL_TZ):%Y-%m-%dT%H:%M}"


def _parse_occurs(value: str) -> datetime | None:
    """Read the cancel form's local time back as an aware datetime."""
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=LOCAL_TZ)
        except ValueError:
            continue
    return None


@bp.get("/<int:schedule_id>")
@login_required
def show(schedule_id: int):
    """A schedule: its rule, stations, upcoming and cancelled airings, and its actions."""
    schedule = service.get_schedule(current_user, schedule_id)
    now = clock.now()
    rec = stored_rule(schedule.rrule)
    stations = service.resolve_stations(schedule.stations, schedule.units)
    mine = [s for s in stations if in_scope(current_user, s.unit)]
    airings = db.session.scalars(
        select(Airing)
        .where(
            Airing.schedule_id == schedule.id,
            Airing.station_id.in_([s.id for s in mine]),
            # Still to air (a spot airs at its place in the session, which may come before
            # the rule's time, so the time alone does not tell).
            Airing.status.in_((AiringStatus.PLANNED, AiringStatus.CLAIMED)),
            Airing.planned_at < now + timedelta(days=UPCOMING_DAYS),
        )
        .order_by(Airing.sequenced_at, Airing.id)
    ).all()
    upcoming = []
    for station in mine:
        own = [a for a in airings if a.station_id == station.id]
        shown = own[:MAX_UPCOMING_PER_STATION]
        upcoming.append(StationAirings(station, shown, len(own) - len(shown)))
    cancellations = db.session.scalars(
        select(CancelledOccurrence)
        .where(CancelledOccurrence.schedule_id == schedule.id)
        .order_by(CancelledOccurrence.occurs_at, CancelledOccurrence.id)
    ).all()
    active = schedule.status == ScheduleStatus.ACTIVE
    can_edit = active and can(current_user, Permission.SCHEDULE_EDIT)
    owner = in_scope(current_user, schedule.unit)
    cancel_form = None
    if can_edit:
        cancel_form = _cancel_form(schedule, airings, mine, owner)
    total, first, last = _counts(rec, stations)
    earliest = _earliest_airings([schedule.id]).get(schedule.id)
    if earliest is not None and first is not None:
        first = min(first, earliest)
    label, css = _status(schedule, first, last, now)
    return render_template(
        "schedules/show.html",
        schedule=schedule,
        words=rule_in_words(rec),
        rec=rec,
        kind_label=KIND_LABELS.get(rec.kind, rec.kind),
        stations=stations,
        mine=mine,
        upcoming=upcoming,
        upcoming_days=UPCOMING_DAYS,
        cancellations=cancellations,
        total=total,
        first=first,
        last=last,
        status=label,
        status_class=css,
        can_edit=can_edit,
        can_delete=can_edit and owner,
        script_visible=can(current_user, Permission.SCRIPT_VIEW)
        and in_scope(current_user, schedule.script.unit),
        cancel_form=cancel_form,
        delete_form=DeleteForm(formdata=None) if can_edit and owner else None,
        occurs_value=_occurs_value,
        local_label=_local_label,
    )


def _cancel_form(schedule, airings, mine, owner: bool) -> CancelForm:
    """The cancel form with the coming planned occurrences and the user's stations."""
    form = CancelForm(formdata=None)
    times = sorted({a.planned_at for a in airings if a.status == AiringStatus.PLANNED})
    form.occurs_at.choices = [("", "— Chọn lần phát —")] + [
        (_occurs_value(t), _local_label(t)) for t in times
    ]
    choices = [(str(s.id), s.name) for s in mine]
    if owner:
        choices.insert(0, ("", "Mọi đài của lịch"))
    form.station.choices = choices
    # A row's "Hủy…" link preselects its time and station.
    form.occurs_at.data = request.args.get("occurs_at", "")
    first_choice = choices[0][0] if choices else ""
    form.station.data = request.args.get("station", first_choice)
    form.reason.data = ""
    return form


@bp.post("/<int:schedule_id>/cancel")
@permission_required(Permission.SCHEDULE_EDIT)
def cancel(schedule_id: int):
    """Call off one occurrence, with a reason; nothing changes on any error."""
    schedule = service.get_schedule(current_user, schedule_id)
    form = CancelForm()
    raw_occurs, raw_station = form.occurs_at.data or "", form.station.data or ""
    back = url_for(
        "schedules.show",
        schedule_id=schedule.id,
        occurs_at=raw_occurs or None,
        station=raw_station or None,
        _anchor="huy-lan-phat",
    )
    occurs_at = _parse_occurs(raw_occurs)
    if occurs_at is None:
        flash("Chọn lần phát cần hủy.", "error")
        return redirect(back)
    station = None
    if raw_station:
        station_id = parse_id(raw_station)
        station = db.session.get(Station, station_id) if station_id is not None else None
        if station is None:
            flash("Đài không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.", "error")
            return redirect(back)
    try:
        service.cancel_occurrence(current_user, schedule, station, occurs_at, form.reason.data)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    where = f"tại {station.name}" if station else "trên mọi đài của lịch"
    flash(f"Đã hủy lần phát lúc {_local_label(occurs_at)} {where}.", "success")
    return redirect(url_for("schedules.show", schedule_id=schedule.id))


@bp.post("/<int:schedule_id>/delete")
@permission_required(Permission.SCHEDULE_EDIT)
def delete(schedule_id: int):
    """Delete a schedule once the confirmation box is ticked."""
    schedule = service.get_schedule(current_user, schedule_id)
    form = DeleteForm()
    if not form.confirm.data:
        flash("Chưa xóa: hãy đánh dấu ô xác nhận rồi bấm “Xóa lịch” lần nữa.", "error")
        return redirect(url_for("schedules.show", schedule_id=schedule.id, _anchor="xoa-lich"))
    try:
        service.delete_schedule(current_user, schedule)
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("schedules.show", schedule_id=schedule.id))
    flash(
        f"Đã xóa lịch phát “{schedule.script.title}”. Các lần phát chưa diễn ra đã được bỏ; "
        "những lần đã phát vẫn còn trong nhật ký.",
        "success",
    )
    return redirect(url_for("schedules.index"))


# --- iCalendar --------------------------------------------------------------------------------


def _calendar_response(text: str, name: str) -> Response:
    """An .ics download."""
    response = Response(text, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _events(schedules, stations_in_scope, only_station=None) -> list[ical.CalendarEvent]:
    """The VEVENTs of the schedules on the stations the user may see."""
    events = []
    for schedule in schedules:
        stations = [
            s
            for s in service.resolve_stations(schedule.stations, schedule.units)
            if s.id in stations_in_scope
        ]
        cancellations = db.session.scalars(
            select(CancelledOccurrence).where(CancelledOccurrence.schedule_id == schedule.id)
        ).all()
        events += ical.schedule_events(
            schedule,
            stations,
            cancellations,
            only_station=only_station,
            url=url_for("schedules.show", schedule_id=schedule.id, _external=True),
        )
    return events


@bp.get("/<int:schedule_id>.ics")
@login_required
def schedule_ics(schedule_id: int):
    """One schedule as an iCalendar file."""
    schedule = service.get_schedule(current_user, schedule_id)
    scope = {s.id for s in _stations_in_scope(current_user)}
    text = ical.build_calendar(
        _events([schedule], scope), clock.now(), f"Lịch phát: {schedule.script.title}"
    )
    return _calendar_response(text, f"lich-phat-{schedule.id}.ics")


@bp.get("/export.ics")
@login_required
def export_ics():
    """Every active schedule the user may see, optionally of one station (?station=CODE)."""
    stations = _stations_in_scope(current_user)
    code = request.args.get("station", "").strip()
    station = None
    if code:
        station = next((s for s in stations if s.code == code), None)
        if station is None:
            raise ValidationError("Đài không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.")
    schedules = service.list_schedules(current_user, station=station)
    events = _events(schedules, {s.id for s in stations}, only_station=station)
    name = f"Lịch phát: {station.name}" if station else "Lịch phát (Loa)"
    filename = f"lich-phat-{station.code}.ics" if station else "lich-phat.ics"
    return _calendar_response(ical.build_calendar(events, clock.now(), name), filename)
