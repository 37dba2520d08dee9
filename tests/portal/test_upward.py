"""The upward feed for the provincial source information system: read with a unit's feed
token (missing, wrong, revoked → 401), only that unit's subtree, paged by cursor, times in
+07:00, bad parameters refused with {error, message, fields}."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import select

from app.agents.models import Agent, AgentHealth, AgentStatus
from app.broadcast.models import LogStatus
from app.broadcast.service import LogEntry, append_log
from app.extensions import db
from app.org.models import PlayoutMode
from app.playout.lock import RunnerLock
from app.playout.runner import LOCK_NAME
from app.portal.models import FeedToken
from app.portal.tokens import issue_feed_token, revoke_feed_token
from app.schedules.models import Airing, AiringStatus
from app.scripts.models import Priority
from tests.api.conftest import assert_error
from tests.factories import make_station
from tests.portal.conftest import TODAY

_keys = count(1)


@pytest.fixture
def feed(users, org):
    """A client function reading the feed with a fresh token of a unit (default district)."""
    issued: dict[str, str] = {}

    def _get(path: str, as_unit=None, token: str | None = None, **params):
        unit = as_unit or org.district
        if token is None:
            if unit.code not in issued:
                issued[unit.code] = issue_feed_token(users["admin"], unit, "")[1]
            token = issued[unit.code]
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return org.client.get(f"/feed/v1/{path}", headers=headers, query_string=params)

    return _get


@pytest.fixture(autouse=True)
def _client(org, client):
    """The test client, reachable from the feed fixture."""
    org.client = client


def make_airing(station, script, when: datetime, status=AiringStatus.PLANNED) -> Airing:
    """A planned airing of the script's approved audio on the station."""
    airing = Airing(
        schedule_id=None,
        station_id=station.id,
        planned_at=when,
        sequenced_at=when,
        session_name="Buổi sáng",
        duration_s=42.0,
        priority=script.priority,
        script_id=script.id,
        version_id=script.approved_version_id,
        render_id=script.approved_render_id,
        airing_key=f"test:{next(_keys)}",
        status=status,
        created_at=when,
    )
    db.session.add(airing)
    db.session.commit()
    return airing


def log_row(station, script, planned: datetime, status=LogStatus.AIRED, reason=""):
    """A broadcast log row of the script on the station."""
    aired = status in {LogStatus.AIRED, LogStatus.AIRED_LATE}
    return append_log(
        LogEntry(
            station_id=station.id,
            status=status,
            planned_at=planned,
            started_at=planned + timedelta(seconds=3) if aired else None,
            ended_at=planned + timedelta(seconds=45) if aired else None,
            duration_s=42.0 if aired else None,
            reason=reason,
            script_id=script.id,
            version_id=script.approved_version_id,
            render_id=script.approved_render_id,
            priority=script.priority,
            runner_host="test",
        )
    )


# --- Tokens ------------------------------------------------------------------------------------


def test_missing_malformed_wrong_and_revoked_tokens_are_401(feed, users, org):
    for token in ("", "Basic abc"):
        response = org.client.get("/feed/v1/bulletins", headers={"Authorization": token})
        body = assert_error(response, 401, "unauthorized")
        assert "Authorization: Bearer" in body["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(feed("bulletins", token="loa_feed_khong-dung"), 401, "unauthorized")
    assert_error(feed("bulletins", token="loa_abc"), 401, "unauthorized")
    token, plaintext = issue_feed_token(users["admin"], org.district, "Tỉnh")
    assert feed("bulletins", token=plaintext).status_code == 200
    revoke_feed_token(users["admin"], token.id)
    body = assert_error(feed("bulletins", token=plaintext), 401, "unauthorized")
    assert body["message"] == "Mã đọc nguồn tin không hợp lệ hoặc đã bị thu hồi."


def test_a_user_api_token_does_not_open_the_feed(org, users):
    from app.auth.service import create_token

    _, api_token = create_token(users["supervisor"], "API")
    response = org.client.get(
        "/feed/v1/bulletins", headers={"Authorization": f"Bearer {api_token}"}
    )
    assert_error(response, 401, "unauthorized")


def test_tokens_are_stored_hashed(users, org):
    token, plaintext = issue_feed_token(users["admin"], org.district, "")
    stored = db.session.scalar(select(FeedToken).where(FeedToken.id == token.id))
    assert stored.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in (stored.name, stored.prefix, stored.token_hash)
    assert plaintext.startswith(stored.prefix)


def test_wrong_tokens_are_rate_limited_per_address(tmp_path, clock):
    from tests.conftest import build_test_app

    app = build_test_app(
        tmp_path, clock, RATELIMIT_ENABLED=True, FEED_AUTH_FAILURE_LIMIT="3 per minute"
    )
    with app.app_context():
        client = app.test_client()
        headers = {"Authorization": "Bearer loa_feed_nope"}
        for _ in range(3):
            assert client.get("/feed/v1/bulletins", headers=headers).status_code == 401
        response = client.get("/feed/v1/bulletins", headers=headers)
        assert_error(response, 429, "too_many_requests")
        assert int(response.headers["Retry-After"]) > 0
        db.session.remove()
        db.engine.dispose()


# --- Scope -------------------------------------------------------------------------------------


def test_a_token_reads_only_its_units_subtree(feed, make, users, org):
    make("approved", title="Của Phan Thiết")
    make("approved", title="Của phường", unit=org.commune)
    make("approved", title="Của La Gi", unit=org.other_district, writer=users["outsider"])
    titles = {i["title"] for i in feed("bulletins").get_json()["items"]}
    assert titles == {"Của Phan Thiết", "Của phường"}
    other = {i["title"] for i in feed("bulletins", as_unit=org.other_district).get_json()["items"]}
    assert other == {"Của La Gi"}
    commune = feed("bulletins", as_unit=org.commune).get_json()
    assert [i["title"] for i in commune["items"]] == ["Của phường"]
    # Narrowing to a unit below works; to a unit outside the token's subtree does not.
    narrowed = feed("bulletins", as_unit=org.district, unit="c").get_json()
    assert [i["title"] for i in narrowed["items"]] == ["Của phường"]
    assert narrowed["unit"]["code"] == "C"
    assert_error(
        feed("bulletins", as_unit=org.other_district, unit="D"),
        400,
        "invalid_parameters",
        "unit",
    )
    assert_error(
        feed("bulletins", as_unit=org.commune, unit="D"), 400, "invalid_parameters", "unit"
    )


def test_other_units_stations_schedules_and_results_are_not_read(feed, make, users, org):
    mine = make_station(org.district, "MINE")
    theirs = make_station(org.other_district, "THEIRS")
    script = make("approved")
    other_script = make(
        "approved", title="La Gi", unit=org.other_district, writer=users["outsider"]
    )
    soon = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
    make_airing(mine, script, soon)
    make_airing(theirs, other_script, soon)
    log_row(mine, script, soon - timedelta(hours=1))
    log_row(theirs, other_script, soon - timedelta(hours=1))
    assert [s["code"] for s in feed("stations").get_json()["items"]] == ["MINE"]
    assert {i["station"]["code"] for i in feed("schedules").get_json()["items"]} == {"MINE"}
    assert {i["station"]["code"] for i in feed("play-results").get_json()["items"]} == {"MINE"}
    assert_error(feed("schedules", station="THEIRS"), 400, "invalid_parameters", "station")
    assert_error(feed("play-results", station="THEIRS"), 400, "invalid_parameters", "station")


# --- Shapes ------------------------------------------------------------------------------------


def test_bulletin_shape_with_tt39_category_source_validity_and_audio(feed, make, org):
    script = make(
        "approved",
        title="Khẩn: bão số 9",
        priority=Priority.EMERGENCY,
        category="Phòng chống thiên tai",
        source_kind="Công điện",
        source_number="12/CĐ-UBND",
        valid_from=TODAY,
        valid_until=TODAY + timedelta(days=2),
        targets=[org.commune],
    )
    response = feed("bulletins")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"unit", "generated_at", "items", "next_cursor"}
    assert body["unit"] == {"code": "D", "name": "Thành phố Phan Thiết", "level": "Thành phố"}
    assert body["generated_at"] == "2026-11-27T08:00:00+07:00"
    assert body["next_cursor"] is None
    [item] = body["items"]
    version = script.approved_version
    assert item["id"] == f"loa-script-{script.id}-v1-render-{script.approved_render_id}"
    assert item["script_id"] == script.id and item["version"] == 1
    assert item["text"] == version.body and item["text_sha256"] == version.sha256
    assert item["category"] == {"code": "khan_cap", "label": "Khẩn cấp", "priority": "emergency"}
    assert item["topic"] == "Phòng chống thiên tai"
    assert item["source"]["label"] == "Công điện 12/CĐ-UBND"
    assert item["targets"] == ["C"]
    assert item["valid_from"] == "2026-11-27" and item["valid_until"] == "2026-11-29"
    assert item["in_validity"] is True
    assert item["approved_at"] == "2026-11-27T08:00:00+07:00"
    audio = item["audio"]
    assert audio["url"] == f"http://localhost/portal/D/audio/{script.approved_render_id}.wav"
    assert audio["type"] == "audio/wav" and audio["sha256"] == script.approved_render.audio_sha256
    with org.client.get(audio["url"]) as fetched:
        assert len(fetched.get_data()) == audio["bytes"]
    assert item["page_url"] == "http://localhost/portal/D"


def test_bulletins_hold_only_approved_scripts_and_say_when_out_of_validity(feed, make):
    for state in ("draft", "submitted", "rejected", "archived"):
        make(state, title=f"Không: {state}")
    make("approved", title="Hết hạn", valid_until=TODAY - timedelta(days=1))
    items = feed("bulletins").get_json()["items"]
    assert [i["title"] for i in items] == ["Hết hạn"]
    assert items[0]["in_validity"] is False and items[0]["audio"]["url"] is None


def test_bulletins_page_by_cursor_and_since(feed, make, clock):
    made = []
    for n in range(5):
        made.append(make("approved", title=f"Bản tin {n}"))
        clock.advance(minutes=10)
    first = feed("bulletins", limit=2).get_json()
    assert [i["title"] for i in first["items"]] == ["Bản tin 0", "Bản tin 1"]
    assert first["next_cursor"] == first["items"][-1]["cursor"]
    second = feed("bulletins", limit=2, cursor=first["next_cursor"]).get_json()
    assert [i["title"] for i in second["items"]] == ["Bản tin 2", "Bản tin 3"]
    third = feed("bulletins", limit=2, cursor=second["next_cursor"]).get_json()
    assert [i["title"] for i in third["items"]] == ["Bản tin 4"]
    assert third["next_cursor"] is None
    since = feed("bulletins", since="2026-11-27T08:20:00+07:00").get_json()
    assert [i["title"] for i in since["items"]] == ["Bản tin 2", "Bản tin 3", "Bản tin 4"]
    zulu = feed("bulletins", since="2026-11-27T01:20:00Z").get_json()
    assert zulu["items"] == since["items"]


def test_schedules_are_the_planned_airings_ahead(feed, make, org, clock):
    station = make_station(org.commune, "TTCS-C")
    script = make("approved", title="Lịch phát")
    past = make_airing(station, script, clock.now() - timedelta(hours=1))
    ahead = make_airing(station, script, clock.now() + timedelta(hours=2))
    later = make_airing(station, script, clock.now() + timedelta(days=2))
    make_airing(station, script, clock.now() + timedelta(hours=3), status=AiringStatus.CANCELLED)
    body = feed("schedules").get_json()
    assert [i["id"] for i in body["items"]] == [ahead.id, later.id]
    item = body["items"][0]
    assert item == {
        "cursor": item["cursor"],
        "id": ahead.id,
        "airing_key": ahead.airing_key,
        "station": {"code": "TTCS-C", "name": station.name},
        "unit": "C",
        "status": "planned",
        "planned_at": "2026-11-27T10:00:00+07:00",
        "start_at": "2026-11-27T10:00:00+07:00",
        "end_at": "2026-11-27T10:00:42+07:00",
        "duration_s": 42.0,
        "session": "Buổi sáng",
        "category": {"code": "uu_tien", "label": "Ưu tiên", "priority": "priority"},
        "script": {"id": script.id, "title": "Lịch phát"},
        "version": 1,
        "render_id": script.approved_render_id,
        "schedule_id": None,
        "kind": "manual",
    }
    window = feed(
        "schedules", since="2026-11-27T00:00:00+07:00", until="2026-11-28T00:00:00+07:00"
    ).get_json()
    assert [i["id"] for i in window["items"]] == [past.id, ahead.id]
    paged = feed("schedules", limit=1).get_json()
    rest = feed("schedules", limit=1, cursor=paged["next_cursor"]).get_json()
    assert [i["id"] for i in paged["items"] + rest["items"]] == [ahead.id, later.id]
    assert_error(
        feed("schedules", since="2026-11-28T00:00:00Z", until="2026-11-27T00:00:00Z"),
        400,
        "invalid_parameters",
        "until",
    )


def test_play_results_are_log_rows_aired_and_missed_per_station(feed, make, org, clock):
    station = make_station(org.district, "PTH")
    script = make("approved", title="Kết quả")
    planned = datetime(2026, 11, 26, 22, 45, tzinfo=UTC)
    aired = log_row(station, script, planned)
    missed = log_row(
        station, script, planned + timedelta(hours=10), LogStatus.MISSED, "bỏ lỡ: máy tắt"
    )
    body = feed("play-results").get_json()
    assert [i["id"] for i in body["items"]] == [aired.id, missed.id]
    first, second = body["items"]
    assert first["result"] == "aired" and first["aired"] is True
    assert first["result_label"] == "đã phát"
    assert first["planned_at"] == "2026-11-27T05:45:00+07:00"
    assert first["started_at"] == "2026-11-27T05:45:03+07:00"
    assert first["ended_at"] == "2026-11-27T05:45:45+07:00"
    assert first["station"] == {"code": "PTH", "name": station.name}
    assert first["unit"] == "D" and first["version"] == 1
    assert first["script"] == {"id": script.id, "title": "Kết quả"}
    assert first["row_hash"] == aired.row_hash
    assert second["result"] == "missed" and second["aired"] is False
    assert second["started_at"] is None and second["reason"] == "bỏ lỡ: máy tắt"
    # A client following the log keeps the last cursor and asks again later.
    tail = feed("play-results", cursor=first["cursor"]).get_json()
    assert [i["id"] for i in tail["items"]] == [missed.id]
    since = feed("play-results", since="2026-11-27T12:00:00+07:00").get_json()
    assert [i["id"] for i in since["items"]] == [missed.id]
    assert [i["id"] for i in feed("play-results", station="pth").get_json()["items"]] == [
        aired.id,
        missed.id,
    ]


def test_station_status_online_offline_and_health(feed, make, org, clock):
    central = make_station(org.district, "CENTRAL")
    agent_run = make_station(org.commune, "AGENT")
    now = clock.now()
    body = feed("stations").get_json()
    by_code = {s["code"]: s for s in body["items"]}
    # No runner beating: the central station is offline, with a warning.
    assert by_code["CENTRAL"]["status"] == "offline"
    assert by_code["CENTRAL"]["health"] == "warning"
    assert by_code["CENTRAL"]["warnings"][0]["code"] == "runner_offline"
    db.session.add(RunnerLock(name=LOCK_NAME, holder="host:1", heartbeat_at=now))
    agent_run.playout_mode = PlayoutMode.AGENT
    agent = Agent(
        station_id=agent_run.id,
        name="Máy xã",
        status=AgentStatus.ACTIVE,
        created_at=now - timedelta(days=1),
        enrolled_at=now - timedelta(days=1),
        last_seen_at=now - timedelta(hours=3),
    )
    db.session.add(agent)
    db.session.flush()
    db.session.add(
        AgentHealth(
            agent_id=agent.id,
            reported_at=now - timedelta(hours=3),
            agent_time=now - timedelta(hours=3),
            clock_offset_s=0.2,
            agent_version="0.1.0",
            plan_until=None,
            audio_missing=0,
            output_name="local",
            output_ok=True,
            output_message="",
            disk_free_bytes=20 * 10**9,
            disk_total_bytes=32 * 10**9,
        )
    )
    db.session.commit()
    script = make("approved")
    row = log_row(central, script, now - timedelta(minutes=30))
    by_code = {s["code"]: s for s in feed("stations").get_json()["items"]}
    assert by_code["CENTRAL"]["status"] == "online"
    assert by_code["CENTRAL"]["health"] == "ok" and by_code["CENTRAL"]["warnings"] == []
    assert by_code["CENTRAL"]["last_result"] == {
        "id": row.id,
        "result": "aired",
        "planned_at": "2026-11-27T07:30:00+07:00",
        "started_at": "2026-11-27T07:30:03+07:00",
    }
    assert by_code["CENTRAL"]["agent"] is None
    agent_json = by_code["AGENT"]
    assert agent_json["playout_mode"] == "agent"
    assert agent_json["status"] == "offline"
    assert agent_json["offline_since"] == "2026-11-27T05:00:00+07:00"
    assert agent_json["health"] == "warning"
    assert "offline" in {w["code"] for w in agent_json["warnings"]}
    assert agent_json["agent"]["name"] == "Máy xã"
    assert agent_json["unit"] == "C"
    paged = feed("stations", limit=1).get_json()
    assert len(paged["items"]) == 1 and paged["next_cursor"]
    rest = feed("stations", limit=1, cursor=paged["next_cursor"]).get_json()
    assert rest["items"][0]["code"] != paged["items"][0]["code"]


def test_unit_endpoint_lists_the_subtree_and_the_categories(feed, org):
    body = feed("unit").get_json()
    assert body["unit"]["code"] == "D"
    assert [u["code"] for u in body["units"]] == ["D", "C"]
    assert body["units"][1]["parent"] == "D"
    assert [c["code"] for c in body["categories"]] == ["thong_thuong", "uu_tien", "khan_cap"]


# --- Bad parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"since": "hôm qua"}, "since"),
        ({"since": "2026-11-27T08:00:00"}, "since"),
        ({"since": "1800-01-01T00:00:00Z"}, "since"),
        ({"cursor": "không-phải-con-trỏ"}, "cursor"),
        ({"cursor": "eA"}, "cursor"),
        ({"unit": "KHONG-CO"}, "unit"),
        ({"since": "x" * 500}, "since"),
        ({"since": "2026-11-27\x00"}, "since"),
    ],
)
def test_bad_parameters_are_400_with_the_field(feed, params, field):
    body = assert_error(feed("bulletins", **params), 400, "invalid_parameters", field)
    assert body["message"] == "Tham số không hợp lệ: hãy sửa các tham số được đánh dấu."


def test_unknown_parameters_are_refused_by_name(feed):
    body = assert_error(feed("bulletins", page="2", q="x"), 400, "unknown_fields")
    assert set(body["fields"]) == {"page", "q"}
    assert_error(feed("unit", limit="5"), 400, "unknown_fields", "limit")


def test_unknown_feed_paths_and_methods_answer_json(feed, org):
    assert_error(feed("khong-co"), 404, "http_404")
    response = org.client.post("/feed/v1/bulletins")
    assert response.status_code in {400, 405}
    assert set(response.get_json()) == {"error", "message", "fields"}
