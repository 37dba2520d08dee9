"""iCalendar (RFC 5545) export of schedules, for calendar programs.

Decisions:
- One VEVENT per schedule, carrying the stored DTSTART, RRULE and EXDATE lines unchanged (the
  stored rule is already RFC 5545; its X-LOA-* lines are left out, they only matter to Loa).
- A per-session rule has no times of its own (they come from each station's sessions), so it
  becomes one VEVENT per station. When the station's sessions give the same minutes on every
  airing weekday, that VEVENT has an ordinary RRULE (the rule rewritten as fixed times);
  otherwise it lists every airing as RDATE, which is exact but which some calendar programs
  read less well.
- Occurrences cancelled on every station are EXDATE lines of the stored rule. Occurrences
  cancelled station by station become EXDATE lines of an event once every station the event
  lists is cancelled then (always so in a calendar of one station, or a per-station VEVENT);
  otherwise the event keeps them, since the schedule still airs then elsewhere.
- UIDs are stable: schedule-<id>@loa, or schedule-<id>-<station code>@loa per station.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from app.org.models import Station
from app.schedules.forms import rule_in_words
from app.schedules.models import CancelledOccurrence, Schedule, ScheduleStatus
from app.schedules.recurrence import (
    LOCAL_TZ,
    TZID,
    Recurrence,
    SessionLike,
    expand,
    session_minutes,
    stored_rule,
    to_rrule,
    weekday_set,
)
from app.schedules.service import sessions_of

PRODID = "-//Loa//Lich phat thanh//VI"
UID_DOMAIN = "loa"
# RFC 5545 3.1: content lines are at most 75 octets, not counting the line break.
MAX_LINE_OCTETS = 75
CRLF = "\r\n"
# Asia/Ho_Chi_Minh has kept UTC+7 without daylight saving since 1975.
VTIMEZONE = (
    "BEGIN:VTIMEZONE",
    f"TZID:{TZID}",
    f"X-LIC-LOCATION:{TZID}",
    "BEGIN:STANDARD",
    "DTSTART:19750613T000000",
    "TZOFFSETFROM:+0700",
    "TZOFFSETTO:+0700",
    "TZNAME:ICT",
    "END:STANDARD",
    "END:VTIMEZONE",
)
_RULE_LINES = ("DTSTART", "RRULE", "EXDATE", "RDATE")


@dataclass(frozen=True)
class CalendarEvent:
    """One VEVENT: what airs, its rule lines, its length and the words around it."""

    uid: str
    summary: str
    # DTSTART, RRULE and EXDATE (or DTSTART and RDATE) content lines, unfolded.
    rule_lines: tuple[str, ...]
    duration_s: float
    description: str = ""
    location: str = ""
    url: str = ""
    created: datetime | None = None
    last_modified: datetime | None = None
    sequence: int = 0
    cancelled: bool = False
    categories: tuple[str, ...] = field(default_factory=tuple)


def escape_text(value: str) -> str:
    """A TEXT value escaped as RFC 5545 3.3.11 says: backslash, semicolon, comma, newline."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets (continuations start with a space), never inside a
    UTF-8 character, with CRLF between the parts."""
    parts: list[str] = []
    current: list[str] = []
    size = 0
    limit = MAX_LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            parts.append("".join(current))
            # The leading space of a continuation counts towards its 75 octets.
            current, size, limit = [" "], 1, MAX_LINE_OCTETS
        current.append(char)
        size += width
    parts.append("".join(current))
    return CRLF.join(parts)


def rule_lines(stored: str) -> tuple[str, ...]:
    """The DTSTART, RRULE, EXDATE and RDATE lines of a stored rule, without X-LOA-* lines."""
    lines: list[str] = []
    for raw in stored.replace("\r\n", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw.strip())
    return tuple(line for line in lines if line.split(";")[0].split(":")[0] in _RULE_LINES)


def exdate_line(when: datetime) -> str:
    """An EXDATE line naming an aware airing time in local wall-clock time."""
    local = when.astimezone(LOCAL_TZ)
    return f"EXDATE;TZID={TZID}:{local:%Y%m%dT%H%M%S}"


def per_session_lines(rec: Recurrence, sessions: Sequence[SessionLike]) -> tuple[str, ...]:
    """Rule lines of a per-session rule on one station's sessions.

    The same minutes on every airing weekday make an ordinary fixed-times rule; otherwise
    every airing is listed (DTSTART and RDATE). Empty when the station has no airing at all.
    """
    minutes_by_day: dict[int, tuple[int, ...]] = {}
    for weekday in sorted(rec.weekdays):
        minutes: set[int] = set()
        for session in sessions:
            if weekday in weekday_set(session.weekdays):
                minutes.update(session_minutes(session.start, session.end, rec.per_session))
        if minutes:
            minutes_by_day[weekday] = tuple(sorted(minutes))
    if not minutes_by_day:
        return ()
    if len(set(minutes_by_day.values())) == 1:
        (minutes,) = set(minutes_by_day.values())
        times_rule = Recurrence(
            kind="times",
            start_date=rec.start_date,
            end_date=rec.end_date,
            times=tuple(time(m // 60, m % 60) for m in minutes),
            weekdays=frozenset(minutes_by_day),
            count=rec.count,
            exceptions=rec.exceptions,
        )
        return rule_lines(to_rrule(times_rule))
    start = datetime.combine(rec.start_date, time(), LOCAL_TZ).astimezone(UTC)
    end = datetime.combine(rec.end_date + timedelta(days=1), time(), LOCAL_TZ).astimezone(UTC)
    return _listed(expand(rec, start, end, sessions))


def with_exdates(lines: Iterable[str], cancelled: Collection[datetime]) -> tuple[str, ...]:
    """Rule lines plus an EXDATE for each cancelled time not already excluded or listed."""
    lines = tuple(lines)
    if any(line.startswith("RDATE") for line in lines):
        # An RDATE list is made of the expanded airings: drop the cancelled ones from it.
        return _without_rdates(lines, cancelled)
    present = set(lines)
    extra = [exdate_line(w) for w in sorted(cancelled)]
    return lines + tuple(line for line in dict.fromkeys(extra) if line not in present)


def duration(seconds: float) -> str:
    """An RFC 5545 DURATION in whole seconds, rounded up (at least one second)."""
    return f"PT{max(1, math.ceil(seconds))}S"


def utc_stamp(value: datetime) -> str:
    """A UTC DATE-TIME value: 20261127T010000Z."""
    return f"{value.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def event_lines(event: CalendarEvent, stamp: datetime) -> list[str]:
    """The unfolded content lines of one VEVENT."""
    lines = [
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"DTSTAMP:{utc_stamp(stamp)}",
        *event.rule_lines,
        f"DURATION:{duration(event.duration_s)}",
        f"SUMMARY:{escape_text(event.summary)}",
    ]
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    if event.location:
        lines.append(f"LOCATION:{escape_text(event.location)}")
    if event.categories:
        lines.append("CATEGORIES:" + ",".join(escape_text(c) for c in event.categories))
    if event.url:
        lines.append(f"URL:{event.url}")
    if event.created:
        lines.append(f"CREATED:{utc_stamp(event.created)}")
    if event.last_modified:
        lines.append(f"LAST-MODIFIED:{utc_stamp(event.last_modified)}")
    lines += [
        f"SEQUENCE:{event.sequence}",
        f"STATUS:{'CANCELLED' if event.cancelled else 'CONFIRMED'}",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
    ]
    return lines


def build_calendar(events: Iterable[CalendarEvent], stamp: datetime, name: str = "") -> str:
    """A whole VCALENDAR with the zone and the events: folded, CRLF line breaks."""
    lines = [
        "BEGIN:VCALENDAR",
        f"PRODID:{PRODID}",
        "VERSION:2.0",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    if name:
        lines.append(f"X-WR-CALNAME:{escape_text(name)}")
    lines += [f"X-WR-TIMEZONE:{TZID}", *VTIMEZONE]
    for event in events:
        lines += event_lines(event, stamp)
    lines.append("END:VCALENDAR")
    return CRLF.join(fold(line) for line in lines) + CRLF


def uid(schedule_id: int, station_code: str | None = None) -> str:
    """The stable UID of a schedule's event (per station for per-session rules)."""
    suffix = f"-{station_code}" if station_code else ""
    return f"schedule-{schedule_id}{suffix}@{UID_DOMAIN}"


def _listed(airings: Sequence[datetime]) -> tuple[str, ...]:
    """DTSTART (local, as every other rule) and one RDATE of the remaining airings in UTC.

    RFC 5545 allows RDATE;TZID=..., but python-dateutil, the reference reader here, does not
    read it; UTC values mean the same instants and every program reads them.
    """
    if not airings:
        return ()
    first = airings[0].astimezone(LOCAL_TZ)
    lines = [f"DTSTART;TZID={TZID}:{first:%Y%m%dT%H%M%S}"]
    if airings[1:]:
        lines.append("RDATE:" + ",".join(utc_stamp(w) for w in airings[1:]))
    return tuple(lines)


def _without_rdates(lines: tuple[str, ...], cancelled: Collection[datetime]) -> tuple[str, ...]:
    """Drop cancelled times from DTSTART and RDATE lines made by _listed()."""
    airings: list[datetime] = []
    for line in lines:
        head, _, value = line.partition(":")
        if head.startswith("DTSTART"):
            local = datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=LOCAL_TZ)
            airings.append(local.astimezone(UTC))
        elif head == "RDATE":
            airings += [
                datetime.strptime(v, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) for v in value.split(",")
            ]
    gone = {w.astimezone(UTC) for w in cancelled}
    return _listed([w for w in airings if w not in gone])


# --- Schedules as events ----------------------------------------------------------------------


def schedule_events(
    schedule: Schedule,
    stations: Sequence[Station],
    cancellations: Iterable[CancelledOccurrence] = (),
    *,
    only_station: Station | None = None,
    url: str = "",
) -> list[CalendarEvent]:
    """The VEVENTs of one schedule on the stations given (those the reader may see).

    only_station makes it that station's calendar: its own cancellations become EXDATE lines.
    """
    rec = stored_rule(schedule.rrule)
    if only_station is not None:
        stations = [s for s in stations if s.id == only_station.id]
    cancellations = list(cancellations)
    common = {
        "summary": schedule.script.title,
        "duration_s": float(schedule.render.duration_s or 0.0),
        "url": url,
        "created": schedule.created_at,
        "last_modified": schedule.updated_at,
        # revision starts at 1 and goes up with every change; SEQUENCE starts at 0.
        "sequence": max(0, (schedule.revision or 1) - 1),
        "cancelled": schedule.status != ScheduleStatus.ACTIVE,
        "categories": (f"Mức ưu tiên: {schedule.priority.label}",),
    }

    def station_cancels(station: Station) -> list[datetime]:
        return [c.occurs_at for c in cancellations if c.station_id == station.id]

    if rec.kind == "per_session":
        events = []
        for station in stations:
            lines = per_session_lines(rec, sessions_of(station))
            lines = with_exdates(lines, station_cancels(station))
            if not lines:
                continue
            events.append(
                CalendarEvent(
                    uid=uid(schedule.id, station.code),
                    rule_lines=lines,
                    description=_description(schedule, rec, [station]),
                    location=station.name,
                    **common,
                )
            )
        return events
    lines = with_exdates(rule_lines(schedule.rrule), _cancelled_everywhere(cancellations, stations))
    return [
        CalendarEvent(
            uid=uid(schedule.id),
            rule_lines=lines,
            description=_description(schedule, rec, stations),
            location=", ".join(s.name for s in stations),
            **common,
        )
    ]


def _cancelled_everywhere(
    cancellations: Sequence[CancelledOccurrence], stations: Sequence[Station]
) -> list[datetime]:
    """Times cancelled on each of the stations one by one (cancellations on every station
    are EXDATE lines of the stored rule already)."""
    wanted = {s.id for s in stations}
    by_time: dict[datetime, set[int]] = {}
    for c in cancellations:
        if c.station_id is not None:
            by_time.setdefault(c.occurs_at, set()).add(c.station_id)
    return sorted(t for t, ids in by_time.items() if wanted and wanted <= ids)


def _description(schedule: Schedule, rec: Recurrence, stations: Sequence[Station]) -> str:
    """The words a calendar shows with the event."""
    lines = [
        f"Kịch bản: {schedule.script.title}",
        f"Đài: {', '.join(s.name for s in stations) or '—'}",
    ]
    if schedule.units:
        lines.append("Mọi đài của đơn vị: " + ", ".join(u.name for u in schedule.units))
    lines += [
        f"Mức ưu tiên: {schedule.priority.label}",
        f"Quy tắc: {rule_in_words(rec)}",
        f"Lịch phát số {schedule.id} (Loa)",
    ]
    return "\n".join(lines)
