"""Taking in a recording made by a person: probe, decode, trim silence, master and check it."""

from __future__ import annotations

import hashlib
import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.speech.audio import (
    AssemblySettings,
    AudioError,
    AudioSegment,
    Measurement,
    _ebur128_summary,
    _input_section,
    _stream_info,
    master,
    run_ffmpeg,
)

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*audioop.*", category=DeprecationWarning)
    import audioop

__all__ = [
    "ACCEPTED_FORMATS",
    "IngestedAudio",
    "NotAudio",
    "SilentAudio",
    "TooLong",
    "format_number",
    "format_seconds",
    "ingest_audio",
]

ACCEPTED_FORMATS = "MP3, WAV, M4A/AAC, AMR, 3GP, OGG/Opus, WebM, FLAC"

# Demuxers ffmpeg may use on an upload (any of the names it prints for the input). Anything
# else (playlists, concat lists, images, subtitles) is refused: a playlist would make ffmpeg
# open other files or URLs, and -protocol_whitelist file keeps it off the network anyway.
_DEMUXERS = frozenset(
    {"wav", "w64", "mp3", "mov", "mp4", "m4a", "3gp", "3g2", "amr", "ogg", "flac", "matroska"}
    | {"webm", "aac", "aiff", "caf"}
)

# Silence detection. The noise floor is the 10th percentile of 50 ms RMS levels: phone
# recordings hiss, so "silence" is what stays within a margin above that floor (never quieter
# than an absolute -60 dBFS).
_STATS_MS = 50
_EDGE_MS = 10
_FLOOR_PERCENTILE = 0.10
_NOISE_MARGIN_DB = 10.0
_ABSOLUTE_SILENCE_DB = -60.0
# A recording that never rises above its floor and stays under this is hiss, not a voice.
_QUIET_NOISE_DB = -40.0
_FADE_MS = 20
# Warnings: a sample within 0.1 dB of full scale counts as clipped; more than 0.1 % of them
# is audible distortion. Originals 20 LU under the target need so much gain that their hiss
# comes up with them; less than 20 dB between voice and noise floor sounds noisy on horns.
_CLIP_LEVEL = round(32767 * 10 ** (-0.1 / 20))
_CLIP_WARN_FRACTION = 0.001
_QUIET_BELOW_TARGET_LU = 20.0
_NOISY_SNR_DB = 20.0
# The mastered file should land within this of the station's target (renders aim at 0.5 LU).
_TARGET_TOLERANCE_LU = 1.5

_INPUT_ARGS = ("-protocol_whitelist", "file", "-i")
_INPUT_NAMES = re.compile(r"Input #0, (.+?), from ")
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")


class NotAudio(AudioError):
    """The file cannot be decoded as audio or holds no audio stream."""


class TooLong(AudioError):
    """The recording is longer than the configured limit."""


class SilentAudio(AudioError):
    """Nothing in the recording rises above its noise floor."""


@dataclass(frozen=True)
class IngestedAudio:
    """A mastered recording: its measures, the original's facts and what was noticed."""

    measurement: Measurement
    original: dict
    trimmed_lead_s: float
    trimmed_tail_s: float
    warnings: list[str]


def format_number(value: float, digits: int = 1) -> str:
    """A number the Vietnamese way: decimal comma, a real minus sign ("−16,2")."""
    text = f"{value:.{digits}f}".replace(".", ",")
    return text.replace("-", "−") if text.lstrip("-0,") else text.lstrip("-")


_num = format_number


def format_seconds(seconds: float) -> str:
    """Say a length as "12 phút 5 giây" (or "8,4 giây" under a minute)."""
    if seconds < 60:
        return f"{_num(seconds)} giây"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append(f"{hours} giờ")
    if minutes:
        parts.append(f"{minutes} phút")
    if secs:
        parts.append(f"{secs} giây")
    return " ".join(parts)


def _label(name: str) -> str:
    """How the file is named in messages."""
    return f"Tệp “{name}”" if name else "Tệp"


def _sha256(path: Path) -> tuple[str, int]:
    """sha256 and size of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _probe(source: Path, name: str, config: Mapping | None) -> tuple[str, int, int, float | None]:
    """Open the file's header only: codec, rate, channels and the stated length (if any)."""
    not_audio = NotAudio(
        f"{_label(name)} không phải tệp âm thanh đọc được. Loa nhận {ACCEPTED_FORMATS}."
    )
    try:
        result = run_ffmpeg(
            [*_INPUT_ARGS, str(source.resolve()), "-map", "0:a:0", "-t", "0", "-f", "null", "-"],
            config=config,
        )
    except AudioError as exc:
        raise not_audio from exc
    stderr = result.stderr.decode("utf-8", "replace")
    names = _INPUT_NAMES.search(stderr)
    if names is None or not _DEMUXERS & {n.strip() for n in names.group(1).split(",")}:
        raise not_audio
    try:
        codec, rate, channels, _kbps = _stream_info(stderr)
    except AudioError as exc:
        raise not_audio from exc
    header = _DURATION.search(_input_section(stderr))
    stated = None
    if header:
        hours, minutes, seconds = header.groups()
        stated = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return codec, rate, channels, stated


def _too_long(name: str, max_seconds: float, length: float | None) -> TooLong:
    """The refusal for a recording over the limit, with both lengths when known."""
    said = f"dài {format_seconds(length)}" if length else "dài hơn giới hạn"
    return TooLong(
        f"{_label(name)} {said}, quá giới hạn {format_seconds(max_seconds)} cho một bản ghi. "
        "Hãy cắt bớt hoặc chia thành nhiều bản."
    )


def _decode(
    source: Path, rate: int, max_seconds: float, config: Mapping | None
) -> tuple[AudioSegment, float, float]:
    """Decode to 16-bit mono at rate (at most a little past the limit) and meter the original.

    The meter (BS.1770 loudness and true peak) runs on the original channels in the same pass.
    """
    result = run_ffmpeg(
        [
            *_INPUT_ARGS,
            str(source.resolve()),
            *("-map", "0:a:0", "-t", f"{max_seconds + 1:.3f}"),
            *("-af", "ebur128=peak=true:framelog=quiet"),
            *("-ac", "1", "-ar", str(rate), "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1"),
        ],
        config=config,
    )
    loudness = _ebur128_summary(result.stderr.decode("utf-8", "replace"))
    segment = AudioSegment(result.stdout, sample_width=2, frame_rate=rate, channels=1)
    return segment, loudness.integrated, loudness.true_peak


def _db(rms: float) -> float:
    """RMS of 16-bit samples in dBFS (digital silence is -120)."""
    return 20 * math.log10(rms / 32768) if rms > 0 else -120.0


def _levels(data: bytes, chunk_bytes: int) -> list[float]:
    """RMS level in dBFS of each chunk of 16-bit mono PCM."""
    view = memoryview(data)
    return [
        _db(audioop.rms(view[off : off + chunk_bytes], 2))
        for off in range(0, len(data), chunk_bytes)
    ]


def _noise_floor(levels: list[float]) -> float:
    """The level that 10 % of the recording stays under: its hiss, or its silence."""
    ordered = sorted(levels)
    return ordered[min(len(ordered) - 1, int(len(ordered) * _FLOOR_PERCENTILE))]


def _clipped(data: bytes, chunk_bytes: int) -> int:
    """Count samples at full scale, looking into only the chunks whose peak reaches it."""
    view = memoryview(data)
    count = 0
    for off in range(0, len(data), chunk_bytes):
        piece = view[off : off + chunk_bytes]
        if audioop.max(piece, 2) >= _CLIP_LEVEL:
            samples = piece.cast("h")
            count += sum(1 for s in samples if s >= _CLIP_LEVEL or s <= -_CLIP_LEVEL)
    return count


def _fade(pcm: bytes, rate: int, fade_in: bool) -> bytes:
    """Fade a short piece of 16-bit mono PCM in or out over _FADE_MS (no click at a cut)."""
    if not pcm:
        return pcm
    piece = AudioSegment(pcm, sample_width=2, frame_rate=rate, channels=1)
    length = min(_FADE_MS, len(piece))
    piece = piece.fade_in(length) if fade_in else piece.fade_out(length)
    return piece.raw_data


def _trim(
    segment: AudioSegment, threshold_db: float, settings: AssemblySettings
) -> tuple[AudioSegment, float, float]:
    """Cut leading and trailing silence; keep settings.lead_ms/tail_ms before and after sound.

    What is kept comes from the recording itself (its room tone, faded at the cut), topped up
    with digital silence when the recording had less.
    """
    rate = segment.frame_rate
    data = segment.raw_data
    chunk = max(1, rate * _EDGE_MS // 1000) * 2
    levels = _levels(data, chunk)
    loud = [i for i, level in enumerate(levels) if level > threshold_db]
    start, end = loud[0] * chunk, min(len(data), (loud[-1] + 1) * chunk)
    lead = min(start, int(settings.lead_ms * rate / 1000) * 2)
    tail = min(len(data) - end, int(settings.tail_ms * rate / 1000) * 2)
    pad_lead = bytes(int(settings.lead_ms * rate / 1000) * 2 - lead)
    pad_tail = bytes(int(settings.tail_ms * rate / 1000) * 2 - tail)
    head = _fade(data[start - lead : start], rate, fade_in=True)
    foot = _fade(data[end : end + tail], rate, fade_in=False)
    trimmed = b"".join([pad_lead, head, memoryview(data)[start:end], foot, pad_tail])
    cut_lead = (start - lead) / 2 / rate
    cut_tail = (len(data) - end - tail) / 2 / rate
    out = AudioSegment(trimmed, sample_width=2, frame_rate=rate, channels=1)
    return out, round(cut_lead, 3), round(cut_tail, 3)


def _warnings(
    *,
    clipped: int,
    samples: int,
    peak_dbfs: float,
    integrated: float,
    floor_db: float,
    voice_db: float,
    settings: AssemblySettings,
) -> list[str]:
    """What a reviewer should hear about before approving, each with its measure."""
    found = []
    if samples and clipped / samples >= _CLIP_WARN_FRACTION:
        found.append(
            f"Bản ghi bị méo (clipping): {_num(100 * clipped / samples)} % mẫu chạm ngưỡng, "
            f"đỉnh {_num(peak_dbfs)} dBFS. Nên ghi lại với micrô xa hơn hoặc nói nhỏ hơn."
        )
    needed = settings.target_lufs - integrated
    if math.isfinite(integrated) and needed >= _QUIET_BELOW_TARGET_LU:
        found.append(
            f"Bản ghi rất nhỏ tiếng: độ to {_num(integrated)} LUFS, phải tăng {_num(needed)} dB "
            "để đạt mức phát (tiếng ồn nền cũng tăng theo). Nên ghi lại gần micrô hơn."
        )
    # Only a recording with quieter parts has a floor to speak of (a steady tone has none).
    if floor_db > -120 and _NOISE_MARGIN_DB <= voice_db - floor_db < _NOISY_SNR_DB:
        found.append(
            f"Tiếng ồn nền lớn: nền {_num(floor_db)} dBFS, chỉ thấp hơn tiếng nói "
            f"{_num(voice_db - floor_db)} dB. Nên ghi lại ở nơi yên tĩnh hơn."
        )
    return found


def ingest_audio(
    source: Path,
    out_path: Path,
    settings: AssemblySettings,
    *,
    name: str = "",
    max_seconds: float,
    trim: bool = True,
    config: Mapping | None = None,
) -> IngestedAudio:
    """Decode a recording, trim its silence, master it to out_path and report what it was.

    Refuses (NotAudio, TooLong, SilentAudio) before anything is written; out_path appears only
    once the mastered file is complete (master() moves it into place).
    """
    source = Path(source)
    sha256, size = _sha256(source)
    codec, rate, channels, stated = _probe(source, name, config)
    if stated is not None and stated > max_seconds:
        raise _too_long(name, max_seconds, stated)
    decode_rate = min(rate, settings.sample_rate) if rate > 0 else settings.sample_rate
    try:
        segment, integrated, true_peak = _decode(source, decode_rate, max_seconds, config)
    except AudioError as exc:
        # The header opened but the stream does not decode: a damaged or disguised file.
        raise NotAudio(
            f"{_label(name)} hỏng hoặc không giải mã được thành âm thanh. "
            f"Loa nhận {ACCEPTED_FORMATS}."
        ) from exc
    duration = len(segment.raw_data) / 2 / decode_rate
    if duration > max_seconds:
        raise _too_long(name, max_seconds, None if duration > max_seconds + 0.5 else duration)
    if not segment.raw_data:
        raise SilentAudio(f"{_label(name)} không có âm thanh nào (độ dài 0 giây).")

    data = segment.raw_data
    edge_chunk = max(1, decode_rate * _EDGE_MS // 1000) * 2
    # Stats chunks are whole edge chunks: a loud stats chunk always holds a loud edge chunk.
    levels = _levels(data, edge_chunk * (_STATS_MS // _EDGE_MS))
    floor_db = _noise_floor(levels)
    voice_db = max(levels)
    if voice_db <= _ABSOLUTE_SILENCE_DB:
        raise SilentAudio(
            f"{_label(name)} không có tiếng: mức to nhất {_num(voice_db)} dBFS, dưới ngưỡng "
            f"im lặng {_num(_ABSOLUTE_SILENCE_DB)} dBFS. Hãy kiểm tra micrô rồi ghi lại."
        )
    if voice_db - floor_db < _NOISE_MARGIN_DB and voice_db < _QUIET_NOISE_DB:
        raise SilentAudio(
            f"{_label(name)} chỉ có tiếng ồn nền: mức to nhất {_num(voice_db)} dBFS, không "
            f"nổi hơn nền ({_num(floor_db)} dBFS) {_num(_NOISE_MARGIN_DB, 0)} dB. "
            "Hãy kiểm tra micrô rồi ghi lại."
        )
    # Silence is what stays near the floor; a steady sound with no quieter part (a tone, a
    # music bed) is not cut: the threshold never comes within the margin of the loudest part.
    threshold = max(
        _ABSOLUTE_SILENCE_DB, min(floor_db + _NOISE_MARGIN_DB, voice_db - _NOISE_MARGIN_DB)
    )
    peak = audioop.max(data, 2)
    found = _warnings(
        clipped=_clipped(data, edge_chunk),
        samples=len(data) // 2,
        peak_dbfs=_db(peak) if peak else -120.0,
        integrated=integrated,
        floor_db=floor_db,
        voice_db=voice_db,
        settings=settings,
    )
    cut_lead = cut_tail = 0.0
    if trim:
        segment, cut_lead, cut_tail = _trim(segment, threshold, settings)
    del data
    measurement = master(segment, Path(out_path), settings, config=config)
    missed = measurement.integrated_lufs - settings.target_lufs
    if math.isfinite(missed) and abs(missed) > _TARGET_TOLERANCE_LU:
        # master() stays under the peak ceiling first: a very peaky original can end up quieter.
        found.append(
            f"Sau khi chỉnh, bản ghi đạt {_num(measurement.integrated_lufs)} LUFS, lệch mức "
            f"phát {_num(settings.target_lufs)} LUFS {_num(abs(missed))} dB (đỉnh âm quá nhọn "
            "so với độ to trung bình). Hãy nghe lại trước khi gửi duyệt."
        )
    original = {
        "sha256": sha256,
        "name": name,
        "size": size,
        "codec": codec,
        "sample_rate": rate,
        "channels": channels,
        "duration_s": round(duration, 3),
        "integrated_lufs": round(integrated, 2) if math.isfinite(integrated) else None,
        "true_peak_dbtp": round(true_peak, 2) if math.isfinite(true_peak) else None,
    }
    return IngestedAudio(
        measurement=measurement,
        original=original,
        trimmed_lead_s=cut_lead,
        trimmed_tail_s=cut_tail,
        warnings=found,
    )
