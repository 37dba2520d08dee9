"""Recurrence forms: parsing, validation, RRULE text and expansion to UTC airing times."""

from __future__ import annotations

import time as systime
from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest

from app.schedules.plan import Session
from app.schedules.recurrence import (
    LOCAL_TZ,
    MSG_NO_TIMES,
    Recurrence,
    RecurrenceError,
    expand,
    first_occurrence,
    format_times,
    from_rrule,
    last_occurrence,
    occurrence_count,
    parse_times,
    session_minutes,
    stored_rule,
    to_rrule,
    to_rruleset,
)


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    """An aware UTC datetime from a wall-clock time in Asia/Ho_Chi_Minh."""
    return datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ).astimezone(UTC)


def make_rec(**overrides) -> Recurrence:
    """Fixed times 05:45 and 17:15 every day of September 2021, unless told otherwise."""
    fields = {
        "kind": "times",
        "start_date": date(2021, 9, 1),
        "end_date": date(2021, 9, 30),
        "times": (time(5, 45), time(17, 15)),
    }
    fields.update(overrides)
    return Recurrence(**fields)


def make_every(**overrides) -> Recurrence:
    """Every 20 minutes from 05:00 to 06:10 (05:00, 05:20, 05:40, 06:00)."""
    fields = {
        "kind": "every",
        "every_minutes": 20,
        "window_start": time(5),
        "window_end": time(6, 10),
        "times": (),
    }
    fields.update(overrides)
    return make_rec(**fields)


MORNING = Session("Buổi sáng", time(5, 30), time(6, 15), 15, "1234567")
EVENING = Session("Buổi chiều", time(17), time(17, 45), 45, "12345")
ALL_OF_SEPTEMBER = (local(2021, 9, 1), local(2021, 10, 1))


@pytest.fixture(params=["UTC", "America/New_York", "Asia/Tokyo"])
def process_tz(request, monkeypatch):
    """Run the test under several process time zones: results must not change."""
    monkeypatch.setenv("TZ", request.param)
    systime.tzset()
    yield request.param
    monkeypatch.undo()
    systime.tzset()


# --- parse_times -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("05:45, 17:15", (time(5, 45), time(17, 15))),
        ("17:15,05:45", (time(5, 45), time(17, 15))),
        ("5h45", (time(5, 45),)),
        ("17h", (time(17),)),
        ("17H00; 5:30", (time(5, 30), time(17))),
        ("05:45 5h45  17h15", (time(5, 45), time(17, 15))),
        ("00:00, 23:59", (time(0), time(23, 59))),
    ],
)
def test_parse_times_reads_the_written_forms(text, expected):
    assert parse_times(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("25:00", "Giờ “25:00” không hợp lệ (00:00–23:59)."),
        ("05:45, 24:00", "Giờ “24:00” không hợp lệ (00:00–23:59)."),
        ("17:60", "Giờ “17:60” không hợp lệ (00:00–23:59)."),
        ("24h", "Giờ “24h” không hợp lệ (00:00–23:59)."),
        ("abc", "Giờ “abc” không đúng dạng; hãy viết như 05:45, 5h45 hoặc 17h."),
        ("5.45", "Giờ “5.45” không đúng dạng; hãy viết như 05:45, 5h45 hoặc 17h."),
        ("17", "Giờ “17” không đúng dạng; hãy viết như 05:45, 5h45 hoặc 17h."),
        ("5:7", "Giờ “5:7” không đúng dạng; hãy viết như 05:45, 5h45 hoặc 17h."),
        ("", MSG_NO_TIMES),
        (" , ; ", MSG_NO_TIMES),
    ],
)
def test_parse_times_rejects_bad_input_with_a_message_on_the_times_field(text, message):
    with pytest.raises(RecurrenceError) as caught:
        parse_times(text)
    assert caught.value.message == message
    assert caught.value.fields == {"times": message}


def test_format_times_writes_what_parse_times_reads():
    times = parse_times("17h15, 5h45")
    assert format_times(times) == "05:45, 17:15"
    assert parse_times(format_times(times)) == times


# --- validate ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rec", "field", "message"),
    [
        (
            make_rec(start_date=date(2021, 9, 1), end_date=date(2021, 8, 31)),
            "end_date",
            "Ngày kết thúc 31/8/2021 trước ngày bắt đầu 1/9/2021.",
        ),
        (make_rec(weekdays=""), "weekdays", "Chọn ít nhất một ngày trong tuần."),
        (make_rec(weekdays=set()), "weekdays", "Chọn ít nhất một ngày trong tuần."),
        (
            make_rec(weekdays={1, 8}),
            "weekdays",
            "Ngày trong tuần chỉ từ 1 (thứ Hai) đến 7 (Chủ nhật).",
        ),
        (make_rec(times=()), "times", MSG_NO_TIMES),
        (
            make_every(window_start=time(6), window_end=time(5)),
            "window_end",
            "Giờ kết thúc khung 05:00 trước giờ bắt đầu 06:00.",
        ),
        (make_every(window_start=None), "window_start", "Nhập giờ bắt đầu khung giờ."),
        (make_every(window_end=None), "window_end", "Nhập giờ kết thúc khung giờ."),
        (make_every(every_minutes=0), "every_minutes", "Khoảng cách phải từ 1 đến 1440 phút."),
        (make_every(every_minutes=1441), "every_minutes", "Khoảng cách phải từ 1 đến 1440 phút."),
        (make_rec(count=0), "count", "Số lần phát tối đa phải từ 1 trở lên."),
        (
            make_rec(kind="per_session", times=(), per_session=0),
            "per_session",
            "Số lần mỗi buổi phải từ 1 đến 60.",
        ),
        (
            # 4/9/2021 is a Saturday: Monday-to-Friday gives nothing on that weekend.
            make_rec(start_date=date(2021, 9, 4), end_date=date(2021, 9, 5), weekdays="12345"),
            "weekdays",
            "Quy tắc không tạo ra lần phát nào từ 4/9/2021 đến 5/9/2021 vào các ngày đã chọn.",
        ),
        (
            # 1,440 airings a day for 70 days.
            make_every(
                every_minutes=1,
                window_start=time(0),
                window_end=time(23, 59),
                end_date=date(2021, 11, 9),
            ),
            "count",
            "Quy tắc tạo ra 100.800 lần phát, quá mức tối đa 100.000; hãy rút ngắn khoảng "
            "ngày, bớt giờ phát hoặc đặt số lần phát tối đa.",
        ),
        (
            # Every 7 minutes over 17 hours: BYSETPOS cannot name every airing in its grid.
            make_every(every_minutes=7, window_start=time(5), window_end=time(22)),
            "every_minutes",
            "Quá nhiều giờ phát lẻ trong một ngày để lưu thành quy tắc lặp; hãy bớt giờ phát "
            "hoặc chọn khoảng cách chia hết cho 60 phút.",
        ),
    ],
)
def test_validate_rejects_bad_rules_with_a_message_on_the_field(rec, field, message):
    with pytest.raises(RecurrenceError) as caught:
        rec.validate()
    assert caught.value.fields == {field: message}
    assert caught.value.message == message


def test_validate_reports_every_bad_field_at_once():
    rec = make_every(
        every_minutes=0, window_start=time(6), window_end=time(5), weekdays="", count=0
    )
    with pytest.raises(RecurrenceError) as caught:
        rec.validate()
    assert set(caught.value.fields) == {"every_minutes", "window_end", "weekdays", "count"}
    assert "Khoảng cách phải từ 1 đến 1440 phút." in caught.value.message


def test_the_100000_limit_counts_after_the_cap_and_allows_exactly_the_limit():
    big = make_every(
        every_minutes=1, window_start=time(0), window_end=time(23, 59), end_date=date(2021, 11, 9)
    )
    replace(big, count=100_000).validate()
    replace(big, end_date=date(2021, 11, 8)).validate()  # 69 days: 99,360 airings
    assert occurrence_count(replace(big, count=100_000)) == 100_000


def test_a_per_session_rule_is_checked_against_the_stations_sessions():
    weekend = make_rec(kind="per_session", times=(), per_session=2, weekdays="67")
    weekend.validate()  # without sessions only its days are checked
    weekend.validate([MORNING])
    with pytest.raises(RecurrenceError) as caught:
        weekend.validate([EVENING])  # the evening session runs Monday to Friday only
    assert set(caught.value.fields) == {"weekdays"}


def test_weekday_digits_must_be_digits():
    with pytest.raises(RecurrenceError) as caught:
        make_rec(weekdays="12x")
    assert caught.value.fields == {
        "weekdays": "Ngày trong tuần “12x” không hợp lệ (chỉ gồm các số 1–7)."
    }


# --- RRULE text --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rec", "text"),
    [
        (
            make_rec(weekdays="12345", exceptions={datetime(2021, 9, 3, 5, 45)}),
            "DTSTART;TZID=Asia/Ho_Chi_Minh:20210901T054500\n"
            "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=5,17;BYMINUTE=15,45;BYSETPOS=2,3;"
            "UNTIL=20210930T165959Z\n"
            "EXDATE;TZID=Asia/Ho_Chi_Minh:20210903T054500",
        ),
        (
            make_rec(times=(time(5, 45), time(17, 45)), count=100),
            "DTSTART;TZID=Asia/Ho_Chi_Minh:20210901T054500\n"
            "RRULE:FREQ=DAILY;BYHOUR=5,17;BYMINUTE=45;UNTIL=20210930T165959Z\n"
            "X-LOA-COUNT:100",
        ),
        (
            make_every(start_date=date(2021, 9, 4), weekdays="12345", count=30),
            "DTSTART;TZID=Asia/Ho_Chi_Minh:20210906T050000\n"
            "RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;BYHOUR=5,6;BYMINUTE=0,20,40;"
            "BYSETPOS=1,2,3,4;COUNT=30\n"
            "X-LOA-END-DATE:20210930\n"
            "X-LOA-EVERY:INTERVAL=20;START=0500;END=0610\n"
            "X-LOA-START-DATE:20210904",
        ),
        (
            make_rec(
                kind="per_session",
                times=(),
                per_session=3,
                weekdays="1234567",
                count=10,
                exceptions={datetime(2021, 9, 3, 5, 45)},
            ),
            "DTSTART;VALUE=DATE:20210901\n"
            "RRULE:FREQ=DAILY;UNTIL=20210930\n"
            "X-LOA-PER-SESSION:3\n"
            "X-LOA-COUNT:10\n"
            "EXDATE;TZID=Asia/Ho_Chi_Minh:20210903T054500",
        ),
    ],
)
def test_to_rrule_writes_the_documented_text(rec, text):
    assert to_rrule(rec) == text


ROUND_TRIPS = [
    make_rec(),
    make_rec(times=(time(5, 45),), end_date=date(2021, 9, 1)),
    make_rec(
        weekdays="12345", exceptions={datetime(2021, 9, 3, 5, 45), datetime(2021, 9, 6, 17, 15)}
    ),
    make_rec(weekdays="7", start_date=date(2021, 9, 1)),  # first airing on Sunday 5/9
    make_rec(count=5),
    make_rec(count=500),
    make_rec(times=parse_times("05:30, 06:00, 11:15, 17:00, 17:45, 20:10")),
    make_every(),
    make_every(every_minutes=45, window_start=time(6, 15), window_end=time(21, 50), count=77),
    make_every(every_minutes=1440, window_start=time(7), window_end=time(7)),
    make_every(every_minutes=2, window_start=time(0, 2), window_end=time(23, 58)),
    make_rec(kind="per_session", times=(), per_session=3),
    make_rec(kind="per_session", times=(), per_session=1, weekdays="67", count=4),
]


@pytest.mark.parametrize("rec", ROUND_TRIPS, ids=range(len(ROUND_TRIPS)))
def test_from_rrule_reads_back_the_same_form(rec):
    # With python-dateutil's reading too: what to_rrule() writes passes the reference reader,
    # which is why stored_rule() may leave it out.
    assert from_rrule(to_rrule(rec)) == rec


@pytest.mark.parametrize("rec", ROUND_TRIPS, ids=range(len(ROUND_TRIPS)))
def test_a_stored_rule_is_read_once_as_the_same_form(rec):
    text = to_rrule(rec)
    assert stored_rule(text) == rec
    assert stored_rule(text) is stored_rule(text)


@pytest.mark.parametrize(
    "value", ["20210901T0545", "20210901 054500", "2021090xT054500", "20211301T054500"]
)
def test_date_times_not_in_the_basic_form_are_refused(value):
    text = f"DTSTART;TZID=Asia/Ho_Chi_Minh:{value}\nRRULE:FREQ=DAILY;COUNT=3"
    with pytest.raises(RecurrenceError):
        from_rrule(text, reference=False)


@pytest.mark.parametrize("rec", [r for r in ROUND_TRIPS if r.kind != "per_session"])
def test_the_stored_rule_means_what_expand_airs(rec, process_tz):
    # dateutil reads the RRULE, DTSTART and EXDATE lines as RFC 5545 says; the fast path must
    # give exactly the same instants.
    reference = [when.astimezone(UTC) for when in to_rruleset(rec)]
    start, end = local(2021, 8, 1), local(2021, 11, 1)
    assert expand(rec, start, end) == reference


def test_from_rrule_reads_a_count_rule_written_elsewhere():
    rec = from_rrule(
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20210901T054500\n"
        "RRULE:FREQ=DAILY;BYHOUR=5;BYMINUTE=45;COUNT=3"
    )
    assert (rec.kind, rec.times, rec.count) == ("times", (time(5, 45),), 3)
    assert (rec.start_date, rec.end_date) == (date(2021, 9, 1), date(2021, 9, 3))


def test_from_rrule_unfolds_long_lines():
    text = to_rrule(make_rec(weekdays="12345"))
    folded = text.replace("BYMINUTE=", "BYMIN\r\n UTE=")
    assert from_rrule(folded) == make_rec(weekdays="12345")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "nonsense",
        "RRULE:FREQ=DAILY;BYHOUR=5;BYMINUTE=45;COUNT=3",
        "DTSTART;TZID=Europe/Paris:20210901T054500\nRRULE:FREQ=DAILY;COUNT=3",
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20210901T054500\nRRULE:FREQ=WEEKLY;COUNT=3",
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20210901T054500\nRRULE:FREQ=DAILY;INTERVAL=2;COUNT=3",
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20210901T054500\nRRULE:FREQ=DAILY",
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20210901T054500\n"
        "RRULE:FREQ=DAILY;COUNT=3;UNTIL=20210930T165959Z",
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20210901T054500\nRRULE:FREQ=DAILY;BYDAY=XX;COUNT=3",
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20210901T054500\nRRULE:FREQ=DAILY;BYHOUR=x;COUNT=3",
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20210901T054500\nRRULE:FREQ=DAILY;COUNT=3\nSUMMARY:x",
        "DTSTART;TZID=Asia/Ho_Chi_Minh:20210901T054500\n"
        "RRULE:FREQ=DAILY;BYHOUR=5;BYMINUTE=0;COUNT=3\n"
        "X-LOA-EVERY:INTERVAL=20;START=0500;END=0610",
    ],
)
def test_from_rrule_refuses_text_it_cannot_read(text):
    with pytest.raises(RecurrenceError) as caught:
        from_rrule(text)
    assert caught.value.message.startswith("Quy tắc lặp không đọc được")


def test_to_rrule_refuses_an_invalid_rule():
    with pytest.raises(RecurrenceError):
        to_rrule(make_rec(end_date=date(2021, 8, 1)))


# --- expand ------------------------------------------------------------------------------


def test_local_morning_airs_on_the_previous_utc_day(process_tz):
    # 05:45 in Hồ Chí Minh City is 22:45 UTC the evening before.
    window = (datetime(2021, 8, 31, 22, tzinfo=UTC), datetime(2021, 8, 31, 23, tzinfo=UTC))
    assert expand(make_rec(), *window) == [datetime(2021, 8, 31, 22, 45, tzinfo=UTC)]


def test_expand_gives_sorted_utc_times_within_the_half_open_window(process_tz):
    rec = make_rec(end_date=date(2021, 9, 2))
    airings = expand(rec, local(2021, 9, 1, 5, 45), local(2021, 9, 2, 17, 15))
    assert airings == [
        local(2021, 9, 1, 5, 45),
        local(2021, 9, 1, 17, 15),
        local(2021, 9, 2, 5, 45),
    ]
    assert all(a.tzinfo is UTC for a in airings)


def test_expand_keeps_to_the_date_range_and_weekdays(process_tz):
    rec = make_rec(weekdays="6", times=(time(7),))
    airings = expand(rec, local(2021, 8, 1), local(2021, 11, 1))
    assert airings == [local(2021, 9, d, 7) for d in (4, 11, 18, 25)]


def test_count_is_taken_from_the_rules_beginning_not_the_window():
    rec = make_rec(count=5)
    assert expand(rec, *ALL_OF_SEPTEMBER)[-1] == local(2021, 9, 3, 5, 45)
    assert len(expand(rec, *ALL_OF_SEPTEMBER)) == 5
    assert expand(rec, local(2021, 9, 2), local(2021, 10, 1)) == [
        local(2021, 9, 2, 5, 45),
        local(2021, 9, 2, 17, 15),
        local(2021, 9, 3, 5, 45),
    ]
    assert expand(rec, local(2021, 9, 4), local(2021, 10, 1)) == []


def test_cancelled_airings_are_left_out_and_still_count_toward_the_cap():
    rec = make_rec(count=5, exceptions={datetime(2021, 9, 1, 5, 45)})
    airings = expand(rec, *ALL_OF_SEPTEMBER)
    assert local(2021, 9, 1, 5, 45) not in airings
    assert airings == [
        local(2021, 9, 1, 17, 15),
        local(2021, 9, 2, 5, 45),
        local(2021, 9, 2, 17, 15),
        local(2021, 9, 3, 5, 45),
    ]


def test_exceptions_given_as_aware_datetimes_mean_the_same_instant(process_tz):
    aware = make_rec(exceptions={datetime(2021, 8, 31, 22, 45, tzinfo=UTC)})
    naive = make_rec(exceptions={datetime(2021, 9, 1, 5, 45)})
    assert aware == naive
    assert local(2021, 9, 1, 5, 45) not in expand(aware, *ALL_OF_SEPTEMBER)


def test_every_n_minutes_restarts_at_the_window_start_each_day():
    rec = make_every(every_minutes=7, window_start=time(6), window_end=time(6, 20))
    day1 = expand(rec, local(2021, 9, 1), local(2021, 9, 2))
    day2 = expand(rec, local(2021, 9, 2), local(2021, 9, 3))
    assert day1 == [local(2021, 9, 1, 6, m) for m in (0, 7, 14)]
    assert day2 == [local(2021, 9, 2, 6, m) for m in (0, 7, 14)]


def test_expand_refuses_naive_windows():
    with pytest.raises(ValueError):
        expand(make_rec(), datetime(2021, 9, 1), datetime(2021, 9, 2))


@pytest.mark.parametrize(
    ("start", "end", "n", "expected"),
    [
        (time(5, 30), time(6, 15), 3, ["05:30", "05:45", "06:00"]),
        (time(5, 30), time(6, 15), 2, ["05:30", "05:52"]),
        (time(5, 30), time(6, 15), 1, ["05:30"]),
        (time(17), time(17, 45), 4, ["17:00", "17:11", "17:22", "17:33"]),
        (time(5, 30), time(5, 32), 4, ["05:30", "05:31", "05:32", "05:33"]),
    ],
)
def test_per_session_airings_are_spread_from_the_session_start(start, end, n, expected):
    minutes = session_minutes(start, end, n)
    assert [f"{m // 60:02d}:{m % 60:02d}" for m in minutes] == expected


def test_per_session_expands_on_each_sessions_days_and_the_rules_days(process_tz):
    rec = make_rec(kind="per_session", times=(), per_session=3, weekdays="5")  # Fridays
    friday = expand(rec, local(2021, 9, 3), local(2021, 9, 4), [MORNING, EVENING])
    assert friday == [
        local(2021, 9, 3, 5, 30),
        local(2021, 9, 3, 5, 45),
        local(2021, 9, 3, 6, 0),
        local(2021, 9, 3, 17, 0),
        local(2021, 9, 3, 17, 15),
        local(2021, 9, 3, 17, 30),
    ]
    weekend = replace(rec, weekdays="67")
    saturday = expand(weekend, local(2021, 9, 4), local(2021, 9, 5), [MORNING, EVENING])
    assert saturday == [local(2021, 9, 4, 5, 30), local(2021, 9, 4, 5, 45), local(2021, 9, 4, 6)]


def test_per_session_count_and_exceptions_count_airings_not_days():
    rec = make_rec(
        kind="per_session",
        times=(),
        per_session=2,
        count=3,
        exceptions={datetime(2021, 9, 1, 5, 30)},
    )
    assert expand(rec, *ALL_OF_SEPTEMBER, [MORNING]) == [
        local(2021, 9, 1, 5, 52),
        local(2021, 9, 2, 5, 30),
    ]
    assert occurrence_count(rec, [MORNING]) == 3


def test_per_session_without_sessions_airs_nothing():
    rec = make_rec(kind="per_session", times=(), per_session=2)
    assert expand(rec, *ALL_OF_SEPTEMBER) == []


def test_first_and_last_occurrence_and_count():
    rec = make_rec(weekdays="12345")
    assert first_occurrence(rec) == local(2021, 9, 1, 5, 45)
    assert last_occurrence(rec) == local(2021, 9, 30, 17, 15)
    assert occurrence_count(rec) == 22 * 2
    capped = replace(rec, count=3)
    assert last_occurrence(capped) == local(2021, 9, 2, 5, 45)
    assert occurrence_count(capped) == 3
    sessions = [MORNING, EVENING]
    per_session = make_rec(kind="per_session", times=(), per_session=1, end_date=date(2021, 9, 5))
    assert last_occurrence(per_session, sessions) == local(2021, 9, 5, 5, 30)


def test_expanding_a_long_rule_for_a_short_window_is_cheap():
    # Ten years of every-five-minutes; one day's window must not walk the whole rule.
    rec = make_every(
        every_minutes=5,
        window_start=time(5),
        window_end=time(5, 55),
        start_date=date(2021, 1, 1),
        end_date=date(2030, 12, 31),
        count=90_000,
    )
    rec.validate()
    day = expand(rec, local(2030, 6, 1), local(2030, 6, 2))
    assert day[0] == local(2030, 6, 1, 5) and len(day) == 12


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (date(1999, 12, 31), date(2000, 1, 5), "start_date"),
        (date(2100, 12, 1), date(2101, 1, 1), "end_date"),
        (date(1, 1, 1), date(1, 1, 2), "start_date"),
    ],
)
def test_validate_refuses_days_outside_2000_to_2100(start, end, field):
    rec = make_rec(start_date=start, end_date=end)
    with pytest.raises(RecurrenceError) as caught:
        rec.validate()
    assert caught.value.fields[field] == "Ngày phải từ 1/1/2000 đến 31/12/2100."
