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
# - overlap (warning): two spots that would play over each other outside a session; the
#   runner would air them one after the other, later than planned.
# - overruns_session (warning): the last spot starts in its session but ends after it: the
#   loudspeakers stay on a little longer.
# - after_session_end (blocking): the spot would start only after its session has ended,
#   when the loudspeakers are off, so it would not be heard as planned.
# - script_expires (warning): the schedule outlives the script's validity; later airings will
#   be refused by the service, but the schedule itself can stand.
Severity = Literal["blocking", "warning"]
BLOCKING: Severity = "blocking"
WARNING: Severity = "warning"

# Circular 39/2020/TT-BTTTT order: khẩn cấp, then ưu tiên, then thông thường. Keys are the
# values of app.scripts.models.Priority, which this module does not import (it is Flask-bound).
PRIORITY_RANK = {"emergency": 0, "priority": 1, "normal": 2}
DEFAULT_GAP_SECONDS = 5.0
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
    """An airing a schedule wants: its planned UTC time, length, priority and title."""

    schedule_id: int | None
    planned: datetime
    duration: float
    priority: str = "normal"
    title: str = ""


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
    gap_seconds: float = DEFAULT_GAP_SECONDS,
) -> DayPlan:
    """Place one local day's spots and check them; O(n log n) in the number of spots.

    A session is a programme block: its spots air back to back from the session's start,
    gap_seconds apart, by priority (khẩn cấp, ưu tiên, thông thường) then planned time; a
    planned time inside a session only orders the spot. Spots outside every session keep
    their time and are flagged.
    """
    if gap_seconds < 0:
        raise ValueError("gap_seconds must not be negative")
    gap = timedelta(seconds=gap_seconds)
    todays = sorted((s for s in sessions if day.isoweekday() in s.weekdays), key=_by_start)
    buckets: dict[int, list[Spot]] = defaultdict(list)
    plan = DayPlan(day)
    placed: list[PlannedSpot] = []
    for spot in spots:
        local = _wall(spot.planned)
        if local.date() != day:
            at = spot.planned.astimezone(LOCAL_TZ).isoformat()
            raise ValueError(f"spot at {at} is not on {day.isoformat()}")
        index = _session_index(todays, local.time())
        if index is None:
            end = spot.planned + timedelta(seconds=spot.duration)
            placed.append(_placed(spot, spot.planned, end, None, 0))
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
        else:
            buckets[index].append(spot)
    for index, bucket in buckets.items():
        placed.extend(_sequence(day, todays[index], bucket, gap, plan.problems))
    placed.sort(key=lambda p: (p.start, p.end))
    plan.spots = placed
    plan.problems.extend(_overlaps(placed))
    plan.problems.sort(key=lambda p: (p.when or datetime.min.replace(tzinfo=UTC), p.code))
    return plan


def plan_days(
    sessions: Sequence[Session],
    spots: Iterable[Spot],
    gap_seconds: float = DEFAULT_GAP_SECONDS,
) -> list[DayPlan]:
    """Plan every local day that has spots (a station's week or month), in day order."""
    by_day: dict[date, list[Spot]] = defaultdict(list)
    for spot in spots:
        by_day[_wall(spot.planned).date()].append(spot)
    return [plan_day(d, sessions, by_day[d], gap_seconds) for d in sorted(by_day)]


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


def _sequence(
    day: date,
    session: Session,
    spots: list[Spot],
    gap: timedelta,
    problems: list[Problem],
) -> list[PlannedSpot]:
    """Place a session's spots back to back from its start and check its end and cap."""
    last = len(PRIORITY_RANK)
    spots.sort(
        key=lambda s: (PRIORITY_RANK.get(s.priority, last), s.planned, s.schedule_id or 0, s.title)
    )
    start = datetime.combine(day, session.start, LOCAL_TZ).astimezone(UTC)
    session_end = datetime.combine(day, session.end, LOCAL_TZ).astimezone(UTC)
    cap_end = None if not session.cap_minutes else start + timedelta(minutes=session.cap_minutes)
    cap_breaker: Spot | None = None
    placed: list[PlannedSpot] = []
    cursor = start
    for position, spot in enumerate(spots, start=1):
        end = cursor + timedelta(seconds=spot.duration)
        placed.append(
            PlannedSpot(
                spot.schedule_id,
                spot.title,
                spot.priority,
                spot.planned,
                cursor,
                end,
                session,
                position,
            )
        )
        if cursor >= session_end:
            problems.append(
                Problem(
                    "after_session_end",
                    BLOCKING,
                    f"Lần phát “{spot.title}” bị đẩy đến {_hms(cursor)}, sau khi "
                    f"{session.label} ngày {fmt_date(day)} đã kết thúc.",
                    cursor,
                    spot.schedule_id,
                )
            )
        elif end > session_end:
            problems.append(
                Problem(
                    "overruns_session",
                    WARNING,
                    f"Lần phát “{spot.title}” ({_hms(cursor)}–{_hms(end)}) kéo dài quá giờ "
                    f"kết thúc của {session.label} ngày {fmt_date(day)} "
                    f"{format_duration((end - session_end).total_seconds())}.",
                    cursor,
                    spot.schedule_id,
                )
            )
        if cap_end is not None and cap_breaker is None and end > cap_end:
            cap_breaker = spot
        cursor = end + gap
    if cap_end is not None and cap_breaker is not None:
        # The session runs from its start to the end of its last spot, gaps included: that is
        # how long the loudspeakers are on, which is what a cap limits.
        over = (placed[-1].end - cap_end).total_seconds()
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
    return placed


def _overlaps(placed: list[PlannedSpot]) -> list[Problem]:
    """Spots (in start order) that begin before an earlier one has ended, outside a sequence."""
    problems: list[Problem] = []
    latest: PlannedSpot | None = None
    for spot in placed:
        if latest is not None and spot.start < latest.end:
            same_block = spot.session is not None and spot.session is latest.session
            if not same_block:
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


def _placed(
    spot: Spot, start: datetime, end: datetime, session: Session | None, position: int
) -> PlannedSpot:
    """A spot with its place on the day."""
    return PlannedSpot(
        spot.schedule_id, spot.title, spot.priority, spot.planned, start, end, session, position
    )


def _hm(value: datetime) -> str:
    """Local HH:MM."""
    return f"{value.astimezone(LOCAL_TZ):%H:%M}"


def _hms(value: datetime) -> str:
    """Local HH:MM, with seconds only when there are any (sequenced starts often have)."""
    local = value.astimezone(LOCAL_TZ)
    return f"{local:%H:%M:%S}" if local.second else f"{local:%H:%M}"
