"""The speech API: normalise text, queue and follow renders, download audio, submit with audio."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.scripts.models import ScriptReview, ScriptStatus
from app.speech import service
from app.speech.models import Render, RenderStatus
from tests.api.conftest import assert_error
from tests.factories import make_render, make_script

TEXT = "Họp ban XYZQ lúc 7h30 tại UBND phường."
SHORT = "Thưa bà con, họp lúc 7h30."
SPAN_KEYS = {
    "start",
    "end",
    "spoken_start",
    "spoken_end",
    "original",
    "spoken",
    "rule",
    "rule_label",
}


def _renders() -> int:
    """Rows in the render table."""
    return db.session.scalar(select(func.count()).select_from(Render))


# --- Normalise ------------------------------------------------------------------------------


def test_normalize_returns_spoken_text_spans_and_warnings(api):
    response = api("writer").post("/api/v1/speech/normalize", json={"text": TEXT})
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"spoken", "spans", "warnings"}
    assert body["spoken"] == (
        "Họp ban ích i dài dét qui lúc bảy giờ ba mươi phút tại Ủy ban nhân dân phường."
    )
    assert all(set(span) == SPAN_KEYS for span in body["spans"])
    time = next(s for s in body["spans"] if s["rule"] == "time")
    assert time == {
        "start": 17,
        "end": 21,
        "spoken_start": 30,
        "spoken_end": 50,
        "original": "7h30",
        "spoken": "bảy giờ ba mươi phút",
        "rule": "time",
        "rule_label": "Giờ",
    }
    for span in body["spans"]:
        assert TEXT[span["start"] : span["end"]] == span["original"]
        assert body["spoken"][span["spoken_start"] : span["spoken_end"]] == span["spoken"]
    [warning] = body["warnings"]
    assert set(warning) == {"start", "end", "token", "code", "message"}
    assert (warning["token"], warning["start"], warning["end"]) == ("XYZQ", 8, 12)
    assert "XYZQ" in warning["message"]


def test_normalize_reads_with_the_named_units_lexicon(api, users, org):
    service.create_lexicon_entry(
        users["supervisor2"], service.LexiconInput("XYZQ", "xây dựng quê", unit=org.commune)
    )
    writer = api("writer")
    own = writer.post("/api/v1/speech/normalize", json={"text": "Ban XYZQ."}).get_json()
    commune = writer.post(
        "/api/v1/speech/normalize", json={"text": "Ban XYZQ.", "unit": "C"}
    ).get_json()
    assert "xây dựng quê" not in own["spoken"]
    assert commune["spoken"] == "Ban xây dựng quê."
    assert commune["warnings"] == []


@pytest.mark.parametrize("payload", [{}, {"text": 42}, {"text": None}, ["Thưa bà con"]])
def test_normalize_without_text_is_refused(api, payload):
    assert_error(
        api("writer").post("/api/v1/speech/normalize", json=payload),
        422,
        "validation_failed",
        "text" if isinstance(payload, dict) else None,
    )


@pytest.mark.parametrize("unit", ["KHONG-CO", "D2"])
def test_normalize_for_an_unknown_or_outside_unit_is_refused(api, unit):
    body = assert_error(
        api("writer").post("/api/v1/speech/normalize", json={"text": TEXT, "unit": unit}),
        422,
        "validation_failed",
        "unit",
    )
    assert "Đơn vị" in body["message"]


def test_normalize_without_a_token_is_unauthorised(client, users):
    assert_error(client.post("/api/v1/speech/normalize", json={"text": TEXT}), 401, "unauthorized")


# --- Renders --------------------------------------------------------------------------------


def test_render_is_queued_then_done_with_measurements_and_downloadable_audio(api, users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    writer = api("writer")
    started = writer.post(
        f"/api/v1/scripts/{script.id}/renders", json={"settings": {"chime": False}}
    )
    assert started.status_code == 202
    queued = started.get_json()
    assert (queued["status"], queued["progress"], queued["cached"]) == ("queued", 0.0, False)
    assert queued["url"] == f"/api/v1/renders/{queued['id']}"
    assert queued["script"] == script.id
    assert queued["audio_url"] is None
    polled = writer.get(queued["url"]).get_json()
    assert (polled["status"], polled["status_label"], polled["progress"]) == (
        "queued",
        "Đang chờ",
        0.0,
    )

    service.process_next_render()
    done = writer.get(queued["url"]).get_json()
    assert done["status"] == "done", done["error"]
    assert done["progress"] == 1.0
    assert (done["engine"], done["voice"], done["format"]) == ("espeak", "vi", "mp3")
    assert done["duration_s"] > 1.0
    assert abs(done["integrated_lufs"] - -16.0) <= 1.0
    assert done["true_peak_dbtp"] <= -1.0
    assert len(done["sha256"]) == 64
    assert done["audio_url"] == f"/api/v1/renders/{queued['id']}/audio"

    with writer.get(done["audio_url"]) as audio:
        assert (audio.status_code, audio.mimetype) == (200, "audio/mpeg")
        assert hashlib.sha256(audio.get_data()).hexdigest() == done["sha256"]


def test_identical_render_request_is_answered_from_the_cache(api, users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    writer = api("writer")
    payload = {"voice": "vi-vn-x-south", "speed": 90, "settings": {"chime": False}}
    first = writer.post(f"/api/v1/scripts/{script.id}/renders", json=payload).get_json()
    service.process_next_render()
    again = writer.post(f"/api/v1/scripts/{script.id}/renders", json=payload)
    assert again.status_code == 200
    cached = again.get_json()
    assert cached["id"] != first["id"]
    assert (cached["status"], cached["cached"]) == ("done", True)
    assert cached["sha256"] == writer.get(first["url"]).get_json()["sha256"]
    assert _renders() == 2
    assert service.claim_next_render() is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"engine": "festival"}, "engine"),
        ({"engine": 7}, "engine"),
        ({"voice": "en-us"}, "voice"),
        ({"speed": 10}, "speed"),
        ({"speed": "fast"}, "speed"),
        ({"speed": True}, "speed"),
        ({"settings": {"repeats": 9}}, "settings"),
        ({"settings": "loud"}, "settings"),
        ({"station": "KHONG-CO"}, "station"),
    ],
)
def test_bad_render_request_is_refused_with_the_field(api, users, org, payload, field):
    script = make_script(users["writer"], org.district, body=SHORT)
    assert_error(
        api("writer").post(f"/api/v1/scripts/{script.id}/renders", json=payload),
        422,
        "validation_failed",
        field,
    )
    assert _renders() == 0


def test_allow_fallback_that_is_not_a_boolean_is_refused(api, users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    assert_error(
        api("writer").post(
            f"/api/v1/scripts/{script.id}/renders", json={"allow_fallback": "false"}
        ),
        422,
        "validation_failed",
        "allow_fallback",
    )
    assert _renders() == 0


def test_operator_cannot_start_a_render(api, users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    assert_error(
        api("operator").post(f"/api/v1/scripts/{script.id}/renders", json={}), 403, "forbidden"
    )
    assert _renders() == 0


def test_outsider_cannot_render_or_see_a_render(api, users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    render = make_render(script)
    outsider = api("outsider")
    assert_error(outsider.post(f"/api/v1/scripts/{script.id}/renders", json={}), 404, "not_found")
    assert_error(outsider.get(f"/api/v1/renders/{render.id}"), 404, "not_found")
    assert_error(outsider.get(f"/api/v1/renders/{render.id}/audio"), 404, "not_found")
    assert _renders() == 1


def test_render_without_a_token_is_unauthorised(client, users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    assert_error(client.post(f"/api/v1/scripts/{script.id}/renders"), 401, "unauthorized")
    assert _renders() == 0


def test_audio_of_an_unfinished_render_is_a_conflict(api, users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    writer = api("writer")
    queued = writer.post(f"/api/v1/scripts/{script.id}/renders").get_json()
    assert_error(writer.get(f"/api/v1/renders/{queued['id']}/audio"), 409, "conflict")
    assert db.session.get(Render, queued["id"]).status == RenderStatus.QUEUED


# --- Submitting and approving with audio -----------------------------------------------------


def test_submit_through_the_api_needs_a_render(api, users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    assert_error(
        api("writer").post(f"/api/v1/scripts/{script.id}/submit"),
        422,
        "validation_failed",
        "render",
    )
    db.session.refresh(script)
    assert script.status == ScriptStatus.DRAFT
    assert script.submitted_render_id is None


def test_approve_through_the_api_records_the_audio_sha256(api, users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    render = make_render(script)
    submitted = api("writer").post(f"/api/v1/scripts/{script.id}/submit").get_json()
    assert (submitted["status"], submitted["submitted_render"]) == ("submitted", render.id)
    approved = api("supervisor").post(f"/api/v1/scripts/{script.id}/approve").get_json()
    assert (approved["status"], approved["approved_render"]) == ("approved", render.id)
    [review] = approved["reviews"]
    assert review["render"] == render.id
    assert review["audio_sha256"] == render.audio_sha256
    assert review["spoken_sha256"] == render.spoken_sha256
    stored = db.session.scalar(select(ScriptReview))
    assert stored.audio_sha256 == render.audio_sha256
