"""The library endpoints of /api/v1: adding an item by multipart upload, reading and searching
it, its audio, and every refusal as {error, message, fields} with nothing stored."""

from __future__ import annotations

import io

import pytest

from app.library import service
from app.library.models import LibraryKind
from tests.library.test_service import add, nothing_stored


def post(caller, path=None, *, data=None, **fields):
    """POST /api/v1/library with a file and fields as multipart."""
    form = {"title": "Nhạc hiệu buổi sáng", "kind": "jingle", **fields}
    if path is not None:
        form["file"] = (io.BytesIO(path.read_bytes()), path.name)
    if data is not None:
        form["file"] = data
    return caller.post("/api/v1/library", data=form, content_type="multipart/form-data")


def assert_error(response, status: int, code: str, field: str | None = None) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error", "message", "fields"}
    assert body["error"] == code and body["message"]
    if field:
        assert field in body["fields"], body
    return body


def test_an_upload_answers_201_with_the_mastered_measures(app, api, sounds):
    response = post(api("operator"), sounds["jingle_mp3"], licence_note="Tự sản xuất")
    body = response.get_json()
    assert response.status_code == 201, body
    assert body["kind"] == "jingle" and body["unit"] == "D" and body["duplicate"] is False
    audio = body["audio"]
    assert audio["integrated_lufs"] == pytest.approx(-16.0, abs=1.0)
    assert audio["true_peak_dbtp"] <= -0.9 and audio["format"] == "mp3"
    assert 1.3 <= audio["duration_s"] <= 1.8 and audio["trimmed"] is True
    assert body["original"]["name"] == "nhac-hieu.mp3"
    assert body["original"]["measures"]["codec"] == "mp3"
    assert body["created_by"] == "operator"
    with api("supervisor").get(audio["url"]) as played:
        assert played.status_code == 200 and played.mimetype == "audio/mpeg"
        assert played.data == (service.library_dir() / f"{audio['sha256']}.mp3").read_bytes()
    etag = {"If-None-Match": f'"{audio["sha256"]}"'}
    with api("writer").get(audio["url"], headers=etag) as unchanged:
        assert unchanged.status_code == 304
    again = post(api("writer"), sounds["jingle_mp3"], title="Lần hai")
    assert again.status_code == 200
    assert again.get_json()["id"] == body["id"] and again.get_json()["duplicate"] is True


def test_list_search_filters_and_pages(app, api, users, org, sounds):
    jingle = add(users["writer"], sounds["jingle"], title="Nhạc hiệu Đài Phú Thủy").item
    bed = add(users["writer"], sounds["bed"], title="Nền nhẹ", kind=LibraryKind.BED).item
    call = api("supervisor")
    found = call.get("/api/v1/library?q=phu%20thuy").get_json()
    assert [i["id"] for i in found["items"]] == [jingle.id] and found["total"] == 1
    assert [i["id"] for i in call.get("/api/v1/library?kind=bed").get_json()["items"]] == [bed.id]
    paged = call.get("/api/v1/library?per_page=1&page=2").get_json()
    assert (paged["total"], [i["id"] for i in paged["items"]]) == (2, [jingle.id])
    assert call.get("/api/v1/library?unit=d").get_json()["total"] == 2
    service.set_archived(users["writer"], bed, True)
    assert call.get("/api/v1/library").get_json()["total"] == 1
    assert call.get("/api/v1/library?include_archived=true").get_json()["total"] == 2
    one = call.get(f"/api/v1/library/{bed.id}").get_json()
    assert one["archived"] is True and one["audio"]["trimmed"] is False
    assert_error(call.get("/api/v1/library?kind=podcast"), 422, "validation_failed", "kind")
    missing = assert_error(call.get("/api/v1/library?unit=NOPE"), 422, "validation_failed", "unit")
    sibling = assert_error(
        api("writer").get("/api/v1/library?unit=D2"), 422, "validation_failed", "unit"
    )
    assert missing == sibling
    assert_error(call.get("/api/v1/library?colour=red"), 400, "unknown_fields", "colour")


@pytest.mark.parametrize(
    ("sound", "fields", "status", "code", "field"),
    [
        ("garbage", {}, 422, "not_audio", "file"),
        ("text_as_mp3", {}, 422, "not_audio", "file"),
        ("silent", {}, 422, "silent", "file"),
        ("long", {"kind": "programme"}, 422, "too_long", "file"),
        ("jingle", {"title": ""}, 422, "validation_failed", "title"),
        ("jingle", {"kind": "podcast"}, 422, "validation_failed", "kind"),
        ("jingle", {"unit": "D2"}, 422, "validation_failed", "unit"),
        ("jingle", {"unit": "NOPE"}, 422, "validation_failed", "unit"),
        ("jingle", {"colour": "red"}, 400, "unknown_fields", "colour"),
        (None, {}, 422, "validation_failed", "file"),
    ],
)
def test_refusals_name_the_field_and_store_nothing(
    app, api, sounds, sound, fields, status, code, field
):
    app.config["LIBRARY_MAX_SECONDS"] = 3
    response = post(api("writer"), sounds[sound] if sound else None, **fields)
    assert_error(response, status, code, field)
    assert nothing_stored()


def test_a_json_body_is_refused_with_how_to_send_the_file(app, api):
    response = api("writer").post("/api/v1/library", json={"title": "x", "kind": "jingle"})
    body = assert_error(response, 422, "validation_failed", "file")
    assert "multipart/form-data" in body["message"]
    assert nothing_stored()


def test_an_upload_over_the_servers_limit_is_413_in_json(app, api, sounds):
    app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    body = assert_error(post(api("writer"), sounds["jingle"]), 413, "file_too_large", "file")
    assert "tối đa 64 KB" in body["message"]
    assert nothing_stored()


def test_a_supervisor_may_not_add_and_other_branches_see_nothing(app, api, users, sounds):
    assert_error(post(api("supervisor"), sounds["jingle"]), 403, "forbidden")
    assert nothing_stored()
    item = add(users["writer"], sounds["jingle"]).item
    outsider = api("outsider")
    assert_error(outsider.get(f"/api/v1/library/{item.id}"), 404, "not_found")
    assert_error(outsider.get(f"/api/v1/library/{item.id}/audio"), 404, "not_found")
    assert outsider.get("/api/v1/library").get_json()["total"] == 0


def test_the_description_documents_the_upload_and_its_answers(app, api):
    doc = api("writer").get("/api/v1/openapi.json").get_json()
    create = doc["paths"]["/api/v1/library"]["post"]
    assert list(create["requestBody"]["content"]) == ["multipart/form-data"]
    multipart = create["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert multipart["required"] == ["file", "title", "kind"]
    assert {"201", "200", "403", "413", "422"} <= set(create["responses"])
    listing = doc["paths"]["/api/v1/library"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"q", "kind", "unit", "page"}
    assert "/api/v1/library/{item_id}/audio" in doc["paths"]
