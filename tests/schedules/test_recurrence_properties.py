"""Recurrences against python-dateutil's RRULE: the same airings, to the second, in UTC."""

from __future__ import annotations

import re
import time as systime
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice

import pytest
from dateutil import rrule as du
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.api.schemas import MAX_DAY, MIN_DAY
from app.schedules.plan import Session
from app.schedules.recurrence import (
    KINDS,
    LOCAL_TZ,
    MAX_PER_SESSION,
    TZID,
    Recurrence,
    RecurrenceError,
    expand,
    first_occurrence,
    from_rrule,
    last_occurrence,
    occurrence_count,
    stored_rule,
    to_rrule,
)

# Any day serves to lay out one day's times: the zone keeps +07:00 all day since 1975.
LAYOUT_DAY = date(2021, 9, 1)
LAST_SECOND = time(23, 59, 59)
MAX_SPAN_DAYS = 60

# --- the reference: dateutil, built from the form's fields, not from to_rrule() -------------


def day_times(rec: Recurrence, sessions: list[Session] | None) -> list[tuple[time, frozenset]]:
    """Each daily airing time with the weekdays it airs on, laid out by dateutil."""
    if rec.kind == "times":
        return [(t, rec.weekdays) for t in rec.times]
    if rec.kind == "every":
        window = du.rrule(
            du.MINUTELY,
            interval=rec.every_minutes,
            dtstart=datetime.combine(LAYOUT_DAY, rec.window_start),
            until=datetime.combine(LAYOUT_DAY, rec.window_end),
        )
        return [(when.time(), rec.weekdays) for when in window]
    out = []
    for session in sessions or ():
        start = datetime.combine(LAYOUT_DAY, session.start)
        length = datetime.combine(LAYOUT_DAY, session.end) - start
        # The documented spread: from the session's start every floor(length / n) whole
        # minutes (at least one), never past the day's last minute.
        step = max(1, int(length.total_seconds() // 60) // rec.per_session)
        spread = du.rrule(
            du.MINUTELY,
            interval=step,
            dtstart=start,
            until=datetime.combine(LAYOUT_DAY, time(23, 59)),
        )
        days = rec.weekdays & session.weekdays
        out.extend((when.time(), days) for when in islice(spread, rec.per_session))
    return out


def reference(rec: Recurrence, sessions: list[Session] | None = None) -> list[datetime]:
    """dateutil's airings of the rule in UTC, sorted, capped by count, before cancellations."""
    until = datetime.combine(rec.end_date, LAST_SECOND, LOCAL_TZ)
    rules = du.rruleset()
    for clock, days in day_times(rec, sessions):
        if not days:
            continue  # dateutil reads an empty byweekday as every day
        rules.rrule(
            du.rrule(
                du.DAILY,
                dtstart=datetime.combine(rec.start_date, clock, LOCAL_TZ),
                until=until,
                byweekday=[d - 1 for d in sorted(days)],
            )
        )
    # RFC 5545: COUNT counts occurrences before EXDATE takes any away; rruleset merges the
    # rules in time order and drops instants two rules share.
    return [when.astimezone(UTC) for when in islice(rules, rec.count)]


def cancelled_utc(rec: Recurrence) -> set[datetime]:
    """The rule's cancelled airings (local wall-clock) as UTC instants."""
    return {e.replace(tzinfo=LOCAL_TZ).astimezone(UTC) for e in rec.exceptions}


def standard_lines(text: str) -> str:
    """The stored text without X-LOA-* lines: what any RFC 5545 reader sees."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("X-"))


def rule_span(rec: Recurrence) -> tuple[datetime, datetime]:
    """A UTC window a day wider than the rule's dates on each side."""
    start = datetime.combine(rec.start_date - timedelta(days=1), time(), LOCAL_TZ)
    end = datetime.combine(rec.end_date + timedelta(days=2), time(), LOCAL_TZ)
    return start.astimezone(UTC), end.astimezone(UTC)


# --- strategies --------------------------------------------------------------------------

clock_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))
weekday_sets = st.frozensets(st.integers(1, 7), min_size=1)
counts = st.none() | st.integers(1, 200) | st.integers(1, 10**15)


@st.composite
def date_ranges(draw, max_days: int = MAX_SPAN_DAYS) -> tuple[date, date]:
    """A start and end date within the bounds the API accepts."""
    start = draw(st.dates(MIN_DAY, MAX_DAY - timedelta(days=max_days)))
    return start, start + timedelta(days=draw(st.integers(0, max_days)))


@st.composite
def fixed_rules(draw) -> Recurrence:
    """A "times" or "every" rule of up to 24 airings a day, without cancellations."""
    start, end = draw(date_ranges())
    common = {
        "start_date": start,
        "end_date": end,
        "weekdays": draw(weekday_sets),
        "count": draw(counts),
    }
    if draw(st.booleans()):
        times = tuple(draw(st.lists(clock_times, min_size=1, max_size=8)))
        return Recurrence(kind="times", times=times, **common)
    first = draw(st.integers(0, 1439))
    every = draw(st.integers(1, 1440))
    airings = draw(st.integers(1, 24))
    # The window's end need not be an airing: up to every - 1 minutes past the last one.
    last = min(1439, first + every * (airings - 1) + draw(st.integers(0, every - 1)))
    return Recurrence(
        kind="every",
        every_minutes=every,
        window_start=time(first // 60, first % 60),
        window_end=time(last // 60, last % 60),
        **common,
    )


@st.composite
def sessions_lists(draw) -> list[Session]:
    """One to three sessions of a station, some ending close to midnight."""
    out = []
    for i in range(draw(st.integers(1, 3))):
        first = draw(st.integers(0, 1438))
        last = draw(st.integers(first + 1, min(1439, first + 240)))
        start, end = time(first // 60, first % 60), time(last // 60, last % 60)
        out.append(Session(f"Buổi {i + 1}", start, end, None, draw(weekday_sets)))
    return out


@st.composite
def per_session_rules(draw) -> Recurrence:
    """A per-session rule over up to three weeks, without cancellations."""
    start, end = draw(date_ranges(max_days=21))
    return Recurrence(
        kind="per_session",
        start_date=start,
        end_date=end,
        per_session=draw(st.integers(1, 12) | st.just(MAX_PER_SESSION)),
        weekdays=draw(weekday_sets),
        count=draw(counts),
    )


def draw_cancellations(data, airings: list[datetime]) -> frozenset[datetime]:
    """Some of the rule's airings and a few other local times, as cancellations."""
    hits = data.draw(st.lists(st.sampled_from(airings), max_size=5)) if airings else []
    others = st.datetimes(datetime(2000, 1, 1), datetime(2100, 12, 31))
    misses = data.draw(st.lists(others, max_size=2))
    local = [a.astimezone(LOCAL_TZ).replace(tzinfo=None) for a in hits]
    return frozenset(local + [m.replace(second=0, microsecond=0) for m in misses])


def valid(rec: Recurrence, sessions: list[Session] | None = None) -> bool:
    """Whether the rule can be saved (the generators make a few that air nothing)."""
    try:
        rec.validate(sessions)
    except RecurrenceError:
        return False
    return True


@pytest.fixture(autouse=True, scope="module")
def process_tz():
    """Run the module under a process time zone with DST: the answers must not depend on it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TZ", "America/New_York")
        systime.tzset()
        yield
    systime.tzset()


# --- fixed times and "every N minutes" ---------------------------------------------------


@settings(derandomize=True, deadline=None, database=None, max_examples=150)
@given(fixed_rules(), st.data())
def test_expand_airs_exactly_what_dateutil_says(rec, data):
    """expand() gives dateutil's airings minus the cancelled ones, in any half-open window."""
    assume(valid(rec))
    airings = reference(rec)
    rec = replace(rec, exceptions=draw_cancellations(data, airings))
    expected = [a for a in airings if a not in cancelled_utc(rec)]
    assert expand(rec, *rule_span(rec)) == expected

    span_start, span_end = rule_span(rec)
    seconds = int((span_end - span_start).total_seconds())
    a, b = (span_start + timedelta(seconds=data.draw(st.integers(0, seconds))) for _ in "ab")
    assert expand(rec, a, b) == [when for when in expected if a <= when < b]


@settings(derandomize=True, deadline=None, database=None, max_examples=150)
@given(fixed_rules())
def test_count_first_and_last_are_dateutils(rec):
    """occurrence_count, first_occurrence and last_occurrence agree with dateutil's list."""
    assume(valid(rec))
    airings = reference(rec)
    assert occurrence_count(rec) == len(airings)
    assert first_occurrence(rec) == airings[0]
    assert last_occurrence(rec) == airings[-1]


@settings(derandomize=True, deadline=None, database=None, max_examples=150)
@given(fixed_rules(), st.data())
def test_the_stored_text_means_the_same_airings_to_dateutil(rec, data):
    """dateutil's rrulestr reading of to_rrule()'s DTSTART, RRULE and EXDATE lines is the rule."""
    assume(valid(rec))
    airings = reference(rec)
    rec = replace(rec, exceptions=draw_cancellations(data, airings))
    read = du.rrulestr(standard_lines(to_rrule(rec)), forceset=True, tzids={TZID: LOCAL_TZ})
    assert [when.astimezone(UTC) for when in read] == [
        a for a in airings if a not in cancelled_utc(rec)
    ]


@settings(derandomize=True, deadline=None, database=None, max_examples=150)
@given(fixed_rules(), st.data())
def test_to_rrule_then_from_rrule_gives_the_same_rule_and_airings(rec, data):
    """Reading the stored text back (with or without dateutil's check) gives the same form."""
    assume(valid(rec))
    rec = replace(rec, exceptions=draw_cancellations(data, reference(rec)))
    text = to_rrule(rec)
    for read in (from_rrule(text), from_rrule(text, reference=False), stored_rule(text)):
        assert read == rec
        assert expand(read, *rule_span(rec)) == expand(rec, *rule_span(rec))
        assert occurrence_count(read) == occurrence_count(rec)


# --- per session -------------------------------------------------------------------------


@settings(derandomize=True, deadline=None, database=None, max_examples=100)
@given(per_session_rules(), sessions_lists(), st.data())
def test_per_session_rules_air_exactly_what_dateutil_says(rec, sessions, data):
    """Per-session expansion, count, first and last agree with dateutil's per-session rules."""
    assume(valid(rec, sessions))
    airings = reference(rec, sessions)
    assert occurrence_count(rec, sessions) == len(airings)
    assert first_occurrence(rec, sessions) == airings[0]
    assert last_occurrence(rec, sessions) == airings[-1]
    rec = replace(rec, exceptions=draw_cancellations(data, airings))
    expected = [a for a in airings if a not in cancelled_utc(rec)]
    assert expand(rec, *rule_span(rec), sessions) == expected


@settings(derandomize=True, deadline=None, database=None, max_examples=100)
@given(per_session_rules(), sessions_lists(), st.data())
def test_a_per_session_rule_reads_back_and_names_the_days_it_airs(rec, sessions, data):
    """from_rrule(to_rrule()) keeps a per-session rule; dateutil's days hold every airing day."""
    assume(valid(rec, sessions))
    airings = reference(rec, sessions)
    rec = replace(rec, exceptions=draw_cancellations(data, airings))
    text = to_rrule(rec)
    read = from_rrule(text)
    assert read == rec
    assert expand(read, *rule_span(rec), sessions) == expand(rec, *rule_span(rec), sessions)
    # Its EXDATE lines name airings (local date-times), not the days DTSTART;VALUE=DATE and
    # RRULE name, so the days are read without them (dateutil cannot mix the two).
    day_lines = [line for line in standard_lines(text).splitlines() if "EXDATE" not in line]
    days = {d.date() for d in du.rrulestr("\n".join(day_lines), forceset=True)}
    aired = {a.astimezone(LOCAL_TZ).date() for a in airings}
    assert aired <= days
    if rec.count is None and all(s.weekdays == frozenset(range(1, 8)) for s in sessions):
        assert aired == days


# --- what cannot be saved or read --------------------------------------------------------

any_times = st.builds(time, st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))


@st.composite
def any_rules(draw) -> Recurrence:
    """Form fields of any shape the types allow, most of them wrong somewhere."""
    start = draw(st.dates(MIN_DAY, MAX_DAY))
    end = start + timedelta(days=draw(st.integers(-30, 3000)))
    return Recurrence(
        kind=draw(st.sampled_from([*KINDS, "weekly", ""])),
        start_date=start,
        end_date=min(end, MAX_DAY),
        times=tuple(draw(st.lists(any_times, max_size=40))),
        per_session=draw(st.integers(-2, 70)),
        every_minutes=draw(st.integers(-2, 1500)),
        window_start=draw(st.none() | any_times),
        window_end=draw(st.none() | any_times),
        weekdays=draw(st.frozensets(st.integers(0, 9), max_size=9)),
        count=draw(st.none() | st.integers(-2, 300) | st.integers(0, 10**12)),
    )


@settings(derandomize=True, deadline=None, database=None, max_examples=300)
@given(any_rules(), st.none() | sessions_lists())
def test_a_bad_rule_raises_recurrence_error_and_a_good_one_works_everywhere(rec, sessions):
    """validate() refuses with RecurrenceError only; what it accepts stores, reads and expands."""
    try:
        rec.validate(sessions)
    except RecurrenceError as exc:
        assert exc.message
        return
    start, _ = rule_span(rec)
    # A bounded window: a valid rule may run for years.
    window = (start, start + timedelta(days=14))
    airings = expand(rec, *window, sessions)
    # Fields of another kind (a window on a "times" rule) are not stored: compare airings.
    assert expand(from_rrule(to_rrule(rec)), *window, sessions) == airings
    if rec.kind != "per_session" or sessions is not None:
        total = occurrence_count(rec, sessions)
        assert total > 0 and len(airings) <= total
        assert first_occurrence(rec, sessions) <= last_occurrence(rec, sessions)


_NUMBER = re.compile(r"(?<=[=,:])\d+")


@st.composite
def damaged_texts(draw) -> str:
    """Stored text of a valid rule with one number, one name or one line changed."""
    rec = draw(fixed_rules() | per_session_rules())
    assume(valid(rec))
    text = to_rrule(rec)
    how = draw(st.sampled_from(["number", "word", "line"]))
    if how == "number":
        spots = list(_NUMBER.finditer(text))
        spot = draw(st.sampled_from(spots))
        value = draw(st.integers(-(10**3), 10**15).map(str) | st.sampled_from(["", "x", "0"]))
        return text[: spot.start()] + value + text[spot.end() :]
    if how == "word":
        old = draw(st.sampled_from(["DAILY", "BYHOUR", "BYMINUTE", "UNTIL", "TZID", "DATE"]))
        new = draw(st.sampled_from(["WEEKLY", "BYSETPOS", "COUNT", "BYSECOND", "INTERVAL"]))
        return text.replace(old, new, 1)
    lines = text.splitlines()
    lines.pop(draw(st.integers(0, len(lines) - 1)))
    extra = draw(
        st.sampled_from(
            [
                "",
                "RRULE:FREQ=DAILY;COUNT=2",
                "RRULE:FREQ=DAILY;BYHOUR=5;BYMINUTE=0;BYSETPOS=9;COUNT=3",
                f"EXDATE;TZID={TZID}:20210931T000000",
                "X-LOA-EVERY:INTERVAL=0;START=2500;END=0000",
                "X-LOA-PER-SESSION:0",
            ]
        )
    )
    return "\n".join([*lines, extra])


@st.composite
def foreign_texts(draw) -> str:
    """A DTSTART and a daily RRULE as another program might write them, numbers of any size."""
    number = (st.integers(-5, 70) | st.integers(0, 10**15)).map(str)
    parts = ["FREQ=DAILY"]
    for key in ("BYHOUR", "BYMINUTE", "BYSETPOS", "COUNT"):
        if draw(st.booleans()):
            parts.append(f"{key}={','.join(draw(st.lists(number, min_size=1, max_size=3)))}")
    if draw(st.booleans()):
        parts.append("UNTIL=20211231T165959Z")
    start = draw(st.dates(MIN_DAY, MAX_DAY))
    return f"DTSTART;TZID={TZID}:{start:%Y%m%d}T050000\nRRULE:{';'.join(parts)}"


@settings(derandomize=True, deadline=None, database=None, max_examples=300)
@given(damaged_texts() | foreign_texts())
def test_damaged_stored_text_raises_recurrence_error_only(text):
    """from_rrule() reads damaged text as a valid rule or refuses it with RecurrenceError."""
    try:
        rec = from_rrule(text)
    except RecurrenceError as exc:
        assert exc.message
        return
    rec.validate()


@settings(derandomize=True, deadline=None, database=None, max_examples=100)
@given(st.dates(), st.integers(0, 3), st.lists(clock_times, min_size=1, max_size=3))
def test_a_rule_on_any_date_is_refused_or_works(start, days, times):
    """A rule on any date the type allows is refused by validate() or stores, reads and expands."""
    end = start + timedelta(days=days) if start <= date.max - timedelta(days=days) else start
    rec = Recurrence(kind="times", start_date=start, end_date=end, times=tuple(times))
    try:
        rec.validate()
    except RecurrenceError:
        return
    assert from_rrule(to_rrule(rec)) == rec
    first, last = first_occurrence(rec), last_occurrence(rec)
    assert expand(rec, first, last + timedelta(seconds=1))[-1] == last
