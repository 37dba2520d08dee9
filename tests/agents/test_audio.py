"""GET /api/v1/agent/audio/<sha256>: a file of the station's plan, named by its sha256,
resumable with Range, refused for files outside the plan."""

from __future__ import annotations

import hashlib
from datetime import time

from flask import current_app

from app.extensions import db
from app.schedules import service as schedules
from tests.agents.conftest import approved_with_own_audio, foreign_script, schedule_on
from tests.api.conftest import assert_error


def url(sha: str) -> str:
    return f"/api/v1/agent/audio/{sha}"


def fetch(caller, sha: str, **headers):
    """The answer with its body read and the file closed."""
    with caller.get(url(sha), headers=headers) as response:
        response.body = response.get_data()
    return response


def file_of(render) -> bytes:
    return (current_app.config["AUDIO_DIR"] / render.audio_path).read_bytes()


def test_audio_of_the_plan_downloads_and_matches_its_sha256(desk, enrolled):
    agent = enrolled(desk.commune)
    listed = agent.get("/api/v1/agent/plan").get_json()["audio"][0]
    response = fetch(agent, listed["sha256"])
    assert response.status_code == 200
    assert hashlib.sha256(response.body).hexdigest() == listed["sha256"]
    assert len(response.body) == listed["size"]
    assert response.body == file_of(desk.script.approved_render)
    assert response.headers["ETag"] == f'"{listed["sha256"]}"'
    assert response.headers["Content-Type"] == "audio/wav"
    assert response.headers["Accept-Ranges"] == "bytes"
    cache = response.headers["Cache-Control"]
    assert "private" in cache and "immutable" in cache and "no-store" not in cache


def test_download_resumes_with_range(desk, enrolled):
    agent = enrolled(desk.commune)
    sha = desk.script.approved_render.audio_sha256
    whole = file_of(desk.script.approved_render)
    head = fetch(agent, sha, Range="bytes=0-999")
    assert head.status_code == 206
    assert head.headers["Content-Range"] == f"bytes 0-999/{len(whole)}"
    tail = fetch(agent, sha, Range="bytes=1000-", **{"If-Range": f'"{sha}"'})
    assert tail.status_code == 206
    assert tail.headers["Content-Range"] == f"bytes 1000-{len(whole) - 1}/{len(whole)}"
    assert hashlib.sha256(head.body + tail.body).hexdigest() == sha
    # If-Range with another ETag: the file changed, so the whole file comes back.
    stale = fetch(agent, sha, Range="bytes=1000-", **{"If-Range": '"other"'})
    assert (stale.status_code, stale.body) == (200, whole)


def test_a_range_past_the_end_is_refused_with_the_files_length(desk, enrolled):
    agent = enrolled(desk.commune)
    sha = desk.script.approved_render.audio_sha256
    size = len(file_of(desk.script.approved_render))
    response = fetch(agent, sha, Range=f"bytes={size + 10}-")
    assert_error(response, 416, "http_416")
    assert response.headers["Content-Range"] == f"bytes */{size}"


def test_a_file_the_agent_holds_answers_304(desk, enrolled):
    agent = enrolled(desk.commune)
    sha = desk.script.approved_render.audio_sha256
    response = fetch(agent, sha, **{"If-None-Match": f'"{sha}"'})
    assert (response.status_code, response.body) == (304, b"")


def test_audio_outside_the_stations_plan_is_not_found(desk, enrolled, users, org):
    elsewhere, operator = foreign_script(users, org)
    schedule_on(users, elsewhere, [desk.foreign], time(17, 30), actor=operator)
    sha = elsewhere.approved_render.audio_sha256
    assert fetch(enrolled(desk.foreign), sha).status_code == 200
    body = assert_error(fetch(enrolled(desk.commune), sha), 404, "not_found")
    # The same answer as for a file that exists nowhere: nothing to probe.
    unknown = assert_error(fetch(enrolled(desk.city), "0" * 64), 404, "not_found")
    assert body["message"] == unknown["message"]


def test_unscheduled_approved_audio_is_not_found(desk, enrolled, users, org):
    unscheduled = approved_with_own_audio(users, org.district, "Chưa lập lịch", 880)
    assert_error(
        fetch(enrolled(desk.commune), unscheduled.approved_render.audio_sha256), 404, "not_found"
    )


def test_audio_the_station_aired_stays_reachable(desk, enrolled, users, clock):
    agent = enrolled(desk.commune)
    sha = desk.script.approved_render.audio_sha256
    clock.advance(days=30)  # past the schedule, past any plan window
    assert agent.get("/api/v1/agent/plan").get_json()["audio"] == []
    assert fetch(agent, sha).status_code == 200
    schedules.delete_schedule(users["operator"], desk.schedule)
    assert fetch(agent, sha).status_code == 200


def test_a_missing_file_is_not_found(desk, enrolled):
    render = desk.script.approved_render
    (current_app.config["AUDIO_DIR"] / render.audio_path).unlink()
    assert_error(fetch(enrolled(desk.commune), render.audio_sha256), 404, "not_found")


def test_malformed_names_and_parameters_are_refused(desk, enrolled):
    agent = enrolled(desk.commune)
    sha = desk.script.approved_render.audio_sha256
    for bad in (sha.upper(), sha[:-1], sha + "0", "../" + sha, "x" * 64):
        assert_error(fetch(agent, bad), 404, "http_404")
    assert_error(fetch(agent, sha + "?format=mp3"), 400, "unknown_fields", "format")
    db.session.expire_all()
