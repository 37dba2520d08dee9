"""Recorded spots through the service: who may add one, what is stored, and the path to air:
submit, approve (bound to the mastered recording's sha256), schedule, air, log."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.broadcast.models import BroadcastLog, LogStatus
from app.core.errors import NotFound, PermissionDenied, ValidationError
from app.extensions import db
from app.playout import runner
from app.playout.outputs import get_output
from app.schedules import service as schedules
from app.schedules.models import Airing
from app.scripts.models import ScriptReview, ScriptStatus
from app.scripts.service import approve_script, submit_script
from app.speech import recording
from app.speech.models import Render
from app.speech.pipeline import sha256_file, sha256_text
from app.speech.recording import RecordingRefused, add_recording
from app.speech.service import audio_dir, remove_orphan_audio
from tests.factories import PASSWORD, make_script, make_station
from tests.schedules.test_service import START, times_rule, with_sessions
from tests.speech import samples


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Recordings made once for the module."""
    folder = tmp_path_factory.mktemp("rec")
    text = folder / "not-audio.mp3"
    text.write_text("Thưa bà con, đây là văn bản.", encoding="utf-8")
    return {
        "m4a": samples.voice_in_hiss(folder / "voice.m4a"),
        "amr": samples.voice_in_hiss(folder / "voice.amr", rate=8000),
        "clipped": samples.clipped_square(folder / "clipped.wav"),
        "silent": samples.silence(folder / "silent.wav"),
        "long": samples.long_tone(folder / "long.m4a", seconds=4),
        "text": text,
    }


@pytest.fixture
def script(users, org):
    """A draft written by the writer, with a station whose loudness target is -18 LUFS."""
    station = make_station(org.district, "PT-CITY")
    station.target_lufs = -18.0
    db.session.commit()
    return make_script(users["writer"], org.district, valid_until=date(2026, 12, 31))


def stored() -> tuple[int, list[Path]]:
    """Render rows and every file under AUDIO_DIR (hidden temporary files included)."""
    root = audio_dir()
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return db.session.scalar(select(func.count()).select_from(Render)), files


def test_a_recording_becomes_a_finished_render_of_the_current_version(script, users, made):
    render = add_recording(users["writer"], script, made["m4a"])
    assert render.engine == render.engine_requested == "recording"
    assert render.status.value == "done" and render.progress == 1.0
    assert (render.script_id, render.version_id) == (script.id, script.current_version_id)
    assert render.station.code == "PT-CITY"
    assert render.voice == "" and render.requested_by_id == users["writer"].id
    assert render.spoken_text == script.current_version.body
    assert render.spoken_sha256 == sha256_text(script.current_version.body)
    # Mastered with the station's own target, to the ceiling, trimmed of its hiss.
    assert abs(render.integrated_lufs - (-18.0)) <= 1.0
    assert render.true_peak_dbtp <= -1.0
    assert render.duration_s == pytest.approx(1.5 + 0.3 + 0.5, abs=0.1)
    assert (render.audio_format, render.sample_rate, render.bitrate_kbps) == ("mp3", 44100, 128)
    path = audio_dir() / render.audio_path
    assert sha256_file(path) == render.audio_sha256
    facts = render.settings["recording"]
    assert facts["original_sha256"] == sha256_file(made["m4a"])
    assert facts["original_name"] == "voice.m4a"
    assert facts["original_size"] == made["m4a"].stat().st_size
    assert (facts["codec"], facts["sample_rate"], facts["channels"]) == ("aac", 16000, 1)
    assert facts["original_duration_s"] == pytest.approx(3.5, abs=0.1)
    assert facts["original_lufs"] < -20 and facts["original_true_peak_dbtp"] < -10
    assert facts["trimmed_lead_s"] == pytest.approx(0.7, abs=0.06)
    assert facts["trimmed_tail_s"] == pytest.approx(0.5, abs=0.08)
    assert facts["source"] == "upload"
    assert render.settings["target_lufs"] == -18.0 and render.settings["chime"] is False
    original = audio_dir() / facts["original_path"]
    assert facts["original_path"].startswith("recordings/originals/")
    assert sha256_file(original) == facts["original_sha256"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "script.recording"))
    assert (event.object_type, event.object_id) == ("script", script.id)
    assert event.details["render"] == render.id
    assert event.details["audio_sha256"] == render.audio_sha256
    assert event.actor_id == users["writer"].id


def test_a_file_storage_upload_is_taken_like_a_path(script, users, made):
    from werkzeug.datastructures import FileStorage

    with made["amr"].open("rb") as fh:
        upload = FileStorage(stream=fh, filename="ghi âm.amr")
        render = add_recording(users["writer"], script, upload, source="browser")
    facts = render.settings["recording"]
    assert (facts["codec"], facts["sample_rate"], facts["source"]) == ("amr_nb", 8000, "browser")
    assert facts["original_name"] == "ghi âm.amr"
    assert facts["original_path"].endswith(".amr")


def test_a_clipped_recording_is_kept_with_its_warning(script, users, made):
    render = add_recording(users["writer"], script, made["clipped"])
    [warning] = render.warnings
    assert warning["code"] == "recording"
    assert warning["message"].startswith("Bản ghi bị méo (clipping): ")
    assert "dBFS" in warning["message"]


@pytest.mark.parametrize(
    ("sample", "code", "status", "start"),
    [
        ("text", "not_audio", 422, "Tệp “not-audio.mp3” không phải tệp âm thanh đọc được."),
        ("silent", "silent", 422, "Tệp “silent.wav” không có tiếng"),
        ("long", "too_long", 422, "Tệp “long.m4a” dài 4,0 giây, quá giới hạn 3,0 giây"),
    ],
)
def test_a_bad_recording_is_refused_and_nothing_is_stored(
    app, script, users, made, sample, code, status, start
):
    app.config["RECORDING_MAX_SECONDS"] = 3
    before = stored()
    with pytest.raises(RecordingRefused) as raised:
        add_recording(users["writer"], script, made[sample])
    assert (raised.value.code, raised.value.status) == (code, status)
    assert raised.value.message.startswith(start)
    assert raised.value.message.endswith("Không có gì được lưu.")
    assert raised.value.fields == {"file": raised.value.message}
    db.session.rollback()
    assert stored() == before
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "script.recording")
        )
        == 0
    )


def test_a_recording_over_the_size_limit_is_refused_while_it_is_received(app, script, users, made):
    app.config["RECORDING_MAX_MB"] = 0.01  # 10 KiB; the M4A is about 30 KiB
    before = stored()
    with pytest.raises(RecordingRefused) as raised:
        add_recording(users["writer"], script, made["m4a"])
    assert (raised.value.code, raised.value.status) == ("file_too_large", 413)
    assert raised.value.message.startswith("Tệp ghi âm quá lớn: tối đa 10 KB. Không có gì")
    assert stored() == before


def test_an_empty_upload_is_refused(script, users, tmp_path):
    empty = tmp_path / "empty.m4a"
    empty.write_bytes(b"")
    with pytest.raises(RecordingRefused) as raised:
        add_recording(users["writer"], script, empty)
    assert raised.value.code == "empty_file"
    assert stored()[0] == 0


def test_a_failure_after_mastering_leaves_no_file_and_no_row(script, users, made, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(recording, "record_event", broken)
    before = stored()
    with pytest.raises(RuntimeError):
        add_recording(users["writer"], script, made["m4a"])
    assert stored() == before


def test_an_operator_may_not_add_a_recording(script, users, made):
    with pytest.raises(PermissionDenied):
        add_recording(users["operator"], script, made["m4a"])
    assert stored() == (0, [])


def test_a_writer_of_another_unit_may_not_add_a_recording(script, users, made):
    with pytest.raises(NotFound):
        add_recording(users["outsider"], script, made["m4a"])
    assert stored() == (0, [])


def test_a_submitted_script_takes_no_recording(script, users, made):
    add_recording(users["writer"], script, made["m4a"])
    submit_script(users["writer"], script)
    before = stored()
    with pytest.raises(ValidationError, match="đang chờ duyệt"):
        add_recording(users["writer"], script, made["amr"])
    assert stored() == before


def test_an_archived_script_takes_no_recording(script, users, made):
    from app.scripts.service import archive_script

    archive_script(users["supervisor"], script)
    with pytest.raises(ValidationError, match="đã lưu trữ"):
        add_recording(users["writer"], script, made["m4a"])


def test_a_new_recording_sends_an_approved_script_back_to_draft(script, users, made):
    add_recording(users["writer"], script, made["m4a"])
    submit_script(users["writer"], script)
    approve_script(users["supervisor"], script)
    assert script.status == ScriptStatus.APPROVED
    add_recording(users["writer"], script, made["amr"])
    assert script.status == ScriptStatus.DRAFT
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "script.reopen"))


def test_the_same_file_again_reuses_the_mastered_audio(script, users, made):
    first = add_recording(users["writer"], script, made["m4a"])
    again = add_recording(users["writer"], script, made["m4a"])
    assert again.id != first.id and again.cached
    assert (again.audio_path, again.audio_sha256) == (first.audio_path, first.audio_sha256)
    assert (
        again.settings["recording"]["trimmed_lead_s"]
        == first.settings["recording"]["trimmed_lead_s"]
    )


def test_the_uploader_may_not_approve_their_own_recording(script, users, made):
    add_recording(users["supervisor2"], script, made["m4a"])
    submit_script(users["writer"], script)
    with pytest.raises(PermissionDenied):
        approve_script(users["supervisor2"], script)
    assert script.status == ScriptStatus.SUBMITTED


def test_a_recording_of_an_older_version_cannot_be_submitted(script, users, made):
    from tests.scripts.test_workflow import _edit

    add_recording(users["writer"], script, made["m4a"])
    _edit(script, users["writer"], body="Nội dung mới, cần ghi âm lại.")
    with pytest.raises(ValidationError, match="Chưa có âm thanh hoàn tất"):
        submit_script(users["writer"], script)


def test_the_lexicon_changing_does_not_make_a_recording_stale(script, users, made):
    from app.speech.service import LexiconInput, create_lexicon_entry

    render = add_recording(users["writer"], script, made["m4a"])
    create_lexicon_entry(
        users["supervisor2"], LexiconInput("BCĐ", "ban chỉ đạo phòng chống", unit=script.unit)
    )
    submit_script(users["writer"], script)
    assert script.submitted_render_id == render.id


def test_the_orphan_sweep_keeps_the_original_and_the_mastered_file(script, users, made):
    render = add_recording(users["writer"], script, made["m4a"])
    assert remove_orphan_audio() == []
    assert (audio_dir() / render.audio_path).is_file()
    assert (audio_dir() / render.settings["recording"]["original_path"]).is_file()


def test_approved_recording_is_bound_scheduled_and_aired_with_its_sha256(
    script, users, org, made, clock
):
    render = add_recording(users["writer"], script, made["amr"])
    submit_script(users["writer"], script)
    approve_script(users["supervisor"], script)
    review = db.session.scalar(select(ScriptReview).where(ScriptReview.script_id == script.id))
    assert review.render_id == render.id
    assert (
        review.audio_sha256 == render.audio_sha256 == sha256_file(audio_dir() / render.audio_path)
    )
    assert script.approved_render_id == render.id

    station = with_sessions(make_station(org.commune, "PT-PHUTHUY"))
    schedules.create_schedule(
        users["operator"],
        schedules.ScheduleInput(
            script=script, recurrence=times_rule(time(5, 45), end=START), stations=[station]
        ),
    )
    airing = db.session.scalar(select(Airing))
    assert airing.render_id == render.id
    clock.current = airing.sequenced_at
    row = runner.air(
        airing.id, output=get_output("simulate", {}, clock=clock), clock=clock, host="a"
    )
    assert row.status == LogStatus.AIRED
    assert (row.render_id, row.audio_sha256) == (render.id, render.audio_sha256)
    assert row.duration_s == pytest.approx(render.duration_s, abs=0.01)
    assert db.session.scalar(select(func.count()).select_from(BroadcastLog)) == 1


# --- The script page and the review page ----------------------------------------------------


def _post(client, script, data: bytes, name: str = "ghi-am.m4a", json: bool = False):
    """Send the recording form of the script page (CSRF is off in tests but for one)."""
    import io

    headers = {"Accept": "application/json"} if json else {}
    return client.post(
        f"/scripts/{script.id}/recording",
        data={"file": (io.BytesIO(data), name), "source": "browser" if json else "upload"},
        headers=headers,
    )


def test_the_script_page_uploads_a_recording_and_shows_its_measures(login_as, script, made, users):
    client = login_as("writer")
    response = _post(client, script, made["m4a"].read_bytes())
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/scripts/{script.id}#recording")
    page = client.get(f"/scripts/{script.id}").get_data(as_text=True)
    assert "Đã nhận bản ghi âm: 2,3 giây sau khi cắt khoảng lặng" in page
    render = db.session.scalar(select(Render))
    box = page[page.index('id="recording"') :]
    assert f"/renders/{render.id}/audio" in box
    assert f"Bản ghi âm do {users['writer'].full_name} tải lên" in box
    assert "“ghi-am.m4a” · aac 16000 Hz mono · 3,5 giây" in box
    assert re.search(r"đầu 0,(6[5-9]|7[0-5]) giây, cuối 0,(4[5-9]|5[0-5]) giây", box)
    assert "khi gửi duyệt, người duyệt nghe bản này" in box
    # The speech panel does not call a recording stale (its spoken text is the written body).
    assert "stale-audio" not in page
    assert 'src="/static/js/recording.js"' in page


def test_the_browser_recorder_gets_json_answers(login_as, script, made):
    client = login_as("writer")
    ok = _post(client, script, made["m4a"].read_bytes(), "ghi.webm", json=True)
    assert ok.status_code == 201
    assert ok.get_json()["url"].endswith("#recording")
    assert db.session.get(Render, ok.get_json()["id"]).settings["recording"]["source"] == (
        "browser"
    )
    bad = _post(client, script, made["silent"].read_bytes(), "s.webm", json=True)
    assert bad.status_code == 422
    assert bad.get_json()["error"] == "silent"
    assert bad.get_json()["message"].startswith("Tệp “s.webm” không có tiếng")


def test_a_bad_upload_on_the_page_is_flashed_and_nothing_is_stored(login_as, script, made):
    client = login_as("writer")
    before = stored()
    response = _post(client, script, made["text"].read_bytes(), "tin.mp3")
    assert response.status_code == 302
    page = client.get(f"/scripts/{script.id}").get_data(as_text=True)
    assert "Tệp “tin.mp3” không phải tệp âm thanh đọc được." in page
    assert stored() == before


def test_an_upload_over_the_page_limit_is_a_message_not_an_error(app, login_as, script):
    app.config["RECORDING_MAX_MB"] = 0.25
    client = login_as("writer")
    response = _post(client, script, bytes(400 * 1024), "big.wav")
    assert response.status_code == 302
    page = client.get(f"/scripts/{script.id}").get_data(as_text=True)
    assert "Tệp ghi âm quá lớn (400 KB): tối đa 256 KB." in page
    assert stored() == (0, [])


def test_the_page_route_takes_more_than_the_app_wide_request_limit(app, login_as, script, made):
    data = made["m4a"].read_bytes()
    app.config["MAX_CONTENT_LENGTH"] = len(data) // 2
    response = _post(login_as("writer"), script, data)
    assert response.status_code == 302
    assert stored()[0] == 1


def test_an_empty_form_asks_for_a_file(login_as, script):
    client = login_as("writer")
    response = client.post(f"/scripts/{script.id}/recording", data={})
    assert response.status_code == 302
    assert "Hãy chọn một tệp ghi âm" in client.get(f"/scripts/{script.id}").get_data(as_text=True)


def test_an_operator_gets_no_recording_box_and_is_refused(login_as, script, made):
    client = login_as("operator")
    page = client.get(f"/scripts/{script.id}").get_data(as_text=True)
    assert "recording-upload" not in page
    assert _post(client, script, made["m4a"].read_bytes()).status_code == 403
    assert stored() == (0, [])


def test_the_page_route_checks_the_csrf_token(tmp_path, clock, made):
    import io

    from tests.conftest import build_test_app
    from tests.factories import make_unit, make_user

    (tmp_path / "csrf").mkdir()
    csrf_app = build_test_app(tmp_path / "csrf", clock, WTF_CSRF_ENABLED=True)
    with csrf_app.app_context():
        unit = make_unit("D", "Phan Thiết")
        writer = make_user(unit, username="w1")
        draft = make_script(writer, unit)
        client = csrf_app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', page).group(1)
        client.post("/login", data={"username": "w1", "password": PASSWORD, "csrf_token": token})
        data = made["m4a"].read_bytes()
        forged = client.post(
            f"/scripts/{draft.id}/recording",
            data={"file": (io.BytesIO(data), "a.m4a"), "csrf_token": "forged"},
        )
        assert forged.status_code == 302
        assert db.session.scalar(select(func.count()).select_from(Render)) == 0
        page = client.get(f"/scripts/{draft.id}").get_data(as_text=True)
        assert "mã chống giả mạo CSRF sai" in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        good = client.post(
            f"/scripts/{draft.id}/recording",
            data={"file": (io.BytesIO(data), "a.m4a"), "csrf_token": token},
        )
        assert good.status_code == 302
        assert db.session.scalar(select(func.count()).select_from(Render)) == 1
        db.session.remove()
        db.engine.dispose()


def test_the_review_page_plays_the_recording_with_its_measures_and_warnings(
    login_as, script, made, users
):
    render = add_recording(users["writer"], script, made["clipped"])
    submit_script(users["writer"], script)
    page = login_as("supervisor").get(f"/scripts/{script.id}/review").get_data(as_text=True)
    assert f'src="/renders/{render.id}/audio"' in page
    assert f"Bản ghi âm do {users['writer'].full_name} tải lên" in page
    assert "bộ đọc recording" not in page
    assert "Cảnh báo về bản ghi âm (1):" in page
    assert "Bản ghi bị méo (clipping): " in page
    assert "Nội dung người đọc được giao (phiên bản 1)" in page
    assert "Đã cắt khoảng lặng" in page
    assert f"bản âm thanh #{render.id}" in page


def test_the_review_page_tells_the_uploader_they_may_not_approve(login_as, script, made, users):
    add_recording(users["supervisor2"], script, made["m4a"])
    submit_script(users["writer"], script)
    client = login_as("supervisor2")
    page = client.get(f"/scripts/{script.id}/review").get_data(as_text=True)
    assert "Bạn đã tải bản ghi âm này lên nên không thể tự duyệt" in page
    client.post(f"/scripts/{script.id}/approve", data={"version_id": script.current_version_id})
    assert script.status == ScriptStatus.SUBMITTED
