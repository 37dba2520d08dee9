"""Speech pages: the script page's speech panel, renders, audio, lexicon, review, stations."""

from __future__ import annotations

import hashlib
import html

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.org.models import Station
from app.speech import service
from app.speech.models import LexiconEntry, Render, RenderStatus, SpokenOverride
from tests.factories import make_render, make_script, make_station, submit

BODY = "Họp ban XYZQ lúc 7h30 ngày 5/9/2021 tại UBND phường."


def _count(model) -> int:
    """Rows of a model."""
    return db.session.scalar(select(func.count()).select_from(model))


def _text(response) -> str:
    """The response body with HTML entities decoded, for matching Vietnamese messages."""
    return html.unescape(response.get_data(as_text=True))


def _download(client, url: str) -> tuple[int, str, bytes]:
    """Fetch a file response and close it, so the sent file is not left open."""
    with client.get(url) as response:
        return response.status_code, response.mimetype, response.get_data()


def _render_form(**overrides) -> dict:
    """A valid render form submission: no station, eSpeak, Northern voice, no chime."""
    data = {
        "station_id": "0",
        "engine": "espeak",
        "voice": "vi",
        "speed": "100",
        "repeats": "1",
        "allow_fallback": "y",
    }
    data.update(overrides)
    return data


def _lexicon_form(org, **overrides) -> dict:
    """A valid lexicon entry for the district."""
    data = {"term": "XYZQ", "spoken": "ban xây dựng quê", "note": "", "unit_id": org.district.id}
    data.update(overrides)
    return data


def _entry(supervisor, unit, term="XYZQ", spoken="ban xây dựng quê") -> LexiconEntry:
    """A lexicon entry created through the service."""
    return service.create_lexicon_entry(supervisor, service.LexiconInput(term, spoken, unit=unit))


# --- The script page's speech panel --------------------------------------------------------


def test_script_page_shows_written_and_spoken_text_with_changed_spans_marked(login_as, users, org):
    script = make_script(users["writer"], org.district, body=BODY)
    page = login_as("writer").get(f"/scripts/{script.id}").get_data(as_text=True)
    assert "Văn bản viết" in page and BODY in page
    assert (
        '<mark class="span-time" title="Giờ: “7h30”" tabindex="0">bảy giờ ba mươi phút</mark>'
        in page
    )
    assert (
        '<mark class="span-lexicon" title="Từ điển phát âm: “UBND”" tabindex="0">'
        "Ủy ban nhân dân</mark>"
    ) in page
    assert '<mark class="span-date" title="Ngày tháng: “5/9/2021”" tabindex="0">năm tháng' in page


def test_script_page_warns_about_an_unknown_code(login_as, users, org):
    script = make_script(users["writer"], org.district, body=BODY)
    page = _text(login_as("writer").get(f"/scripts/{script.id}"))
    assert "Cảnh báo khi chuẩn hóa (1)" in page
    assert "Không biết đọc “XYZQ”: hãy thêm vào từ điển phát âm" in page


def test_script_page_has_no_warning_once_the_code_is_in_the_lexicon(login_as, users, org):
    script = make_script(users["writer"], org.district, body=BODY)
    _entry(users["supervisor2"], org.district)
    page = _text(login_as("writer").get(f"/scripts/{script.id}"))
    assert "Cảnh báo khi chuẩn hóa" not in page
    assert (
        '<mark class="span-lexicon" title="Từ điển phát âm: “XYZQ”" tabindex="0">ban xây dựng quê'
        in page
    )


def test_writer_saves_then_withdraws_a_manual_spoken_text(login_as, users, org):
    script = make_script(users["writer"], org.district, body=BODY)
    client = login_as("writer")
    saved = client.post(
        f"/scripts/{script.id}/spoken",
        data={"spoken": "Thưa bà con,  đọc   tay."},
        follow_redirects=True,
    )
    page = _text(saved)
    assert "Đã lưu văn bản đọc sửa tay; hãy tạo lại âm thanh." in page
    assert "Văn bản đọc sửa tay</strong> do" in page
    spoken = service.spoken_for(script)
    assert (spoken.manual, spoken.text) == (True, "Thưa bà con, đọc tay.")

    withdrawn = client.post(
        f"/scripts/{script.id}/spoken",
        data={"spoken": "Thưa bà con, đọc tay.", "withdraw": "1"},
        follow_redirects=True,
    )
    page = _text(withdrawn)
    assert "Đã bỏ văn bản đọc sửa tay; dùng lại cách đọc tự động." in page
    assert "Văn bản đọc sửa tay</strong> do" not in page
    assert service.spoken_for(script).manual is False
    assert _count(SpokenOverride) == 2


def test_script_page_warns_about_digits_no_rule_could_read(login_as, users, org):
    script = make_script(users["writer"], org.district, body="Mục 12.3,4 của kế hoạch.")
    page = _text(login_as("writer").get(f"/scripts/{script.id}"))
    assert "Cảnh báo khi chuẩn hóa (1)" in page
    assert "Không rõ cách đọc số “4” ở đây nên đã đọc là “bốn”" in page


def test_a_manual_spoken_text_with_digits_is_refused_and_nothing_stored(login_as, users, org):
    script = make_script(users["writer"], org.district, body=BODY)
    response = login_as("writer").post(
        f"/scripts/{script.id}/spoken",
        data={"spoken": "Họp lúc 7 giờ 30 phút."},
        follow_redirects=True,
    )
    assert "Văn bản đọc sửa tay phải viết số bằng chữ, không dùng chữ số." in _text(response)
    assert _count(SpokenOverride) == 0
    assert service.spoken_for(script).manual is False


def test_an_older_manual_spoken_text_with_digits_is_warned(login_as, users, org):
    script = make_script(users["writer"], org.district, body=BODY)
    db.session.add(
        SpokenOverride(
            version_id=script.current_version_id,
            text="Họp lúc 7 giờ.",
            sha256=hashlib.sha256("Họp lúc 7 giờ.".encode()).hexdigest(),
            author_id=users["writer"].id,
            created_at=script.created_at,
        )
    )
    db.session.commit()
    page = _text(login_as("writer").get(f"/scripts/{script.id}"))
    assert "Văn bản đọc sửa tay còn chữ số “7”: hãy viết ra bằng chữ." in page


def test_operator_cannot_post_a_manual_spoken_text(login_as, users, org):
    script = make_script(users["writer"], org.district, body=BODY)
    client = login_as("operator")
    assert "Sửa tay văn bản đọc" not in client.get(f"/scripts/{script.id}").get_data(as_text=True)
    response = client.post(f"/scripts/{script.id}/spoken", data={"spoken": "Khác."})
    assert response.status_code == 403
    assert _count(SpokenOverride) == 0
    assert service.spoken_for(script).manual is False


# --- Renders and their audio ---------------------------------------------------------------


def test_render_form_queues_a_render_and_status_follows_it_to_done(login_as, users, org):
    script = make_script(users["writer"], org.district, body="Thưa bà con, họp lúc 7h30.")
    client = login_as("writer")
    response = client.post(f"/scripts/{script.id}/renders", data=_render_form())
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/scripts/{script.id}#audio")
    page = _text(client.get(f"/scripts/{script.id}"))
    assert "Đã xếp hàng tạo âm thanh." in page
    render = db.session.scalars(select(Render)).one()
    assert render.status == RenderStatus.QUEUED
    assert f'data-status-url="/renders/{render.id}/status"' in page

    queued = client.get(f"/renders/{render.id}/status").get_json()
    assert (queued["status"], queued["progress"]) == ("queued", 0.0)
    assert "audio_url" not in queued

    service.process_next_render()
    done = client.get(f"/renders/{render.id}/status").get_json()
    assert done["status"] == "done", done["error"]
    assert done["progress"] == 1.0
    assert (done["engine"], done["voice"], done["format"]) == ("espeak", "vi", "mp3")
    assert done["audio_url"] == f"/renders/{render.id}/audio"

    status, mimetype, data = _download(client, done["audio_url"])
    assert (status, mimetype) == (200, "audio/mpeg")
    assert data[:3] == b"ID3" or data[:2] in {b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"}
    assert hashlib.sha256(data).hexdigest() == done["sha256"]
    page = client.get(f"/scripts/{script.id}").get_data(as_text=True)
    assert f'<audio controls preload="none" src="/renders/{render.id}/audio">' in page


def test_audio_and_status_of_another_units_render_are_not_found(login_as, users, org):
    script = make_script(users["writer"], org.district, body=BODY)
    render = make_render(script)
    outsider = login_as("outsider")
    assert outsider.get(f"/renders/{render.id}/audio").status_code == 404
    assert outsider.get(f"/renders/{render.id}/status").status_code == 404
    status, mimetype, data = _download(login_as("writer"), f"/renders/{render.id}/audio")
    assert (status, mimetype) == (200, "audio/wav")
    assert data[:4] == b"RIFF"


def test_render_form_refuses_a_bad_speed_and_queues_nothing(login_as, users, org):
    script = make_script(users["writer"], org.district, body=BODY)
    client = login_as("writer")
    response = client.post(
        f"/scripts/{script.id}/renders", data=_render_form(speed="10"), follow_redirects=True
    )
    page = _text(response)
    assert "Tốc độ (%): Từ 50 đến 200." in page
    assert "Đã xếp hàng" not in page
    assert _count(Render) == 0


def test_render_form_refuses_a_voice_the_engine_does_not_have(login_as, users, org):
    script = make_script(users["writer"], org.district, body=BODY)
    response = login_as("writer").post(
        f"/scripts/{script.id}/renders",
        data=_render_form(engine="gtts", voice="vi-vn-x-south"),
        follow_redirects=True,
    )
    assert "không có giọng “vi-vn-x-south”" in _text(response)
    assert _count(Render) == 0


def _station_with_speech(org) -> Station:
    """A district station with its own intro line, Southern voice and quieter loudness."""
    station = make_station(org.district, name="Đài Truyền thanh thành phố Phan Thiết")
    station.intro_text = "Đài Truyền thanh thành phố Phan Thiết xin thông báo"
    station.speech_engine, station.speech_voice = "espeak", "vi-vn-x-south"
    station.target_lufs = -20.0
    db.session.commit()
    return station


def test_render_form_defaults_to_the_units_station_and_uses_its_settings(login_as, users, org):
    station = _station_with_speech(org)
    script = make_script(users["writer"], org.district, body=BODY)
    client = login_as("writer")
    page = client.get(f"/scripts/{script.id}").get_data(as_text=True)
    assert f'<option selected value="{station.id}">' in page
    assert '<option selected value="vi-vn-x-south">' in page
    client.post(
        f"/scripts/{script.id}/renders",
        data=_render_form(station_id=str(station.id), voice="vi-vn-x-south"),
    )
    render = db.session.scalars(select(Render)).one()
    assert render.intro_text == "Đài Truyền thanh thành phố Phan Thiết xin thông báo"
    assert render.voice == "vi-vn-x-south"
    assert render.settings["target_lufs"] == -20.0


def test_render_for_a_station_records_the_station(login_as, users, org):
    station = _station_with_speech(org)
    script = make_script(users["writer"], org.district, body=BODY)
    login_as("writer").post(
        f"/scripts/{script.id}/renders", data=_render_form(station_id=str(station.id))
    )
    render = db.session.scalars(select(Render)).one()
    assert render.station_id == station.id


def test_audio_is_cacheable_only_by_the_users_own_browser(login_as, users, org):
    script = make_script(users["writer"], org.district, body=BODY)
    render = make_render(script)
    with login_as("writer").get(f"/renders/{render.id}/audio") as response:
        directives = {d.strip() for d in response.headers["Cache-Control"].split(",")}
    assert "private" in directives
    assert "public" not in directives


# --- The lexicon ---------------------------------------------------------------------------


def test_supervisor_adds_an_entry_and_the_try_it_box_reads_with_it(login_as, org):
    client = login_as("supervisor2")
    before = _text(client.get("/lexicon", query_string={"thu": "Họp ban XYZQ."}))
    assert "Không biết đọc “XYZQ”" in before
    response = client.post("/lexicon", data=_lexicon_form(org), follow_redirects=True)
    page = _text(response)
    assert "Đã thêm “XYZQ” → “ban xây dựng quê”." in page
    assert "<td><strong>XYZQ</strong></td>" in page
    assert "<td>ban xây dựng quê</td><td>Thành phố Phan Thiết</td>" in page
    entry = db.session.scalars(select(LexiconEntry)).one()
    assert (entry.unit_id, entry.spoken) == (org.district.id, "ban xây dựng quê")

    after = _text(client.get("/lexicon", query_string={"thu": "Họp ban XYZQ."}))
    assert (
        '<mark class="span-lexicon" title="Từ điển phát âm: “XYZQ”" tabindex="0">'
        "ban xây dựng quê</mark>"
    ) in after
    assert "Không biết đọc “XYZQ”" not in after


def test_writer_cannot_add_a_lexicon_entry(login_as, org):
    client = login_as("writer")
    assert "Thêm vào từ điển" not in client.get("/lexicon").get_data(as_text=True)
    response = client.post("/lexicon", data=_lexicon_form(org))
    assert response.status_code == 403
    assert _count(LexiconEntry) == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"term": ""}, "Bắt buộc."),
        ({"term": "   "}, "Bắt buộc."),
        ({"spoken": ""}, "Bắt buộc."),
        ({"spoken": "ban số 5"}, "Cách đọc phải viết bằng chữ, không dùng chữ số."),
    ],
)
def test_bad_lexicon_entry_is_refused_with_the_field_error(login_as, org, overrides, message):
    response = login_as("supervisor2").post("/lexicon", data=_lexicon_form(org, **overrides))
    assert response.status_code == 422
    page = _text(response)
    assert f'<small class="error-text">{message}</small>' in page
    assert "Đã thêm" not in page
    assert _count(LexiconEntry) == 0


def test_duplicate_lexicon_entry_is_refused_and_the_first_kept(login_as, users, org):
    _entry(users["supervisor2"], org.district, spoken="một cách")
    response = login_as("supervisor2").post("/lexicon", data=_lexicon_form(org, spoken="cách khác"))
    assert response.status_code == 422
    page = _text(response)
    assert '<small class="error-text">Đã có.</small>' in page
    assert "“XYZQ” đã có trong từ điển của đơn vị này; hãy sửa mục đó." in page
    assert [e.spoken for e in db.session.scalars(select(LexiconEntry))] == ["một cách"]


def test_supervisor_edits_and_deletes_an_entry_and_both_are_audited(login_as, users, org):
    entry = _entry(users["supervisor2"], org.district)
    client = login_as("supervisor2")
    form = client.get(f"/lexicon/{entry.id}/edit").get_data(as_text=True)
    assert 'value="ban xây dựng quê"' in form
    edited = client.post(
        f"/lexicon/{entry.id}/edit",
        data={"term": "XYZQ", "spoken": "xây dựng quê hương", "note": "sửa"},
        follow_redirects=True,
    )
    assert "Đã sửa “XYZQ”." in _text(edited)
    db.session.refresh(entry)
    assert (entry.spoken, entry.note) == ("xây dựng quê hương", "sửa")
    assert "xây dựng quê hương" in service.normalize_for(org.commune, "Ban XYZQ.").spoken

    entry_id = entry.id
    deleted = client.post(f"/lexicon/{entry_id}/delete", follow_redirects=True)
    assert "Đã xóa “XYZQ” khỏi từ điển." in _text(deleted)
    assert db.session.get(LexiconEntry, entry_id) is None

    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "lexicon").order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.actor_name, e.object_id) for e in events] == [
        ("lexicon.create", "supervisor2", entry_id),
        ("lexicon.update", "supervisor2", entry_id),
        ("lexicon.delete", "supervisor2", entry_id),
    ]
    assert events[1].details["before"]["spoken"] == "ban xây dựng quê"


def test_bad_edit_of_an_entry_is_refused_and_nothing_changes(login_as, users, org):
    entry = _entry(users["supervisor2"], org.district)
    response = login_as("supervisor2").post(
        f"/lexicon/{entry.id}/edit", data={"term": "XYZQ", "spoken": "ban 5", "note": ""}
    )
    assert response.status_code == 422
    assert "Cách đọc phải viết bằng chữ, không dùng chữ số." in _text(response)
    db.session.refresh(entry)
    assert entry.spoken == "ban xây dựng quê"
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert "lexicon.update" not in actions


def test_supervisor_cannot_edit_or_delete_another_units_entry(login_as, users, org):
    entry = _entry(users["outside_supervisor"], org.other_district)
    client = login_as("supervisor2")
    assert client.get(f"/lexicon/{entry.id}/edit").status_code == 404
    response = client.post(
        f"/lexicon/{entry.id}/edit", data={"term": "XYZQ", "spoken": "khác", "note": ""}
    )
    assert response.status_code == 404
    assert client.post(f"/lexicon/{entry.id}/delete").status_code == 404
    db.session.refresh(entry)
    assert (entry.term, entry.spoken) == ("XYZQ", "ban xây dựng quê")
    assert "XYZQ" not in client.get("/lexicon").get_data(as_text=True)


def test_regional_reading_form_saves_and_is_applied(login_as, users, org):
    client = login_as("supervisor2")
    response = client.post(
        "/lexicon/reading",
        data={
            "unit_id": org.district.id,
            "thousand": "ngàn",
            "zero_tens": "lẻ",
            "four_after_tens": "",
            "code_policy": "",
        },
        follow_redirects=True,
    )
    assert "Đã lưu cách đọc của “Thành phố Phan Thiết”." in _text(response)
    db.session.refresh(org.district)
    assert org.district.reading_options == {"thousand": "ngàn", "zero_tens": "lẻ"}
    preview = _text(client.get("/lexicon", query_string={"thu": "1.500 người, 105 hộ"}))
    assert "một ngàn năm trăm" in preview and "một trăm lẻ năm" in preview
    script = make_script(users["writer"], org.commune, body="Có 1.500 người.")
    assert "một ngàn năm trăm" in login_as("writer").get(f"/scripts/{script.id}").get_data(
        as_text=True
    )


def test_bad_regional_reading_is_refused_and_nothing_saved(login_as, org):
    response = login_as("supervisor2").post(
        "/lexicon/reading",
        data={"unit_id": org.district.id, "thousand": "ngan", "zero_tens": "", "code_policy": ""},
        follow_redirects=True,
    )
    assert "Chưa lưu được" in _text(response)
    db.session.refresh(org.district)
    assert org.district.reading_options == {}


# --- Review page ---------------------------------------------------------------------------


def test_review_page_shows_the_player_spoken_text_and_warnings(login_as, users, org):
    script = make_script(users["writer"], org.district, body=BODY)
    submit(users["writer"], script)
    render = script.submitted_render
    page = _text(login_as("supervisor").get(f"/scripts/{script.id}/review"))
    assert "Âm thanh sẽ phát" in page
    assert f'<audio controls preload="none" src="/renders/{render.id}/audio">' in page
    assert render.spoken_text in page
    assert "Ủy ban nhân dân phường" in page
    assert "Không biết đọc “XYZQ”" in page
    assert f"cùng bản âm thanh #{render.id}" in page


# --- Station speech settings in the admin station form -------------------------------------


def _station_form(station: Station, **overrides) -> dict:
    """The station form as the admin would post it."""
    data = {
        "code": station.code,
        "name": station.name,
        "kind": station.kind.value,
        "unit_id": station.unit_id,
        "active": "y",
        "intro_text": "Đài Truyền thanh phường Phú Thủy xin thông báo",
        "speech_engine": "espeak",
        "speech_voice": "vi-vn-x-south",
        "target_lufs": "-18",
        "true_peak_db": "-2",
    }
    data.update(overrides)
    return data


def test_admin_saves_the_stations_speech_settings(login_as, org):
    station = make_station(org.commune)
    response = login_as("admin").post(
        f"/admin/stations/{station.id}", data=_station_form(station), follow_redirects=True
    )
    assert f"Đã lưu đài {station.name}." in _text(response)
    db.session.refresh(station)
    assert station.intro_text == "Đài Truyền thanh phường Phú Thủy xin thông báo"
    assert (station.speech_engine, station.speech_voice) == ("espeak", "vi-vn-x-south")
    assert (station.target_lufs, station.true_peak_db) == (-18.0, -2.0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"target_lufs": "-5"}, "Từ −30 đến −10."),
        ({"true_peak_db": "3"}, "Từ −9 đến 0."),
        ({"target_lufs": "to"}, "Phải là số."),
        (
            {"speech_engine": "gtts", "speech_voice": "vi-vn-x-south"},
            "không có giọng “vi-vn-x-south”",
        ),
    ],
)
def test_admin_station_form_refuses_bad_speech_settings(login_as, org, overrides, message):
    station = make_station(org.commune)
    response = login_as("admin").post(
        f"/admin/stations/{station.id}", data=_station_form(station, **overrides)
    )
    page = _text(response)
    assert message in page
    assert "Đã lưu đài" not in page
    db.session.refresh(station)
    assert (station.intro_text, station.speech_engine, station.speech_voice) == ("", "", "")
    assert (station.target_lufs, station.true_peak_db) == (-16.0, -1.0)
