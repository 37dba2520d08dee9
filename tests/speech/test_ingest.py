"""Taking in recordings: every phone and desktop format, silence trimmed above the hiss,
mastered like a render, and refusals (not audio, too long, silent) that write nothing."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from app.speech import ingest
from app.speech.audio import (
    AssemblySettings,
    AudioToolMissing,
    decode_audio,
    measure,
    run_ffmpeg,
)
from app.speech.ingest import NotAudio, SilentAudio, TooLong, ingest_audio
from tests.speech import samples

SETTINGS = AssemblySettings(chime=False)
LIMIT = 1800.0


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Path:
    """A folder with one tone-in-hiss recording per format (made once for the module)."""
    folder = tmp_path_factory.mktemp("recordings")
    for suffix in samples.CODECS:
        samples.voice_in_hiss(folder / f"voice.{suffix}")
    return folder


def _onset_s(path: Path, level_db: float = -26.0) -> float:
    """Seconds before the first 10 ms of the file louder than level_db (the tone's start)."""
    segment = decode_audio(path, sample_rate=16000)
    chunk = 160 * 2
    data = segment.raw_data
    for i, off in enumerate(range(0, len(data), chunk)):
        if segment[i * 10 : i * 10 + 10].dBFS > level_db:
            return off / 2 / 16000
    raise AssertionError("no sound")


@pytest.mark.parametrize(
    ("suffix", "codec", "rate"),
    [
        ("mp3", "mp3", 16000),
        ("wav", "pcm_s16le", 16000),
        ("m4a", "aac", 16000),
        ("amr", "amr_nb", 8000),
        ("ogg", "opus", 48000),
        ("webm", "opus", 48000),
        ("flac", "flac", 16000),
    ],
)
def test_each_phone_and_desktop_format_is_trimmed_and_mastered(made, tmp_path, suffix, codec, rate):
    out = tmp_path / "out.mp3"
    result = ingest_audio(
        made / f"voice.{suffix}", out, SETTINGS, name=f"voice.{suffix}", max_seconds=LIMIT
    )
    m = result.measurement
    assert abs(m.integrated_lufs - (-16.0)) <= 1.0
    assert m.true_peak_dbtp <= -1.0
    assert (m.codec, m.sample_rate, m.channels, m.bitrate_kbps) == ("mp3", 44100, 1, 128)
    # 1 s of hiss before and after: 0.3 s (lead_ms) and 0.5 s (tail_ms) of it are kept.
    assert result.trimmed_lead_s == pytest.approx(0.7, abs=0.06)
    assert result.trimmed_tail_s == pytest.approx(0.5, abs=0.08)
    assert m.duration_s == pytest.approx(1.5 + 0.3 + 0.5, abs=0.1)
    assert result.original["codec"] == codec
    assert result.original["sample_rate"] == rate
    assert result.original["channels"] == 1
    assert result.original["duration_s"] == pytest.approx(3.5, abs=0.1)
    assert result.original["name"] == f"voice.{suffix}"
    assert len(result.original["sha256"]) == 64
    assert result.original["size"] == (made / f"voice.{suffix}").stat().st_size
    assert result.original["integrated_lufs"] < -20
    assert result.warnings == []


def test_the_voice_starts_after_exactly_the_lead_silence(made, tmp_path):
    out = tmp_path / "out.mp3"
    ingest_audio(made / "voice.wav", out, SETTINGS, max_seconds=LIMIT)
    assert _onset_s(out) == pytest.approx(0.3, abs=0.04)


def test_a_longer_lead_setting_is_filled_with_silence_when_the_recording_has_less(tmp_path):
    source = samples.voice_in_hiss(tmp_path / "short-lead.wav", lead_s=0.1, tail_s=0.1)
    out = tmp_path / "out.wav"
    settings = AssemblySettings(chime=False, lead_ms=800, tail_ms=600, format="wav")
    result = ingest_audio(source, out, settings, max_seconds=LIMIT)
    assert result.trimmed_lead_s == 0.0
    assert result.trimmed_tail_s == 0.0
    assert _onset_s(out) == pytest.approx(0.8, abs=0.04)
    assert result.measurement.duration_s == pytest.approx(0.8 + 1.5 + 0.6, abs=0.05)


def test_trim_false_keeps_the_whole_recording(made, tmp_path):
    out = tmp_path / "out.mp3"
    result = ingest_audio(made / "voice.wav", out, SETTINGS, max_seconds=LIMIT, trim=False)
    assert (result.trimmed_lead_s, result.trimmed_tail_s) == (0.0, 0.0)
    assert result.measurement.duration_s == pytest.approx(3.5, abs=0.05)


def test_a_steady_sound_without_pauses_is_neither_refused_nor_cut(tmp_path):
    source = tmp_path / "steady.wav"
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "sine=f=330:r=16000:d=2", str(source)])
    result = ingest_audio(source, tmp_path / "out.mp3", SETTINGS, max_seconds=LIMIT)
    assert (result.trimmed_lead_s, result.trimmed_tail_s) == (0.0, 0.0)
    assert result.warnings == []


def test_a_clipped_recording_is_mastered_with_a_warning_that_gives_its_measures(tmp_path):
    source = samples.clipped_square(tmp_path / "clipped.wav")
    out = tmp_path / "out.mp3"
    result = ingest_audio(source, out, SETTINGS, max_seconds=LIMIT)
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert warning.startswith("Bản ghi bị méo (clipping): ")
    assert "% mẫu chạm ngưỡng, đỉnh 0,0 dBFS" in warning
    share = float(warning.split(": ")[1].split(" %")[0].replace(",", "."))
    assert 30 < share <= 100
    assert result.measurement.true_peak_dbtp <= -1.0
    assert out.is_file()


def test_a_very_quiet_recording_is_warned_with_its_loudness(tmp_path):
    source = samples.quiet_voice(tmp_path / "quiet.wav")
    result = ingest_audio(source, tmp_path / "out.mp3", SETTINGS, max_seconds=LIMIT)
    [warning] = result.warnings
    assert warning.startswith("Bản ghi rất nhỏ tiếng: độ to −")
    assert "LUFS, phải tăng " in warning
    assert result.original["integrated_lufs"] < -40
    assert abs(result.measurement.integrated_lufs + 16) <= 1.0


def test_a_noisy_recording_is_warned_with_its_noise_floor(tmp_path):
    source = tmp_path / "noisy.wav"
    graph = samples.VOICE_IN_HISS.format(total=3, rate=16000, tone=1, lead_ms=1000).replace(
        "a=0.003", "a=0.03"
    )
    run_ffmpeg(["-y", "-filter_complex", graph, "-c:a", "pcm_s16le", str(source)])
    result = ingest_audio(source, tmp_path / "out.mp3", SETTINGS, max_seconds=LIMIT)
    [warning] = result.warnings
    assert warning.startswith("Tiếng ồn nền lớn: nền −")
    assert "dB. Nên ghi lại ở nơi yên tĩnh hơn." in warning


@pytest.mark.parametrize("make", [samples.silence, samples.hiss], ids=["digital", "hiss"])
def test_a_silent_recording_is_refused_and_nothing_is_written(tmp_path, make):
    source = make(tmp_path / "silent.wav")
    out = tmp_path / "out" / "x.mp3"
    with pytest.raises(SilentAudio) as raised:
        ingest_audio(source, out, SETTINGS, name="silent.wav", max_seconds=LIMIT)
    assert raised.value.message.startswith("Tệp “silent.wav” ")
    assert "dBFS" in raised.value.message
    assert not out.exists()


def test_a_text_file_named_mp3_is_not_audio(tmp_path):
    source = tmp_path / "thong-bao.mp3"
    source.write_text("Thưa bà con, đây không phải âm thanh.", encoding="utf-8")
    out = tmp_path / "out.mp3"
    with pytest.raises(NotAudio) as raised:
        ingest_audio(source, out, SETTINGS, name="thong-bao.mp3", max_seconds=LIMIT)
    assert raised.value.message == (
        "Tệp “thong-bao.mp3” không phải tệp âm thanh đọc được. "
        "Loa nhận MP3, WAV, M4A/AAC, AMR, 3GP, OGG/Opus, WebM, FLAC."
    )
    assert not out.exists()


def test_a_video_without_sound_is_not_audio(tmp_path):
    source = samples.video_without_audio(tmp_path / "clip.mp4")
    with pytest.raises(NotAudio):
        ingest_audio(source, tmp_path / "out.mp3", SETTINGS, max_seconds=LIMIT)


def test_a_playlist_is_refused_without_opening_what_it_names(tmp_path):
    (tmp_path / "voice.wav").write_bytes(b"")
    playlist = tmp_path / "list.m3u8"
    playlist.write_text("#EXTM3U\n#EXTINF:1,\nvoice.wav\n")
    with pytest.raises(NotAudio):
        ingest_audio(playlist, tmp_path / "out.mp3", SETTINGS, max_seconds=LIMIT)


def test_a_recording_over_the_limit_is_refused_from_its_header_before_decoding(
    tmp_path, monkeypatch
):
    source = samples.long_tone(tmp_path / "long.m4a", seconds=62)

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded a file its header already refused")

    monkeypatch.setattr(ingest, "_decode", no_decode)
    out = tmp_path / "out.mp3"
    with pytest.raises(TooLong) as raised:
        ingest_audio(source, out, SETTINGS, name="long.m4a", max_seconds=60)
    assert raised.value.message == (
        "Tệp “long.m4a” dài 1 phút 2 giây, quá giới hạn 1 phút cho một bản ghi. "
        "Hãy cắt bớt hoặc chia thành nhiều bản."
    )
    assert not out.exists()


def test_a_stream_without_a_stated_length_is_cut_off_just_past_the_limit(tmp_path):
    # A WebM written to a pipe (as a browser's MediaRecorder does) states no duration.
    result = run_ffmpeg(
        ["-f", "lavfi", "-i", "sine=f=440:r=16000:d=8", "-c:a", "libopus", "-f", "webm", "-"]
    )
    source = tmp_path / "stream.webm"
    source.write_bytes(result.stdout)
    with pytest.raises(TooLong) as raised:
        ingest_audio(source, tmp_path / "out.mp3", SETTINGS, name="stream.webm", max_seconds=5)
    assert "dài hơn giới hạn, quá giới hạn 5,0 giây" in raised.value.message


def test_an_empty_file_is_not_audio(tmp_path):
    source = tmp_path / "empty.m4a"
    source.write_bytes(b"")
    with pytest.raises(NotAudio):
        ingest_audio(source, tmp_path / "out.mp3", SETTINGS, max_seconds=LIMIT)


def test_a_missing_ffmpeg_is_reported_as_such_not_as_a_bad_file(made, tmp_path):
    with pytest.raises(AudioToolMissing):
        ingest_audio(
            made / "voice.wav",
            tmp_path / "out.mp3",
            SETTINGS,
            max_seconds=LIMIT,
            config={"FFMPEG_BINARY": str(tmp_path / "no-ffmpeg")},
        )


def test_a_stereo_recording_is_mastered_to_mono_with_its_channels_noted(tmp_path):
    source = tmp_path / "stereo.flac"
    run_ffmpeg(
        ["-y", "-f", "lavfi", "-i", "sine=f=440:r=44100:d=1.5,volume=0.2", "-ac", "2", str(source)]
    )
    result = ingest_audio(source, tmp_path / "out.mp3", SETTINGS, max_seconds=LIMIT)
    assert result.original["channels"] == 2
    assert result.measurement.channels == 1
    mastered = measure(tmp_path / "out.mp3")
    assert math.isclose(mastered.integrated_lufs, -16.0, abs_tol=1.0)


def test_format_seconds_reads_like_an_officer_would_say_it():
    assert ingest.format_seconds(8.44) == "8,4 giây"
    assert ingest.format_seconds(1800) == "30 phút"
    assert ingest.format_seconds(3725) == "1 giờ 2 phút 5 giây"


def test_a_mastered_file_that_misses_the_target_is_warned(made, tmp_path, monkeypatch):
    real_master = ingest.master

    def quiet_master(segment, out_path, settings, config=None):
        found = real_master(segment, out_path, settings, config=config)
        # As master() leaves a very peaky original (Chromium's fake beeps ended at -21.3).
        return ingest.Measurement(**{**found.__dict__, "integrated_lufs": -21.3})

    monkeypatch.setattr(ingest, "master", quiet_master)
    result = ingest_audio(made / "voice.wav", tmp_path / "out.mp3", SETTINGS, max_seconds=LIMIT)
    assert result.warnings == [
        "Sau khi chỉnh, bản ghi đạt −21,3 LUFS, lệch mức phát −16,0 LUFS 5,3 dB (đỉnh âm quá "
        "nhọn so với độ to trung bình). Hãy nghe lại trước khi gửi duyệt."
    ]
