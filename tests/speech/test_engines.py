"""Speech engines: real eSpeak NG synthesis, gTTS against a local fake of Google, the registry."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import espeakng_loader
import pytest
from gtts import gTTS

from app.speech import engines
from app.speech.audio import decode_audio
from app.speech.engines import (
    ENGINES,
    EngineError,
    EspeakEngine,
    GttsEngine,
    SpeechEngine,
    VoiceInfo,
    engine_choices,
    get_engine,
    register_engine,
    split_phrases,
)
from tests.speech import gtts_server
from tests.speech.gtts_server import FakeGoogle, closed_port_url, running_fake_google

SENTENCE = "Xin chào bà con. Hôm nay xã tổ chức tiêm vắc xin phòng Covid-19 tại trạm y tế xã."
# Modelled on dispatch 855/BCĐ-TBTTTT: the heading wraps "tiêm" and "vắc xin" onto two lines,
# and gTTS's own tokenizer cuts there (it splits at line ends, commas and every 100 chars).
DISPATCH = (
    "Về việc đẩy mạnh truyền thông chiến dịch tiêm\n"
    "vắc xin và cài đặt Sổ sức khỏe điện tử để theo dõi tiêm vắc xin phòng Covid-19. "
    "Ủy ban nhân dân xã đề nghị toàn thể bà con nhân dân tích cực hưởng ứng, "
    "mang theo căn cước công dân khi đi tiêm, đeo khẩu trang và giữ khoảng cách."
)


def paragraph(n: int) -> str:
    """Return a paragraph of n numbered announcement sentences."""
    return " ".join(
        f"Thông báo số {i}: bà con thôn {i} đến nhà văn hóa lúc bảy giờ sáng, "
        "mang theo giấy tờ tùy thân và đeo khẩu trang."
        for i in range(1, n + 1)
    )


class FakeClock:
    """A monotonic clock that only moves when the engine sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """Return the current fake time."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Record the sleep and move time on, without waiting."""
        self.sleeps.append(seconds)
        self.now += seconds


# --- eSpeak NG ---------------------------------------------------------------------------------


@pytest.fixture
def espeak_engine() -> EspeakEngine:
    """The espeak engine through the espeakng-loader library."""
    return EspeakEngine({"ESPEAK_MODE": "library"})


@pytest.mark.parametrize("voice", ["vi", "vi-vn-x-central", "vi-vn-x-south"])
def test_espeak_speaks_each_voice_as_mono_16bit_22050(espeak_engine, voice):
    audio = espeak_engine.synthesize(SENTENCE, voice=voice)
    assert (audio.channels, audio.sample_width, audio.frame_rate) == (1, 2, 22050)
    assert 3.0 < audio.duration_seconds < 15.0
    assert audio.rms > 100  # speech, not silence


def test_espeak_voices_sound_different(espeak_engine):
    # Each regional voice has its own phonemes and rhythm; espeak's run-to-run jitter is ~0.4%.
    text = f"{SENTENCE} {SENTENCE} {SENTENCE}"
    north, central, south = (
        espeak_engine.synthesize(text, voice=v.id).duration_seconds for v in engines_voices()
    )
    assert central < 0.99 * north
    assert south > 1.01 * north


def engines_voices() -> list[VoiceInfo]:
    """The espeak voices as offered to users."""
    return EspeakEngine().voices()


def test_espeak_offers_three_regional_voices_with_vietnamese_labels():
    assert [(v.id, v.label) for v in engines_voices()] == [
        ("vi", "Giọng miền Bắc"),
        ("vi-vn-x-central", "Giọng miền Trung"),
        ("vi-vn-x-south", "Giọng miền Nam"),
    ]
    assert EspeakEngine.default_voice == "vi"


def test_espeak_longer_text_gives_longer_audio(espeak_engine):
    short = espeak_engine.synthesize(SENTENCE, voice="vi")
    long = espeak_engine.synthesize(f"{SENTENCE} {SENTENCE} {SENTENCE}", voice="vi")
    assert long.duration_seconds > 2.5 * short.duration_seconds


def test_espeak_speed_changes_duration(espeak_engine):
    normal = espeak_engine.synthesize(SENTENCE, voice="vi").duration_seconds
    fast = espeak_engine.synthesize(SENTENCE, voice="vi", speed=200).duration_seconds
    slow = espeak_engine.synthesize(SENTENCE, voice="vi", speed=50).duration_seconds
    assert fast < 0.7 * normal
    assert slow > 1.5 * normal


def test_espeak_reports_progress_up_to_one_on_long_text(espeak_engine):
    text = "\n\n".join(paragraph(8) for _ in range(4))  # about 3,500 characters, 4 paragraphs
    progress: list[float] = []
    audio = espeak_engine.synthesize(text, voice="vi", on_progress=progress.append)
    assert len(progress) >= 8
    assert progress == sorted(progress)
    assert progress[-1] == 1.0
    assert audio.duration_seconds > 120


def test_espeak_pauses_between_sentences(espeak_engine):
    run_on = espeak_engine.synthesize("bà con đến nhà văn hóa", voice="vi").duration_seconds
    two = espeak_engine.synthesize("Bà con đến. Nhà văn hóa.", voice="vi").duration_seconds
    assert two > run_on + 0.2


def test_espeak_is_safe_from_four_threads_at_once():
    jobs = [("vi", SENTENCE), ("vi-vn-x-central", DISPATCH), ("vi-vn-x-south", SENTENCE)]
    jobs.append(("vi", DISPATCH))
    engine = EspeakEngine({"ESPEAK_MODE": "library"})
    # espeak adds slight random variation, so compare lengths rather than bytes.
    expected = [engine.synthesize(t, voice=v).duration_seconds for v, t in jobs]
    results: list[float | None] = [None] * len(jobs)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(jobs))

    def work(i: int) -> None:
        try:
            barrier.wait()
            voice, text = jobs[i]
            audio = EspeakEngine({"ESPEAK_MODE": "library"}).synthesize(text, voice=voice)
            assert audio.rms > 100
            results[i] = audio.duration_seconds
        except BaseException as exc:  # reported below; a thread must not swallow it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [pytest.approx(d, rel=0.03) for d in expected]


def test_espeak_unknown_voice_raises_vietnamese_engine_error(espeak_engine):
    with pytest.raises(EngineError) as info:
        espeak_engine.synthesize(SENTENCE, voice="en-us")
    assert "không có giọng “en-us”" in info.value.message
    assert info.value.engine == "espeak"
    assert not info.value.retryable


@pytest.mark.parametrize("engine_cls", [EspeakEngine, GttsEngine])
@pytest.mark.parametrize("speed", [49, 201, 0, -100])
def test_speed_outside_50_to_200_is_rejected(engine_cls, speed):
    with pytest.raises(ValueError, match="speed"):
        engine_cls().synthesize(SENTENCE, voice="vi", speed=speed)


@pytest.mark.parametrize("text", ["", "   \n\n ", ". , !"])
def test_espeak_refuses_text_with_nothing_to_speak(espeak_engine, text):
    with pytest.raises(ValueError):
        espeak_engine.synthesize(text, voice="vi")


def test_espeak_missing_library_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: str(tmp_path / "none.so"))
    engine = EspeakEngine({"ESPEAK_MODE": "library"})
    with pytest.raises(EngineError) as info:
        engine.check()
    assert "espeakng-loader" in info.value.message
    assert "make run" in info.value.message
    with pytest.raises(EngineError):
        engine.synthesize(SENTENCE, voice="vi")


def test_espeak_without_library_or_command_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: str(tmp_path / "none.so"))
    engine = EspeakEngine({"ESPEAK_COMMAND": str(tmp_path / "espeak-ng")})
    with pytest.raises(EngineError) as info:
        engine.synthesize(SENTENCE, voice="vi")
    assert info.value.message.startswith("Không tìm thấy bộ đọc eSpeak NG")
    assert "apt-get install espeak-ng" in info.value.message


def test_espeak_rejects_unknown_mode():
    with pytest.raises(EngineError, match="ESPEAK_MODE"):
        EspeakEngine({"ESPEAK_MODE": "cloud"}).check()


FAKE_ESPEAK = """\
#!{python}
'''Stand-in for espeak-ng: writes 0.1 s of a constant per word to the -w file, logs its args.'''
import sys, wave
args = sys.argv[1:]
text = sys.stdin.buffer.read().decode("utf-8")
with open({log!r}, "a", encoding="utf-8") as log:
    log.write(" ".join(args[:6]) + "|" + text + "\\n")
with wave.open(args[args.index("-w") + 1], "wb") as out:
    out.setnchannels(1)
    out.setsampwidth(2)
    out.setframerate(22050)
    out.writeframes(b"\\x10\\x00" * 2205 * len(text.split()))
"""


@pytest.fixture
def fake_espeak_command(tmp_path) -> tuple[Path, Path]:
    """A fake espeak-ng executable and the file where it logs its calls."""
    log = tmp_path / "calls.log"
    command = tmp_path / "espeak-ng"
    command.write_text(FAKE_ESPEAK.format(python=sys.executable, log=str(log)))
    command.chmod(0o755)
    return command, log


def test_espeak_command_mode_passes_voice_and_rate_and_reads_wav(fake_espeak_command):
    command, log = fake_espeak_command
    engine = EspeakEngine({"ESPEAK_MODE": "command", "ESPEAK_COMMAND": str(command)})
    audio = engine.synthesize("Một hai ba. Bốn năm.", voice="vi-vn-x-south", speed=200)
    assert (audio.channels, audio.sample_width, audio.frame_rate) == (1, 2, 22050)
    assert audio.duration_seconds == pytest.approx(0.5)
    assert log.read_text(encoding="utf-8").splitlines() == [
        "-v vi-vn-x-south -s 350 -b 1|Một hai ba. Bốn năm."
    ]


def test_espeak_auto_falls_back_to_command_without_library(
    monkeypatch, tmp_path, fake_espeak_command
):
    command, log = fake_espeak_command
    monkeypatch.setattr(espeakng_loader, "get_library_path", lambda: str(tmp_path / "none.so"))
    engine = EspeakEngine({"ESPEAK_COMMAND": str(command)})
    engine.check()
    assert engine.synthesize("Một hai.", voice="vi").duration_seconds == pytest.approx(0.2)
    assert log.exists()


@pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="ESPEAK-NG COMMAND NOT INSTALLED: command mode NOT tested; apt-get install espeak-ng",
)
def test_espeak_command_mode_with_system_espeak_ng():
    engine = EspeakEngine({"ESPEAK_MODE": "command"})
    audio = engine.synthesize(SENTENCE, voice="vi-vn-x-central")
    assert (audio.channels, audio.sample_width) == (1, 2)
    assert audio.duration_seconds > 3.0


# --- Phrase chunking ---------------------------------------------------------------------------


def test_split_phrases_keeps_words_whole_and_within_limit():
    text = "\n\n".join([DISPATCH, paragraph(12), "Một câu rất " + "dài " * 80 + "kết thúc."])
    chunks = split_phrases(text, 100)
    assert all(len(c) <= 100 for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_split_phrases_starts_each_paragraph_in_a_new_chunk():
    assert split_phrases("Một.\n\nHai.\nBa.", 100) == ["Một.", "Hai. Ba."]


def test_split_phrases_prefers_sentence_then_comma_boundaries():
    first = "Bà con thôn Một, thôn Hai và thôn Ba đến nhà văn hóa lúc bảy giờ sáng,"
    second = "mang theo căn cước công dân."
    chunks = split_phrases(f"{first} {second} Xin cảm ơn.", 80)
    assert chunks == [first, f"{second} Xin cảm ơn."]


def test_split_phrases_cuts_a_word_only_when_it_alone_exceeds_the_limit():
    assert split_phrases("abcdefghij xyz", 4) == ["abcd", "efgh", "ij", "xyz"]


# --- gTTS against the local fake of Google ----------------------------------------------------


@pytest.fixture
def fake_google(monkeypatch) -> Iterator[FakeGoogle]:
    """A fake Google TTS endpoint on 127.0.0.1, reached directly even if a proxy is set."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with running_fake_google() as google:
        yield google


@pytest.fixture
def clock() -> FakeClock:
    """A clock the gTTS engine sleeps on without waiting."""
    return FakeClock()


def make_gtts(url: str, clock: FakeClock, **overrides) -> GttsEngine:
    """A gTTS engine pointed at url, sleeping on the fake clock."""
    config = {"GTTS_URL": url, "SLEEP": clock.sleep, "MONOTONIC": clock.monotonic}
    config.update(overrides)
    return GttsEngine(config)


def test_gtts_speaks_each_chunk_and_joins_real_mp3_audio(fake_google, clock):
    progress: list[float] = []
    audio = make_gtts(fake_google.url, clock).synthesize(
        DISPATCH, voice="vi", on_progress=progress.append
    )
    chunks = split_phrases(DISPATCH, 100)
    assert fake_google.texts == chunks
    assert {(r.lang, r.slow) for r in fake_google.received} == {("vi", None)}
    assert (audio.channels, audio.sample_width, audio.frame_rate) == (1, 2, 24000)
    tone = gtts_server.TONE_SECONDS
    assert len(chunks) * tone <= audio.duration_seconds < len(chunks) * (tone + 0.1)
    assert audio.rms > 100
    assert progress == [i / len(chunks) for i in range(1, len(chunks) + 1)]


def test_gtts_chunks_stay_within_limit_and_never_split_words(fake_google, clock):
    text = "\n\n".join([DISPATCH, paragraph(6), "Từ " * 60 + "cuối."])
    make_gtts(fake_google.url, clock, GTTS_CHUNK_CHARS=80).synthesize(text, voice="vi")
    assert all(len(t) <= 80 for t in fake_google.texts)
    assert " ".join(fake_google.texts).split() == text.split()


def test_gtts_keeps_tiem_vac_xin_in_one_chunk(fake_google, clock):
    # gTTS left to itself cuts the phrase, as measured in DOMAIN.md.
    own_parts = gTTS(DISPATCH, lang="vi", lang_check=False)._tokenize(DISPATCH)
    assert any(p.endswith("tiêm") for p in own_parts)
    make_gtts(fake_google.url, clock).synthesize(DISPATCH, voice="vi")
    assert "tiêm vắc xin và" in fake_google.texts[0]
    assert not any(t.endswith("tiêm") for t in fake_google.texts)


def test_gtts_sends_chunks_longer_than_100_chars_whole(fake_google, clock):
    make_gtts(fake_google.url, clock, GTTS_CHUNK_CHARS=300).synthesize(DISPATCH, voice="vi")
    assert fake_google.texts == [" ".join(DISPATCH.split())]


def test_gtts_throttles_requests_to_the_minimum_interval(fake_google, clock):
    make_gtts(fake_google.url, clock, GTTS_MIN_INTERVAL=0.5).synthesize(DISPATCH, voice="vi")
    requests_sent = len(fake_google.received)
    assert requests_sent >= 3
    assert clock.sleeps == [0.5] * (requests_sent - 1)


def test_gtts_retries_after_429_then_succeeds(fake_google, clock):
    fake_google.set_plan(gtts_server.TOO_MANY, gtts_server.OK)
    audio = make_gtts(fake_google.url, clock).synthesize(SENTENCE, voice="vi")
    assert audio.duration_seconds >= gtts_server.TONE_SECONDS
    assert clock.sleeps == [1.0]
    assert fake_google.texts == [SENTENCE, SENTENCE]


def test_gtts_gives_up_after_retries_on_persistent_429(fake_google, clock):
    fake_google.set_plan(gtts_server.TOO_MANY)
    with pytest.raises(EngineError) as info:
        make_gtts(fake_google.url, clock, GTTS_RETRIES=3).synthesize(SENTENCE, voice="vi")
    assert clock.sleeps == [1.0, 2.0, 4.0]  # exponential back-off
    assert len(fake_google.received) == 4
    assert "HTTP 429" in info.value.message
    assert "eSpeak NG" in info.value.message
    assert info.value.retryable
    assert info.value.engine == "gtts"


def test_gtts_retries_server_errors_then_reports_them(fake_google, clock):
    fake_google.set_plan(gtts_server.SERVER_ERROR)
    with pytest.raises(EngineError) as info:
        make_gtts(fake_google.url, clock, GTTS_RETRIES=2, GTTS_BACKOFF=0.5).synthesize(
            SENTENCE, voice="vi"
        )
    assert clock.sleeps == [0.5, 1.0]
    assert "HTTP 500" in info.value.message
    assert info.value.retryable


def test_gtts_recovers_from_a_server_error_mid_text(fake_google, clock):
    fake_google.set_plan(gtts_server.OK, gtts_server.SERVER_ERROR, gtts_server.OK)
    make_gtts(fake_google.url, clock).synthesize(DISPATCH, voice="vi")
    chunks = split_phrases(DISPATCH, 100)
    assert fake_google.texts == [chunks[0], chunks[1], *chunks[1:]]


def test_gtts_does_not_retry_a_403(fake_google, clock):
    fake_google.set_plan(gtts_server.FORBIDDEN)
    with pytest.raises(EngineError) as info:
        make_gtts(fake_google.url, clock).synthesize(SENTENCE, voice="vi")
    assert len(fake_google.received) == 1
    assert clock.sleeps == []
    assert "HTTP 403" in info.value.message
    assert not info.value.retryable


def test_gtts_reports_refused_connection_as_no_internet(clock):
    with pytest.raises(EngineError) as info:
        make_gtts(closed_port_url(), clock, GTTS_RETRIES=2).synthesize(SENTENCE, voice="vi")
    assert info.value.message.startswith("Không kết nối được máy chủ Google")
    assert clock.sleeps == [1.0, 2.0]
    assert info.value.retryable


def test_gtts_times_out_instead_of_waiting_forever(fake_google, clock):
    fake_google.set_plan(gtts_server.TIMEOUT)
    fake_google.delay = 3.0
    engine = make_gtts(fake_google.url, clock, GTTS_TIMEOUT=0.2, GTTS_RETRIES=1)
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        engine.synthesize(SENTENCE, voice="vi")
    assert time.monotonic() - started < 2.0
    assert len(fake_google.received) == 2
    assert "không trả lời sau 0.2 giây" in info.value.message
    assert info.value.retryable


def test_gtts_empty_audio_is_an_error(fake_google, clock):
    fake_google.set_plan(gtts_server.EMPTY)
    with pytest.raises(EngineError) as info:
        make_gtts(fake_google.url, clock, GTTS_RETRIES=1).synthesize(SENTENCE, voice="vi")
    assert "rỗng" in info.value.message
    assert len(fake_google.received) == 2


def test_gtts_answer_without_audio_is_not_retried(fake_google, clock):
    fake_google.set_plan(gtts_server.NO_AUDIO)
    with pytest.raises(EngineError) as info:
        make_gtts(fake_google.url, clock).synthesize(SENTENCE, voice="vi")
    assert "không kèm âm thanh" in info.value.message
    assert len(fake_google.received) == 1
    assert not info.value.retryable


@pytest.mark.parametrize(("speed", "slow"), [(50, True), (90, True), (100, None), (200, None)])
def test_gtts_asks_for_slow_reading_below_speed_100(fake_google, clock, speed, slow):
    make_gtts(fake_google.url, clock).synthesize(SENTENCE, voice="vi", speed=speed)
    assert {r.slow for r in fake_google.received} == {slow}


def test_gtts_unknown_voice_raises_vietnamese_engine_error(fake_google, clock):
    with pytest.raises(EngineError, match="không có giọng “vi-vn-x-south”"):
        make_gtts(fake_google.url, clock).synthesize(SENTENCE, voice="vi-vn-x-south")
    assert fake_google.received == []


def test_gtts_decodes_mp3_without_ffprobe_on_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither ffmpeg nor ffprobe reachable by name
    monkeypatch.setattr(engines.AudioSegment, "converter", "ffmpeg")
    audio = decode_audio(gtts_server.tone_mp3())
    assert audio.duration_seconds == pytest.approx(gtts_server.TONE_SECONDS, abs=0.1)
    assert (audio.channels, audio.sample_width) == (1, 2)


def test_gtts_reports_a_wrong_ffmpeg_binary_before_contacting_google(fake_google, clock):
    engine = make_gtts(fake_google.url, clock, FFMPEG_BINARY="/nonexistent/ffmpeg")
    with pytest.raises(EngineError, match="FFMPEG_BINARY"):
        engine.synthesize(SENTENCE, voice="vi")
    assert fake_google.received == []


def test_gtts_check_does_not_contact_google():
    GttsEngine({"GTTS_URL": closed_port_url()}).check()


# --- Registry ----------------------------------------------------------------------------------


def test_get_engine_returns_configured_builtin_engines():
    espeak = get_engine("espeak", {"ESPEAK_MODE": "library"})
    assert isinstance(espeak, EspeakEngine)
    assert espeak.offline
    assert isinstance(get_engine("gtts"), GttsEngine)
    assert not GttsEngine.offline


def test_get_engine_unknown_name_raises_vietnamese_error():
    with pytest.raises(EngineError) as info:
        get_engine("festival")
    assert info.value.message.startswith("Không có bộ đọc “festival”")
    assert "espeak" in info.value.message
    assert info.value.engine == "festival"


def test_engine_choices_offer_offline_espeak_first():
    assert engine_choices()[:2] == [
        ("espeak", "eSpeak NG (ngoại tuyến)"),
        ("gtts", "Google (trực tuyến, gTTS)"),
    ]


def test_registering_an_engine_class_makes_it_available(monkeypatch):
    monkeypatch.setattr(engines, "ENGINES", dict(ENGINES))  # restored after the test

    @register_engine
    class SilentEngine(SpeechEngine):
        name = "silent"
        label = "Im lặng"
        offline = True
        default_voice = "vi"

        def voices(self):
            return [VoiceInfo("vi", "Im lặng")]

        def check(self):
            pass

        def synthesize(self, text, *, voice, speed=100, on_progress=None):
            return engines.AudioSegment.silent(duration=100)

    engine = get_engine("silent", {"X": 1})
    assert isinstance(engine, SilentEngine)
    assert engine.config == {"X": 1}
    assert ("silent", "Im lặng") in engine_choices()
    assert "silent" not in ENGINES


def test_register_engine_refuses_a_second_class_with_the_same_name(monkeypatch):
    monkeypatch.setattr(engines, "ENGINES", dict(ENGINES))
    clash = type("Clash", (EspeakEngine,), {})
    with pytest.raises(ValueError, match="already registered"):
        register_engine(clash)
