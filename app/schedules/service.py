"""Schedule rules: checking and saving repeat rules, cancelling, and materialising airings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from app.audit.service import record_event
from app.auth.models import User
from app.auth.permissions import Permission, in_scope, require
from app.core import clock
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.extensions import db
from app.org.models import Station, Unit
from app.programmes.service import check_schedule_fits, withdrawn_items
from app.schedules.models import (
    Airing,
    AiringStatus,
    CancelledOccurrence,
    Schedule,
    ScheduleStatus,
    schedule_stations,
    schedule_units,
)
from app.schedules.plan import (
    BLOCKING,
    DEFAULT_GAP_SECONDS,
    SEQUENCE_LEAD_S,  # noqa: F401 (callers read it here; the planner owns it)
    WARNING,
    PlannedSpot,
    Problem,
    Session,
    Spot,
    check_script_validity,
    format_duration,
    plan_day,
)
from app.schedules.recurrence import (
    LOCAL_TZ,
    Recurrence,
    RecurrenceError,
    expand,
    first_occurrence,
    fmt_date,
    last_occurrence,
    occurrence_count,
    stored_rule,
    to_rrule,
)
from app.scripts.models import PRIORITY_LABELS, Priority, Script, ScriptStatus
from app.speech.service import verify_audio

# How far ahead saving a schedule checks sessions, caps and overlaps: about two months. A
# campaign is usually shorter; a longer rule repeats the same weekly pattern, so its later
# weeks rarely show a problem the first nine did not, and checking a whole year per station
# would make saving slow. The occurrence count, first and last airing cover the whole rule.
CHECK_HORIZON_DAYS = 62
# How far ahead airings are materialised as rows the runner claims; refresh_all_airings()
# runs daily and moves the horizon on.
AIRING_HORIZON_DAYS = 14
MAX_GAP_SECONDS = 600
# The planner's key of the spots a check adds (the schedule being saved has no id yet).
_NEW = object()
MIN_REASON_CHARS = 3
# How many problems an error message lists before "… và N vấn đề khác".
MAX_LISTED_PROBLEMS = 10
# Airings that hold (or held) a place in their session when a day is sequenced again.
_OCCUPYING = (
    AiringStatus.PLANNED,
    AiringStatus.CLAIMED,
    AiringStatus.AIRED,
    AiringStatus.AIRED_LATE,
    AiringStatus.PARTIAL,
    AiringStatus.INTERRUPTED,
    AiringStatus.FAILED,
)
_ONE_DAY = timedelta(days=1)


# --- Permissions ------------------------------------------------------------------------------


def _require_schedule_edit(actor: User) -> None:
    """Raise PermissionDenied unless the actor may create, delete or cancel schedules."""
    require(actor, Permission.SCHEDULE_EDIT)


# --- Input and check results ------------------------------------------------------------------


@dataclass
class ScheduleInput:
    """A schedule as submitted from a form, the API or a schedule file.

    The recurrence carries explicit dates; a form that leaves them empty fills them with
    default_dates() (the script's validity) before building it.
    """

    script: Script
    recurrence: Recurrence
    stations: Sequence[Station] = ()
    units: Sequence[Unit] = ()
    priority: Priority | None = None
    gap_seconds: float = DEFAULT_GAP_SECONDS
    confirm_warnings: bool = False


@dataclass(frozen=True)
class PlacedAiring:
    """One airing a schedule will have, placed as it will air (the stored sequenced time)."""

    station: Station
    planned: datetime
    start: datetime
    end: datetime
    session: str


@dataclass
class CheckResult:
    """What saving the schedule would do: its problems, how many airings, first and last.

    first and last are the real (sequenced) starts of the first and last airing; airings
    lists every airing of the checked days as it will air, by station then start.
    """

    problems: list[Problem]
    occurrences: int
    first: datetime | None
    last: datetime | None
    stations: list[Station] = field(default_factory=list)
    airings: list[PlacedAiring] = field(default_factory=list)

    @property
    def blocking(self) -> list[Problem]:
        """Problems that stop the save."""
        return [p for p in self.problems if p.severity == BLOCKING]

    @property
    def warnings(self) -> list[Problem]:
        """Problems the user must confirm."""
        return [p for p in self.problems if p.severity == WARNING]


class ScheduleProblems(ValidationError):
    """A save refused for the plan's problems; carries them for forms and the API."""

    def __init__(
        self,
        message: str,
        fields: dict[str, str],
        problems: list[Problem],
        result: CheckResult | None = None,
    ) -> None:
        super().__init__(message, fields)
        self.problems = problems
        self.result = result


@dataclass(frozen=True)
class RundownRow:
    """One airing of a station's day, as the rundown shows it (local times)."""

    airing_id: int
    airing_key: str
    schedule_id: int | None
    title: str
    priority: Priority
    priority_label: str
    status: AiringStatus
    status_label: str
    session: str
    planned: datetime
    start: datetime
    end: datetime
    duration_s: float


def default_dates(script: Script, today: date) -> tuple[date, date]:
    """The date range a schedule takes when none is given: the script's validity from today."""
    start = max(script.valid_from or today, today)
    if script.valid_until is None:
        message = "Kịch bản không ghi ngày hết hiệu lực; hãy nhập ngày kết thúc của lịch."
        raise ValidationError(message, {"end_date": message})
    return start, script.valid_until


def airing_key(schedule_id: int, station_id: int, planned_at: datetime) -> str:
    """The deterministic key of a planned airing: one row per schedule, station and time."""
    return f"{schedule_id}:{station_id}:{planned_at.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def sessions_of(station: Station) -> list[Session]:
    """The station's broadcast sessions as the planner reads them."""
    return [
        Session(s.name, s.start_time, s.end_time, s.cap_minutes, s.weekdays)
        for s in station.sessions
    ]


# --- Checking ---------------------------------------------------------------------------------


def check_schedule(actor: User, data: ScheduleInput, now: datetime) -> CheckResult:
    """Check a schedule before saving; raise ValidationError for input that cannot be saved.

    The dry run (web and API) and the save call this, and it places the spots exactly as the
    stored airings will be sequenced (_plan_with, plan_day): its airings, first and last are
    the real times. Problems of the plan (outside sessions, over caps, spots moved after
    others, an "every N minutes" rule pushed past its window, the script expiring) come back
    in the result: each station's days up to CHECK_HORIZON_DAYS from the rule's start (or
    now) are planned with the station's other airings, and only problems this schedule adds
    are reported. A spot longer than its rule's interval is refused.
    """
    _require_schedule_edit(actor)
    script = data.script
    check_script_visible(actor, script)
    check_script_airable(script, now)
    stations = _check_targets(actor, data.stations, data.units)
    if not 0 <= data.gap_seconds <= MAX_GAP_SECONDS:
        message = f"Khoảng nghỉ giữa các lần phát phải từ 0 đến {MAX_GAP_SECONDS} giây."
        raise ValidationError(message, {"gap_seconds": message})
    rec = data.recurrence
    _validate_rule(rec, stations)

    occurrences = 0
    firsts: list[datetime] = []
    lasts: list[datetime] = []
    for station in stations:
        sessions = sessions_of(station) if rec.kind == "per_session" else None
        occurrences += occurrence_count(rec, sessions)
        first, last = first_occurrence(rec, sessions), last_occurrence(rec, sessions)
        firsts += [first] if first else []
        lasts += [last] if last else []
    first, last = min(firsts, default=None), max(lasts, default=None)
    if last is None or last < now:
        message = (
            f"Lịch không còn lần phát nào từ bây giờ: lần cuối đã qua "
            f"({fmt_date(rec.end_date)}). Hãy chọn ngày kết thúc muộn hơn."
        )
        raise ValidationError(message, {"end_date": message})

    render = script.approved_render
    duration = float(render.duration_s or 0.0)
    _check_fits_interval(rec, duration, data.gap_seconds)
    priority = (data.priority or script.priority).value
    start = max(now, datetime.combine(rec.start_date, time(), LOCAL_TZ).astimezone(UTC))
    end = start + timedelta(days=CHECK_HORIZON_DAYS)
    problems: list[Problem] = []
    airings: list[PlacedAiring] = []
    real_lasts: list[datetime] = []

    def spots(when: list[datetime]) -> list[Spot]:
        """The new schedule's spots at these times."""
        return [
            Spot(None, t, duration, priority, script.title, gap=data.gap_seconds, key=_NEW)
            for t in when
        ]

    for station in stations:
        sessions = sessions_of(station)
        station_sessions = sessions if rec.kind == "per_session" else None
        times = expand(rec, start, end, station_sessions)
        if not times:
            continue
        schedules = schedules_for_station(station)
        placed, found, others = _plan_with(station, sessions, spots(times), now, schedules)
        check_schedule_fits(script, duration, station, placed)
        problems += found
        problems += _duplicates(station, script, times, others, schedules)
        problems += _window_overruns(station, rec, placed, duration, data.gap_seconds)
        airings += [_placed_airing(station, p) for p in placed]
        station_last = last_occurrence(rec, station_sessions)
        if station_last is not None and station_last >= end:
            # The last airing lies past the checked days: plan its day alone for its real time.
            day_start = _local_midnight(station_last.astimezone(LOCAL_TZ).date())
            last_day = expand(rec, day_start, day_start + _ONE_DAY, station_sessions)
            far, _, _ = _plan_with(station, sessions, spots(last_day), now, schedules)
            real_lasts += [max(p.start for p in far)] if far else []
        else:
            real_lasts.append(max(p.start for p in placed))
    airings.sort(key=lambda a: (a.station.code, a.start))
    if airings:
        first = min(a.start for a in airings)
        last = max(real_lasts, default=last)
    expiring = check_script_validity(script.valid_until, last)
    if expiring is not None:
        problems.append(expiring)
    problems.sort(key=lambda p: (p.when or datetime.min.replace(tzinfo=UTC), p.code))
    return CheckResult(problems, occurrences, first, last, stations, airings)


def _check_fits_interval(rec: Recurrence, duration: float, gap_seconds: float) -> None:
    """Refuse an "every N minutes" rule whose spot is longer than N minutes: its airings
    would be pushed one after the other and leave the window the operator chose."""
    if rec.kind != "every" or not rec.every_minutes or duration <= rec.every_minutes * 60:
        return
    needed = -(-(duration + gap_seconds) // 60)
    message = (
        f"Bản tin dài {format_duration(duration)}, hơn khoảng cách {rec.every_minutes} phút "
        "giữa hai lần phát: các lần phát sẽ bị đẩy nối tiếp nhau và lệch khỏi khung giờ đã "
        f"chọn. Hãy chọn cứ ít nhất {int(needed)} phút một lần, hoặc dùng bản tin ngắn hơn."
    )
    raise ValidationError(message, {"every_minutes": message})


def _window_overruns(
    station: Station,
    rec: Recurrence,
    placed: list[PlannedSpot],
    duration: float,
    gap_seconds: float,
) -> list[Problem]:
    """A warning for each day on which the placed airings of an "every N minutes" rule are
    pushed past the end of its window, with their real first and last times."""
    if rec.kind != "every" or rec.window_end is None:
        return []
    by_day: dict[date, list[PlannedSpot]] = defaultdict(list)
    for spot in placed:
        by_day[spot.planned.astimezone(LOCAL_TZ).date()].append(spot)
    found = []
    for day, todays in sorted(by_day.items()):
        window_end = datetime.combine(day, rec.window_end, LOCAL_TZ).astimezone(UTC)
        first = min(todays, key=lambda p: p.start)
        last = max(todays, key=lambda p: p.start)
        if last.start <= window_end:
            continue
        window = f"{rec.window_start:%H:%M}–{rec.window_end:%H:%M}"
        found.append(
            Problem(
                "window_overrun",
                WARNING,
                f"Đài “{station.name}”: ngày {fmt_date(day)}, {len(todays)} lần phát cứ "
                f"{rec.every_minutes} phút trong khung {window} không vừa khung (bản tin dài "
                f"{format_duration(duration)}, nghỉ {format_duration(gap_seconds)}): sẽ phát "
                f"từ {_hms(first.start)} đến lần cuối lúc {_hms(last.start)}, quá giờ kết "
                f"thúc khung {format_duration((last.start - window_end).total_seconds())}.",
                last.start,
                None,
            )
        )
    return found


def _placed_airing(station: Station, spot: PlannedSpot) -> PlacedAiring:
    """A placed spot of the new schedule as the check reports it."""
    name = spot.session.name if spot.session else ""
    return PlacedAiring(station, spot.planned, spot.start, spot.end, name)


def _hms(value: datetime) -> str:
    """Local HH:MM:SS, or HH:MM on a whole minute."""
    local = value.astimezone(LOCAL_TZ)
    return f"{local:%H:%M:%S}" if local.second else f"{local:%H:%M}"


def _local_midnight(day: date) -> datetime:
    """The start of a local day, in UTC."""
    return datetime.combine(day, time(), LOCAL_TZ).astimezone(UTC)


def airing_horizon_end(now: datetime, days: int = AIRING_HORIZON_DAYS) -> datetime:
    """The end of the materialised airings: the local midnight after now + days.

    Whole local days are materialised, because a day is planned as a whole (its sessions,
    its shared gap): a day half in rows would be sequenced differently once completed.
    """
    return _day_end(now + timedelta(days=days))


def _day_end(value: datetime) -> datetime:
    """The first local midnight at or after value."""
    day = value.astimezone(LOCAL_TZ).date()
    midnight = _local_midnight(day)
    return midnight if midnight == value else midnight + _ONE_DAY


def _plan_with(
    station: Station,
    sessions: list[Session],
    new: list[Spot],
    now: datetime,
    schedules: list[Schedule],
) -> tuple[list[PlannedSpot], list[Problem], list[Spot]]:
    """Plan the station's days of the new spots with everything else they hold, exactly as
    the stored airings will be sequenced (plan_day, the same inputs): the new spots placed,
    the problems they add, and the other spots of those days.

    Days inside the materialised horizon read the station's airing rows, as
    sequence_station() does; later days read the other schedules' rules.
    """
    by_day: dict[date, list[Spot]] = defaultdict(list)
    for spot in new:
        by_day[spot.planned.astimezone(LOCAL_TZ).date()].append(spot)
    days = sorted(by_day)
    horizon = airing_horizon_end(now)
    near = [d for d in days if _local_midnight(d) < horizon]
    far = [d for d in days if _local_midnight(d) >= horizon]
    existing: dict[date, list[Spot]] = defaultdict(list)
    if near:
        existing.update(_row_spots(station, near[0], near[-1]))
    if far:
        spots = _station_spots(
            station, _local_midnight(far[0]), _local_midnight(far[-1]) + _ONE_DAY, None, schedules
        )
        for spot in spots:
            day = spot.planned.astimezone(LOCAL_TZ).date()
            if day in by_day and _local_midnight(day) >= horizon:
                existing[day].append(spot)
    placed: list[PlannedSpot] = []
    found: list[Problem] = []
    others: list[Spot] = []
    for day in days:
        before_spots = existing.get(day, [])
        others += before_spots
        after = plan_day(day, sessions, before_spots + by_day[day], None, now)
        placed += [p for p in after.spots if p.key is _NEW]
        if not after.problems:
            continue  # the usual case: the day without the new spots need not be planned
        before = plan_day(day, sessions, before_spots, None, now)
        seen = {(p.code, p.message) for p in before.problems}
        found += [
            replace(p, message=f"Đài “{station.name}”: {p.message}")
            for p in after.problems
            if (p.code, p.message) not in seen
        ]
    return placed, found, others


def check_script_visible(actor: User, script: Script) -> None:
    """The script must be the actor's unit's, below it, or sent down from a unit above it."""
    if not (in_scope(actor, script.unit) or script.unit.contains(actor.unit)):
        message = "Kịch bản không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn."
        raise NotFound(message, {"script": message})


def check_script_airable(script: Script, now: datetime) -> None:
    """Only an approved, unexpired script whose approved audio is intact on disk can air."""
    message = ""
    if script.status == ScriptStatus.ARCHIVED:
        message = f"Kịch bản đã lưu trữ; không thể lập lịch phát cho “{script.title}”."
    elif script.status != ScriptStatus.APPROVED or script.approved_version_id is None:
        message = (
            f"Kịch bản chưa được duyệt (trạng thái: {script.status.label}); chỉ lập lịch được "
            "cho kịch bản đã duyệt."
        )
    elif script.valid_until is not None and script.valid_until < now.astimezone(LOCAL_TZ).date():
        message = (
            f"Kịch bản đã hết hiệu lực ngày {fmt_date(script.valid_until)}; không thể lập lịch "
            "phát mới."
        )
    elif script.is_programme and (gone := withdrawn_items(script.approved_version_id)):
        message = (
            f"Chương trình “{script.title}” có mục đã lưu trữ: {', '.join(gone)}; không thể "
            "lập lịch phát. Hãy bỏ các mục đó khỏi chương trình rồi gửi duyệt lại."
        )
    elif script.approved_render is None or not verify_audio(script.approved_render):
        message = (
            "Tệp âm thanh đã duyệt không còn trên máy hoặc đã bị thay đổi; hãy tạo lại âm "
            "thanh và gửi duyệt lại trước khi lập lịch."
        )
    if message:
        raise ValidationError(message, {"script": message})


def _check_targets(
    actor: User, stations: Sequence[Station], units: Sequence[Unit]
) -> list[Station]:
    """Every chosen station and unit must lie in the actor's subtree; resolve the stations."""
    if not stations and not units:
        message = "Chọn ít nhất một đài hoặc một đơn vị."
        raise ValidationError(message, {"stations": message})
    for station in stations:
        if not in_scope(actor, station.unit):
            message = f"Đài “{station.name}” nằm ngoài phạm vi đơn vị của bạn."
            raise ValidationError(message, {"stations": message})
        if not station.active:
            message = f"Đài “{station.name}” đã ngừng hoạt động."
            raise ValidationError(message, {"stations": message})
    for unit in units:
        if not in_scope(actor, unit):
            message = f"Đơn vị “{unit.name}” nằm ngoài phạm vi đơn vị của bạn."
            raise ValidationError(message, {"units": message})
    resolved = resolve_stations(stations, units)
    if not resolved:
        message = "Các đơn vị đã chọn chưa có đài nào đang hoạt động."
        raise ValidationError(message, {"units": message})
    return resolved


def resolve_stations(stations: Iterable[Station], units: Iterable[Unit]) -> list[Station]:
    """The chosen stations plus every active station of the units' subtrees, by code."""
    found = {s.id: s for s in stations if s.active}
    paths = [u.path for u in units]
    if paths:
        condition = Unit.path.startswith(paths[0])
        for path in paths[1:]:
            condition = condition | Unit.path.startswith(path)
        query = select(Station).join(Unit).where(Station.active.is_(True), condition)
        found.update({s.id: s for s in db.session.scalars(query)})
    return sorted(found.values(), key=lambda s: s.code)


def _validate_rule(rec: Recurrence, stations: Sequence[Station]) -> None:
    """recurrence.validate(), per station for a per-session rule, as a ValidationError."""
    try:
        rec.validate()
        if rec.kind == "per_session":
            for station in stations:
                try:
                    rec.validate(sessions_of(station))
                except RecurrenceError as exc:
                    message = f"Đài “{station.name}”: {exc.message}"
                    raise RecurrenceError(message, dict.fromkeys(exc.fields, message)) from exc
    except RecurrenceError as exc:
        raise ValidationError(exc.message, exc.fields) from exc


def _duplicates(
    station: Station,
    script: Script,
    times: list[datetime],
    others: list[Spot],
    schedules: list[Schedule],
) -> list[Problem]:
    """A warning when the station already airs the same script at some of the same times
    (schedules: the station's, as schedules_for_station() gives them)."""
    same = {sch.id for sch in schedules if sch.script_id == script.id}
    taken = {spot.planned for spot in others if spot.schedule_id in same}
    clashes = sorted(t for t in times if t in taken)
    if not clashes:
        return []
    first = clashes[0].astimezone(LOCAL_TZ)
    message = (
        f"Đài “{station.name}”: kịch bản “{script.title}” đã có lịch phát vào "
        f"{len(clashes)} thời điểm trùng (đầu tiên lúc {first:%H:%M} ngày "
        f"{fmt_date(first.date())}); lưu nữa sẽ phát hai lần."
    )
    return [Problem("duplicate", WARNING, message, clashes[0], None)]


def _station_spots(
    station: Station,
    start: datetime,
    end: datetime,
    skip_schedule: int | None = None,
    schedules: list[Schedule] | None = None,
) -> list[Spot]:
    """What else the station airs in [start, end): other schedules' rules and manual airings.

    schedules: the station's (schedules_for_station()), when the caller has read them.
    """
    spots: list[Spot] = []
    sessions = sessions_of(station)
    if schedules is None:
        schedules = schedules_for_station(station)
    schedules = [s for s in schedules if s.id != skip_schedule]
    cancellations = _cancelled_times([s.id for s in schedules], station)
    for schedule in schedules:
        rec = stored_rule(schedule.rrule)
        cancelled = cancellations.get(schedule.id, set())
        duration = float(schedule.render.duration_s or 0.0)
        title = schedule.script.title
        for when in expand(rec, start, end, sessions if rec.kind == "per_session" else None):
            if when not in cancelled:
                spots.append(
                    Spot(
                        schedule.id,
                        when,
                        duration,
                        schedule.priority.value,
                        title,
                        gap=schedule.gap_seconds,
                    )
                )
    manual = db.session.scalars(
        select(Airing)
        .where(
            Airing.station_id == station.id,
            Airing.schedule_id.is_(None),
            Airing.status.in_(_OCCUPYING),
            Airing.planned_at >= start,
            Airing.planned_at < end,
        )
        .options(selectinload(Airing.script))
    )
    spots += [_airing_spot(a) for a in manual]
    return spots


def _airing_spot(airing: Airing) -> Spot:
    """An airing row as the planner reads it: only a planned rule airing may move; claimed,
    aired, manual ("phát ngay") and re-queued ones keep the time they were given."""
    pinned = airing.operator_id is not None or airing.requeued_from_id is not None
    movable = airing.status == AiringStatus.PLANNED and not pinned
    schedule = airing.schedule
    return Spot(
        airing.schedule_id,
        airing.planned_at,
        airing.duration_s,
        airing.priority.value,
        airing.script.title,
        fixed=None if movable else airing.sequenced_at,
        gap=schedule.gap_seconds if schedule is not None else None,
        key=airing.id,
    )


def _row_airings(station: Station, first: date, last: date) -> list[Airing]:
    """The station's airings that hold a place on the local days first..last."""
    return list(
        db.session.scalars(
            select(Airing)
            .where(
                Airing.station_id == station.id,
                Airing.status.in_(_OCCUPYING),
                Airing.planned_at >= _local_midnight(first),
                Airing.planned_at < _local_midnight(last) + _ONE_DAY,
            )
            .options(selectinload(Airing.script), selectinload(Airing.schedule))
        )
    )


def _row_spots(station: Station, first: date, last: date) -> dict[date, list[Spot]]:
    """The station's airing rows of the local days first..last as spots, by local day."""
    by_day: dict[date, list[Spot]] = defaultdict(list)
    for airing in _row_airings(station, first, last):
        by_day[airing.planned_at.astimezone(LOCAL_TZ).date()].append(_airing_spot(airing))
    return by_day


def schedules_for_station(station: Station) -> list[Schedule]:
    """Active schedules that air on the station, named directly or through a unit above it.

    One query: the station's own links, or a unit on its unit's path (the path holds the ids
    of the unit and its ancestors).
    """
    if not station.active:
        return []
    unit_ids = [int(part) for part in station.unit.path.strip("/").split("/") if part]
    named = select(schedule_stations.c.schedule_id).where(
        schedule_stations.c.station_id == station.id
    )
    through_unit = select(schedule_units.c.schedule_id).where(
        schedule_units.c.unit_id.in_(unit_ids)
    )
    query = (
        select(Schedule)
        .where(
            Schedule.status == ScheduleStatus.ACTIVE,
            Schedule.id.in_(named) | Schedule.id.in_(through_unit),
        )
        .options(selectinload(Schedule.render), selectinload(Schedule.script))
        .order_by(Schedule.id)
    )
    return list(db.session.scalars(query))


def _targets(schedule: Schedule, station: Station) -> bool:
    """Whether the schedule airs on the station (the station must be active)."""
    if not station.active:
        return False
    return any(s.id == station.id for s in schedule.stations) or any(
        u.contains(station.unit) for u in schedule.units
    )


def _cancelled_times(schedule_ids: list[int], station: Station) -> dict[int, set[datetime]]:
    """UTC times of the schedules' occurrences cancelled on this station or on all, by
    schedule id (one query)."""
    found: dict[int, set[datetime]] = defaultdict(set)
    if not schedule_ids:
        return found
    rows = db.session.execute(
        select(CancelledOccurrence.schedule_id, CancelledOccurrence.occurs_at).where(
            CancelledOccurrence.schedule_id.in_(schedule_ids),
            CancelledOccurrence.station_id.is_(None)
            | (CancelledOccurrence.station_id == station.id),
        )
    )
    for schedule_id, occurs_at in rows:
        found[schedule_id].add(occurs_at)
    return found


def _summary(problems: Sequence[Problem]) -> str:
    """Problems as lines for a message, the first few only."""
    lines = [p.message for p in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > MAX_LISTED_PROBLEMS:
        lines.append(f"… và {len(problems) - MAX_LISTED_PROBLEMS} vấn đề khác.")
    return "\n".join(lines)


# --- Saving -----------------------------------------------------------------------------------


def create_schedule(actor: User, data: ScheduleInput) -> Schedule:
    """Check and save a schedule, then plan its airings for the next AIRING_HORIZON_DAYS."""
    now = clock.now()
    result = check_schedule(actor, data, now)
    if result.blocking:
        summary = _summary(result.blocking)
        raise ScheduleProblems(
            f"Không lưu được lịch vì {len(result.blocking)} vấn đề:\n{summary}",
            {"problems": summary},
            result.problems,
            result,
        )
    if result.warnings and not data.confirm_warnings:
        summary = _summary(result.warnings)
        raise ScheduleProblems(
            f"Lịch có {len(result.warnings)} cảnh báo cần xác nhận trước khi lưu:\n{summary}",
            {"confirm": summary},
            result.problems,
            result,
        )
    script, rec = data.script, data.recurrence
    schedule = Schedule(
        unit_id=actor.unit_id,
        script_id=script.id,
        version_id=script.approved_version_id,
        render_id=script.approved_render_id,
        priority=data.priority or script.priority,
        kind=rec.kind,
        rrule=to_rrule(rec),
        start_date=rec.start_date,
        end_date=rec.end_date,
        count=rec.count,
        gap_seconds=data.gap_seconds,
        status=ScheduleStatus.ACTIVE,
        created_by_id=actor.id,
        created_at=now,
        updated_at=now,
    )
    schedule.stations = list(data.stations)
    schedule.units = list(data.units)
    db.session.add(schedule)
    with _race_guard("Không lưu được lịch vì dữ liệu vừa thay đổi; hãy thử lại."):
        db.session.flush()
        added, _ = refresh_airings(schedule, now + timedelta(days=AIRING_HORIZON_DAYS), now)
        record_event(
            "schedule.create",
            "schedule",
            schedule.id,
            f"Lập lịch phát “{script.title}” trên {len(result.stations)} đài, "
            f"{result.occurrences} lần phát",
            actor=actor,
            unit_id=schedule.unit_id,
            details={
                "script": script.id,
                "version": schedule.version_id,
                "render": schedule.render_id,
                "priority": schedule.priority.value,
                "rrule": schedule.rrule,
                "stations": [s.code for s in data.stations],
                "units": [u.code for u in data.units],
                "gap_seconds": schedule.gap_seconds,
                "occurrences": result.occurrences,
                "airings_planned": added,
                "warnings_confirmed": [p.message for p in result.warnings],
            },
        )
    return schedule


def still_to_air(now: datetime):
    """The airings a runner could still start, as a condition on Airing: planned (no runner
    has claimed them), due later, or due within the widest grace (a late runner would still air
    them). Airings queued behind others count by when they will air, not when planned."""
    from flask import current_app

    from app.playout.runner import GRACE_S, widest_grace  # the runner builds on this module

    grace = widest_grace(float(current_app.config.get("PLAYOUT_GRACE_S", GRACE_S)))
    return and_(
        Airing.status == AiringStatus.PLANNED,
        Airing.sequenced_at >= now - timedelta(seconds=grace),
    )


def delete_schedule(actor: User, schedule: Schedule) -> Schedule:
    """Stop a schedule: its airings still to air go (still_to_air); aired and claimed ones
    stay."""
    _require_schedule_edit(actor)
    _require_owner(actor, schedule)
    if schedule.status == ScheduleStatus.DELETED:
        raise Conflict("Lịch đã được xóa rồi.")
    now = clock.now()
    schedule.status = ScheduleStatus.DELETED
    schedule.updated_at = now
    with _race_guard("Lịch vừa thay đổi; hãy tải lại trang."):
        removed = db.session.execute(
            delete(Airing).where(Airing.schedule_id == schedule.id, still_to_air(now))
        ).rowcount
        record_event(
            "schedule.delete",
            "schedule",
            schedule.id,
            f"Xóa lịch phát “{schedule.script.title}”",
            actor=actor,
            unit_id=schedule.unit_id,
            details={"airings_removed": removed},
        )
    return schedule


def cancel_occurrence(
    actor: User,
    schedule: Schedule,
    station: Station | None,
    occurs_at: datetime,
    reason: str,
) -> CancelledOccurrence:
    """Call off one occurrence on one station (or on all when station is None).

    Its airing stays, with status cancelled, so the runner logs it as cancelled.
    """
    _require_schedule_edit(actor)
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON_CHARS:
        message = "Hãy ghi lý do hủy lần phát."
        raise ValidationError(message, {"reason": message})
    if station is None:
        _require_owner(actor, schedule)
    elif not in_scope(actor, station.unit):
        raise NotFound("Đài không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.")
    else:
        _require_visible(actor, schedule)
    if schedule.status != ScheduleStatus.ACTIVE:
        raise Conflict("Lịch đã bị xóa; không còn lần phát nào để hủy.")
    if occurs_at.tzinfo is None:
        raise ValueError("cancel_occurrence() needs an aware datetime")
    occurs_at = occurs_at.astimezone(UTC).replace(microsecond=0)
    now = clock.now()
    local = occurs_at.astimezone(LOCAL_TZ)
    label = f"{local:%H:%M} ngày {fmt_date(local.date())}"
    targets = resolve_stations(schedule.stations, schedule.units)
    if station is not None:
        targets = [s for s in targets if s.id == station.id]
    rec = replace(stored_rule(schedule.rrule), exceptions=frozenset())
    hit = [s for s in targets if occurs_at in _occurrences(rec, s, occurs_at, occurs_at)]
    if not hit:
        where = f" tại đài “{station.name}”" if station is not None else ""
        message = f"Lịch không có lần phát lúc {label}{where}."
        raise ValidationError(message, {"occurs_at": message})
    if occurs_at <= now:
        raise Conflict(f"Lần phát lúc {label} đã qua; không hủy được.")
    already = {(c.station_id) for c in _cancellations(schedule) if c.occurs_at == occurs_at}
    if None in already or (station is not None and station.id in already):
        raise Conflict(f"Lần phát lúc {label} đã được hủy rồi.")
    keys = [airing_key(schedule.id, s.id, occurs_at) for s in hit]
    airings = db.session.scalars(select(Airing).where(Airing.airing_key.in_(keys))).all()
    busy = [a for a in airings if a.status not in (AiringStatus.PLANNED, AiringStatus.CANCELLED)]
    if busy:
        raise Conflict(
            f"Lần phát lúc {label} đã được bộ phát nhận hoặc đã phát "
            f"({busy[0].status.label}); không hủy được."
        )
    row = CancelledOccurrence(
        schedule_id=schedule.id,
        station_id=station.id if station else None,
        occurs_at=occurs_at,
        reason=reason,
        cancelled_by_id=actor.id,
        created_at=now,
    )
    db.session.add(row)
    conflict = Conflict(f"Bộ phát vừa nhận lần phát lúc {label}; không hủy được.")
    with _race_guard(conflict):
        planned_ids = [a.id for a in airings if a.status == AiringStatus.PLANNED]
        if planned_ids:
            # Conditional, like the runner's claim: whichever UPDATE comes second changes
            # nothing, and here that means the runner won.
            changed = db.session.execute(
                update(Airing)
                .where(Airing.id.in_(planned_ids), Airing.status == AiringStatus.PLANNED)
                .values(status=AiringStatus.CANCELLED)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed != len(planned_ids):
                raise StaleDataError("airing claimed meanwhile")
        if station is None:
            # Kept in the rule too (EXDATE), so an iCalendar export shows the cancellation.
            stored = stored_rule(schedule.rrule)
            schedule.rrule = to_rrule(
                replace(stored, exceptions=stored.exceptions | {local.replace(tzinfo=None)})
            )
            schedule.updated_at = now
        record_event(
            "schedule.cancel_occurrence",
            "schedule",
            schedule.id,
            f"Hủy lần phát “{schedule.script.title}” lúc {label}"
            + (f" tại đài {station.name}" if station else " trên mọi đài")
            + f": {reason}",
            actor=actor,
            unit_id=schedule.unit_id,
            details={
                "occurs_at": occurs_at.isoformat(),
                "station": station.code if station else None,
                "reason": reason,
                "airings_cancelled": len(airings),
            },
        )
    for airing in airings:
        db.session.refresh(airing)
    return row


def _occurrences(
    rec: Recurrence, station: Station, start: datetime, end: datetime
) -> set[datetime]:
    """The rule's UTC times on the station in [start, end] (end included)."""
    sessions = sessions_of(station) if rec.kind == "per_session" else None
    return set(expand(rec, start, end + timedelta(seconds=1), sessions))


def _cancellations(schedule: Schedule) -> list[CancelledOccurrence]:
    """Every cancelled occurrence of the schedule."""
    return list(
        db.session.scalars(
            select(CancelledOccurrence).where(CancelledOccurrence.schedule_id == schedule.id)
        )
    )


class _race_guard:
    """Commit the work inside; a lost race becomes the given Conflict (nothing is saved)."""

    def __init__(self, conflict: Conflict | str) -> None:
        self.conflict = Conflict(conflict) if isinstance(conflict, str) else conflict

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            try:
                db.session.commit()
            except (IntegrityError, StaleDataError) as error:
                db.session.rollback()
                raise self.conflict from error
            return False
        db.session.rollback()
        if issubclass(exc_type, IntegrityError | StaleDataError):
            raise self.conflict from exc
        return False


# --- Reading ----------------------------------------------------------------------------------


def _visible(actor: User, schedule: Schedule) -> bool:
    """Owned by the actor's subtree, or airing on at least one station in it."""
    if in_scope(actor, schedule.unit):
        return True
    if any(in_scope(actor, s.unit) for s in schedule.stations):
        return True
    return any(in_scope(actor, u) or u.contains(actor.unit) for u in schedule.units)


def _require_visible(actor: User, schedule: Schedule) -> None:
    """Raise NotFound for a schedule the actor may not see."""
    if not _visible(actor, schedule):
        raise NotFound("Lịch phát không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.")


def _require_owner(actor: User, schedule: Schedule) -> None:
    """Only the owning unit's subtree changes a schedule as a whole."""
    _require_visible(actor, schedule)
    if not in_scope(actor, schedule.unit):
        raise PermissionDenied(
            "Lịch này do đơn vị cấp trên lập; bạn chỉ hủy được từng lần phát tại đài của mình."
        )


def get_schedule(actor: User, schedule_id: int) -> Schedule:
    """A schedule the actor may see, or NotFound."""
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound("Không tìm thấy lịch phát.")
    _require_visible(actor, schedule)
    return schedule


def list_schedules(
    actor: User,
    *,
    station: Station | None = None,
    script: Script | None = None,
    include_deleted: bool = False,
) -> list[Schedule]:
    """Schedules the actor may see, newest first, optionally of one station or script.

    Scope is filtered in Python (a schedule reaches stations through units as well); fine
    for hundreds of schedules, to be moved into SQL if the list grows much larger.
    """
    query = select(Schedule).order_by(Schedule.created_at.desc(), Schedule.id.desc())
    if not include_deleted:
        query = query.where(Schedule.status == ScheduleStatus.ACTIVE)
    if script is not None:
        query = query.where(Schedule.script_id == script.id)
    found = [s for s in db.session.scalars(query) if _visible(actor, s)]
    if station is not None:
        found = [s for s in found if _targets(s, station)]
    return found


def _status_label(airing: Airing, now: datetime) -> str:
    """The airing's status as the rundown names it: a claimed airing not due yet is cued
    (the runner takes it a few seconds ahead), not playing."""
    if airing.status == AiringStatus.CLAIMED and airing.sequenced_at > now:
        return "sắp phát"
    return airing.status.label


def rundown(actor: User, station: Station, local_date: date) -> list[RundownRow]:
    """The station's airings of one local day in the order they air, with their status."""
    if not in_scope(actor, station.unit):
        raise NotFound("Đài không tồn tại hoặc nằm ngoài phạm vi đơn vị của bạn.")
    start = datetime.combine(local_date, time(), LOCAL_TZ).astimezone(UTC)
    airings = db.session.scalars(
        select(Airing).where(
            Airing.station_id == station.id,
            Airing.sequenced_at >= start,
            Airing.sequenced_at < start + _ONE_DAY,
        )
    ).all()
    airings = sorted(airings, key=lambda a: (a.sequenced_at, _rank(a.priority), a.planned_at, a.id))
    now = clock.now()
    return [
        RundownRow(
            airing_id=a.id,
            airing_key=a.airing_key,
            schedule_id=a.schedule_id,
            title=a.script.title,
            priority=a.priority,
            priority_label=PRIORITY_LABELS[a.priority],
            status=a.status,
            status_label=_status_label(a, now),
            session=a.session_name,
            planned=a.planned_at.astimezone(LOCAL_TZ),
            start=a.sequenced_at.astimezone(LOCAL_TZ),
            end=(a.sequenced_at + timedelta(seconds=a.duration_s)).astimezone(LOCAL_TZ),
            duration_s=a.duration_s,
        )
        for a in airings
    ]


def _rank(priority: Priority) -> int:
    """khẩn cấp first, then ưu tiên, then thông thường."""
    return {Priority.EMERGENCY: 0, Priority.HIGH: 1}.get(priority, 2)


# --- Materialising airings --------------------------------------------------------------------


def refresh_airings(
    schedule: Schedule, until: datetime, now: datetime | None = None
) -> tuple[int, int]:
    """Bring the schedule's airing rows in [now, until) in line with its rule; no commit.

    Idempotent: inserts the airing keys that are missing (as cancelled for cancelled
    occurrences), removes planned airings the rule no longer makes (never claimed or aired
    ones), then sequences the touched stations' days again. Returns (added, removed).
    """
    now = now or clock.now()
    # Whole local days: a day is planned as a whole (airing_horizon_end).
    until = _day_end(until)
    stations = resolve_stations(schedule.stations, schedule.units)
    if schedule.status != ScheduleStatus.ACTIVE:
        stations = []
    rec = replace(stored_rule(schedule.rrule), exceptions=frozenset())
    cancelled = _cancellations(schedule)
    wanted: dict[str, tuple[Station, datetime, bool]] = {}
    for station in stations:
        off = {c.occurs_at for c in cancelled if c.station_id in (None, station.id)}
        for when in sorted(_occurrences(rec, station, now, until - timedelta(seconds=1))):
            wanted[airing_key(schedule.id, station.id, when)] = (station, when, when in off)
    existing = {
        a.airing_key: a
        for a in db.session.scalars(
            select(Airing).where(
                Airing.schedule_id == schedule.id,
                # An airing queued again after an emergency is not the rule's to remove.
                Airing.requeued_from_id.is_(None),
                Airing.planned_at >= now,
                Airing.planned_at < until,
            )
        )
    }
    touched: set[int] = set()
    removed = 0
    for key, airing in existing.items():
        if key not in wanted and airing.status == AiringStatus.PLANNED:
            touched.add(airing.station_id)
            db.session.delete(airing)
            removed += 1
    added = 0
    duration = float(schedule.render.duration_s or 0.0)
    created = clock.now()
    for key, (station, when, is_cancelled) in wanted.items():
        if key in existing:
            continue
        touched.add(station.id)
        added += 1
        db.session.add(
            Airing(
                schedule_id=schedule.id,
                station_id=station.id,
                planned_at=when,
                sequenced_at=when,
                duration_s=duration,
                priority=schedule.priority,
                script_id=schedule.script_id,
                version_id=schedule.version_id,
                render_id=schedule.render_id,
                airing_key=key,
                status=AiringStatus.CANCELLED if is_cancelled else AiringStatus.PLANNED,
                created_at=created,
            )
        )
    db.session.flush()
    for station_id in sorted(touched):
        sequence_station(db.session.get(Station, station_id), now, until)
    return added, removed


def sequence_station(station: Station, start: datetime, end: datetime) -> None:
    """Place the station's planned airings of every local day in [start, end) in sessions.

    The same plan as the check on save (plan_day over the day's airing rows, now = start):
    every airing that holds a place takes part; only planned rule airings move. A day uses
    the largest gap of its schedules (they share the session).
    """
    first = start.astimezone(LOCAL_TZ).date()
    last = end.astimezone(LOCAL_TZ).date()
    airings = _row_airings(station, first, last)
    sessions = sessions_of(station)
    by_id = {a.id: a for a in airings}
    by_day: dict[date, list[Spot]] = defaultdict(list)
    for airing in airings:
        by_day[airing.planned_at.astimezone(LOCAL_TZ).date()].append(_airing_spot(airing))
    for day, spots in by_day.items():
        plan = plan_day(day, sessions, spots, None, start)
        movable = {s.key for s in spots if s.fixed is None}
        for placed in plan.spots:
            if placed.key not in movable:
                continue
            airing = by_id[placed.key]
            session_name = placed.session.name if placed.session else ""
            if airing.sequenced_at != placed.start or airing.session_name != session_name:
                airing.sequenced_at = placed.start
                airing.session_name = session_name


def refresh_all_airings(now: datetime | None = None, days: int = AIRING_HORIZON_DAYS) -> dict:
    """Move every active schedule's airing horizon on; the runner calls it daily."""
    now = now or clock.now()
    until = now + timedelta(days=days)
    totals = {"schedules": 0, "added": 0, "removed": 0}
    schedules = db.session.scalars(
        select(Schedule).where(Schedule.status == ScheduleStatus.ACTIVE).order_by(Schedule.id)
    ).all()
    for schedule in schedules:
        added, removed = refresh_airings(schedule, until, now)
        totals["schedules"] += 1
        totals["added"] += added
        totals["removed"] += removed
    db.session.commit()
    return totals
