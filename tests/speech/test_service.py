"""Speech rules: lexicon scopes, spoken overrides, render jobs, cache, approval bound to audio."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.core.errors import Conflict, PermissionDenied, ValidationError
from app.extensions import db
from app.scripts import service as scripts_service
from app.scripts.models import ScriptReview, ScriptStatus
from app.speech import service
from app.speech.audio import measure
from app.speech.models import LexiconEntry, Render, RenderStatus, SpokenOverride
from tests.factories import make_render, make_script, make_station, make_unit, submit

SHORT = "Thưa bà con, UBND phường thông báo: tiêm vắc xin Covid-19 lúc 7h30 ngày 5/9/2021."


def _count(model) -> int:
    """Rows of a model."""
    return db.session.scalar(select(func.count()).select_from(model))


def _run_queue() -> list[Render]:
    """Run every queued render, as the worker process would."""
    done = []
    while (render := service.process_next_render()) is not None:
        done.append(render)
    return done


# --- Lexicon and regional readings ---------------------------------------------------------


def test_unit_entry_applies_to_previews_at_once(users, org):
    before = service.normalize_for(org.commune, "Họp ban XYZQ sáng nay.")
    assert [w.token for w in before.warnings] == ["XYZQ"]
    service.create_lexicon_entry(
        users["supervisor2"], service.LexiconInput("XYZQ", "ban xây dựng quê", unit=org.district)
    )
    after = service.normalize_for(org.commune, "Họp ban XYZQ sáng nay.")
    assert "ban xây dựng quê" in after.spoken
    assert after.warnings == []
    assert any(s.rule == "lexicon" and s.original == "XYZQ" for s in after.spans)


def test_nearest_unit_entry_wins_over_global_and_seed(users, org):
    service.create_lexicon_entry(
        users["admin"], service.LexiconInput("KH", "khách hàng", note="chung")
    )
    assert "khách hàng" in service.normalize_for(org.commune, "Gửi KH.").spoken
    service.create_lexicon_entry(
        users["supervisor2"], service.LexiconInput("KH", "kế hoạch", unit=org.district)
    )
    assert "kế hoạch" in service.normalize_for(org.commune, "Gửi KH.").spoken
    assert "khách hàng" in service.normalize_for(org.other_district, "Gửi KH.").spoken


def test_writer_cannot_edit_lexicon(users, org):
    with pytest.raises(PermissionDenied):
        service.create_lexicon_entry(
            users["writer"], service.LexiconInput("ABCD", "a bê xê đê", unit=org.district)
        )
    assert _count(LexiconEntry) == 0


def test_supervisor_cannot_edit_the_shared_list_or_another_unit(users, org):
    with pytest.raises(PermissionDenied, match="quản trị"):
        service.create_lexicon_entry(users["supervisor2"], service.LexiconInput("ABCD", "a"))
    with pytest.raises(PermissionDenied, match="phạm vi"):
        service.create_lexicon_entry(
            users["supervisor2"], service.LexiconInput("ABCD", "a", unit=org.other_district)
        )
    assert _count(LexiconEntry) == 0


@pytest.mark.parametrize(
    ("term", "spoken", "field"),
    [
        ("", "một", "term"),
        ("   ", "một", "term"),
        ("ABC", "", "spoken"),
        ("ABC", "số 5", "spoken"),
        ("A" * 101, "a", "term"),
        ("ABC", "a" * 401, "spoken"),
    ],
)
def test_bad_lexicon_entry_is_refused_with_the_field(users, org, term, spoken, field):
    with pytest.raises(ValidationError) as caught:
        service.create_lexicon_entry(
            users["supervisor2"], service.LexiconInput(term, spoken, unit=org.district)
        )
    assert field in caught.value.fields
    assert _count(LexiconEntry) == 0


def test_duplicate_term_in_one_unit_is_refused(users, org):
    data = service.LexiconInput("XYZQ", "một cách", unit=org.district)
    service.create_lexicon_entry(users["supervisor2"], data)
    with pytest.raises(ValidationError, match="đã có"):
        service.create_lexicon_entry(
            users["supervisor2"], service.LexiconInput("XYZQ", "cách khác", unit=org.district)
        )
    assert [e.spoken for e in db.session.scalars(select(LexiconEntry))] == ["một cách"]


def test_lexicon_changes_are_audited(users, org):
    entry = service.create_lexicon_entry(
        users["supervisor2"], service.LexiconInput("XYZQ", "một", unit=org.district)
    )
    service.update_lexicon_entry(users["supervisor2"], entry, service.LexiconInput("XYZQ", "hai"))
    service.delete_lexicon_entry(users["supervisor2"], entry)
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions[-3:] == ["lexicon.create", "lexicon.update", "lexicon.delete"]


def test_regional_reading_is_inherited_by_units_below(users, org):
    assert "nghìn" in service.normalize_for(org.commune, "1.500 người").spoken
    service.set_reading_options(users["supervisor2"], org.district, {"thousand": "ngàn"})
    assert "ngàn" in service.normalize_for(org.commune, "1.500 người").spoken
    assert "nghìn" in service.normalize_for(org.other_district, "1.500 người").spoken


def test_bad_regional_reading_is_refused(users, org):
    with pytest.raises(ValidationError):
        service.set_reading_options(users["supervisor2"], org.district, {"thousand": "ngan"})
    db.session.refresh(org.district)
    assert org.district.reading_options == {}


# --- Spoken text ------------------------------------------------------------------------------


def test_manual_override_is_kept_with_the_version_and_marked(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    service.set_spoken_override(users["writer"], script, "Thưa bà con, đọc tay.")
    spoken = service.spoken_for(script)
    assert spoken.manual is True
    assert spoken.text == "Thưa bà con, đọc tay."
    assert spoken.override.version_id == script.current_version_id
    service.set_spoken_override(users["writer"], script, "")
    assert service.spoken_for(script).manual is False
    assert _count(SpokenOverride) == 2


def test_unchanged_override_is_refused(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    service.set_spoken_override(users["writer"], script, "Một.")
    with pytest.raises(ValidationError, match="không thay đổi"):
        service.set_spoken_override(users["writer"], script, "Một.")
    assert _count(SpokenOverride) == 1


def test_operator_cannot_override_spoken_text(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    with pytest.raises(PermissionDenied):
        service.set_spoken_override(users["operator"], script, "Khác.")
    assert _count(SpokenOverride) == 0


def test_override_after_approval_needs_a_new_approval(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    submit(users["writer"], script)
    scripts_service.approve_script(users["supervisor"], script)
    service.set_spoken_override(users["writer"], script, "Thưa bà con, đọc khác.")
    assert script.status == ScriptStatus.DRAFT
    with pytest.raises(ValidationError, match="tạo lại âm thanh"):
        scripts_service.submit_script(users["writer"], script)


# --- Render jobs ------------------------------------------------------------------------------


def test_render_is_queued_then_the_worker_makes_broadcast_ready_audio(app, users, org):
    station = make_station(org.district, name="Đài Truyền thanh thành phố Phan Thiết")
    station.intro_text = "Đài Truyền thanh thành phố Phan Thiết xin thông báo"
    db.session.commit()
    script = make_script(users["writer"], org.district, body=SHORT)
    render = service.request_render(
        users["writer"], script, service.RenderRequest(station=station, settings={"repeats": 2})
    )
    assert render.status == RenderStatus.QUEUED
    assert not (app.config["AUDIO_DIR"]).exists() or not any(app.config["AUDIO_DIR"].rglob("*.mp3"))
    [done] = _run_queue()
    assert done.status == RenderStatus.DONE, done.error
    assert (done.engine, done.voice) == ("espeak", "vi")
    path = service.audio_file(done)
    measured = measure(path)
    assert measured.codec == "mp3"
    assert (measured.sample_rate, measured.channels, measured.bitrate_kbps) == (44100, 1, 128)
    assert abs(measured.integrated_lufs - -16.0) <= 1.0
    assert measured.true_peak_dbtp <= -1.0
    assert done.duration_s == pytest.approx(measured.duration_s, abs=0.05)
    assert service.verify_audio(done)
    assert done.intro_text.startswith("Đài Truyền thanh")
    assert "Ủy ban nhân dân" in done.spoken_text


def test_identical_request_reuses_the_file_and_a_change_does_not(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    first = service.request_render(users["writer"], script, service.RenderRequest())
    _run_queue()
    again = service.request_render(users["writer"], script, service.RenderRequest())
    assert again.status == RenderStatus.DONE and again.cached
    assert again.audio_path == db.session.get(Render, first.id).audio_path
    slower = service.request_render(users["writer"], script, service.RenderRequest(speed=80))
    assert slower.status == RenderStatus.QUEUED
    assert slower.cache_key != again.cache_key


def test_longer_text_gives_longer_audio(users, org):
    short = make_script(users["writer"], org.district, title="Ngắn", body="Thưa bà con.")
    long = make_script(users["writer"], org.district, title="Dài", body=SHORT * 3)
    for script in (short, long):
        service.request_render(
            users["writer"], script, service.RenderRequest(settings={"chime": False})
        )
    a, b = _run_queue()
    assert b.duration_s > a.duration_s + 5


def test_text_that_reads_as_nothing_is_refused(users, org):
    script = make_script(users["writer"], org.district, body="😀😀 🎉")
    with pytest.raises(ValidationError, match="trống"):
        service.request_render(users["writer"], script, service.RenderRequest())
    assert _count(Render) == 0


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (service.RenderRequest(engine="festival"), "engine"),
        (service.RenderRequest(voice="en-us"), "voice"),
        (service.RenderRequest(speed=20), "speed"),
        (service.RenderRequest(settings={"repeats": 9}), "settings"),
    ],
)
def test_bad_render_settings_are_refused(users, org, request_, field):
    script = make_script(users["writer"], org.district, body=SHORT)
    with pytest.raises(ValidationError) as caught:
        service.request_render(users["writer"], script, request_)
    assert field in caught.value.fields
    assert _count(Render) == 0


def test_failed_engine_fails_the_render_and_keeps_earlier_audio(app, users, org):
    app.config["GTTS_URL"] = "http://127.0.0.1:9"  # nothing listens on the discard port
    app.config["GTTS_RETRIES"] = 0
    script = make_script(users["writer"], org.district, body=SHORT)
    service.request_render(users["writer"], script, service.RenderRequest())
    [good] = _run_queue()
    service.request_render(
        users["writer"],
        script,
        service.RenderRequest(engine="gtts", voice="vi", allow_fallback=False),
    )
    [failed] = _run_queue()
    assert failed.status == RenderStatus.FAILED
    assert "eSpeak" in failed.error or "ngoại tuyến" in failed.error
    assert service.latest_done_render(script).id == good.id
    assert service.verify_audio(good)


def test_failed_online_engine_falls_back_offline_when_allowed(app, users, org):
    app.config["GTTS_URL"] = "http://127.0.0.1:9"
    app.config["GTTS_RETRIES"] = 0
    script = make_script(users["writer"], org.district, body=SHORT)
    service.request_render(
        users["writer"], script, service.RenderRequest(engine="gtts", voice="vi")
    )
    [render] = _run_queue()
    assert render.status == RenderStatus.DONE, render.error
    assert (render.engine_requested, render.engine) == ("gtts", "espeak")
    assert render.fell_back


def test_missing_ffmpeg_fails_with_how_to_fix(app, users, org):
    app.config["FFMPEG_BINARY"] = "/nonexistent/ffmpeg"
    script = make_script(users["writer"], org.district, body=SHORT)
    service.request_render(users["writer"], script, service.RenderRequest())
    [render] = _run_queue()
    assert render.status == RenderStatus.FAILED
    assert "ffmpeg" in render.error and "make run" in render.error


def test_writer_of_another_unit_cannot_render(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    with pytest.raises(Exception) as caught:
        service.request_render(users["outsider"], script, service.RenderRequest())
    assert caught.value.status == 404
    assert _count(Render) == 0


def test_abandoned_render_is_requeued_when_a_worker_starts(users, org):
    """Abandoned: its worker's process on this host is gone. A live worker's render (another
    worker beside this one) is left alone."""
    import subprocess
    import sys

    host = service.worker_name().split(":")[0]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        renders = []
        for pid in (dead.pid, alive.pid):
            script = make_script(users["writer"], org.district, body=SHORT)
            render = service.request_render(users["writer"], script, service.RenderRequest())
            render.status = RenderStatus.RUNNING
            render.worker = f"{host}:{pid}"
            renders.append(render)
        db.session.commit()
        assert service.requeue_abandoned() == 1
        assert [db.session.get(Render, r.id).status for r in renders] == [
            RenderStatus.QUEUED,
            RenderStatus.RUNNING,
        ]
    finally:
        alive.kill()
        alive.wait()


def test_orphan_audio_is_removed_and_used_audio_kept(app, users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    kept = make_render(script)
    orphan = app.config["AUDIO_DIR"] / "ab" / "orphan.mp3"
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"x")
    assert service.remove_orphan_audio() == [orphan]
    assert service.verify_audio(kept)


# --- Approval binds to audio ------------------------------------------------------------------


def test_submit_needs_a_finished_render(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    with pytest.raises(ValidationError, match="Chưa có âm thanh"):
        scripts_service.submit_script(users["writer"], script)
    assert script.status == ScriptStatus.DRAFT


def test_submit_refuses_audio_made_before_a_lexicon_change(users, org):
    script = make_script(users["writer"], org.district, body="Họp ban XYZQ.")
    make_render(script)
    service.create_lexicon_entry(
        users["supervisor2"], service.LexiconInput("XYZQ", "xây dựng", unit=org.district)
    )
    with pytest.raises(ValidationError, match="tạo lại âm thanh"):
        scripts_service.submit_script(users["writer"], script)


def test_approval_records_version_spoken_hash_and_audio_hash(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    render = make_render(script)
    scripts_service.submit_script(users["writer"], script)
    scripts_service.approve_script(users["supervisor"], script)
    review = db.session.scalar(select(ScriptReview))
    assert review.render_id == render.id
    assert review.spoken_sha256 == render.spoken_sha256
    assert review.audio_sha256 == render.audio_sha256
    assert script.approved_render_id == render.id


def test_audio_changed_on_disk_cannot_be_approved(app, users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    render = make_render(script)
    scripts_service.submit_script(users["writer"], script)
    (app.config["AUDIO_DIR"] / render.audio_path).write_bytes(b"tampered")
    with pytest.raises(Conflict, match="bị thay đổi"):
        scripts_service.approve_script(users["supervisor"], script)
    assert script.status == ScriptStatus.SUBMITTED
    assert _count(ScriptReview) == 0


def test_new_voice_after_approval_needs_a_new_approval(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    submit(users["writer"], script)
    scripts_service.approve_script(users["supervisor"], script)
    service.request_render(users["writer"], script, service.RenderRequest(voice="vi-vn-x-south"))
    assert script.status == ScriptStatus.DRAFT
    events = db.session.scalars(select(AuditEvent.action)).all()
    assert "script.reopen" in events


def test_render_while_submitted_is_refused(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    submit(users["writer"], script)
    with pytest.raises(ValidationError, match="chờ duyệt"):
        service.request_render(users["writer"], script, service.RenderRequest(speed=90))


def test_long_script_render_is_only_queued_in_the_request(app, users, org):
    body = ("Thưa bà con, hãy đi tiêm vắc xin khi đến lượt. " * 430)[:20_000]
    script = make_script(users["writer"], org.district, body=body)
    render = service.request_render(users["writer"], script, service.RenderRequest())
    assert render.status == RenderStatus.QUEUED
    assert render.progress == 0.0
    assert len(render.spoken_text) > 19_000


def test_unit_without_station_renders_without_intro(users, org):
    unit = make_unit("X1", "Xã Mới", parent=org.district)
    script = make_script(users["writer"], unit, body=SHORT)
    assert service.default_station(script) is None
    render = service.request_render(users["writer"], script, service.RenderRequest())
    assert render.intro_text == ""


def test_supervisor_cannot_approve_spoken_text_they_typed(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    service.set_spoken_override(users["supervisor"], script, "Thưa bà con, đọc khác đi.")
    submit(users["writer"], script)
    with pytest.raises(PermissionDenied, match="do chính mình"):
        scripts_service.approve_script(users["supervisor"], script)
    assert script.status == ScriptStatus.SUBMITTED
    assert _count(ScriptReview) == 0
    scripts_service.approve_script(users["supervisor2"], script)
    assert script.status == ScriptStatus.APPROVED


def test_supervisor_cannot_approve_an_intro_line_they_typed(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    service.request_render(
        users["supervisor"], script, service.RenderRequest(intro_text="Loa xã xin thông báo")
    )
    _run_queue()
    scripts_service.submit_script(users["writer"], script)
    with pytest.raises(PermissionDenied, match="câu giới thiệu"):
        scripts_service.approve_script(users["supervisor"], script)
    assert _count(ScriptReview) == 0


def test_intro_line_is_read_with_the_units_lexicon(users, org):
    station = make_station(org.district)
    station.intro_text = "Đài TT UBND TP. Phan Thiết xin thông báo"
    db.session.commit()
    script = make_script(users["writer"], org.district, body=SHORT)
    render = service.request_render(users["writer"], script, service.RenderRequest(station=station))
    assert "Ủy ban nhân dân" in render.intro_text
    assert "UBND" not in render.intro_text
    assert render.station_id == station.id


def test_speech_changes_are_in_the_audit_trail(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    service.set_spoken_override(users["writer"], script, "Thưa bà con, đọc tay.")
    service.request_render(users["writer"], script, service.RenderRequest())
    service.set_reading_options(users["supervisor2"], org.district, {"zero_tens": "lẻ"})
    events = {
        e.action: e
        for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))
        if e.action in {"script.spoken_override", "render.request", "unit.reading_options"}
    }
    assert events["script.spoken_override"].actor_name == "writer"
    assert events["script.spoken_override"].details["manual"] is True
    assert events["render.request"].details["engine"] == "espeak"
    assert events["unit.reading_options"].details == {"before": {}, "after": {"zero_tens": "lẻ"}}


def test_override_longer_than_the_limit_is_refused(users, org):
    script = make_script(users["writer"], org.district, body=SHORT)
    with pytest.raises(ValidationError, match="tối đa") as caught:
        service.set_spoken_override(users["writer"], script, "a " * 20_001)
    assert "spoken" in caught.value.fields
    assert _count(SpokenOverride) == 0


@pytest.mark.parametrize("status_change", ["submit", "archive"])
def test_override_of_a_submitted_or_archived_script_is_refused(users, org, status_change):
    script = make_script(users["writer"], org.district, body=SHORT)
    if status_change == "submit":
        submit(users["writer"], script)
    else:
        scripts_service.archive_script(users["supervisor"], script)
    with pytest.raises(ValidationError, match="Không sửa được văn bản đọc"):
        service.set_spoken_override(users["writer"], script, "Khác.")
    assert _count(SpokenOverride) == 0
