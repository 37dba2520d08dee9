"""iCalendar export: read back by python-dateutil, its occurrences are the service's."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from dateutil import rrule as du_rrule

from app.schedules import ical
from app.schedules.plan import Session
from app.schedules.recurrence import LOCAL_TZ, TZID, Recurrence, expand, to_rrule

STAMP = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
EVER_START = datetime(2020, 1, 1, tzinfo=UTC)
EVER_END = datetime(2030, 1, 1, tzinfo=UTC)


def event_for(rec: Recurrence, **fields) -> ical.CalendarEvent:
    """A VEVENT of a fixed-times or "every" rule, from its stored text."""
    fields.setdefault("summary", "Kêu gọi tiêm chủng")
    return ical.CalendarEvent(
        uid="schedule-1@loa", rule_lines=ical.rule_lines(to_rrule(rec)), duration_s=65.2, **fields
    )


def unfold(text: str) -> list[str]:
    """Content lines with RFC 5545 folding undone."""
    assert "\n" not in text.replace("\r\n", ""), "bare LF line break"
    return text.replace("\r\n ", "").removesuffix("\r\n").split("\r\n")


def vevents(text: str) -> list[list[str]]:
    """The content lines of each VEVENT."""
    events, current = [], None
    for line in unfold(text):
        if line == "BEGIN:VEVENT":
            current = []
        elif line == "END:VEVENT":
            events.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return events


def occurrences(lines: list[str]) -> list[datetime]:
    """What a calendar program makes of an event's DTSTART, RRULE, RDATE and EXDATE lines.

    compatible=True: DTSTART is the first instance, as RFC 5545 says (dateutil's default
    only counts it through an RRULE).
    """
    rule = [line for line in lines if line.split(";")[0].split(":")[0] in ical._RULE_LINES]
    parsed = du_rrule.rrulestr(
        "\n".join(rule), forceset=True, compatible=True, tzids={TZID: LOCAL_TZ}
    )
    return [d.astimezone(UTC) for d in parsed]


def calendar_of(*events: ical.CalendarEvent) -> str:
    return ical.build_calendar(events, STAMP, "Lịch phát")


RULES = {
    "times": Recurrence(
        kind="times",
        times=(time(5, 45), time(17, 15)),
        start_date=date(2026, 11, 28),
        end_date=date(2026, 12, 31),
        weekdays=frozenset({1, 2, 3, 4, 5, 6}),
    ),
    "every": Recurrence(
        kind="every",
        every_minutes=20,
        window_start=time(5, 0),
        window_end=time(7, 10),
        start_date=date(2026, 11, 28),
        end_date=date(2026, 12, 20),
    ),
    "count": Recurrence(
        kind="times",
        times=(time(6, 0), time(18, 30)),
        start_date=date(2026, 11, 28),
        end_date=date(2027, 3, 1),
        count=25,
    ),
    "cancelled": Recurrence(
        kind="times",
        times=(time(5, 45),),
        start_date=date(2026, 11, 28),
        end_date=date(2026, 12, 10),
        exceptions=frozenset({datetime(2026, 12, 1, 5, 45), datetime(2026, 12, 5, 5, 45)}),
    ),
}


@pytest.mark.parametrize("name", list(RULES))
def test_calendar_occurrences_equal_the_service_expansion(name):
    rec = RULES[name]
    (lines,) = vevents(calendar_of(event_for(rec)))
    expected = expand(rec, EVER_START, EVER_END)
    assert occurrences(lines) == expected
    assert len(expected) > 10


def test_cancelled_occurrences_are_exdate_lines_and_count_is_kept():
    (lines,) = vevents(calendar_of(event_for(RULES["cancelled"])))
    assert "EXDATE;TZID=Asia/Ho_Chi_Minh:20261201T054500" in lines
    assert "EXDATE;TZID=Asia/Ho_Chi_Minh:20261205T054500" in lines
    (count_lines,) = vevents(calendar_of(event_for(RULES["count"])))
    assert any(line.startswith("RRULE:") and "COUNT=25" in line for line in count_lines)
    assert len(occurrences(count_lines)) == 25


def test_extra_exdates_of_one_station_remove_those_airings():
    rec = RULES["times"]
    at = datetime(2026, 12, 2, 17, 15, tzinfo=LOCAL_TZ)
    lines = ical.with_exdates(ical.rule_lines(to_rrule(rec)), [at])
    event = ical.CalendarEvent(uid="x@loa", summary="X", rule_lines=lines, duration_s=1)
    (parsed,) = vevents(calendar_of(event))
    expected = [t for t in expand(rec, EVER_START, EVER_END) if t != at.astimezone(UTC)]
    assert occurrences(parsed) == expected


def test_stored_rule_lines_keep_the_rrule_and_drop_loa_extensions():
    rec = RULES["every"]
    stored = to_rrule(rec)
    lines = ical.rule_lines(stored)
    assert [line.split(":")[0].split(";")[0] for line in lines] == ["DTSTART", "RRULE"]
    assert lines[1] == next(line for line in stored.splitlines() if line.startswith("RRULE:"))
    assert "X-LOA-EVERY" in stored


SAME_EVERY_DAY = [
    Session("Buổi sáng", time(5, 30), time(6, 15), 45),
    Session("Buổi chiều", time(17, 0), time(17, 45), 45),
]
EVENING_ON_WEEKDAYS = [
    Session("Buổi sáng", time(5, 30), time(6, 15), 45),
    Session("Buổi chiều", time(17, 0), time(17, 45), 45, frozenset({1, 2, 3, 4, 5})),
]


@pytest.mark.parametrize(
    ("sessions", "uses_rrule"), [(SAME_EVERY_DAY, True), (EVENING_ON_WEEKDAYS, False)]
)
def test_per_session_rule_on_a_stations_sessions(sessions, uses_rrule):
    rec = Recurrence(
        kind="per_session",
        per_session=3,
        start_date=date(2026, 11, 28),
        end_date=date(2026, 12, 12),
        count=40,
        exceptions=frozenset({datetime(2026, 11, 30, 5, 45)}),
    )
    lines = ical.per_session_lines(rec, sessions)
    assert any(line.startswith("RRULE:") for line in lines) is uses_rrule
    assert any(line.startswith("RDATE") for line in lines) is not uses_rrule
    event = ical.CalendarEvent(uid="s@loa", summary="S", rule_lines=lines, duration_s=30)
    (parsed,) = vevents(calendar_of(event))
    assert occurrences(parsed) == expand(rec, EVER_START, EVER_END, sessions)


def test_rdate_list_leaves_out_one_stations_cancellations():
    rec = Recurrence(
        kind="per_session", per_session=1, start_date=date(2026, 11, 28), end_date=date(2026, 12, 3)
    )
    lines = ical.per_session_lines(rec, EVENING_ON_WEEKDAYS)
    at = datetime(2026, 11, 28, 5, 30, tzinfo=LOCAL_TZ)  # the first airing, DTSTART
    kept = ical.with_exdates(lines, [at])
    event = ical.CalendarEvent(uid="s@loa", summary="S", rule_lines=kept, duration_s=30)
    (parsed,) = vevents(calendar_of(event))
    expected = expand(rec, EVER_START, EVER_END, EVENING_ON_WEEKDAYS)
    assert occurrences(parsed) == [t for t in expected if t != at.astimezone(UTC)]


def test_calendar_has_the_zone_and_the_required_properties():
    text = calendar_of(event_for(RULES["times"], description="Đài: A", location="Phú Thủy"))
    lines = unfold(text)
    assert lines[:3] == ["BEGIN:VCALENDAR", f"PRODID:{ical.PRODID}", "VERSION:2.0"]
    assert lines[-1] == "END:VCALENDAR" and text.endswith("END:VCALENDAR\r\n")
    zone = lines[lines.index("BEGIN:VTIMEZONE") : lines.index("END:VTIMEZONE") + 1]
    assert "TZID:Asia/Ho_Chi_Minh" in zone
    assert "TZOFFSETFROM:+0700" in zone and "TZOFFSETTO:+0700" in zone
    assert "BEGIN:DAYLIGHT" not in zone
    (event,) = vevents(text)
    assert "UID:schedule-1@loa" in event and "DTSTAMP:20261127T010000Z" in event
    assert "DTSTART;TZID=Asia/Ho_Chi_Minh:20261128T054500" in event
    # 65.2 seconds of audio: rounded up, so the event covers the whole spot.
    assert "DURATION:PT66S" in event
    assert "SUMMARY:Kêu gọi tiêm chủng" in event and "LOCATION:Phú Thủy" in event
    assert "STATUS:CONFIRMED" in event


def test_text_is_escaped():
    assert ical.escape_text("a, b; c\\d\nnew\r\nline") == "a\\, b\\; c\\\\d\\nnew\\nline"
    text = calendar_of(event_for(RULES["times"], summary="Tiêm chủng; đợt 6, 2021"))
    (event,) = vevents(text)
    assert "SUMMARY:Tiêm chủng\\; đợt 6\\, 2021" in event


def test_long_lines_are_folded_at_75_octets_without_splitting_characters():
    title = "Thông báo về việc cài đặt ứng dụng Sổ sức khỏe điện tử và tiêm vắc xin " * 4
    description = "Đài: " + ", ".join(f"Hệ thống truyền thanh phường {n}" for n in range(12))
    text = calendar_of(event_for(RULES["times"], summary=title, description=description))
    raw = text.encode("utf-8").split(b"\r\n")
    assert raw[-1] == b""
    assert max(len(line) for line in raw) <= 75
    assert sum(1 for line in raw if line.startswith(b" ")) > 5
    for line in raw:
        line.decode("utf-8")  # each physical line is whole UTF-8: no character was cut
    (event,) = vevents(text)
    assert f"SUMMARY:{ical.escape_text(title)}" in event
    assert f"DESCRIPTION:{ical.escape_text(description)}" in event


def test_fold_keeps_short_lines_and_counts_the_leading_space():
    assert ical.fold("SUMMARY:ngắn") == "SUMMARY:ngắn"
    folded = ical.fold("X:" + "a" * 200).split("\r\n")
    assert [len(p) for p in folded] == [75, 75, 54]
    assert all(p.startswith(" ") for p in folded[1:])
