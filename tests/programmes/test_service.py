"""Programmes through the service, with real audio: a rundown of spoken spots, recordings and
library items, gaps and cross-fades, a ducked bed, the mastered mix, approval bound to it, and
every refusal (with nothing stored)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from app.audit.models import AuditEvent
from app.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from app.core.models import AppendOnlyViolation
from app.extensions import db
from app.library.models import LibraryKind
from app.library.service import audio_path as library_audio_path
from app.library.service import set_archived
from app.programmes import service
from app.programmes.mix import mix_offsets, request_mix
from app.programmes.models import ItemKind, ProgrammeItem, ProgrammeVersion
from app.scripts.models import Script, ScriptReview, ScriptStatus, ScriptVersion
from app.scripts.service import ScriptInput, approve_script, submit_script, update_script
from app.speech import service as speech
from app.speech.audio import decode_audio, measure
from app.speech.models import Render, RenderStatus
from app.speech.pipeline import sha256_file
from app.speech.recording import add_recording
from tests.factories import make_script, make_station
from tests.programmes.conftest import entry, espeak_spot, library_item, mix_now, tone, tone_spot
from tests.speech import samples

RATE = 44100


def programme_input(org, items, **fields) -> service.ProgrammeInput:
    """A programme of the district with the given rundown entries."""
    fields.setdefault("title", "Chương trình phát thanh sáng thứ Bảy")
    return service.ProgrammeInput(unit=org.district, items=items, **fields)


def morning(station) -> dict:
    """The settings that aim a programme at the station's 15-minute morning session."""
    return {"station_id": station.id, "session_name": "Buổi sáng"}


def stored() -> tuple[int, ...]:
    """Rows a refused save must not add: scripts, versions, rundowns, items, audit events."""
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Script, ScriptVersion, ProgrammeVersion, ProgrammeItem, AuditEvent)
    )


def pcm(path) -> np.ndarray:
    """A file decoded by ffmpeg to mono floats at 44.1 kHz (full scale 1.0)."""
    segment = decode_audio(path, sample_rate=RATE)
    return np.frombuffer(segment.raw_data, dtype=np.int16).astype(np.float64) / 32768


def tone_db(samples: np.ndarray, freq: float, start_s: float, end_s: float) -> float:
    """Level in dBFS of one frequency in a stretch of audio (its sine and cosine projection)."""
    part = samples[int(start_s * RATE) : int(end_s * RATE)]
    t = np.arange(len(part)) / RATE
    amplitude = 2 * abs(np.dot(part, np.exp(-2j * np.pi * freq * t))) / len(part)
    return 20 * math.log10(max(amplitude, 1e-9))


@pytest.fixture
def spot(users, org):
    """A spoken spot rendered by eSpeak NG and approved."""
    return espeak_spot(
        users,
        org.district,
        "Thông báo tiêm vắc xin",
        "Thưa bà con, sáng mai trạm y tế phường tiêm vắc xin cho người từ mười tám tuổi.",
    )


@pytest.fixture
def recorded(users, org, tmp_path):
    """A spot recorded on a phone (a tone in hiss, 2.5 s after trimming), approved."""
    script = make_script(
        users["writer"],
        org.district,
        title="Lời kêu gọi của Chủ tịch phường",
        valid_until=date(2026, 12, 31),
    )
    add_recording(users["writer"], script, samples.voice_in_hiss(tmp_path / "ghi-am.m4a"))
    submit_script(users["writer"], script)
    return approve_script(users["supervisor"], script)


# --- Building and mixing --------------------------------------------------------------------


def test_a_rundown_of_spoken_recorded_and_library_items_mixes_to_its_total(
    users, org, station, items, spot, recorded
):
    data = programme_input(
        org,
        [
            entry("library", items["jingle"], gap_ms=500),
            entry("script", spot, crossfade_ms=400),
            entry("script", recorded, gap_ms=1000),
            entry("library", items["ident"]),
        ],
        bed_item_id=items["bed"].id,
        duck_db=15,
        **morning(station),
    )
    script = service.create_programme(users["writer"], data)
    assert script.is_programme and script.status == ScriptStatus.DRAFT
    settings = service.version_settings(script.current_version_id)
    assert [i.kind for i in settings.items] == [
        ItemKind.LIBRARY,
        ItemKind.SCRIPT,
        ItemKind.RECORDING,
        ItemKind.LIBRARY,
    ]
    assert [i.audio_sha256 for i in settings.items] == [
        items["jingle"].audio_sha256,
        spot.approved_render.audio_sha256,
        recorded.approved_render.audio_sha256,
        items["ident"].audio_sha256,
    ]
    assert [(i.gap_ms, i.crossfade_ms) for i in settings.items] == [
        (500, 0),
        (0, 400),
        (1000, 0),
        (0, 0),
    ]
    durations = [i.duration_s for i in settings.items]
    assert settings.total_s == pytest.approx(sum(durations) + 0.5 - 0.4 + 1.0, abs=0.002)
    assert (settings.bed_sha256, settings.duck_db) == (items["bed"].audio_sha256, 15.0)
    # The version's text is the rundown the supervisor reads, ending with its sha256.
    body = script.current_version.body
    assert "1. [Thư viện âm thanh] Nhạc hiệu đài" in body
    assert "3. [Bản ghi âm] Lời kêu gọi của Chủ tịch phường" in body
    assert "Nhạc nền: Nhạc nền nhẹ" in body and "giảm 15 dB" in body
    assert body.endswith(settings.rundown_sha256)

    mix = mix_now(users["writer"], script)
    assert mix.status == RenderStatus.DONE, mix.error
    assert (mix.engine, mix.version_id) == ("programme", script.current_version_id)
    path = speech.audio_dir() / mix.audio_path
    assert sha256_file(path) == mix.audio_sha256
    # The total shown against the session is the mix's real length, to a few milliseconds.
    real = measure(path)
    assert real.duration_s == pytest.approx(settings.total_s, abs=0.015)
    assert mix.duration_s == pytest.approx(settings.total_s, abs=0.015)
    # Mastered as every spot is: -16 LUFS, true peak at most -1 dBTP.
    assert real.integrated_lufs == pytest.approx(-16.0, abs=1.0)
    assert real.true_peak_dbtp <= -1.0
    # Each item's start in the mix: the previous end, plus the gap, minus the cross-fade.
    offsets = mix_offsets(mix)
    assert [o["title"] for o in offsets] == [i.title for i in settings.items]
    expected = [0.0]
    for item in settings.items[:-1]:
        expected.append(expected[-1] + item.duration_s + (item.gap_ms - item.crossfade_ms) / 1000)
    assert [o["start_s"] for o in offsets] == pytest.approx(expected, abs=0.002)
    assert [o["end_s"] - o["start_s"] for o in offsets] == pytest.approx(durations, abs=0.002)


def test_the_bed_is_ducked_under_the_items_and_full_between_them(users, org, station, items):
    data = programme_input(
        org,
        [entry("library", items["jingle"], gap_ms=4000), entry("library", items["ident"])],
        bed_item_id=items["bed"].id,
        duck_db=18,
        **morning(station),
    )
    script = service.create_programme(users["writer"], data)
    mix = mix_now(users["writer"], script)
    assert mix.status == RenderStatus.DONE, mix.error
    audio = pcm(speech.audio_dir() / mix.audio_path)
    first, second = mix_offsets(mix)
    # The bed is a 220 Hz tone; the jingle (523-784 Hz) and ident (1 kHz) have none of it.
    under_first = tone_db(audio, 220, first["start_s"] + 0.4, first["end_s"] - 0.4)
    between = tone_db(audio, 220, first["end_s"] + 0.8, second["start_s"] - 0.8)
    under_second = tone_db(audio, 220, second["start_s"] + 0.3, second["end_s"] - 0.3)
    assert between > -40, "the bed sounds between the items"
    assert between - under_first >= 12
    assert between - under_second >= 12
    # And the items themselves are not lowered with it.
    assert tone_db(audio, 1000, second["start_s"] + 0.3, second["end_s"] - 0.3) > between - 6


def test_a_cross_fade_overlaps_two_items_and_shortens_the_total(users, org, station, items):
    plain = service.create_programme(
        users["writer"],
        programme_input(
            org,
            [entry("library", items["jingle"]), entry("library", items["ident"])],
            title="Không chồng",
            **morning(station),
        ),
    )
    faded = service.create_programme(
        users["writer"],
        programme_input(
            org,
            [entry("library", items["jingle"], crossfade_ms=600), entry("library", items["ident"])],
            title="Chồng 0,6 giây",
            **morning(station),
        ),
    )
    a, b = mix_now(users["writer"], plain), mix_now(users["writer"], faded)
    assert a.duration_s - b.duration_s == pytest.approx(0.6, abs=0.015)
    audio = pcm(speech.audio_dir() / b.audio_path)
    first, second = mix_offsets(b)
    assert first["end_s"] - second["start_s"] == pytest.approx(0.6, abs=0.001)
    # In the overlap both sound: the chord fading out (it ends 0.3 s before the jingle's
    # kept tail) and the 1 kHz ident fading in (it starts 50 ms into its item).
    middle = second["start_s"] + 0.07, second["start_s"] + 0.27
    assert tone_db(audio, 523, *middle) > -40
    assert tone_db(audio, 1000, *middle) > -40


def test_an_identical_rundown_reuses_the_mix(users, org, station, items):
    script = service.create_programme(
        users["writer"],
        programme_input(org, [entry("library", items["jingle"])], **morning(station)),
    )
    first = mix_now(users["writer"], script)
    again = mix_now(users["writer"], script)
    assert again.id != first.id and again.cached
    assert (again.audio_path, again.audio_sha256) == (first.audio_path, first.audio_sha256)
    assert mix_offsets(again) == mix_offsets(first)


# --- Versions and approval ------------------------------------------------------------------


def test_approval_is_bound_to_the_mix_and_a_changed_rundown_needs_a_new_one(
    users, org, station, items
):
    writer, supervisor = users["writer"], users["supervisor"]
    data = programme_input(
        org,
        [entry("library", items["jingle"], gap_ms=500), entry("library", items["ident"])],
        **morning(station),
    )
    script = service.create_programme(writer, data)
    with pytest.raises(ValidationError, match="Chưa có âm thanh hoàn tất"):
        submit_script(writer, script)
    mix = mix_now(writer, script)
    submit_script(writer, script)
    approve_script(supervisor, script)
    review = db.session.scalar(select(ScriptReview).where(ScriptReview.script_id == script.id))
    assert review.render_id == mix.id == script.approved_render_id
    assert (
        review.audio_sha256 == mix.audio_sha256 == sha256_file(speech.audio_dir() / mix.audio_path)
    )
    first_version = script.current_version_id

    # The approved mix stays the one: another mix of the approved version is refused.
    renders = db.session.scalar(select(func.count(Render.id)))
    with pytest.raises(ValidationError, match="đã được duyệt cùng bản trộn này"):
        mix_now(writer, script)
    assert db.session.scalar(select(func.count(Render.id))) == renders

    # Saving the same rundown changes nothing.
    assert service.update_programme(writer, script, replace(data), script.revision) is False
    assert script.current_version_id == first_version

    changed = replace(data, items=[entry("library", items["jingle"], gap_ms=900), data.items[1]])
    assert service.update_programme(writer, script, changed, script.revision) is True
    db.session.refresh(script)
    assert script.version_number == 2 and script.status == ScriptStatus.DRAFT
    old, new = (
        service.version_settings(first_version),
        service.version_settings(script.current_version_id),
    )
    assert old.rundown_sha256 != new.rundown_sha256
    assert [i.gap_ms for i in old.items] == [500, 0]  # the approved rundown is kept as it was
    assert [i.gap_ms for i in new.items] == [900, 0]
    # The approved mix belongs to the old version: the new one needs its own mix and approval.
    with pytest.raises(ValidationError, match="Chưa có âm thanh hoàn tất"):
        submit_script(writer, script)
    remix = mix_now(writer, script)
    assert remix.audio_sha256 != mix.audio_sha256
    assert remix.duration_s - mix.duration_s == pytest.approx(0.4, abs=0.015)
    submit_script(writer, script)
    approve_script(supervisor, script)
    assert script.approved_render_id == remix.id
    assert script.approved_version_id == script.current_version_id


def test_a_stale_revision_is_refused(users, org, station, items):
    data = programme_input(org, [entry("library", items["jingle"])], **morning(station))
    script = service.create_programme(users["writer"], data)
    changed = replace(data, items=[entry("library", items["ident"])])
    service.update_programme(users["writer"], script, changed, script.revision)
    before = stored()
    again = replace(data, items=[entry("library", items["jingle"], gap_ms=100)] * 2)
    with pytest.raises(Conflict, match="vừa được người khác thay đổi"):
        service.update_programme(users["writer"], script, again, script.revision - 1)
    assert stored() == before


def test_the_writer_of_a_programme_may_not_approve_it(users, org, station, items):
    supervisor = users["supervisor2"]
    script = service.create_programme(
        supervisor, programme_input(org, [entry("library", items["jingle"])], **morning(station))
    )
    mix_now(supervisor, script)
    submit_script(supervisor, script)
    with pytest.raises(PermissionDenied, match="tự duyệt"):
        approve_script(supervisor, script)
    approve_script(users["supervisor"], script)
    assert script.status == ScriptStatus.APPROVED


def test_an_item_that_lost_its_approval_stops_the_submission(users, org, station, items):
    spot = tone_spot(users, org.district)
    script = service.create_programme(
        users["writer"],
        programme_input(
            org, [entry("library", items["jingle"]), entry("script", spot)], **morning(station)
        ),
    )
    mix_now(users["writer"], script)
    update_script(
        users["writer"],
        spot,
        ScriptInput(title=spot.title, body="Nội dung mới của bản tin.", unit=org.district),
        spot.revision,
    )
    with pytest.raises(ValidationError, match="không còn là bản đã duyệt"):
        submit_script(users["writer"], script)
    assert db.session.get(Script, script.id).status == ScriptStatus.DRAFT


def test_a_programme_needs_its_session_before_review(users, org, station, items):
    script = service.create_programme(
        users["writer"], programme_input(org, [entry("library", items["jingle"])])
    )
    mix_now(users["writer"], script)
    with pytest.raises(ValidationError, match="Hãy chọn buổi phát"):
        submit_script(users["writer"], script)


def test_a_changed_item_file_fails_the_mix_with_a_message(users, org, station, items):
    script = service.create_programme(
        users["writer"],
        programme_input(org, [entry("library", items["jingle"])], **morning(station)),
    )
    path = library_audio_path(items["jingle"])
    path.write_bytes(path.read_bytes()[:-100])
    mix = mix_now(users["writer"], script)
    assert mix.status == RenderStatus.FAILED
    assert "không còn nguyên" in mix.error and "Nhạc hiệu đài" in mix.error


def test_spoken_renders_and_recordings_are_refused_on_a_programme(
    users, org, station, items, tmp_path
):
    script = service.create_programme(
        users["writer"],
        programme_input(org, [entry("library", items["jingle"])], **morning(station)),
    )
    with pytest.raises(ValidationError, match="trộn từ các mục"):
        speech.request_render(users["writer"], script, speech.RenderRequest(engine="espeak"))
    with pytest.raises(ValidationError, match="không nhận bản ghi âm"):
        add_recording(users["writer"], script, samples.voice_in_hiss(tmp_path / "r.m4a"))
    with pytest.raises(ValidationError, match="trang Chương trình"):
        update_script(
            users["writer"],
            script,
            ScriptInput(title="x", body="y", unit=org.district),
            script.revision,
        )


def test_who_may_build_mix_and_read_a_programme(users, org, station, items):
    data = programme_input(org, [entry("library", items["jingle"])], **morning(station))
    with pytest.raises(PermissionDenied):
        service.create_programme(users["operator"], data)
    script = service.create_programme(users["writer"], data)
    with pytest.raises(NotFound):
        service.get_programme(users["outsider"], script.id)
    with pytest.raises(NotFound):
        request_mix(users["outsider"], script)
    with pytest.raises(NotFound):
        service.update_programme(users["outsider"], script, data, script.revision)
    with pytest.raises(PermissionDenied):
        request_mix(users["operator"], script)
    spot = tone_spot(users, org.district)
    with pytest.raises(NotFound):
        service.get_programme(users["writer"], spot.id)
    assert service.get_programme(users["supervisor"], script.id).id == script.id


# --- Refusals: a clear Vietnamese message and nothing stored ---------------------------------


def _refusals(users, org, station, items, tmp_path):
    """(case, rundown entries, other fields, the message a writer must see)."""
    writer = users["writer"]
    draft = make_script(writer, org.district, title="Bản nháp chưa duyệt")
    gone = tone_spot(users, org.district, title="Bản tin mất tệp")
    (speech.audio_dir() / gone.approved_render.audio_path).unlink()
    foreign = library_item(
        users["outsider"], items["jingle_path"], "Nhạc hiệu La Gi", LibraryKind.JINGLE
    )
    old_ident = tone(tmp_path / "cu.wav", "sine=frequency=700:sample_rate=44100", 1.0)
    archived = library_item(writer, old_ident, "Nhận diện cũ", LibraryKind.IDENT)
    set_archived(writer, archived, True)
    old_bed = tone(tmp_path / "nen-cu.wav", "sine=frequency=330:sample_rate=44100", 2.0)
    archived_bed = library_item(writer, old_bed, "Nhạc nền cũ", LibraryKind.BED)
    set_archived(writer, archived_bed, True)
    nested = service.create_programme(
        writer, programme_input(org, [entry("library", items["jingle"])], title="Chương trình khác")
    )
    other = make_station(org.other_district, "LAGI", "Đài La Gi")
    jingle, ident = items["jingle"], items["ident"]
    long_rundown = [entry("library", ident, gap_ms=9000) for _ in range(8)]
    return [
        ("no items", [], {}, "chưa có mục nào"),
        ("no title", [entry("library", jingle)], {"title": "  "}, "Hãy nhập tên chương trình"),
        ("unseen library item", [entry("library", foreign)], {}, "không tìm thấy mục thư viện"),
        ("missing item", [service.RundownEntry("script", 10_000)], {}, "không tìm thấy kịch bản"),
        ("unapproved script", [entry("script", draft)], {}, "chưa được duyệt"),
        ("audio gone", [entry("script", gone)], {}, "không còn nguyên trên máy chủ"),
        ("archived item", [entry("library", archived)], {}, "đã lưu trữ"),
        ("a programme in a programme", [entry("script", nested)], {}, "không lồng chương trình"),
        ("bad kind", [service.RundownEntry("video", jingle.id)], {}, "loại mục không hợp lệ"),
        ("bad id", [service.RundownEntry("library", "1; drop")], {}, "mục không hợp lệ"),
        (
            "negative gap",
            [entry("library", jingle, gap_ms=-1), entry("library", ident)],
            {},
            "khoảng nghỉ phải từ 0 đến 10 giây",
        ),
        (
            "oversized gap",
            [entry("library", jingle, gap_ms=10_001), entry("library", ident)],
            {},
            "khoảng nghỉ phải từ 0 đến 10 giây",
        ),
        (
            "negative cross-fade",
            [entry("library", jingle, crossfade_ms=-5), entry("library", ident)],
            {},
            "chuyển tiếp chồng phải từ 0 đến 5 giây",
        ),
        (
            "oversized cross-fade",
            [entry("library", jingle, crossfade_ms=5001), entry("library", ident)],
            {},
            "chuyển tiếp chồng phải từ 0 đến 5 giây",
        ),
        (
            "gap and cross-fade",
            [entry("library", jingle, gap_ms=200, crossfade_ms=200), entry("library", ident)],
            {},
            "không chọn cả hai",
        ),
        (
            "cross-fade longer than an item",
            [entry("library", jingle, crossfade_ms=800), entry("library", ident)],
            {},
            "quá dài: tối đa một nửa độ dài",
        ),
        (
            "a bed that is not a bed",
            [entry("library", jingle)],
            {"bed_item_id": jingle.id},
            "không phải nhạc nền",
        ),
        (
            "an archived bed",
            [entry("library", jingle)],
            {"bed_item_id": archived_bed.id},
            "Nhạc nền “Nhạc nền cũ” đã lưu trữ",
        ),
        (
            "a missing bed",
            [entry("library", jingle)],
            {"bed_item_id": 10_000},
            "Không tìm thấy nhạc nền",
        ),
        (
            "ducking too small",
            [entry("library", jingle)],
            {"duck_db": 1},
            "Mức giảm nhạc nền phải từ 3 đến 40 dB",
        ),
        (
            "ducking not a number",
            [entry("library", jingle)],
            {"duck_db": "nhiều"},
            "Mức giảm nhạc nền phải từ 3 đến 40 dB",
        ),
        (
            "a station out of scope",
            [entry("library", jingle)],
            {"station_id": other.id, "session_name": "Buổi sáng"},
            "ngoài phạm vi của bạn",
        ),
        (
            "a session the station lacks",
            [entry("library", jingle)],
            {"station_id": station.id, "session_name": "Buổi trưa"},
            "không có buổi phát “Buổi trưa”",
        ),
        (
            "longer than its session",
            long_rundown,
            {"station_id": station.id, "session_name": "Bản tin ngắn"},
            "dài 1:14, vượt thời lượng buổi “Bản tin ngắn” của Đài Truyền thanh Phan Thiết (1:00)",
        ),
        (
            "too many items",
            [entry("library", ident)] * (service.MAX_ITEMS + 1),
            {},
            f"tối đa {service.MAX_ITEMS} mục",
        ),
    ]


def test_every_bad_rundown_is_refused_with_a_message_and_nothing_stored(
    users, org, station, items, tones, tmp_path
):
    items = items | {"jingle_path": tones["jingle"]}
    cases = _refusals(users, org, station, items, tmp_path)
    before = stored()
    for case, rundown, fields, message in cases:
        data = programme_input(org, rundown, **fields)
        with pytest.raises(ValidationError) as refused:
            service.create_programme(users["writer"], data)
        assert message in refused.value.message, (case, refused.value.message)
        assert refused.value.fields, case
        assert stored() == before, case
    # The same refusals hold for a change of an existing programme, which keeps its version.
    script = service.create_programme(
        users["writer"], programme_input(org, [entry("library", items["jingle"])])
    )
    before = stored()
    for case, rundown, fields, message in cases:
        data = programme_input(org, rundown, **fields)
        with pytest.raises(ValidationError) as refused:
            service.update_programme(users["writer"], script, data, script.revision)
        assert message in refused.value.message, (case, refused.value.message)
        assert stored() == before, case
    assert db.session.get(Script, script.id).version_number == 1


def test_a_saved_rundown_cannot_be_changed_in_place(users, org, items):
    script = service.create_programme(
        users["writer"], programme_input(org, [entry("library", items["jingle"], gap_ms=500)])
    )
    settings = service.version_settings(script.current_version_id)
    for table in ("programme_items", "programme_versions"):
        for sql in (f"UPDATE {table} SET version_id = version_id", f"DELETE FROM {table}"):
            with pytest.raises(DatabaseError, match="append-only"):
                db.session.execute(text(sql))
            db.session.rollback()
    item = service.version_settings(script.current_version_id).items[0]
    item.title = "Nhạc khác"
    with pytest.raises(AppendOnlyViolation):
        db.session.commit()
    db.session.rollback()
    assert service.version_settings(script.current_version_id).items[0].title == "Nhạc hiệu đài"
    assert (
        settings.rundown_sha256
        == service.version_settings(script.current_version_id).rundown_sha256
    )
