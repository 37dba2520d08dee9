"""Recorded spots through the service: who may add one, what is stored, and the path to air:
submit, approve (bound to the mastered recording's sha256), schedule, air, log."""

from __future__ import annotations

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
from tests.factories import make_script, make_station
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
