"""GET /api/v1/programmes/<id>: the rundown with each item's start, the mix, the approved mix,
and the refusals in the API's {error, message, fields} shape."""

from __future__ import annotations

import pytest

from app.auth.service import create_token
from app.programmes import service
from app.scripts.service import approve_script, submit_script
from tests.programmes.conftest import entry, mix_now, tone_spot


def call(app, user, url: str):
    """GET url with a bearer token of the user."""
    _, token = create_token(user, "test")
    return app.test_client().get(url, headers={"Authorization": f"Bearer {token}"})


def assert_error(response, status: int, code: str) -> dict:
    """An error answer: its status and the {error, message, fields} shape."""
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error", "message", "fields"} and body["error"] == code
    assert body["message"]
    return body


def test_a_programme_answers_its_rundown_mix_and_approval(app, users, org, station, items):
    spot = tone_spot(users, org.district, title="Thông báo lịch tiêm chủng")
    script = service.create_programme(
        users["writer"],
        service.ProgrammeInput(
            title="Chương trình sáng",
            unit=org.district,
            items=[entry("library", items["jingle"], gap_ms=1000), entry("script", spot)],
            bed_item_id=items["bed"].id,
            duck_db=12,
            station_id=station.id,
            session_name="Buổi sáng",
        ),
    )
    body = call(app, users["supervisor"], f"/api/v1/programmes/{script.id}").get_json()
    assert body["id"] == script.id and body["status"] == "draft"
    programme = body["programme"]
    settings = service.version_settings(script.current_version_id)
    assert programme["rundown_sha256"] == settings.rundown_sha256
    assert (programme["station"], programme["session"]) == ("PT-CITY", "Buổi sáng")
    assert programme["session_length_s"] == 900.0
    assert programme["bed"] == {
        "library_item": items["bed"].id,
        "title": "Nhạc nền nhẹ",
        "sha256": items["bed"].audio_sha256,
    }
    assert programme["duck_db"] == 12.0
    jingle, item = programme["items"]
    assert (jingle["kind"], jingle["library_item"], jingle["gap_ms"]) == (
        "library",
        items["jingle"].id,
        1000,
    )
    assert (item["kind"], item["script"], item["render"]) == (
        "script",
        spot.id,
        spot.approved_render_id,
    )
    assert item["audio_sha256"] == spot.approved_render.audio_sha256
    assert item["start_s"] == pytest.approx(jingle["duration_s"] + 1.0, abs=0.001)
    assert body["mix"] is None and body["approved_mix"] is None

    mix = mix_now(users["writer"], script)
    submit_script(users["writer"], script)
    approve_script(users["supervisor"], script)
    body = call(app, users["writer"], f"/api/v1/programmes/{script.id}").get_json()
    assert body["status"] == "approved"
    assert body["mix"] == body["approved_mix"]
    assert body["mix"]["render"] == mix.id and body["mix"]["sha256"] == mix.audio_sha256
    assert body["mix"]["url"] == f"/api/v1/renders/{mix.id}/audio"
    assert [o["start_s"] for o in body["mix"]["items"]] == pytest.approx(
        [i["start_s"] for i in programme["items"]], abs=0.002
    )
    assert body["mix"]["duration_s"] == pytest.approx(settings.total_s, abs=0.015)


def test_refusals_are_json_errors(app, users, org, items):
    script = service.create_programme(
        users["writer"],
        service.ProgrammeInput(
            title="Chương trình", unit=org.district, items=[entry("library", items["jingle"])]
        ),
    )
    spot = tone_spot(users, org.district)
    assert_error(call(app, users["outsider"], f"/api/v1/programmes/{script.id}"), 404, "not_found")
    assert_error(call(app, users["writer"], f"/api/v1/programmes/{spot.id}"), 404, "not_found")
    assert_error(call(app, users["writer"], "/api/v1/programmes/999999"), 404, "not_found")
    body = assert_error(
        call(app, users["writer"], f"/api/v1/programmes/{script.id}?x=1"), 400, "unknown_fields"
    )
    assert "x" in body["fields"]
    response = app.test_client().get(f"/api/v1/programmes/{script.id}")
    assert_error(response, 401, "unauthorized")
    # The OpenAPI description lists the endpoint.
    document = call(app, users["writer"], "/api/v1/openapi.json").get_json()
    assert "get" in document["paths"]["/api/v1/programmes/{script_id}"]
