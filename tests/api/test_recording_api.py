"""POST /api/v1/scripts/<id>/recording: a recording taken in over the API, answered with the
mastered file's measures; every refusal as {error, message, fields} with nothing stored."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.speech.models import Render
from app.speech.pipeline import sha256_file
from app.speech.service import audio_dir
from tests.api.conftest import assert_error
from tests.factories import make_script
from tests.speech import samples


@pytest.fixture(scope="module")
def voice(tmp_path_factory) -> bytes:
    """A phone recording (M4A: a tone in hiss), made once."""
    return samples.voice_in_hiss(tmp_path_factory.mktemp("api") / "voice.m4a").read_bytes()


@pytest.fixture
def script(users, org):
    """A draft of the writer's district."""
    return make_script(users["writer"], org.district)


def url(script) -> str:
    """The recording endpoint of a script."""
    return f"/api/v1/scripts/{script.id}/recording"


def upload(data: bytes, name: str = "ghi-am.m4a", **extra) -> dict:
    """A multipart body with the file under "file"."""
    return {"file": (io.BytesIO(data), name), **extra}


def nothing_stored() -> bool:
    """No render row and no file under AUDIO_DIR."""
    root = audio_dir()
    files = [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
    return db.session.scalar(select(func.count()).select_from(Render)) == 0 and not files


def test_a_recording_is_answered_201_with_its_measures(api, script, voice):
    response = api("writer").post(url(script), data=upload(voice))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    render = db.session.get(Render, body["id"])
    assert body["status"] == "done" and body["engine"] == "recording"
    assert body["script"] == script.id
    assert body["url"] == f"/api/v1/renders/{render.id}"
    assert body["audio_url"] == f"/api/v1/renders/{render.id}/audio"
    assert body["duration_s"] == pytest.approx(2.3, abs=0.1)
    assert abs(body["integrated_lufs"] + 16) <= 1.0
    assert body["true_peak_dbtp"] <= -1.0
    assert body["sha256"] == sha256_file(audio_dir() / render.audio_path)
    assert body["format"] == "mp3"
    assert body["warnings"] == []
    facts = body["recording"]
    assert facts["original_name"] == "ghi-am.m4a" and facts["codec"] == "aac"
    assert facts["trimmed_lead_s"] == pytest.approx(0.7, abs=0.06)
    assert facts["source"] == "upload"
    # GET gives the same answer.
    again = api("writer").get(body["url"]).get_json()
    assert again == body
    audio = api("writer").get(body["audio_url"])
    assert audio.status_code == 200 and audio.mimetype == "audio/mpeg"
    audio.close()


def test_a_clipped_recording_answers_with_its_warning(api, script, tmp_path):
    clipped = samples.clipped_square(tmp_path / "clipped.wav").read_bytes()
    response = api("writer").post(url(script), data=upload(clipped, "clipped.wav"))
    assert response.status_code == 201
    [warning] = response.get_json()["warnings"]
    assert warning["code"] == "recording"
    assert warning["message"].startswith("Bản ghi bị méo (clipping): ")


def test_a_text_file_named_mp3_is_refused_422(api, script):
    response = api("writer").post(url(script), data=upload(b"not audio at all", "tin.mp3"))
    body = assert_error(response, 422, "not_audio", "file")
    assert body["message"].startswith("Tệp “tin.mp3” không phải tệp âm thanh đọc được.")
    assert nothing_stored()


def test_a_silent_recording_is_refused_422(api, script, tmp_path):
    silent = samples.silence(tmp_path / "s.wav").read_bytes()
    body = assert_error(
        api("writer").post(url(script), data=upload(silent, "s.wav")), 422, "silent"
    )
    assert "dBFS" in body["message"]
    assert nothing_stored()


def test_a_recording_over_the_length_limit_is_refused_422(app, api, script, voice):
    app.config["RECORDING_MAX_SECONDS"] = 2
    body = assert_error(api("writer").post(url(script), data=upload(voice)), 422, "too_long")
    assert "quá giới hạn 2,0 giây" in body["message"]
    assert nothing_stored()


def test_a_recording_over_the_size_limit_is_refused_413_with_a_message(app, api, script):
    # Kept under 500 KB, where the test client would spool the body to a temporary file.
    app.config["RECORDING_MAX_MB"] = 0.25
    big = bytes(400 * 1024)
    response = api("writer").post(url(script), data=upload(big, "big.wav"))
    body = assert_error(response, 413, "file_too_large", "file")
    assert body["message"].startswith("Tệp ghi âm quá lớn (400 KB): tối đa 256 KB.")
    assert nothing_stored()
    # Just over the file limit but within the request's: refused while it is copied.
    response = api("writer").post(url(script), data=upload(bytes(260 * 1024), "big.wav"))
    body = assert_error(response, 413, "file_too_large", "file")
    assert body["message"].startswith("Tệp ghi âm quá lớn: tối đa 256 KB. Không có gì được lưu")
    assert nothing_stored()


def test_a_recording_larger_than_the_app_wide_limit_is_still_taken(app, api, script, voice):
    # The app-wide request limit is the dispatch desk's; recordings have their own.
    app.config["MAX_CONTENT_LENGTH"] = len(voice) // 2
    response = api("writer").post(url(script), data=upload(voice))
    assert response.status_code == 201, response.get_json()


def test_a_form_without_a_file_is_refused_422(api, script):
    body = assert_error(api("writer").post(url(script), data={}), 422, "validation_failed")
    assert body["fields"]["file"] == "Gửi tệp dạng multipart/form-data, trường “file”."


def test_json_instead_of_a_file_is_refused_422(api, script):
    response = api("writer").post(url(script), json={"file": "abc"})
    assert_error(response, 422, "validation_failed", "file")


def test_an_unknown_field_is_refused_400(api, script, voice):
    response = api("writer").post(url(script), data=upload(voice, engine="espeak"))
    assert_error(response, 400, "unknown_fields", "engine")
    assert nothing_stored()


def test_an_operator_is_refused_403(api, script, voice):
    assert_error(api("operator").post(url(script), data=upload(voice)), 403, "forbidden")
    assert nothing_stored()


def test_a_script_of_another_unit_is_not_found_404(api, script, voice):
    assert_error(api("outsider").post(url(script), data=upload(voice)), 404, "not_found")
    assert nothing_stored()


def test_a_submitted_script_is_refused_422(api, script, voice, users):
    from tests.factories import submit

    submit(users["writer"], script)
    response = api("writer").post(url(script), data=upload(voice))
    body = assert_error(response, 422, "validation_failed")
    assert "đang chờ duyệt" in body["message"]


def test_submit_and_approve_over_the_api_bind_the_recording(api, script, voice):
    render = api("writer").post(url(script), data=upload(voice)).get_json()
    submitted = api("writer").post(f"/api/v1/scripts/{script.id}/submit")
    assert submitted.status_code == 200, submitted.get_json()
    assert submitted.get_json()["submitted_render"] == render["id"]
    approved = api("supervisor").post(f"/api/v1/scripts/{script.id}/approve", json={})
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["approved_render"] == render["id"]


def test_the_route_is_described_as_a_multipart_upload(api):
    doc = api("writer").get("/api/v1/openapi.json").get_json()
    post = doc["paths"]["/api/v1/scripts/{script_id}/recording"]["post"]
    schema = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert schema["required"] == ["file"]
    assert {"201", "413", "422"} <= set(post["responses"])
