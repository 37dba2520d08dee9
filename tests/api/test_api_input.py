"""The one way in for API input: huge numbers, out-of-range dates, NUL and lone surrogates,
deep JSON, unknown fields and over-long text answer 4xx {error, message, fields} on every
endpoint and change no row (issue 11, item 2)."""

# ruff: noqa: F811  (the schedule tests' fixtures are imported by name)
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.api.schemas import MAX_DEPTH, MAX_ID, _json_depth_scan, json_depth_exceeds
from app.extensions import db
from app.playout import manual as playout
from tests.api.conftest import assert_error
from tests.api.test_schedules_api import body, call, desk, rule  # noqa: F401
from tests.factories import make_script

HUGE = 2**63
BIG = MAX_ID + 1
DIGITS = "9" * 5000


def every_row() -> dict[str, int]:
    """Row counts of every table, read fresh."""
    db.session.expire_all()
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


@pytest.fixture
def world(call, desk, users, org):
    """A draft script, a schedule and a planned airing to aim the attacks at."""
    draft = make_script(users["writer"], org.district, title="Bản nháp")
    schedule = call("operator").post("/api/v1/schedules", json=body(desk)).get_json()
    airing = playout.air_now(users["operator"], desk["script"], [desk["city"]])[0]
    return {"draft": draft.id, "schedule": schedule["id"], "airing": airing.id, **desk}


def attacks(w) -> list[tuple[str, str, dict | None, str | bytes | None, int, str | None]]:
    """(method, url, json, raw body, status, field) of each attack."""
    s, d, a = w["schedule"], w["draft"], w["airing"]
    script = w["script"].id
    cancel = {"occurs_at": "2026-11-28T05:45:00+07:00", "reason": "Mất điện."}
    live = {"started_at": "2026-11-27T07:30:00+07:00", "duration_s": 60, "note": "Đọc tay."}
    deep = "[" * 100_000 + "]" * 100_000
    return [
        # Ids and pages of 2^63 and more.
        ("get", f"/api/v1/scripts/{HUGE}", None, None, 404, None),
        ("get", f"/api/v1/scripts/{DIGITS}", None, None, 404, None),
        ("patch", f"/api/v1/scripts/{HUGE}", {"revision": 1}, None, 404, None),
        ("get", f"/api/v1/schedules/{HUGE}", None, None, 404, None),
        ("get", f"/api/v1/schedules/{BIG}", None, None, 404, None),
        ("get", f"/api/v1/scripts/{BIG}", None, None, 404, None),
        ("get", f"/api/v1/schedules?script={BIG}", None, None, 422, "script"),
        ("post", "/api/v1/stations/PT-CITY/air-now", {"script": BIG}, None, 422, "script"),
        ("patch", f"/api/v1/scripts/{d}", {"revision": BIG}, None, 422, "revision"),
        ("delete", f"/api/v1/schedules/{HUGE}", None, None, 404, None),
        ("post", f"/api/v1/airings/{HUGE}/skip", {"reason": "Loa hỏng."}, None, 404, None),
        ("get", f"/api/v1/renders/{HUGE}", None, None, 404, None),
        ("get", f"/api/v1/scripts?page={HUGE}", None, None, 422, "page"),
        ("get", f"/api/v1/logs?page={DIGITS}", None, None, 422, "page"),
        ("get", f"/api/v1/stations?page={HUGE}", None, None, 422, "page"),
        ("get", f"/api/v1/schedules?script={HUGE}", None, None, 422, "script"),
        ("get", f"/api/v1/reports/airtime?script={HUGE}", None, None, 422, "script"),
        ("post", "/api/v1/schedules", body(w, script=HUGE), None, 422, "script"),
        ("post", "/api/v1/stations/PT-CITY/air-now", {"script": HUGE}, None, 422, "script"),
        ("post", f"/api/v1/scripts/{d}/approve", {"version": HUGE}, None, 422, "version"),
        (
            "post",
            "/api/v1/stations/PT-CITY/live-reads",
            {**live, "airing": HUGE},
            None,
            422,
            "airing",
        ),
        ("post", "/api/v1/schedules", None, '{"script": ' + DIGITS + "}", 422, "body"),
        # Counts and dates out of range.
        (
            "post",
            "/api/v1/schedules",
            body(w, recurrence=rule(count=1_000_000_000)),
            None,
            422,
            "recurrence.count",
        ),
        (
            "post",
            "/api/v1/schedules",
            body(w, recurrence=rule(end_date="9999-12-31")),
            None,
            422,
            "recurrence.end_date",
        ),
        (
            "post",
            "/api/v1/schedules",
            body(w, recurrence=rule(start_date="0001-01-01")),
            None,
            422,
            "recurrence.start_date",
        ),
        ("get", "/api/v1/logs?date_to=9999-12-31", None, None, 422, "date_to"),
        ("get", "/api/v1/logs/verify?date_from=0001-01-01", None, None, 422, "date_from"),
        ("get", "/api/v1/reports/airtime?date=9999-12-31", None, None, 422, "date"),
        (
            "get",
            "/api/v1/reports/campaign?campaign=x&period=custom&date=2026-01-01&end=9999-12-31",
            None,
            None,
            422,
            "end",
        ),
        ("get", "/api/v1/stations/PT-CITY/rundown?date=0001-01-01", None, None, 422, "date"),
        ("get", "/api/v1/stations/PT-CITY/rundown?date=9999-12-31", None, None, 422, "date"),
        (
            "post",
            f"/api/v1/schedules/{s}/cancellations",
            {**cancel, "occurs_at": "9999-12-31T23:59:59+07:00"},
            None,
            422,
            "occurs_at",
        ),
        (
            "post",
            "/api/v1/stations/PT-CITY/live-reads",
            {**live, "started_at": "0001-01-01T00:00:00+00:00"},
            None,
            422,
            "started_at",
        ),
        (
            "post",
            "/api/v1/scripts",
            {"title": "T", "body": "B", "valid_until": "9999-12-31"},
            None,
            422,
            "valid_until",
        ),
        # Lone surrogates and NUL in text, on every database.
        ("post", "/api/v1/scripts", {"title": "\ud800", "body": "Nội dung."}, None, 422, "title"),
        ("post", "/api/v1/scripts", {"title": "Tiêu đề\x00", "body": "B"}, None, 422, "title"),
        ("post", "/api/v1/scripts", {"title": "Tiêu đề", "body": "Thưa\x00"}, None, 422, "body"),
        (
            "patch",
            f"/api/v1/scripts/{d}",
            {"revision": 1, "source": {"issuer": "UBND\x00"}},
            None,
            422,
            "source.issuer",
        ),
        ("post", f"/api/v1/scripts/{d}/reject", {"reason": "Sai \ud800 rồi"}, None, 422, "reason"),
        ("post", "/api/v1/speech/normalize", {"text": "a\x00b"}, None, 422, "text"),
        ("post", f"/api/v1/scripts/{d}/renders", {"voice": "\x00"}, None, 422, "voice"),
        (
            "post",
            f"/api/v1/schedules/{s}/cancellations",
            {**cancel, "reason": "\x00"},
            None,
            422,
            "reason",
        ),
        (
            "post",
            "/api/v1/stations/PT-CITY/air-now",
            {"script": script, "note": "\udfff"},
            None,
            422,
            "note",
        ),
        ("post", f"/api/v1/airings/{a}/skip", {"reason": "Loa\x00 hỏng"}, None, 422, "reason"),
        ("post", "/api/v1/schedules", body(w, stations=["PT\x00"]), None, 422, "stations"),
        ("get", "/api/v1/scripts?q=%00", None, None, 422, "q"),
        ("get", "/api/v1/scripts?q=a%00b&campaign=%00", None, None, 422, "q"),
        ("get", "/api/v1/logs?campaign=%00", None, None, 422, "campaign"),
        ("get", "/api/v1/reports/campaign?campaign=%00", None, None, 422, "campaign"),
        ("get", "/api/v1/stations/PT%00CITY", None, None, 404, None),
        ("post", "/api/v1/stations/%00/air-now", {"script": script}, None, 404, None),
        # Deep JSON, broken JSON, NaN, a body too large.
        ("post", "/api/v1/schedules", None, deep, 422, "body"),
        ("post", "/api/v1/scripts", None, '{"title": ' * 50_000, 422, "body"),
        ("post", "/api/v1/speech/normalize", None, '{"text": NaN}', 422, "body"),
        ("post", "/api/v1/scripts", None, b'{"title": "\xff"}', 422, "body"),
        ("post", "/api/v1/scripts", None, "x" * (1024 * 1024 + 1), 413, None),
        # Unknown fields, everywhere.
        (
            "post",
            "/api/v1/scripts",
            {"title": "T", "body": "B", "tieu_de": "x"},
            None,
            400,
            "tieu_de",
        ),
        ("patch", f"/api/v1/scripts/{d}", {"revision": 1, "id": 5}, None, 400, "id"),
        (
            "patch",
            f"/api/v1/scripts/{d}",
            {"revision": 1, "source": {"so": "1"}},
            None,
            400,
            "source.so",
        ),
        ("post", f"/api/v1/scripts/{d}/submit", {"force": True}, None, 400, "force"),
        ("post", f"/api/v1/scripts/{d}/approve", {"note": "ok"}, None, 400, "note"),
        (
            "post",
            f"/api/v1/scripts/{d}/reject",
            {"reason": "Thiếu địa điểm.", "x": 1},
            None,
            400,
            "x",
        ),
        ("post", "/api/v1/speech/normalize", {"text": "a", "lexicon": {}}, None, 400, "lexicon"),
        (
            "post",
            f"/api/v1/scripts/{d}/renders",
            {"settings": {"volume": 11}},
            None,
            400,
            "settings.volume",
        ),
        ("get", "/api/v1/scripts?trang=2", None, None, 400, "trang"),
        ("get", "/api/v1/renders/1?x=1", None, None, 400, "x"),
        ("post", f"/api/v1/scripts/{d}/submit?force=1", None, None, 400, "force"),
        # One length per kind of text: reasons and notes stop at 500 characters.
        (
            "post",
            f"/api/v1/schedules/{s}/cancellations",
            {**cancel, "reason": "x" * 100_000},
            None,
            422,
            "reason",
        ),
        (
            "post",
            f"/api/v1/schedules/{s}/cancellations",
            {**cancel, "reason": "x" * 501},
            None,
            422,
            "reason",
        ),
        ("post", f"/api/v1/scripts/{d}/reject", {"reason": "x" * 501}, None, 422, "reason"),
        ("post", f"/api/v1/airings/{a}/skip", {"reason": "x" * 501}, None, 422, "reason"),
        ("post", "/api/v1/scripts", {"title": "x" * 301, "body": "B"}, None, 422, "title"),
        ("post", "/api/v1/scripts", {"title": "T", "body": "x" * 20_001}, None, 422, "body"),
        ("get", "/api/v1/scripts?q=" + "x" * 201, None, None, 422, "q"),
        # Booleans are not numbers, numbers are not texts.
        ("post", "/api/v1/stations/PT-CITY/air-now", {"script": True}, None, 422, "script"),
        ("post", f"/api/v1/scripts/{d}/renders", {"speed": 1e300}, None, 422, "speed"),
        ("post", "/api/v1/schedules", body(w, gap_seconds=1e308 * 10), None, 422, "body"),
    ]


def test_every_attack_answers_4xx_and_changes_nothing(call, world):
    """One test over the whole list, so a refused request's leftovers would show in the next."""
    for method, url, payload, raw, status, field in attacks(world):
        caller = call("operator")
        if url.startswith(("/api/v1/scripts", "/api/v1/speech", "/api/v1/renders")):
            caller = call("writer")
        if "/approve" in url or "/reject" in url:
            caller = call("supervisor")
        before = every_row()
        kwargs = {"json": payload} if raw is None else {"data": raw}
        if raw is not None:
            kwargs["content_type"] = "application/json"
        response = getattr(caller, method)(url, **kwargs)
        assert response.status_code < 500, (method, url[:120], response.get_data(as_text=True))
        try:
            assert_error(response, status, response.get_json()["error"], field)
        except AssertionError as exc:
            raise AssertionError(f"{method} {url[:120]}: {exc}") from exc
        assert every_row() == before, (method, url[:120])


def test_unknown_field_answers_400_listing_every_one(call, desk):
    response = call("writer").post(
        "/api/v1/scripts", json={"title": "T", "body": "B", "a": 1, "b": 2}
    )
    body_ = assert_error(response, 400, "unknown_fields")
    assert body_["fields"] == {"a": "Trường không được hỗ trợ.", "b": "Trường không được hỗ trợ."}
    assert body_["message"] == "Trường không được hỗ trợ: “a”, “b”."


def test_messages_are_vietnamese_and_name_the_bound(call, desk):
    response = call("operator").post(
        "/api/v1/schedules", json=body(desk, recurrence=rule(count=10**9, end_date="9999-12-31"))
    )
    fields = assert_error(response, 422, "validation_failed")["fields"]
    assert fields == {
        "recurrence.count": "Tối đa 100.000.",
        "recurrence.end_date": "Ngày phải từ 01/01/2000 đến 31/12/2100.",
    }
    nul = call("writer").post("/api/v1/scripts", json={"title": "a\x00", "body": "b"})
    assert assert_error(nul, 422, "validation_failed")["fields"] == {
        "title": "Không được chứa ký tự NUL (\\u0000)."
    }


def test_deep_json_is_refused_before_it_is_parsed(call, desk):
    just_deep_enough = json.dumps({"text": "a", "unit": None})
    assert (
        call("writer")
        .post("/api/v1/speech/normalize", data=just_deep_enough, content_type="application/json")
        .status_code
        == 200
    )
    too_deep = '{"text": "a", "unit": ' + "[" * 17 + "]" * 17 + "}"
    response = call("writer").post(
        "/api/v1/speech/normalize", data=too_deep, content_type="application/json"
    )
    assert (
        "lồng nhau quá sâu" in assert_error(response, 422, "validation_failed", "body")["message"]
    )


def test_bounds_still_let_the_largest_valid_values_through(call, desk):
    largest = call("writer").get(f"/api/v1/scripts/{MAX_ID}")
    assert_error(largest, 404, "not_found")
    last_page = call("writer").get("/api/v1/scripts?page=100000&per_page=100").get_json()
    assert (last_page["page"], last_page["items"]) == (100_000, [])
    far = call("writer").get("/api/v1/stations/PT-CITY/rundown?date=2100-12-31").get_json()
    assert (far["date"], far["items"]) == ("2100-12-31", [])


def test_an_intro_too_long_once_read_aloud_is_refused_and_nothing_stored(call, desk):
    before = every_row()
    response = call("supervisor").post(
        f"/api/v1/scripts/{desk['script'].id}/renders", json={"intro_text": "0" * 300}
    )
    assert response.status_code == 422
    body = response.get_json()
    assert "khi đọc thành lời" in body["fields"]["intro_text"]
    assert every_row() == before


def _nested(levels: list[str]) -> bytes:
    """A valid JSON document nesting the given brackets, with brackets inside its strings."""
    inner = '"[{\\"}]"'
    for c in reversed(levels):
        inner = f'{{"k[{{": {inner}, "v": "]"}}' if c == "{" else f'["[", {inner}, "}}"]'
    return inner.encode()


@given(
    st.lists(st.sampled_from("[{"), max_size=MAX_DEPTH + 8),
    st.binary(max_size=40).map(lambda b: bytes(c for c in b if c in b'[]{}"\\\\ax,:')),
)
def test_the_depth_check_agrees_with_an_exact_scan(levels, noise):
    """The fast check (strings dropped, one bracket level removed per pass) answers as the
    byte-by-byte scan does: nested documents of every depth around the limit, alternating
    [ and {, and random bracket noise."""
    for raw in (_nested(levels), noise, _nested(levels) + noise):
        assert json_depth_exceeds(raw) == _json_depth_scan(raw, MAX_DEPTH), raw
