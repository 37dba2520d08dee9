"""A station's day plan: spots sequenced in its sessions, and the problems a save must show."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from typing import Literal

from app.schedules.recurrence import ALL_WEEKDAYS, LOCAL_TZ, fmt_date, weekday_set

# Severities. A blocking problem stops the save of a schedule; a warning needs the user's
# confirmation. Decisions:
# - outside_session (warning): a station may air outside its sessions (a campaign, a relay),
#   but usually should not.
# - over_cap (warning): caps are local rules (15, 45 or 60 minutes), which a locality may
#   lift for a campaign; the operator confirms.
# - overlap (warning): a spot that would start while another still plays; the plan (and so
#   the stored airing) moves it after that one, and the message gives the real time.
# - overruns_session (warning): the last spot starts in its session but ends after it: the
#   loudspeakers stay on a little longer.
# - after_session_end (blocking): the spot would start only after its session has ended,
#   when the loudspeakers are off, so it would not be heard as planned.
# - window_overrun (warning, app.schedules.service): an "every N minutes" rule whose spots
#   are pushed past the end of its window; a spot longer than N minutes is refused outright.
# - script_expires (warning): the schedule outlives the script's validity; later airings will
#   be refused by the service, but the schedule itself can stand.
Severity = Literal["blocking", "warning"]
BLOCKING: Severity = "blocking"
WARNING: Severity = "warning"

# Circular 39/2020/TT-BTTTT order: khẩn cấp, then ưu tiên, then thông thường. Keys are the
# values of app.scripts.models.Priority, which this module does not import (it is Flask-bound).
PRIORITY_RANK = {"emergency": 0, "priority": 1, "normal": 2}
DEFAULT_GAP_SECONDS = 5.0
# How far after "now" a spot still to come is placed at the earliest when a day is planned
# during a session under way (so the runner sees it in time and it does not start late).
SEQUENCE_LEAD_S = 30
# Vietnam has kept UTC+7 without daylight saving since 1975, so a spot's local wall time is
# its UTC time plus 7 hours: plain arithmetic instead of a zone lookup per spot (planning runs
# for every spot of a province's month, bench/plan.py). Only the fields of such a value are
# read (date, time), never its zone.
_WALL_OFFSET = timedelta(hours=7)


def _wall(value: datetime) -> datetime:
    """The local date and time fields of an aware datetime (its tzinfo is meaningless)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value + _WALL_OFFSET


@dataclass(frozen=True)
class Session:
    """A broadcast session of a station, e.g. "Buổi sáng" 05:30-06:15 on "1234567", cap 15."""

    name: str
    start: time
    end: time
    cap_minutes: int | None = None
    weekdays: frozenset[int] = ALL_WEEKDAYS

    def __post_init__(self) -> None:
        object.__setattr__(self, "weekdays", weekday_set(self.weekdays))
        # Sessions are daytime windows; one past midnight would belong to two local days.
        if self.end <= self.start:
            raise ValueError(f"session {self.name} ends before it starts")

    @property
    def label(self) -> str:
        """The session as messages name it: "Buổi sáng 05:30–06:15"."""
        return f"{self.name} {self.start:%H:%M}–{self.end:%H:%M}"


@dataclass(frozen=True)
class Spot:
    """An airing a schedule wants: its planned UTC time, length, priority and title.

    fixed: the start of a spot that may not move (claimed, aired, aired by hand); gap: the
    silence its schedule wants before a spot (None: no say); key: the caller's identity of
    the spot (an airing id), carried to its PlannedSpot.
    """

    schedule_id: int | None
    planned: datetime
    duration: float
    priority: str = "normal"
    title: str = ""
    fixed: datetime | None = None
    gap: float | None = None
    key: object = None


# Not frozen: hundreds of thousands are made when a province's month is planned, and a frozen
# dataclass sets each field through object.__setattr__. Nothing changes one once made.
@dataclass(slots=True)
class PlannedSpot:
    """A spot placed on the day: sequenced in its session, or at its own time outside any."""

    schedule_id: int | None
    title: str
    priority: str
    planned: datetime
    start: datetime
    end: datetime
    session: Session | None
    # 1-based place in the session's sequence; 0 outside sessions.
    position: int = 0
    key: object = None

    @property
    def outside(self) -> bool:
        """Whether the spot falls outside every session (flagged, kept at its time)."""
        return self.session is None


@dataclass(frozen=True)
class Problem:
    """Something a save shows with its local times: blocking, or a warning to confirm."""

    code: str
    severity: Severity
    message: str
    when: datetime | None = None
    schedule_id: int | None = None


@dataclass
class DayPlan:
    """One station's local day: its placed spots in time order and the problems found."""

    day: date
    spots: list[PlannedSpot] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        """Whether any problem stops the save."""
        return any(p.severity == BLOCKING for p in self.problems)


def plan_day(
    day: date,
    sessions: Sequence[Session],
    spots: Iterable[Spot],
    gap_seconds: float | None = DEFAULT_GAP_SECONDS,
    now: datetime | None = None,
) -> DayPlan:
    """Place one local day's spots as they will air and check them.

    This is the one placement both the check on save and the stored airings use. A session
    is a programme block: its spots air back to back from the session's start, gap_seconds
    apart, by priority (khẩn cấp, ưu tiên, thông thường) then planned time; a planned time
    inside a session only orders the spot. A spot outside every session keeps its time
    unless an earlier one still plays, and is flagged. Nothing overlaps: a spot due while
    another plays follows it. Fixed spots keep their start and the others go round them.
    With now, a spot planned from now on never starts before now + SEQUENCE_LEAD_S.
    gap_seconds None: the largest gap the day's spots ask for.
    """
    spots = list(spots)
    if gap_seconds is None:
        gap_seconds = day_gap(spots)
    if gap_seconds < 0:
        raise ValueError("gap_seconds must not be negative")
    gap = timedelta(seconds=gap_seconds)
    todays = sorted((s for s in sessions if day.isoweekday() in s.weekdays), key=_by_start)
    queues: dict[int, list[Spot]] = defaultdict(list)
    loose: list[Spot] = []
    plan = DayPlan(day)
    placed: list[PlannedSpot] = []
    fixed: list[PlannedSpot] = []
    for spot in spots:
        local = _wall(spot.planned)
        if local.date() != day:
            at = spot.planned.astimezone(LOCAL_TZ).isoformat()
            raise ValueError(f"spot at {at} is not on {day.isoformat()}")
        index = _session_index(todays, local.time())
        if index is None:
            plan.problems.append(
                Problem(
                    "outside_session",
                    WARNING,
                    f"Lần phát “{spot.title}” lúc {_hm(spot.planned)} ngày {fmt_date(day)} "
                    "nằm ngoài các buổi phát của đài.",
                    spot.planned,
                    spot.schedule_id,
                )
            )
        if spot.fixed is not None:
            end = spot.fixed + timedelta(seconds=spot.duration)
            session = None if index is None else todays[index]
            fixed.append(_placed(spot, spot.fixed, end, session))
        elif index is None:
            loose.append(spot)
        else:
            queues[index].append(spot)
    placer = _Placer(gap, sorted(fixed, key=lambda p: (p.start, p.end)), now)
    # Outside spots at their time and session blocks at their start, in the order they come.
    steps: list[tuple[datetime, int, Spot | int]] = [(s.planned, 1, s) for s in loose]
    for index in queues:
        start = datetime.combine(day, todays[index].start, LOCAL_TZ).astimezone(UTC)
        steps.append((start, 0, index))
    steps.sort(key=lambda step: (step[0], step[1]))
    for at, _, what in steps:
        if isinstance(what, Spot):
            spot = placer.place(what, at, None)
            placed.append(spot)
            if spot.start > what.planned and placer.blocker is not None:
                plan.problems.append(_pushed(spot, placer.blocker, day))
        else:
            placed.extend(_sequence(day, todays[what], queues[what], at, placer, plan.problems))
    placed.extend(fixed)
    placed.sort(key=lambda p: (p.start, p.end))
    _check_sessions(day, placed, plan.problems)
    plan.spots = placed
    plan.problems.extend(_overlaps(sorted(fixed, key=lambda p: (p.start, p.end))))
    plan.problems.sort(key=lambda p: (p.when or datetime.min.replace(tzinfo=UTC), p.code))
    return plan


def plan_days(
    sessions: Sequence[Session],
    spots: Iterable[Spot],
    gap_seconds: float | None = DEFAULT_GAP_SECONDS,
    now: datetime | None = None,
) -> list[DayPlan]:
    """Plan every local day that has spots (a station's week or month), in day order."""
    by_day: dict[date, list[Spot]] = defaultdict(list)
    for spot in spots:
        by_day[_wall(spot.planned).date()].append(spot)
    return [plan_day(d, sessions, by_day[d], gap_seconds, now) for d in sorted(by_day)]


def day_gap(spots: Iterable[Spot]) -> float:
    """The gap a day's spots share: the largest their schedules ask for (they share sessions)."""
    return max((s.gap for s in spots if s.gap is not None), default=DEFAULT_GAP_SECONDS)


def check_script_validity(
    valid_until: date | None,
    last_occurrence: datetime | None,
    schedule_id: int | None = None,
) -> Problem | None:
    """A warning when the script stops being valid before the schedule's last airing."""
    if valid_until is None or last_occurrence is None:
        return None
    last_local = last_occurrence.astimezone(LOCAL_TZ)
    if last_local.date() <= valid_until:
        return None
    return Problem(
        "script_expires",
        WARNING,
        f"Kịch bản hết hiệu lực sau ngày {fmt_date(valid_until)}, nhưng lịch còn phát đến "
        f"{_hm(last_local)} ngày {fmt_date(last_local.date())}.",
        last_occurrence,
        schedule_id,
    )


def format_duration(seconds: float) -> str:
    """A length as Vietnamese prose: "3 phút 10 giây", "1 giờ 5 phút", "45 giây"."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n} {unit}" for n, unit in ((hours, "giờ"), (minutes, "phút"), (secs, "giây")) if n]
    return " ".join(parts) or "0 giây"


def priority_rank(priority: str | Enum) -> int:
    """Sort key of a priority (a Priority enum member or its value); unknown ones go last."""
    value = priority.value if isinstance(priority, Enum) else priority
    return PRIORITY_RANK.get(value, len(PRIORITY_RANK))


# --- internals ---------------------------------------------------------------------------


def _by_start(session: Session) -> time:
    """Sessions in the order they run."""
    return session.start


def _session_index(sessions: Sequence[Session], at: time) -> int | None:
    """The first session whose [start, end) holds the local time, or None."""
    for index, session in enumerate(sessions):
        if session.start <= at < session.end:
            return index
    return None


class _Placer:
    """Hands out start times in time order: after the previous spot, round fixed ones."""

    def __init__(self, gap: timedelta, fixed: list[PlannedSpot], now: datetime | None) -> None:
        self.gap = gap
        self.fixed = fixed
        self.now = now
        self.floor = None if now is None else now + timedelta(seconds=SEQUENCE_LEAD_S)
        self.cursor: datetime | None = None
        self.last: PlannedSpot | None = None
        # The spot that made the latest one start later than it asked for, if any.
        self.blocker: PlannedSpot | None = None

    def place(self, spot: Spot, earliest: datetime, session: Session | None) -> PlannedSpot:
        """The spot placed at the first free moment from earliest."""
        self.blocker = None
        start = earliest
        duration = timedelta(seconds=spot.duration)
        if self.cursor is not None and start < self.cursor:
            start, self.blocker = self.cursor, self.last
        if self.floor is not None and spot.planned >= self.now and start < self.floor:
            # A session under way: the spot follows on from just after now, not its past.
            start, self.blocker = self.floor, None
        moved = True
        while moved:
            moved = False
            for other in self.fixed:
                if other.start - self.gap < start + duration and start < other.end + self.gap:
                    start, self.blocker, moved = other.end + self.gap, other, True
        placed = _placed(spot, start, start + duration, session)
        self.cursor = placed.end + self.gap
        self.last = placed
        return placed


def _sequence(
    day: date,
    session: Session,
    spots: list[Spot],
    start: datetime,
    placer: _Placer,
    problems: list[Problem],
) -> list[PlannedSpot]:
    """Place a session's spots back to back from its start (or the first free moment)."""
    last = len(PRIORITY_RANK)
    spots.sort(
        key=lambda s: (PRIORITY_RANK.get(s.priority, last), s.planned, s.schedule_id or 0, s.title)
    )
    placed: list[PlannedSpot] = []
    for spot in spots:
        earliest = start if not placed else placed[-1].end + placer.gap
        spot_placed = placer.place(spot, earliest, session)
        if spot_placed.start > earliest and placer.blocker is not None:
            problems.append(_pushed(spot_placed, placer.blocker, day))
        placed.append(spot_placed)
    return placed


def _check_sessions(day: date, placed: list[PlannedSpot], problems: list[Problem]) -> None:
    """Number each session's spots and check its end and cap (placed: in start order)."""
    by_session: dict[int, list[PlannedSpot]] = defaultdict(list)
    sessions: dict[int, Session] = {}
    for spot in placed:
        if spot.session is not None:
            by_session[id(spot.session)].append(spot)
            sessions[id(spot.session)] = spot.session
    for ident, block in by_session.items():
        session = sessions[ident]
        start = datetime.combine(day, session.start, LOCAL_TZ).astimezone(UTC)
        session_end = datetime.combine(day, session.end, LOCAL_TZ).astimezone(UTC)
        cap = session.cap_minutes
        cap_end = None if not cap else start + timedelta(minutes=cap)
        cap_breaker: PlannedSpot | None = None
        for position, spot in enumerate(block, start=1):
            spot.position = position
            if spot.start >= session_end:
                problems.append(
                    Problem(
                        "after_session_end",
                        BLOCKING,
                        f"Lần phát “{spot.title}” bị đẩy đến {_hms(spot.start)}, sau khi "
                        f"{session.label} ngày {fmt_date(day)} đã kết thúc.",
                        spot.start,
                        spot.schedule_id,
                    )
                )
            elif spot.end > session_end:
                problems.append(
                    Problem(
                        "overruns_session",
                        WARNING,
                        f"Lần phát “{spot.title}” ({_hms(spot.start)}–{_hms(spot.end)}) kéo "
                        f"dài quá giờ kết thúc của {session.label} ngày {fmt_date(day)} "
                        f"{format_duration((spot.end - session_end).total_seconds())}.",
                        spot.start,
                        spot.schedule_id,
                    )
                )
            if cap_end is not None and cap_breaker is None and spot.end > cap_end:
                cap_breaker = spot
        if cap_end is not None and cap_breaker is not None:
            # The session runs from its start to the end of its last spot, gaps included:
            # that is how long the loudspeakers are on, which is what a cap limits.
            over = (max(s.end for s in block) - cap_end).total_seconds()
            problems.append(
                Problem(
                    "over_cap",
                    WARNING,
                    f"{session.label} vượt {format_duration(over)} so với mức tối đa "
                    f"{session.cap_minutes} phút (ngày {fmt_date(day)}).",
                    start,
                    cap_breaker.schedule_id,
                )
            )


def _pushed(spot: PlannedSpot, blocker: PlannedSpot, day: date) -> Problem:
    """A spot that starts later than asked because another still plays: its real time."""
    asked = spot.planned if spot.session is None else None
    when = f" lúc {_hm(asked)}" if asked is not None else ""
    return Problem(
        "overlap",
        WARNING,
        f"Lần phát “{spot.title}”{when} trùng với “{blocker.title}” "
        f"({_hms(blocker.start)}–{_hms(blocker.end)}) nên sẽ phát lúc "
        f"{_hms(spot.start)}–{_hms(spot.end)} ngày {fmt_date(day)}.",
        spot.start,
        spot.schedule_id,
    )


def _overlaps(placed: list[PlannedSpot]) -> list[Problem]:
    """Fixed spots (in start order) that begin before an earlier one has ended."""
    problems: list[Problem] = []
    latest: PlannedSpot | None = None
    for spot in placed:
        if latest is not None and spot.start < latest.end:
            problems.append(
                Problem(
                    "overlap",
                    WARNING,
                    f"Lần phát “{spot.title}” ({_hms(spot.start)}–{_hms(spot.end)}) trùng "
                    f"với “{latest.title}” ({_hms(latest.start)}–{_hms(latest.end)}) "
                    f"ngày {fmt_date(spot.start.astimezone(LOCAL_TZ).date())}.",
                    spot.start,
                    spot.schedule_id,
                )
            )
        if latest is None or spot.end > latest.end:
            latest = spot
    return problems


def _placed(spot: Spot, start: datetime, end: datetime, session: Session | None) -> PlannedSpot:
    """A spot with its place on the day (numbered in its session later)."""
    return PlannedSpot(
        spot.schedule_id,
        spot.title,
        spot.priority,
        spot.planned,
        start,
        end,
        session,
        0,
        spot.key,
    )


def _hm(value: datetime) -> str:
    """Local HH:MM."""
    return f"{value.astimezone(LOCAL_TZ):%H:%M}"


def _hms(value: datetime) -> str:
    """Local HH:MM, with seconds only when there are any (sequenced starts often have)."""
    local = value.astimezone(LOCAL_TZ)
    return f"{local:%H:%M:%S}" if local.second else f"{local:%H:%M}"
