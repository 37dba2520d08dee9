"""Recurrences written as plain Vietnamese forms, their RFC 5545 text, and their airing times."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from dateutil import rrule as du_rrule

# The same zone as app.core.clock.LOCAL_TZ, named again so that this module needs no Flask.
TZID = "Asia/Ho_Chi_Minh"
LOCAL_TZ = ZoneInfo(TZID)
MAX_OCCURRENCES = 100_000
# The days a schedule may cover (the API refuses dates outside them too): far from the
# years date.min/max overflow at and that RFC 5545 cannot write with four digits.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2100, 12, 31)
MAX_PER_SESSION = 60
ALL_WEEKDAYS = frozenset(range(1, 8))
KINDS = ("times", "per_session", "every")
Kind = Literal["times", "per_session", "every"]

# The stored text (to_rrule / from_rrule). DTSTART, RRULE and EXDATE alone define the
# occurrences, exactly as RFC 5545 reads them (python-dateutil is the reference in the tests);
# the X-LOA-* lines are iCalendar extension properties (RFC 5545 3.8.8.2), which calendar
# programs ignore, and only keep what the user typed where the rule itself cannot:
#
#   DTSTART;TZID=Asia/Ho_Chi_Minh:20210901T054500
#   RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=5,17;BYMINUTE=15,45;BYSETPOS=2,3;
#    UNTIL=20210930T165959Z   (one line when stored)
#   EXDATE;TZID=Asia/Ho_Chi_Minh:20210903T054500
#
# - Fixed times and "every N minutes" both become FREQ=DAILY with a BYHOUR x BYMINUTE grid, and
#   BYSETPOS keeps the wanted cells when they are not the whole grid (05:45 and 17:15 give the
#   grid 05:15, 05:45, 17:15, 17:45: positions 2 and 3). FREQ=MINUTELY;INTERVAL=N is not used:
#   its phase runs on from day to day (every 7 minutes would start at another minute each day)
#   and BYHOUR cannot end a window at 07:10, so that rule would not say what airs.
# - DTSTART is the first occurrence, because RFC 5545 counts DTSTART as one; X-LOA-START-DATE
#   keeps a start date chosen earlier than that.
# - UNTIL is the last second of the end date (local) in UTC, as RFC 5545 requires with a TZID.
#   RFC 5545 forbids UNTIL with COUNT: when the total cap ends the rule before the end date the
#   rule carries COUNT and X-LOA-END-DATE keeps the end date, otherwise UNTIL and X-LOA-COUNT.
#   COUNT counts occurrences before EXDATE removes any (RFC 5545 again), so cancelling one
#   airing never adds another at the end; expand() does the same.
# - X-LOA-EVERY:INTERVAL=20;START=0500;END=0710 keeps the "every" form (its window end need not
#   be an occurrence).
# - X-LOA-PER-SESSION:3 means "3 times in each session of the station". The rule then names the
#   days only (DTSTART;VALUE=DATE and FREQ=DAILY;BYDAY=...;UNTIL=<date>): the times come from each
#   station's sessions, so they differ per station. Its cap is always X-LOA-COUNT and counts
#   airings, not days. EXDATE lines still name cancelled airings by their local date-time.
#
# All times are wall-clock times in Asia/Ho_Chi_Minh, whatever the process time zone is.

_BYDAY = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_ONE_DAY = timedelta(days=1)
_NOON = time(12)
# RFC 5545 allows BYSETPOS values from 1 to 366 and from -366 to -1.
_MAX_SETPOS = 366
_TIME_RE = re.compile(r"(\d{1,2})(?::(\d{2})|[hH](\d{2})?)")
_TIME_SEPARATORS = re.compile(r"[,;\s]+")
_RULE_PARTS = {"FREQ", "INTERVAL", "BYDAY", "BYHOUR", "BYMINUTE", "BYSECOND", "BYSETPOS"}
_RULE_PARTS |= {"UNTIL", "COUNT", "WKST"}

MSG_NO_TIMES = "Nhập ít nhất một giờ phát, ví dụ “05:45, 17:15”."

Table = tuple[tuple[timedelta, ...], ...]


class RecurrenceError(ValueError):
    """A recurrence that cannot be saved; Vietnamese messages keyed by form field."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, str] = dict(fields or {})


class SessionLike(Protocol):
    """What expansion needs of a broadcast session (plan.Session is one)."""

    @property
    def start(self) -> time: ...

    @property
    def end(self) -> time: ...

    @property
    def weekdays(self) -> Collection[int] | str: ...


def weekday_set(value: Iterable[int] | str) -> frozenset[int]:
    """ISO weekdays (1 = Monday) as a set, from digits like BroadcastSession's "12345" or ints."""
    if isinstance(value, str):
        if not value.isdigit() and value:
            message = f"Ngày trong tuần “{value}” không hợp lệ (chỉ gồm các số 1–7)."
            raise RecurrenceError(message, {"weekdays": message})
        return frozenset(int(c) for c in value)
    return frozenset(int(v) for v in value)


def parse_times(text: str) -> tuple[time, ...]:
    """Read times like "05:45, 17:15", "5h45" or "17h" into sorted, distinct local times."""
    tokens = [t for t in _TIME_SEPARATORS.split(text.strip()) if t]
    if not tokens:
        raise RecurrenceError(MSG_NO_TIMES, {"times": MSG_NO_TIMES})
    found: set[time] = set()
    for token in tokens:
        match = _TIME_RE.fullmatch(token)
        if match is None:
            message = f"Giờ “{token}” không đúng dạng; hãy viết như 05:45, 5h45 hoặc 17h."
            raise RecurrenceError(message, {"times": message})
        hour, minute = int(match[1]), int(match[2] or match[3] or 0)
        if hour > 23 or minute > 59:
            message = f"Giờ “{token}” không hợp lệ (00:00–23:59)."
            raise RecurrenceError(message, {"times": message})
        found.add(time(hour, minute))
    return tuple(sorted(found))


def format_times(times: Iterable[time]) -> str:
    """Write times back as the form shows them: "05:45, 17:15"."""
    return ", ".join(f"{t:%H:%M}" for t in times)


def session_minutes(start: time, end: time, n: int) -> tuple[int, ...]:
    """Minutes after midnight of n airings spread in a session.

    The rule: the first at the session's start, then every floor(length / n) whole minutes
    (at least one), so 05:30-06:15 with n = 3 gives 05:30, 05:45, 06:00. Whole minutes keep
    every airing nameable in EXDATE and on the rundown; flooring keeps them all before the end.
    """
    first = start.hour * 60 + start.minute
    length = end.hour * 60 + end.minute - first
    step = max(1, length // n)
    # A session too close to midnight for n one-minute steps keeps its airings on its own day.
    return tuple(sorted({min(first + k * step, 1439) for k in range(n)}))


@dataclass(frozen=True)
class Recurrence:
    """A recurrence as the form holds it; dates, times and exceptions are local wall-clock."""

    kind: Kind
    start_date: date
    end_date: date
    times: tuple[time, ...] = ()
    per_session: int = 0
    every_minutes: int = 0
    window_start: time | None = None
    window_end: time | None = None
    weekdays: frozenset[int] = ALL_WEEKDAYS
    count: int | None = None
    exceptions: frozenset[datetime] = frozenset()

    def __post_init__(self) -> None:
        # Normalised so that equal forms compare and hash equal (expansion caches on them).
        put = object.__setattr__
        put(self, "times", tuple(sorted({_whole_minute(t) for t in self.times})))
        put(self, "weekdays", weekday_set(self.weekdays))
        put(self, "exceptions", frozenset(_local_naive(e) for e in self.exceptions))
        if self.window_start is not None:
            put(self, "window_start", _whole_minute(self.window_start))
        if self.window_end is not None:
            put(self, "window_end", _whole_minute(self.window_end))

    def day_minutes(self) -> tuple[int, ...]:
        """Minutes after local midnight of each day's airings (fixed times and "every" only)."""
        if self.kind == "times":
            return tuple(t.hour * 60 + t.minute for t in self.times)
        if self.kind == "every" and self.window_start and self.window_end:
            first = self.window_start.hour * 60 + self.window_start.minute
            last = self.window_end.hour * 60 + self.window_end.minute
            return tuple(range(first, last + 1, self.every_minutes))
        raise ValueError(f"{self.kind} recurrence has no fixed daily minutes")

    def validate(self, sessions: Sequence[SessionLike] | None = None) -> None:
        """Raise RecurrenceError unless the rule can be saved.

        A per-session rule is checked against the station's sessions when they are given;
        without them only its days are checked (it has no times of its own).
        """
        errors = self._form_errors()
        if errors:
            raise _error(errors)
        table = _table(self, _session_key(sessions) if self.kind == "per_session" else None)
        if self.kind == "per_session" and sessions is None:
            table = _days_table(self.weekdays)
        total = _total(self, table)
        if total == 0:
            message = (
                f"Quy tắc không tạo ra lần phát nào từ {fmt_date(self.start_date)} đến "
                f"{fmt_date(self.end_date)} vào các ngày đã chọn."
            )
            raise RecurrenceError(message, {"weekdays": message})
        if self.kind == "per_session" and sessions is None:
            return
        if min(total, self.count or total) > MAX_OCCURRENCES:
            message = (
                f"Quy tắc tạo ra {fmt_int(total)} lần phát, quá mức tối đa "
                f"{fmt_int(MAX_OCCURRENCES)}; hãy rút ngắn khoảng ngày, bớt giờ phát "
                "hoặc đặt số lần phát tối đa."
            )
            raise RecurrenceError(message, {"count": message})

    def _form_errors(self) -> dict[str, str]:
        """Each field's problem, checked without expanding anything."""
        errors: dict[str, str] = {}
        if self.kind not in KINDS:
            errors["kind"] = "Chọn một kiểu lặp."
        elif self.kind == "times" and not self.times:
            errors["times"] = MSG_NO_TIMES
        elif self.kind == "every":
            if not 1 <= self.every_minutes <= 1440:
                errors["every_minutes"] = "Khoảng cách phải từ 1 đến 1440 phút."
            if self.window_start is None:
                errors["window_start"] = "Nhập giờ bắt đầu khung giờ."
            if self.window_end is None:
                errors["window_end"] = "Nhập giờ kết thúc khung giờ."
            elif self.window_start is not None and self.window_end < self.window_start:
                errors["window_end"] = (
                    f"Giờ kết thúc khung {self.window_end:%H:%M} trước giờ bắt đầu "
                    f"{self.window_start:%H:%M}."
                )
        elif self.kind == "per_session" and not 1 <= self.per_session <= MAX_PER_SESSION:
            errors["per_session"] = f"Số lần mỗi buổi phải từ 1 đến {MAX_PER_SESSION}."
        if not self.weekdays:
            errors["weekdays"] = "Chọn ít nhất một ngày trong tuần."
        elif not self.weekdays <= ALL_WEEKDAYS:
            errors["weekdays"] = "Ngày trong tuần chỉ từ 1 (thứ Hai) đến 7 (Chủ nhật)."
        for name, day in (("start_date", self.start_date), ("end_date", self.end_date)):
            if not FIRST_DAY <= day <= LAST_DAY:
                errors[name] = f"Ngày phải từ {fmt_date(FIRST_DAY)} đến {fmt_date(LAST_DAY)}."
        if self.end_date < self.start_date:
            errors["end_date"] = (
                f"Ngày kết thúc {fmt_date(self.end_date)} trước ngày bắt đầu "
                f"{fmt_date(self.start_date)}."
            )
        if self.count is not None and self.count < 1:
            errors["count"] = "Số lần phát tối đa phải từ 1 trở lên."
        if not errors and self.kind != "per_session":
            try:
                _grid(self.day_minutes())
            except OverflowError:
                field = "times" if self.kind == "times" else "every_minutes"
                errors[field] = (
                    "Quá nhiều giờ phát lẻ trong một ngày để lưu thành quy tắc lặp; "
                    "hãy bớt giờ phát hoặc chọn khoảng cách chia hết cho 60 phút."
                )
        return errors


def expand(
    rec: Recurrence,
    start_utc: datetime,
    end_utc: datetime,
    sessions: Sequence[SessionLike] | None = None,
) -> list[datetime]:
    """Aware UTC airing times of a valid rule within [start_utc, end_utc), sorted.

    Cancelled occurrences are left out; the total cap counts from the rule's first
    occurrence, not from the window. A per-session rule needs the station's sessions.
    """
    if start_utc.tzinfo is None or end_utc.tzinfo is None:
        raise ValueError("expand() needs aware datetimes")
    table = _table(rec, _session_key(sessions) if rec.kind == "per_session" else None)
    day = max(rec.start_date, start_utc.astimezone(LOCAL_TZ).date())
    last_day = min(rec.end_date, end_utc.astimezone(LOCAL_TZ).date())
    cutoff_local = _cutoff(rec, table)
    stop = end_utc if cutoff_local is None else min(end_utc, _to_utc(cutoff_local) + _ONE_SECOND)
    cancelled = {_to_utc(e) for e in rec.exceptions}
    out: list[datetime] = []
    # One offset lookup per day, not per airing: the zone has not changed offset since 1975,
    # and this loop runs for every schedule of every station.
    while day <= last_day:
        offsets = table[day.weekday()]
        if offsets:
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) - _utc_offset(day)
            for offset in offsets:
                when = midnight + offset
                if when >= stop:
                    return out
                if when >= start_utc and when not in cancelled:
                    out.append(when)
        day += _ONE_DAY
    return out


def occurrence_count(rec: Recurrence, sessions: Sequence[SessionLike] | None = None) -> int:
    """How many airings the rule makes in all (after the cap, before cancellations)."""
    table = _table(rec, _session_key(sessions) if rec.kind == "per_session" else None)
    total = _total(rec, table)
    return total if rec.count is None else min(total, rec.count)


def first_occurrence(
    rec: Recurrence, sessions: Sequence[SessionLike] | None = None
) -> datetime | None:
    """The rule's first airing as an aware UTC datetime, or None when it has none."""
    table = _table(rec, _session_key(sessions) if rec.kind == "per_session" else None)
    first = _first_local(rec, table)
    return None if first is None else _to_utc(first)


def last_occurrence(
    rec: Recurrence, sessions: Sequence[SessionLike] | None = None
) -> datetime | None:
    """The rule's last airing (after the cap) as an aware UTC datetime, or None."""
    table = _table(rec, _session_key(sessions) if rec.kind == "per_session" else None)
    last = _cutoff(rec, table)
    day = rec.end_date
    while last is None and day >= rec.start_date and (rec.end_date - day).days < 7:
        offsets = table[day.weekday()]
        if offsets:
            last = datetime.combine(day, time()) + offsets[-1]
        day -= _ONE_DAY
    return None if last is None else _to_utc(last)


def to_rrule(rec: Recurrence) -> str:
    """The stored RFC 5545 text of a valid rule: DTSTART, RRULE, X-LOA-* and EXDATE lines."""
    rec.validate()
    byday = ""
    if rec.weekdays != ALL_WEEKDAYS:
        byday = ";BYDAY=" + ",".join(_BYDAY[d - 1] for d in sorted(rec.weekdays))
    extra: list[str] = []
    if rec.kind == "per_session":
        days = _days_table(rec.weekdays)
        first = _first_local(rec, days)
        assert first is not None  # validate() refused a rule without days
        lines = [
            f"DTSTART;VALUE=DATE:{first:%Y%m%d}",
            f"RRULE:FREQ=DAILY{byday};UNTIL={rec.end_date:%Y%m%d}",
        ]
        extra.append(f"X-LOA-PER-SESSION:{rec.per_session}")
        if rec.count is not None:
            extra.append(f"X-LOA-COUNT:{rec.count}")
    else:
        table = _table(rec, None)
        first = _first_local(rec, table)
        assert first is not None
        hours, minutes, setpos = _grid(rec.day_minutes())
        rule = f"FREQ=DAILY{byday};BYHOUR={_csv(hours)};BYMINUTE={_csv(minutes)}"
        if setpos:
            rule += f";BYSETPOS={_csv(setpos)}"
        if rec.count is not None and rec.count < _total(rec, table):
            rule += f";COUNT={rec.count}"
            extra.append(f"X-LOA-END-DATE:{rec.end_date:%Y%m%d}")
        else:
            until = _to_utc(datetime.combine(rec.end_date, time(23, 59, 59)))
            rule += f";UNTIL={until:%Y%m%dT%H%M%SZ}"
            if rec.count is not None:
                extra.append(f"X-LOA-COUNT:{rec.count}")
        lines = [f"DTSTART;TZID={TZID}:{first:%Y%m%dT%H%M%S}", f"RRULE:{rule}"]
        if rec.kind == "every" and rec.window_start and rec.window_end:
            extra.append(
                f"X-LOA-EVERY:INTERVAL={rec.every_minutes};"
                f"START={rec.window_start:%H%M};END={rec.window_end:%H%M}"
            )
    if first.date() != rec.start_date:
        extra.append(f"X-LOA-START-DATE:{rec.start_date:%Y%m%d}")
    # One EXDATE per cancelled airing: RFC 5545 allows the property many times, and each line
    # stays under the 75-octet line limit without folding.
    exdates = [f"EXDATE;TZID={TZID}:{e:%Y%m%dT%H%M%S}" for e in sorted(rec.exceptions)]
    return "\n".join(lines + extra + exdates)


@lru_cache(maxsize=8192)
def stored_rule(text: str) -> Recurrence:
    """A schedule's stored rule (text to_rrule() wrote), read once per process.

    The reference reader is left out: to_rrule()'s text passes it (the tests read every kind
    of rule back through from_rrule()), and it costs two thirds of a read; planning a
    province's month reads thousands of rules (bench/plan.py). A schedule's rule is never
    changed in place (a change stores new text), and a Recurrence is immutable, so one
    reading serves every caller.
    """
    return from_rrule(text, reference=False)


def to_rruleset(rec: Recurrence) -> du_rrule.rruleset:
    """python-dateutil's reading of the stored rule (fixed times and "every" only)."""
    if rec.kind == "per_session":
        raise ValueError("a per-session rule has no times until a station's sessions are given")
    text = "\n".join(line for line in to_rrule(rec).splitlines() if not line.startswith("X-"))
    return du_rrule.rrulestr(text, forceset=True, tzids={TZID: LOCAL_TZ})


def from_rrule(text: str, *, reference: bool = True) -> Recurrence:
    """Read the stored text back into the form it came from (see the format notes above).

    reference: also have python-dateutil read the standard lines (RFC 5545's reference
    reader here); stored_rule() leaves it out for text to_rrule() wrote.
    """
    dtstart: tuple[str, str] | None = None
    rule: dict[str, str] | None = None
    standard: list[str] = []
    extra: dict[str, str] = {}
    exceptions: list[datetime] = []
    for line in _unfold(text):
        head, sep, value = line.partition(":")
        name, *params = head.upper().split(";")
        if not sep:
            raise _unreadable(f"dòng “{line}” thiếu dấu hai chấm")
        if name == "DTSTART":
            dtstart = (";".join(params), value)
            standard.append(line)
        elif name == "RRULE":
            if rule is not None:
                raise _unreadable("có nhiều hơn một RRULE")
            rule = _rule_parts(value)
            standard.append(line)
        elif name == "EXDATE":
            exceptions.extend(_read_datetime(params, v) for v in value.split(","))
        elif name.startswith("X-LOA-"):
            extra[name] = value
        else:
            raise _unreadable(f"thuộc tính {name} không được hỗ trợ")
    if dtstart is None or rule is None:
        raise _unreadable("thiếu DTSTART hoặc RRULE")
    if "COUNT" in rule and "UNTIL" in rule:
        # RFC 5545 forbids the pair; dateutil only warns about it.
        raise _unreadable("RRULE không được có cả COUNT và UNTIL")
    if reference:
        try:
            # dateutil is the reference reader of RFC 5545: what it refuses is not a rule.
            du_rrule.rrulestr("\n".join(standard), forceset=True, tzids={TZID: LOCAL_TZ})
        except (ValueError, TypeError, OverflowError) as exc:
            raise _unreadable(str(exc)) from exc

    params, value = dtstart
    per_session = "X-LOA-PER-SESSION" in extra
    if per_session:
        start = _read_date(value)
        minutes: tuple[int, ...] = ()
    else:
        first = _read_datetime(params.split(";") if params else [], value)
        start = first.date()
        minutes = _rule_minutes(rule, first)
    weekdays = ALL_WEEKDAYS
    if "BYDAY" in rule:
        try:
            weekdays = frozenset(_BYDAY.index(d) + 1 for d in rule["BYDAY"].split(","))
        except ValueError as exc:
            raise _unreadable(f"BYDAY={rule['BYDAY']}") from exc
    count = _read_int(rule.get("COUNT") or extra.get("X-LOA-COUNT"))
    end: date | None = None
    if "UNTIL" in rule:
        until = rule["UNTIL"]
        end = _read_datetime([], until).date() if "T" in until else _read_date(until)
    elif "X-LOA-END-DATE" in extra:
        end = _read_date(extra["X-LOA-END-DATE"])
    elif count is None or per_session:
        raise _unreadable("quy tắc phải có UNTIL hoặc COUNT")
    if "X-LOA-START-DATE" in extra:
        start = _read_date(extra["X-LOA-START-DATE"])

    common = {
        "start_date": start,
        # A COUNT rule written elsewhere has no end date: it ends on the day of its last
        # airing, found below; a week per airing is surely long enough to reach it. Past
        # MAX_OCCURRENCES + 1 weeks validate() refuses the rule anyway (and dates overflow).
        "end_date": end or start + timedelta(weeks=min(count or 1, MAX_OCCURRENCES + 1)),
        "weekdays": weekdays,
        "count": count,
        "exceptions": frozenset(exceptions),
    }
    if per_session:
        n = _read_int(extra["X-LOA-PER-SESSION"]) or 0
        rec = Recurrence(kind="per_session", per_session=n, **common)
    elif "X-LOA-EVERY" in extra:
        every = _rule_parts(extra["X-LOA-EVERY"])
        rec = Recurrence(
            kind="every",
            every_minutes=_read_int(every.get("INTERVAL")) or 0,
            window_start=_read_hhmm(every.get("START", "")),
            window_end=_read_hhmm(every.get("END", "")),
            **common,
        )
    else:
        times = tuple(time(m // 60, m % 60) for m in minutes)
        rec = Recurrence(kind="times", times=times, **common)
    if end is None:
        last = last_occurrence(rec)
        if last is not None:
            rec = replace(rec, end_date=last.astimezone(LOCAL_TZ).date())
    rec.validate()
    if rec.kind == "every" and rec.day_minutes() != minutes:
        raise _unreadable("X-LOA-EVERY không khớp với RRULE")
    return rec


def fmt_date(value: date) -> str:
    """A date as officials write it: 1/9/2021."""
    return f"{value.day}/{value.month}/{value.year}"


def fmt_int(value: int) -> str:
    """An integer with Vietnamese thousands dots: 100.000."""
    return f"{value:,}".replace(",", ".")


# --- internals ---------------------------------------------------------------------------

_ONE_SECOND = timedelta(seconds=1)


def _whole_minute(value: time) -> time:
    """Times in forms are whole minutes: seconds would only make two equal rules differ."""
    return value.replace(second=0, microsecond=0, tzinfo=None)


def _local_naive(value: datetime) -> datetime:
    """A local wall-clock datetime without tzinfo; aware values are converted first."""
    if value.tzinfo is not None:
        value = value.astimezone(LOCAL_TZ)
    return value.replace(tzinfo=None, microsecond=0)


def _to_utc(local: datetime) -> datetime:
    """A naive local wall-clock datetime as an aware UTC one."""
    return local.replace(tzinfo=LOCAL_TZ).astimezone(UTC)


def _utc_offset(day: date) -> timedelta:
    """The zone's offset on a local day."""
    offset = datetime.combine(day, _NOON, LOCAL_TZ).utcoffset()
    assert offset is not None
    return offset


def _session_key(sessions: Sequence[SessionLike] | None) -> tuple | None:
    """A hashable copy of the sessions, so tables can be cached."""
    if sessions is None:
        return None
    return tuple((s.start, s.end, weekday_set(s.weekdays)) for s in sessions)


@lru_cache(maxsize=8192)
def _table(rec: Recurrence, session_key: tuple | None) -> Table:
    """Offsets from local midnight of the airings of each weekday (index 0 = Monday)."""
    if rec.kind == "per_session":
        per_day = []
        for weekday in range(1, 8):
            minutes: set[int] = set()
            if weekday in rec.weekdays:
                for start, end, days in session_key or ():
                    if weekday in days:
                        minutes.update(session_minutes(start, end, rec.per_session))
            per_day.append(tuple(timedelta(minutes=m) for m in sorted(minutes)))
        return tuple(per_day)
    offsets = tuple(timedelta(minutes=m) for m in rec.day_minutes())
    return tuple(offsets if weekday in rec.weekdays else () for weekday in range(1, 8))


def _days_table(weekdays: frozenset[int]) -> Table:
    """One mark at midnight on each chosen weekday: the days of a per-session rule."""
    return tuple((timedelta(),) if d in weekdays else () for d in range(1, 8))


def _weekday_counts(start: date, end: date) -> list[int]:
    """How often each weekday (index 0 = Monday) falls between start and end, inclusive."""
    days = (end - start).days + 1
    if days <= 0:
        return [0] * 7
    weeks, rest = divmod(days, 7)
    counts = [weeks] * 7
    for i in range(rest):
        counts[(start.weekday() + i) % 7] += 1
    return counts


def _total(rec: Recurrence, table: Table) -> int:
    """Occurrences from start to end date, before the cap: arithmetic, nothing expanded."""
    counts = _weekday_counts(rec.start_date, rec.end_date)
    return sum(n * len(offsets) for n, offsets in zip(counts, table, strict=True))


@lru_cache(maxsize=8192)
def _cutoff(rec: Recurrence, table: Table) -> datetime | None:
    """The local time of the count-th occurrence, or None when the cap is never reached."""
    if rec.count is None or rec.count > _total(rec, table):
        return None  # also keeps a huge count from overflowing the date arithmetic below
    per_week = sum(len(offsets) for offsets in table)
    if per_week == 0:
        return None
    # Any seven days in a row hold each weekday once: skip whole weeks, then walk the rest.
    weeks = (rec.count - 1) // per_week
    day = rec.start_date + timedelta(weeks=weeks)
    remaining = rec.count - weeks * per_week
    while day <= rec.end_date:
        offsets = table[day.weekday()]
        if remaining <= len(offsets):
            return datetime.combine(day, time()) + offsets[remaining - 1]
        remaining -= len(offsets)
        day += _ONE_DAY
    return None


def _first_local(rec: Recurrence, table: Table) -> datetime | None:
    """The local time of the first occurrence, or None."""
    day = rec.start_date
    while day <= rec.end_date and (day - rec.start_date).days < 7:
        offsets = table[day.weekday()]
        if offsets:
            return datetime.combine(day, time()) + offsets[0]
        day += _ONE_DAY
    return None


def _grid(day_minutes: Sequence[int]) -> tuple[list[int], list[int], list[int]]:
    """BYHOUR, BYMINUTE and BYSETPOS values whose daily set is exactly day_minutes.

    Raises OverflowError when a wanted cell lies deeper in the grid than BYSETPOS can reach.
    """
    hours = sorted({m // 60 for m in day_minutes})
    minutes = sorted({m % 60 for m in day_minutes})
    wanted = set(day_minutes)
    cells = [h * 60 + m for h in hours for m in minutes]
    if len(cells) == len(wanted):
        return hours, minutes, []
    positions = []
    for index, cell in enumerate(cells, start=1):
        if cell not in wanted:
            continue
        if index <= _MAX_SETPOS:
            positions.append(index)
        elif len(cells) + 1 - index <= _MAX_SETPOS:
            positions.append(index - len(cells) - 1)
        else:
            raise OverflowError("BYSETPOS cannot reach this time")
    return hours, minutes, positions


def _rule_minutes(rule: dict[str, str], first: datetime) -> tuple[int, ...]:
    """The daily minutes an RRULE's BYHOUR x BYMINUTE grid and BYSETPOS select."""
    if rule.get("FREQ") != "DAILY" or rule.get("INTERVAL", "1") != "1":
        raise _unreadable("chỉ hỗ trợ FREQ=DAILY không có INTERVAL")
    if rule.get("BYSECOND", "0") != "0" or first.second:
        raise _unreadable("giờ phát phải tròn phút")
    try:
        hours = sorted({int(h) for h in rule.get("BYHOUR", str(first.hour)).split(",")})
        minutes = sorted({int(m) for m in rule.get("BYMINUTE", str(first.minute)).split(",")})
        setpos = [int(p) for p in rule["BYSETPOS"].split(",")] if "BYSETPOS" in rule else []
    except ValueError as exc:
        raise _unreadable("BYHOUR, BYMINUTE hoặc BYSETPOS không phải số") from exc
    cells = [h * 60 + m for h in hours for m in minutes]
    if not setpos:
        return tuple(cells)
    if any(p == 0 or abs(p) > len(cells) for p in setpos):
        # A position past the grid names no time; to_rrule() never writes one.
        raise _unreadable(f"BYSETPOS={rule['BYSETPOS']}")
    return tuple(sorted({cells[p - 1] if p > 0 else cells[p] for p in setpos}))


def _rule_parts(value: str) -> dict[str, str]:
    """KEY=VALUE;... parts of an RRULE (or of X-LOA-EVERY), keys upper-cased."""
    parts: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, item = part.partition("=")
        if not sep:
            raise _unreadable(f"phần “{part}” thiếu dấu bằng")
        parts[key.strip().upper()] = item.strip().upper()
    return parts


def _read_datetime(params: list[str], value: str) -> datetime:
    """A DTSTART/EXDATE/UNTIL date-time as local naive wall-clock time."""
    value = value.strip()
    tzids = [p for p in params if p.upper().startswith("TZID=")]
    try:
        if value.endswith("Z"):
            parsed = _basic_datetime(value[:-1]).replace(tzinfo=UTC)
            return _local_naive(parsed)
        parsed = _basic_datetime(value)
    except ValueError as exc:
        raise _unreadable(f"thời điểm “{value}”") from exc
    if not tzids or tzids[0].split("=", 1)[1].upper() != TZID.upper():
        raise _unreadable(f"thời điểm “{value}” phải theo múi giờ {TZID}")
    return parsed


def _basic_datetime(value: str) -> datetime:
    """YYYYMMDDTHHMMSS (RFC 5545's basic form); ValueError otherwise. Sliced, not strptime:
    every stored rule has two or three of these."""
    if len(value) != 15 or value[8] != "T" or not (value[:8] + value[9:]).isdigit():
        raise ValueError(value)
    return datetime(
        int(value[0:4]),
        int(value[4:6]),
        int(value[6:8]),
        int(value[9:11]),
        int(value[11:13]),
        int(value[13:15]),
    )


def _read_date(value: str) -> date:
    """A YYYYMMDD date."""
    try:
        return datetime.strptime(value.strip(), "%Y%m%d").date()
    except ValueError as exc:
        raise _unreadable(f"ngày “{value}”") from exc


def _read_hhmm(value: str) -> time | None:
    """An HHMM time of X-LOA-EVERY, or None when missing."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%H%M").time()
    except ValueError as exc:
        raise _unreadable(f"giờ “{value}”") from exc


def _read_int(value: str | None) -> int | None:
    """An integer property value, or None when missing."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise _unreadable(f"số “{value}”") from exc


def _unfold(text: str) -> list[str]:
    """Content lines with RFC 5545 folding undone (a line starting with a space continues)."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw.strip())
    return lines


def _csv(values: Iterable[int]) -> str:
    """Comma-separated integers."""
    return ",".join(str(v) for v in values)


def _unreadable(detail: str) -> RecurrenceError:
    """The error for stored text that is not a rule this module wrote or can read."""
    return RecurrenceError(f"Quy tắc lặp không đọc được: {detail}.")


def _error(errors: dict[str, str]) -> RecurrenceError:
    """One error carrying every field's message."""
    return RecurrenceError(" ".join(dict.fromkeys(errors.values())), errors)
