"""Tests for audio assembly and mastering, on real audio through the real ffmpeg and meter."""

from __future__ import annotations

import math
import os
import random
from array import array
from pathlib import Path

import pytest

from app.speech import audio
from app.speech.audio import (
    AssemblySettings,
    AudioError,
    AudioSegment,
    AudioToolMissing,
    assemble,
    decode_audio,
    make_chime,
    master,
    measure,
    trim_silence,
)

TTS_RATE = 22050


# --- test audio -----------------------------------------------------------------------------


def make_tone(freq: float, ms: int, dbfs: float, rate: int = TTS_RATE) -> AudioSegment:
    """A mono 16-bit sine of the given peak level."""
    amplitude = 32767 * 10 ** (dbfs / 20)
    n = int(rate * ms / 1000)
    samples = array(
        "h", (round(amplitude * math.sin(2 * math.pi * freq * i / rate)) for i in range(n))
    )
    return AudioSegment(samples.tobytes(), sample_width=2, frame_rate=rate, channels=1)


def make_silence(ms: int, rate: int = TTS_RATE) -> AudioSegment:
    """Mono 16-bit digital silence."""
    return AudioSegment(
        bytes(2 * int(rate * ms / 1000)), sample_width=2, frame_rate=rate, channels=1
    )


def _syllable(rng: random.Random, ms: int, f0: float, peak: int) -> bytes:
    """One voiced syllable: harmonics of a gliding f0 with random phases, vibrato and a hum."""
    n = int(TTS_RATE * ms / 1000)
    harmonics = [(k, k**-0.8, rng.uniform(0, 2 * math.pi)) for k in range(1, int(3500 / f0) + 1)]
    glide = rng.uniform(-0.2, 0.2)
    attack, release = int(0.02 * TTS_RATE), int(0.05 * TTS_RATE)
    values = []
    phase = 0.0
    for i in range(n):
        phase += 2 * math.pi * f0 * (1 + glide * i / n) / TTS_RATE
        env = min(1.0, i / attack, (n - i) / release) * (0.8 + 0.2 * math.sin(i / 700))
        voiced = sum(a * math.sin(k * phase + p) for k, a, p in harmonics)
        # Mains-like 60 Hz rumble under the voice: the high-pass must take it out.
        values.append(env * (voiced + 0.6 * math.sin(2 * math.pi * 60 * i / TTS_RATE)))
    scale = peak / max(abs(v) for v in values)
    samples = array("h", (round(v * scale) for v in values))
    # A plosive-like click at full scale on some syllables, so the limiter has work to do.
    if rng.random() < 0.4:
        for i in range(60):
            samples[i + attack] = 32767 if i % 2 else -32767
    return samples.tobytes()


def make_speech(seconds: float, seed: int = 7) -> AudioSegment:
    """Deterministic speech-like audio at the TTS rate: syllables, short and long pauses."""
    rng = random.Random(seed)
    syllables = [
        _syllable(rng, rng.choice([140, 180, 220, 260]), rng.uniform(90, 220), peak)
        for peak in (9000, 14000, 20000, 26000, 32000, 12000, 18000, 30000)
    ]
    parts, total, wanted = [], 0, int(seconds * TTS_RATE) * 2
    while total < wanted:
        for chunk in (
            rng.choice(syllables),
            bytes(2 * int(TTS_RATE * rng.choice([0.04, 0.07, 0.3]))),
        ):
            parts.append(chunk)
            total += len(chunk)
    # Start and end on a syllable, like a trimmed TTS clip.
    data = b"".join(parts)[:wanted]
    return AudioSegment(data, sample_width=2, frame_rate=TTS_RATE, channels=1)


def tone_level_db(segment: AudioSegment, freq: float) -> float:
    """Level of one frequency in segment (Goertzel), in dB relative to an arbitrary reference."""
    samples = segment.get_array_of_samples()
    coeff = 2 * math.cos(2 * math.pi * freq / segment.frame_rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 10 * math.log10(max(power, 1e-9))


def silence_ms(segment: AudioSegment, *, from_end: bool, threshold_db: float = -50.0) -> int:
    """Milliseconds of silence at the start (or end) of segment, in 10 ms steps."""
    step = 10
    positions = range(len(segment) - step, -1, -step) if from_end else range(0, len(segment), step)
    for count, position in enumerate(positions):
        if segment[position : position + step].dBFS > threshold_db:
            return count * step
    return len(segment)


def assembled_speech(settings: AssemblySettings, seconds: float = 20.0) -> AudioSegment:
    """A full programme (chime, intro, body, repeats) built from speech-like audio."""
    return assemble(
        make_speech(seconds),
        intro=make_speech(2.0, seed=3),
        repeat_intro=make_speech(1.0, seed=5),
        settings=settings,
    )


@pytest.fixture(scope="module")
def mastered_mp3(tmp_path_factory):
    """Master a default-settings programme once for the MP3 checks."""
    settings = AssemblySettings()
    programme = assembled_speech(settings)
    out = tmp_path_factory.mktemp("mp3") / "spot.mp3"
    return programme, master(programme, out, settings), out


# --- mastering ------------------------------------------------------------------------------


def test_master_hits_target_loudness_within_one_lu(mastered_mp3):
    _, measurement, _ = mastered_mp3
    assert measurement.integrated_lufs == pytest.approx(-16.0, abs=1.0)


def test_master_keeps_true_peak_at_or_below_minus_one_dbtp(mastered_mp3):
    _, measurement, _ = mastered_mp3
    assert measurement.true_peak_dbtp <= -1.0


def test_master_writes_mono_44100_hz_128_kbps_mp3(mastered_mp3):
    _, measurement, out = mastered_mp3
    assert (measurement.codec, measurement.channels, measurement.sample_rate) == ("mp3", 1, 44100)
    assert measurement.bitrate_kbps == 128
    assert out.read_bytes()[:3] in (b"ID3", b"\xff\xfb")
    # The returned figures are those of the file on disk, not of an intermediate.
    assert measure(out) == measurement


def test_master_output_lasts_as_long_as_the_assembled_programme(mastered_mp3):
    programme, measurement, _ = mastered_mp3
    assert measurement.duration_s == pytest.approx(len(programme) / 1000, abs=0.15)


def test_master_output_has_no_silence_beyond_lead_and_tail(mastered_mp3):
    _, _, out = mastered_mp3
    decoded = decode_audio(out)
    settings = AssemblySettings()
    assert settings.lead_ms - 40 <= silence_ms(decoded, from_end=False) <= settings.lead_ms + 40
    # The closing chime fades out below the threshold a little before it ends.
    assert settings.tail_ms - 40 <= silence_ms(decoded, from_end=True) <= settings.tail_ms + 200


def test_master_hits_custom_loudness_and_peak_ceiling(tmp_path):
    settings = AssemblySettings(target_lufs=-20.0, true_peak_db=-2.0, bitrate_kbps=96)
    measurement = master(assembled_speech(settings), tmp_path / "quiet.mp3", settings)
    assert measurement.integrated_lufs == pytest.approx(-20.0, abs=1.0)
    assert measurement.true_peak_dbtp <= -2.0
    assert measurement.bitrate_kbps == 96


def test_master_writes_wav_pcm_at_the_chosen_rate(tmp_path):
    settings = AssemblySettings(format="wav", sample_rate=48000, chime=False)
    programme = assemble(make_speech(10.0), intro=None, repeat_intro=None, settings=settings)
    out = tmp_path / "spot.wav"
    measurement = master(programme, out, settings)
    assert out.read_bytes()[:4] == b"RIFF"
    assert (measurement.codec, measurement.channels, measurement.sample_rate) == (
        "pcm_s16le",
        1,
        48000,
    )
    assert measurement.bitrate_kbps is None
    assert measurement.integrated_lufs == pytest.approx(-16.0, abs=1.0)
    assert measurement.true_peak_dbtp <= -1.0
    assert measurement.duration_s == pytest.approx(len(programme) / 1000, abs=0.1)
    decoded = decode_audio(out)
    assert silence_ms(decoded, from_end=False) <= settings.lead_ms + 40 + 30


def test_master_high_pass_removes_content_below_the_cutoff(tmp_path):
    low, high = make_tone(50, 4000, -12.0), make_tone(1000, 4000, -12.0)
    mixed = low.overlay(high)
    before = tone_level_db(mixed[1000:2000], 50) - tone_level_db(mixed[1000:2000], 1000)
    settings = AssemblySettings(format="wav", chime=False)
    master(mixed, tmp_path / "hp.wav", settings)
    decoded = decode_audio(tmp_path / "hp.wav")[1500:2500]
    after = tone_level_db(decoded, 50) - tone_level_db(decoded, 1000)
    assert abs(before) < 1.0
    assert after < before - 20.0


def test_master_without_high_pass_keeps_low_frequencies(tmp_path):
    mixed = make_tone(50, 4000, -12.0).overlay(make_tone(1000, 4000, -12.0))
    settings = AssemblySettings(format="wav", chime=False, highpass_hz=0)
    master(mixed, tmp_path / "flat.wav", settings)
    decoded = decode_audio(tmp_path / "flat.wav")[1500:2500]
    assert tone_level_db(decoded, 50) - tone_level_db(decoded, 1000) > -3.0


def test_master_failure_keeps_previous_file_and_leaves_no_temp_files(tmp_path, monkeypatch):
    out = tmp_path / "spot.mp3"
    out.write_bytes(b"previous render")
    real_run = audio.run_ffmpeg

    def broken_encoder(args, **kwargs):
        return real_run([a if a != "libmp3lame" else "no_such_encoder" for a in args], **kwargs)

    monkeypatch.setattr(audio, "run_ffmpeg", broken_encoder)
    with pytest.raises(AudioError) as caught:
        master(make_speech(3.0), out, AssemblySettings())
    assert "ffmpeg" in caught.value.message
    assert out.read_bytes() == b"previous render"
    assert os.listdir(tmp_path) == ["spot.mp3"]


def test_master_failure_after_encoding_leaves_no_partial_file(tmp_path, monkeypatch):
    def failing_measure(path, **kwargs):
        assert Path(path).stat().st_size > 0  # the encoded file exists at this point
        raise AudioError("đo thất bại")

    monkeypatch.setattr(audio, "measure", failing_measure)
    with pytest.raises(AudioError):
        master(make_speech(3.0), tmp_path / "spot.mp3", AssemblySettings())
    assert os.listdir(tmp_path) == []


# --- measuring ------------------------------------------------------------------------------


def test_measure_reads_a_minus_20_dbfs_sine_as_about_minus_23_lufs(tmp_path):
    path = tmp_path / "sine.wav"
    with path.open("wb") as out:
        make_tone(1000, 10_000, -20.0, rate=44100).export(out, format="wav")
    measurement = measure(path)
    assert measurement.integrated_lufs == pytest.approx(-23.0, abs=0.5)
    assert measurement.true_peak_dbtp == pytest.approx(-20.0, abs=0.5)
    assert measurement.duration_s == pytest.approx(10.0, abs=0.01)
    assert (measurement.codec, measurement.sample_rate, measurement.channels) == (
        "pcm_s16le",
        44100,
        1,
    )


def test_measure_of_a_missing_file_raises_audio_error(tmp_path):
    with pytest.raises(AudioError) as caught:
        measure(tmp_path / "missing.mp3")
    assert "No such file" in caught.value.message


# --- assembling -----------------------------------------------------------------------------

BODY_MS = 2000
KEEP_MS = 30


def padded_tone(freq: float, ms: int, dbfs: float, pad_ms: int = 500) -> AudioSegment:
    """A tone with silence on both sides, like a TTS clip."""
    return make_silence(pad_ms) + make_tone(freq, ms, dbfs) + make_silence(pad_ms)


def plain(**overrides) -> AssemblySettings:
    """Settings without chime, so durations are easy to add up."""
    return AssemblySettings(**{"chime": False, **overrides})


def test_assemble_body_only_is_lead_trimmed_body_and_tail():
    result = assemble(
        padded_tone(1000, BODY_MS, -6), intro=None, repeat_intro=None, settings=plain()
    )
    assert len(result) == pytest.approx(300 + BODY_MS + 2 * KEEP_MS + 500, abs=10)
    assert (result.channels, result.sample_width, result.frame_rate) == (1, 2, TTS_RATE)


def test_assemble_with_chime_adds_both_chimes_and_gaps():
    body = padded_tone(1000, BODY_MS, -6)
    without = assemble(body, intro=None, repeat_intro=None, settings=plain())
    with_chime = assemble(body, intro=None, repeat_intro=None, settings=AssemblySettings())
    chime_ms = len(make_chime(TTS_RATE))
    assert len(with_chime) - len(without) == pytest.approx(2 * (chime_ms + 700), abs=2)


def test_assemble_with_intro_adds_trimmed_intro_and_gap():
    body, intro = padded_tone(1000, BODY_MS, -6), padded_tone(500, 800, -20)
    without = assemble(body, intro=None, repeat_intro=None, settings=plain())
    with_intro = assemble(body, intro=intro, repeat_intro=None, settings=plain())
    assert len(with_intro) - len(without) == pytest.approx(800 + 2 * KEEP_MS + 700, abs=10)


def test_assemble_each_repeat_adds_pause_repeat_clip_gap_and_body():
    body, again = padded_tone(1000, BODY_MS, -6), padded_tone(700, 600, -14)
    once = assemble(body, intro=None, repeat_intro=again, settings=plain(repeats=1))
    thrice = assemble(body, intro=None, repeat_intro=again, settings=plain(repeats=3))
    per_repeat = 2000 + (600 + 2 * KEEP_MS) + 700 + (BODY_MS + 2 * KEEP_MS)
    assert len(thrice) - len(once) == pytest.approx(2 * per_repeat, abs=20)


def test_assemble_repeat_without_repeat_clip_adds_pause_and_body_only():
    body = padded_tone(1000, BODY_MS, -6)
    once = assemble(body, intro=None, repeat_intro=None, settings=plain(repeats=1))
    twice = assemble(
        body, intro=None, repeat_intro=None, settings=plain(repeats=2, repeat_pause_ms=1500)
    )
    assert len(twice) - len(once) == pytest.approx(1500 + BODY_MS + 2 * KEEP_MS, abs=10)


def test_assemble_puts_parts_in_order_with_silent_pauses_between():
    body, intro, again = (
        padded_tone(1000, BODY_MS, -6),
        padded_tone(500, 800, -20),
        padded_tone(700, 600, -14),
    )
    settings = AssemblySettings(repeats=2, lead_ms=400, gap_ms=600, repeat_pause_ms=1200)
    result = assemble(body, intro=intro, repeat_intro=again, settings=settings)
    chime = len(make_chime(TTS_RATE))
    timeline = [
        ("lead", 400, None),
        ("chime", chime, "chime"),
        ("gap", 600, None),
        ("intro", 800 + 2 * KEEP_MS, -20),
        ("gap", 600, None),
        ("body", BODY_MS + 2 * KEEP_MS, -6),
        ("pause", 1200, None),
        ("repeat clip", 600 + 2 * KEEP_MS, -14),
        ("gap", 600, None),
        ("body again", BODY_MS + 2 * KEEP_MS, -6),
        ("gap", 600, None),
        ("closing chime", chime, "chime"),
        ("tail", 500, None),
    ]
    start = 0
    for name, length, level in timeline:
        middle = result[start + length // 2 - 50 : start + length // 2 + 50]
        if level is None:
            assert middle.max == 0, name
        elif level == "chime":
            assert middle.max > 0, name
        else:
            assert middle.max_dBFS == pytest.approx(level, abs=0.5), name
        start += length
    assert len(result) == pytest.approx(start, abs=20)


def test_assemble_trims_the_clips_own_silence():
    tight = assemble(make_tone(1000, BODY_MS, -6), intro=None, repeat_intro=None, settings=plain())
    padded = assemble(
        make_silence(1500) + make_tone(1000, BODY_MS, -6) + make_silence(900),
        intro=None,
        repeat_intro=None,
        settings=plain(),
    )
    # Only the keep margin of each side survives from the padding.
    assert len(padded) - len(tight) == pytest.approx(2 * KEEP_MS, abs=10)


def test_assemble_converts_clips_to_mono_16_bit_at_the_body_rate():
    body = padded_tone(1000, BODY_MS, -6)
    stereo_intro = make_tone(500, 800, -20, rate=44100).set_channels(2)
    result = assemble(body, intro=stereo_intro, repeat_intro=None, settings=plain())
    assert (result.channels, result.sample_width, result.frame_rate) == (1, 2, TTS_RATE)
    expected = 300 + 800 + 700 + BODY_MS + 2 * KEEP_MS + 500
    assert len(result) == pytest.approx(expected, abs=15)


def test_assemble_caps_the_rate_at_the_settings_sample_rate():
    body = make_tone(1000, 1000, -6, rate=48000)
    result = assemble(body, intro=None, repeat_intro=None, settings=plain(sample_rate=44100))
    assert result.frame_rate == 44100


def test_assemble_refuses_a_silent_body():
    with pytest.raises(ValueError, match="không có âm thanh"):
        assemble(make_silence(2000), intro=None, repeat_intro=None, settings=plain())


def test_trim_silence_keeps_a_short_margin_around_the_sound():
    clip = make_silence(400) + make_tone(1000, 1000, -6) + make_silence(600)
    assert len(trim_silence(clip)) == pytest.approx(1000 + 2 * KEEP_MS, abs=10)


def test_trim_silence_treats_quiet_hiss_below_the_threshold_as_silence():
    rng = random.Random(1)
    hiss = array("h", (rng.randint(-20, 20) for _ in range(TTS_RATE)))  # about -67 dBFS
    quiet = AudioSegment(hiss.tobytes(), sample_width=2, frame_rate=TTS_RATE, channels=1)
    clip = quiet + make_tone(1000, 1000, -6) + quiet
    assert len(trim_silence(clip, keep_ms=0)) == pytest.approx(1000, abs=10)


def test_trim_silence_leaves_a_clip_without_silence_unchanged():
    clip = make_tone(1000, 1000, -6)
    assert trim_silence(clip) is clip


def test_trim_silence_of_pure_silence_is_empty():
    assert len(trim_silence(make_silence(500))) == 0


# --- chime ----------------------------------------------------------------------------------


def test_opening_chime_rises_and_closing_chime_falls():
    opening, closing = make_chime(44100), make_chime(44100, closing=True)
    c5, g5 = 523.25, 783.99
    assert tone_level_db(opening[0:250], c5) > tone_level_db(opening[0:250], g5) + 20
    assert tone_level_db(opening[600:900], g5) > tone_level_db(opening[600:900], c5) + 10
    assert tone_level_db(closing[0:250], g5) > tone_level_db(closing[0:250], c5) + 20
    assert tone_level_db(closing[600:900], c5) > tone_level_db(closing[600:900], g5) + 10


def test_chime_lasts_about_one_and_a_half_seconds_with_soft_edges():
    chime = make_chime(TTS_RATE)
    assert len(chime) == pytest.approx(1500, abs=5)
    assert (chime.channels, chime.frame_rate) == (1, TTS_RATE)
    assert chime[:2].max_dBFS < chime.max_dBFS - 20  # no click at the start
    assert chime[-10:].max_dBFS < -40  # fades out instead of stopping dead
    assert chime.max_dBFS == pytest.approx(-6.0, abs=0.5)


# --- settings -------------------------------------------------------------------------------


def test_settings_round_trip_through_a_sorted_dict():
    settings = AssemblySettings(repeats=3, target_lufs=-18.0, format="wav", sample_rate=48000)
    data = settings.as_dict()
    assert list(data) == sorted(data)
    assert AssemblySettings.from_dict(data) == settings
    assert AssemblySettings.from_dict({}) == AssemblySettings()


def test_settings_from_form_strings_are_converted():
    settings = AssemblySettings.from_dict({"repeats": "2", "chime": "false", "target_lufs": "-18"})
    assert (settings.repeats, settings.chime, settings.target_lufs) == (2, False, -18.0)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("repeats", 0, "Số lần đọc phải từ 1 đến 5"),
        ("repeats", 6, "Số lần đọc phải từ 1 đến 5"),
        ("target_lufs", -31, "Độ to mục tiêu phải từ -30 đến -10 LUFS"),
        ("target_lufs", -9.5, "Độ to mục tiêu phải từ -30 đến -10 LUFS"),
        ("true_peak_db", 0.5, "đỉnh thực tối đa phải từ -9 đến 0 dBTP"),
        ("true_peak_db", -9.5, "đỉnh thực tối đa phải từ -9 đến 0 dBTP"),
        ("format", "ogg", "Định dạng tệp âm thanh phải là mp3 hoặc wav"),
        ("bitrate_kbps", 100, "Tốc độ bit phải là một trong"),
        ("sample_rate", 16000, "Tần số lấy mẫu phải là 22050, 44100 hoặc 48000 Hz"),
        ("lead_ms", -1, "Khoảng lặng đầu bản tin phải từ 0 đến 10000 ms"),
        ("tail_ms", 10001, "Khoảng lặng cuối bản tin phải từ 0 đến 10000 ms"),
        ("gap_ms", 20000, "Khoảng nghỉ giữa các phần phải từ 0 đến 10000 ms"),
        ("repeat_pause_ms", -5, "Khoảng nghỉ trước mỗi lần nhắc lại phải từ 0 đến 10000 ms"),
        ("highpass_hz", 500, "Tần số cắt trầm phải từ 20 đến 300 Hz"),
        ("repeats", "hai", "Giá trị không hợp lệ cho thiết lập repeats"),
        ("repeats", 1.5, "Giá trị không hợp lệ cho thiết lập repeats"),
        ("volume", 3, "Thiết lập âm thanh không rõ: volume"),
    ],
)
def test_settings_reject_bad_values_with_a_vietnamese_message(field, value, message):
    with pytest.raises(ValueError, match=message):
        AssemblySettings.from_dict({field: value})


# --- ffmpeg ---------------------------------------------------------------------------------


def test_ffmpeg_binary_setting_to_a_missing_path_says_how_to_fix(tmp_path):
    with pytest.raises(AudioToolMissing) as caught:
        audio.ffmpeg_binary({"FFMPEG_BINARY": str(tmp_path / "no-ffmpeg")})
    message = caught.value.message
    assert message.startswith("Không tìm thấy ffmpeg")
    for hint in ("make run", "imageio-ffmpeg", "apt-get install ffmpeg", "FFMPEG_BINARY"):
        assert hint in message


def test_ffmpeg_binary_env_variable_is_used_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("FFMPEG_BINARY", str(tmp_path / "no-ffmpeg"))
    with pytest.raises(AudioToolMissing):
        master(make_speech(1.0), tmp_path / "spot.mp3", AssemblySettings())
    assert os.listdir(tmp_path) == []


def test_ffmpeg_binary_config_wins_over_environment(tmp_path, monkeypatch):
    link = tmp_path / "my-ffmpeg"
    link.symlink_to(audio.ffmpeg_binary())
    monkeypatch.setenv("FFMPEG_BINARY", str(tmp_path / "no-ffmpeg"))
    assert audio.ffmpeg_binary({"FFMPEG_BINARY": str(link)}) == str(link)


def test_ffmpeg_binary_falls_back_to_system_ffmpeg_then_reports_missing(tmp_path, monkeypatch):
    import imageio_ffmpeg

    real = audio.ffmpeg_binary()
    monkeypatch.delenv("FFMPEG_BINARY", raising=False)

    def no_bundled_ffmpeg():
        raise RuntimeError("no ffmpeg in the wheel")

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", no_bundled_ffmpeg)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AudioToolMissing):
        audio.ffmpeg_binary({})
    (tmp_path / "ffmpeg").symlink_to(real)
    assert audio.ffmpeg_binary({}) == str(tmp_path / "ffmpeg")


def test_run_ffmpeg_failure_reports_ffmpeg_last_line_in_vietnamese(tmp_path):
    with pytest.raises(AudioError) as caught:
        audio.run_ffmpeg(
            ["-f", "lavfi", "-i", "anullsrc", "-af", "no_such_filter", "-f", "null", "-"]
        )
    assert caught.value.message.startswith("ffmpeg gặp lỗi khi xử lý âm thanh")
    assert caught.value.message.endswith("Filter not found")


def test_decode_audio_reads_mp3_bytes_without_ffprobe(mastered_mp3):
    _, measurement, out = mastered_mp3
    decoded = decode_audio(out.read_bytes())
    assert (decoded.channels, decoded.frame_rate) == (1, 44100)
    assert len(decoded) / 1000 == pytest.approx(measurement.duration_s, abs=0.05)


def test_configure_pydub_points_pydub_at_our_ffmpeg(monkeypatch):
    monkeypatch.setattr(AudioSegment, "converter", "ffmpeg")
    audio.configure_pydub()
    assert AudioSegment.converter == audio.ffmpeg_binary()


def test_master_accepts_stereo_and_8_bit_input(tmp_path):
    clip = make_speech(4.0).set_frame_rate(44100).set_channels(2).set_sample_width(1)
    measurement = master(clip, tmp_path / "spot.mp3", AssemblySettings(chime=False))
    assert measurement.channels == 1
    assert measurement.duration_s == pytest.approx(len(clip) / 1000, abs=0.1)
    assert measurement.integrated_lufs == pytest.approx(-16.0, abs=1.0)
