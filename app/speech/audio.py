"""Audio assembly and mastering: chimes, repeats and loudness for horns, through one ffmpeg."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
import warnings
import wave
from array import array
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # pydub imports the deprecated audioop and warns when no ffmpeg is on PATH at import time;
    # we hand pydub our own ffmpeg path (configure_pydub), and pytest turns warnings into errors.
    warnings.filterwarnings("ignore", message=".*audioop.*", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message="Couldn't find ffmpeg", category=RuntimeWarning)
    import audioop

    from pydub import AudioSegment

__all__ = [
    "AssemblySettings",
    "AudioError",
    "AudioSegment",
    "AudioToolMissing",
    "Measurement",
    "assemble",
    "configure_pydub",
    "decode_audio",
    "ffmpeg_binary",
    "make_chime",
    "master",
    "measure",
    "run_ffmpeg",
    "trim_silence",
]

log = logging.getLogger(__name__)

MISSING_FFMPEG_MESSAGE = (
    "Không tìm thấy ffmpeg: hãy chạy lại `make run` để cài gói imageio-ffmpeg, hoặc cài ffmpeg "
    "của hệ thống (apt-get install ffmpeg), hoặc đặt biến FFMPEG_BINARY."
)

BITRATES_KBPS = (64, 96, 128, 160, 192, 256, 320)
SAMPLE_RATES = (22050, 44100, 48000)
FORMATS = ("mp3", "wav")
MAX_PAUSE_MS = 10_000

# The limiter works on sample peaks; resampling and MP3 encoding add inter-sample overshoot,
# so aim the loudnorm true peak and the limiter ceiling below the requested ceiling.
_TP_HEADROOM_DB = {"mp3": 0.6, "wav": 0.3}
_LIMITER_BELOW_TP_DB = 1.5
_LOUDNORM_LRA = 20.0  # linear mode is refused when the measured LRA exceeds the target
_MAX_PRE_GAIN_DB = 40.0
_MAX_DRIVE_STEPS = 4
_LOUDNESS_TOLERANCE_LU = 0.5


class AudioToolMissing(Exception):
    """ffmpeg cannot be found or started."""

    def __init__(self, message: str = MISSING_FFMPEG_MESSAGE) -> None:
        super().__init__(message)
        self.message = message


class AudioError(Exception):
    """ffmpeg ran but failed, or its output could not be read."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- ffmpeg ---------------------------------------------------------------------------------


def _config_value(config: Mapping | None, key: str) -> Any:
    """Read a key from the given config, else the Flask app config, else the environment."""
    if config is None:
        try:
            from flask import current_app, has_app_context

            if has_app_context():
                config = current_app.config
        except ImportError:  # pragma: no cover - Flask is a project dependency
            config = None
    if config is not None and config.get(key):
        return config.get(key)
    return os.environ.get(key) or None


def _executable(candidate: str) -> str | None:
    """Return the full path of candidate if it names a runnable file."""
    if os.sep not in candidate:
        return shutil.which(candidate)
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return None


def ffmpeg_binary(config: Mapping | None = None) -> str:
    """Return the ffmpeg to run: FFMPEG_BINARY, else imageio-ffmpeg's, else the system one."""
    configured = _config_value(config, "FFMPEG_BINARY")
    if configured:
        # An explicit setting that is wrong must be reported, not silently replaced.
        found = _executable(str(configured))
        if found is None:
            raise AudioToolMissing()
        return found
    try:
        import imageio_ffmpeg

        found = _executable(imageio_ffmpeg.get_ffmpeg_exe())
        if found:
            return found
    except (ImportError, RuntimeError, OSError):
        pass
    found = shutil.which("ffmpeg")
    if found is None:
        raise AudioToolMissing()
    return found


def _last_line(text: str) -> str:
    """Return the last non-empty line of ffmpeg's stderr, where it states why it stopped."""
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_ffmpeg(
    args: list[str], *, config: Mapping | None = None, input_bytes: bytes | None = None
) -> subprocess.CompletedProcess:
    """Run ffmpeg with args (the only place that starts it); raise AudioError on failure."""
    command = [ffmpeg_binary(config), "-hide_banner", "-nostdin", *args]
    try:
        result = subprocess.run(
            command,
            input=input_bytes,
            stdin=None if input_bytes is not None else subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except (FileNotFoundError, PermissionError) as exc:
        raise AudioToolMissing() from exc
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace")
        # The cause is often a few lines above the last one: keep it for whoever reads the log.
        log.warning("ffmpeg %s failed:\n%s", " ".join(args), stderr[-2000:])
        raise AudioError(
            f"ffmpeg gặp lỗi khi xử lý âm thanh (mã thoát {result.returncode}): "
            f"{_last_line(stderr) or 'không có thông báo'}"
        )
    return result


def configure_pydub(config: Mapping | None = None) -> None:
    """Point pydub at our ffmpeg so it never searches PATH or needs ffprobe."""
    AudioSegment.converter = ffmpeg_binary(config)


# --- settings and measurements --------------------------------------------------------------


_PAUSE_LABELS = {
    "lead_ms": "Khoảng lặng đầu bản tin",
    "tail_ms": "Khoảng lặng cuối bản tin",
    "gap_ms": "Khoảng nghỉ giữa các phần",
    "repeat_pause_ms": "Khoảng nghỉ trước mỗi lần nhắc lại",
}


@dataclass(frozen=True)
class AssemblySettings:
    """How an announcement is put together and mastered; part of the render cache key."""

    chime: bool = True
    repeats: int = 1
    lead_ms: int = 300
    tail_ms: int = 500
    gap_ms: int = 700
    repeat_pause_ms: int = 2000
    highpass_hz: int = 120
    target_lufs: float = -16.0
    true_peak_db: float = -1.0
    format: str = "mp3"
    bitrate_kbps: int = 128
    sample_rate: int = 44100

    def __post_init__(self) -> None:
        """Refuse values that would give unusable audio, with a message for the officer."""
        if not 1 <= self.repeats <= 5:
            raise ValueError("Số lần đọc phải từ 1 đến 5.")
        for name, label in _PAUSE_LABELS.items():
            if not 0 <= getattr(self, name) <= MAX_PAUSE_MS:
                raise ValueError(f"{label} phải từ 0 đến {MAX_PAUSE_MS} ms.")
        if self.highpass_hz != 0 and not 20 <= self.highpass_hz <= 300:
            raise ValueError("Tần số cắt trầm phải từ 20 đến 300 Hz (hoặc 0 để tắt).")
        if not -30.0 <= self.target_lufs <= -10.0:
            raise ValueError("Độ to mục tiêu phải từ -30 đến -10 LUFS.")
        if not -9.0 <= self.true_peak_db <= 0.0:
            raise ValueError("Mức đỉnh thực tối đa phải từ -9 đến 0 dBTP.")
        if self.format not in FORMATS:
            raise ValueError("Định dạng tệp âm thanh phải là mp3 hoặc wav.")
        if self.bitrate_kbps not in BITRATES_KBPS:
            allowed = ", ".join(str(b) for b in BITRATES_KBPS)
            raise ValueError(f"Tốc độ bit phải là một trong các giá trị {allowed} kb/s.")
        if self.sample_rate not in SAMPLE_RATES:
            raise ValueError("Tần số lấy mẫu phải là 22050, 44100 hoặc 48000 Hz.")

    def as_dict(self) -> dict:
        """Return the settings as a plain dict with sorted keys (stable for cache keys)."""
        return dict(sorted(asdict(self).items()))

    @classmethod
    def from_dict(cls, data: Mapping) -> AssemblySettings:
        """Build validated settings from a mapping (missing keys take their defaults)."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"Thiết lập âm thanh không rõ: {', '.join(unknown)}.")
        values: dict[str, Any] = {}
        for name, value in data.items():
            default = known[name].default
            try:
                values[name] = _coerce(value, type(default))
            except (TypeError, ValueError):
                raise ValueError(f"Giá trị không hợp lệ cho thiết lập {name}: {value!r}.") from None
        return cls(**values)


def _coerce(value: Any, kind: type) -> Any:
    """Convert a form or JSON value to the field's type, refusing lossy conversions."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in {"1", "true", "on", "yes"}:
            return True
        if isinstance(value, str) and value.strip().lower() in {"0", "false", "off", "no", ""}:
            return False
        if value in (0, 1):
            return bool(value)
        raise ValueError(value)
    if kind is int:
        if isinstance(value, bool):
            raise TypeError(value)
        number = float(value)
        if not number.is_integer():
            raise ValueError(value)
        return int(number)
    if kind is float:
        if isinstance(value, bool):
            raise TypeError(value)
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        return number
    if not isinstance(value, str):
        raise TypeError(value)
    return value.strip().lower()


@dataclass(frozen=True)
class Measurement:
    """What a BS.1770 meter and ffmpeg's demuxer report about a written file."""

    duration_s: float
    integrated_lufs: float
    true_peak_dbtp: float
    sample_rate: int
    channels: int
    codec: str
    bitrate_kbps: int | None


# --- clips ----------------------------------------------------------------------------------


_CHIME_NOTES_HZ = (523.25, 659.25, 783.99)  # C5 E5 G5: a major triad reads as "attention, news"
_CHIME_ONSET_S = 0.28
_CHIME_LENGTH_S = 1.5
_CHIME_PEAK = 0.5  # -6 dBFS: the mastering chain sets the final level


@lru_cache(maxsize=8)
def make_chime(sample_rate: int = 44100, closing: bool = False) -> AudioSegment:
    """Return a soft three-note sine chime (~1.5 s), rising to open and falling to close."""
    notes = tuple(reversed(_CHIME_NOTES_HZ)) if closing else _CHIME_NOTES_HZ
    total = int(_CHIME_LENGTH_S * sample_rate)
    attack = int(0.02 * sample_rate)
    fade = int(0.15 * sample_rate)
    mix = [0.0] * total
    for index, freq in enumerate(notes):
        start = int(index * _CHIME_ONSET_S * sample_rate)
        # Later notes ring longer so the chime resolves on its last note.
        decay = 0.25 + 0.12 * index
        step = 2 * math.pi * freq / sample_rate
        for n in range(total - start):
            t = n / sample_rate
            env = math.exp(-t / decay)
            if n < attack:  # raised-cosine attack: no click on horn drivers
                env *= 0.5 - 0.5 * math.cos(math.pi * n / attack)
            phase = step * n
            # A touch of 2nd and 3rd harmonic makes the tone carry on narrow-band horns.
            mix[start + n] += env * (
                math.sin(phase) + 0.25 * math.sin(2 * phase) + 0.08 * math.sin(3 * phase)
            )
    for n in range(fade):
        mix[total - 1 - n] *= n / fade
    scale = _CHIME_PEAK * 32767 / max(abs(x) for x in mix)
    samples = array("h", (round(x * scale) for x in mix))
    return AudioSegment(samples.tobytes(), sample_width=2, frame_rate=sample_rate, channels=1)


def _sounding_range(segment: AudioSegment, threshold_db: float, keep_ms: int) -> tuple[int, int]:
    """Return the byte range of segment without leading/trailing silence, plus keep_ms margin."""
    width, frame_width = segment.sample_width, segment.frame_width
    data = memoryview(segment.raw_data)
    chunk = max(1, segment.frame_rate // 100) * frame_width  # about 10 ms
    threshold = (2 ** (8 * width - 1)) * 10 ** (threshold_db / 20)

    def loud(offset: int) -> bool:
        return audioop.rms(data[offset : offset + chunk], width) > threshold

    def loud_samples(offset: int) -> list[int]:
        """Byte offsets of the frames in one chunk that reach the threshold."""
        piece = data[offset : offset + chunk]
        return [
            offset + i - i % frame_width
            for i in range(0, len(piece), width)
            if abs(audioop.getsample(piece, width, i // width)) > threshold
        ]

    # Find the first and last loud 10 ms chunks cheaply, then the exact frames inside them.
    first = next((off for off in range(0, len(data), chunk) if loud(off)), None)
    if first is None:
        return 0, 0
    last_chunk = ((len(data) - 1) // chunk) * chunk
    last = next(off for off in range(last_chunk, first - 1, -chunk) if loud(off))
    start = (loud_samples(first) or [first])[0]
    end = (loud_samples(last) or [last + chunk - frame_width])[-1] + frame_width
    keep = int(keep_ms * segment.frame_rate / 1000) * frame_width
    return max(0, start - keep), min(len(data), end + keep)


def trim_silence(
    segment: AudioSegment, threshold_db: float = -50.0, keep_ms: int = 30
) -> AudioSegment:
    """Trim leading and trailing silence (below threshold_db dBFS) from a TTS clip."""
    start, end = _sounding_range(segment, threshold_db, keep_ms)
    if (start, end) == (0, len(segment.raw_data)):
        return segment
    return segment._spawn(segment.raw_data[start:end])


def _as_mono16(segment: AudioSegment, frame_rate: int) -> AudioSegment:
    """Convert a clip to 16-bit mono at frame_rate, copying only when something changes."""
    if segment.channels != 1:
        segment = segment.set_channels(1)
    if segment.sample_width != 2:
        segment = segment.set_sample_width(2)
    if segment.frame_rate != frame_rate:
        segment = segment.set_frame_rate(frame_rate)
    return segment


def _silence(ms: int, frame_rate: int) -> bytes:
    """Return ms of 16-bit mono digital silence."""
    return bytes(2 * round(ms * frame_rate / 1000))


def assemble(
    body: AudioSegment,
    *,
    intro: AudioSegment | None,
    repeat_intro: AudioSegment | None,
    settings: AssemblySettings,
) -> AudioSegment:
    """Put chimes, intro, body and its repeats together with the configured pauses.

    The result is mono 16-bit at the body's own rate (capped at settings.sample_rate): TTS is
    22,050 Hz, and resampling here would double the memory of a long programme for nothing,
    since master() resamples to settings.sample_rate inside ffmpeg.
    """
    rate = min(body.frame_rate, settings.sample_rate)

    def clip(segment: AudioSegment | None) -> memoryview | None:
        if segment is None:
            return None
        segment = _as_mono16(segment, rate)
        start, end = _sounding_range(segment, -50.0, 30)
        # A view, not a slice: a 30-minute body must not be copied before the one join.
        return memoryview(segment.raw_data)[start:end] if end > start else None

    body_pcm = clip(body)
    if body_pcm is None:
        raise ValueError("Bản đọc không có âm thanh (chỉ có khoảng lặng).")
    intro_pcm = clip(intro)
    repeat_pcm = clip(repeat_intro)
    gap = _silence(settings.gap_ms, rate)

    parts: list[bytes | memoryview] = [_silence(settings.lead_ms, rate)]
    if settings.chime:
        parts += [make_chime(rate).raw_data, gap]
    if intro_pcm is not None:
        parts += [intro_pcm, gap]
    parts.append(body_pcm)
    for _ in range(settings.repeats - 1):
        parts.append(_silence(settings.repeat_pause_ms, rate))
        if repeat_pcm is not None:
            parts += [repeat_pcm, gap]
        parts.append(body_pcm)
    if settings.chime:
        parts += [gap, make_chime(rate, closing=True).raw_data]
    parts.append(_silence(settings.tail_ms, rate))
    return AudioSegment(b"".join(parts), sample_width=2, frame_rate=rate, channels=1)


# --- mastering ------------------------------------------------------------------------------


def _highpass_filters(cutoff_hz: int) -> list[str]:
    """Return a 4th-order Butterworth high-pass (24 dB/octave) as two biquads."""
    if cutoff_hz <= 0:
        return []
    # Q values of the two sections of a 4th-order Butterworth; -3 dB at the cut-off.
    return [
        f"highpass=f={cutoff_hz}:width_type=q:width=0.5412",
        f"highpass=f={cutoff_hz}:width_type=q:width=1.3066",
    ]


def _db_to_gain(db: float) -> float:
    """Convert decibels to a linear amplitude factor."""
    return 10 ** (db / 20)


def _pre_limiter_filters(settings: AssemblySettings, gain_db: float) -> list[str]:
    """Return float conversion, high-pass, gain and limiter: the chain before loudnorm."""
    headroom = _TP_HEADROOM_DB[settings.format]
    ceiling = _db_to_gain(settings.true_peak_db - headroom - _LIMITER_BELOW_TP_DB)
    ceiling = min(1.0, max(0.0625, ceiling))  # alimiter's accepted range
    return [
        # Float samples so the filters never clip internally before the limiter.
        "aformat=sample_fmts=flt",
        *_highpass_filters(settings.highpass_hz),
        f"volume={gain_db:.2f}dB",
        # alimiter only sees sample peaks; at twice the output rate they are close to the true
        # (inter-sample) peaks that the meter and the MP3 decoder will produce.
        f"aresample={2 * settings.sample_rate}",
        # level=0: no auto make-up gain; latency=1: keep timing (lead silence stays exact).
        f"alimiter=limit={ceiling:.5f}:attack=5:release=80:level=0:latency=1",
    ]


_SUMMARY_I = re.compile(r"^\s*I:\s+(-?[\d.]+|-?inf)\s+LUFS", re.M)
_SUMMARY_THRESH = re.compile(r"Integrated loudness:\s*\n\s*I:.*\n\s*Threshold:\s+(-?[\d.]+)", re.M)
_SUMMARY_LRA = re.compile(r"^\s*LRA:\s+(-?[\d.]+)\s+LU", re.M)
_SUMMARY_PEAK = re.compile(r"^\s*Peak:\s+(-?[\d.]+|-?inf)\s+dBFS", re.M)


@dataclass(frozen=True)
class _Loudness:
    """Integrated loudness, its gating threshold, loudness range and true peak of a signal."""

    integrated: float
    threshold: float
    lra: float
    true_peak: float


def _ebur128_summary(stderr: str) -> _Loudness:
    """Parse the Summary block that ffmpeg's ebur128 filter prints at the end."""
    summary = stderr[stderr.rfind("Summary:") :]
    found_i = _SUMMARY_I.search(summary)
    if "Summary:" not in stderr or found_i is None:
        raise AudioError("Không đọc được kết quả đo độ to từ ffmpeg.")
    thresh = _SUMMARY_THRESH.search(summary)
    lra = _SUMMARY_LRA.search(summary)
    peak = _SUMMARY_PEAK.search(summary)
    return _Loudness(
        integrated=float(found_i.group(1)),
        threshold=float(thresh.group(1)) if thresh else -70.0,
        lra=float(lra.group(1)) if lra else 0.0,
        true_peak=float(peak.group(1)) if peak else float("nan"),
    )


def _meter(source: Path, filters: list[str], *, peak: bool, config: Mapping | None) -> _Loudness:
    """Run the BS.1770 meter on source after filters; peak=True adds the true-peak meter."""
    meter = "ebur128=framelog=quiet" + (":peak=true" if peak else "")
    result = run_ffmpeg(
        ["-nostats", "-i", str(source), "-af", ",".join([*filters, meter]), "-f", "null", "-"],
        config=config,
    )
    return _ebur128_summary(result.stderr.decode("utf-8", "replace"))


def _clamp(value: float, low: float, high: float) -> float:
    """Keep value within loudnorm's accepted range (and turn -inf into the low end)."""
    if math.isnan(value):
        return high
    return min(high, max(low, value))


def _loudnorm_tp(settings: AssemblySettings) -> float:
    """Return the true-peak ceiling given to loudnorm, below the requested one by a headroom."""
    return max(-9.0, settings.true_peak_db - _TP_HEADROOM_DB[settings.format])


def _loudnorm_filter(target_i: float, target_tp: float, measured: _Loudness) -> str:
    """Return the second-pass loudnorm, linear, fed with the first pass's measurements."""
    return (
        f"loudnorm=I={_clamp(target_i, -70, -5):.2f}:TP={_clamp(target_tp, -9, 0):.2f}"
        f":LRA={_LOUDNORM_LRA:.1f}"
        f":measured_I={_clamp(measured.integrated, -99, 0):.2f}"
        f":measured_TP={_clamp(measured.true_peak, -99, 99):.2f}"
        # loudnorm treats an LRA of exactly 0 (a steady tone) as "not measured".
        f":measured_LRA={_clamp(measured.lra, 0.1, 99):.2f}"
        f":measured_thresh={_clamp(measured.threshold, -99, 0):.2f}"
        ":linear=true:print_format=json"
    )


def _encoder_args(settings: AssemblySettings) -> list[str]:
    """Return the output options for the configured format (mono, fixed rate)."""
    common = ["-ac", "1", "-ar", str(settings.sample_rate), "-map_metadata", "-1"]
    if settings.format == "mp3":
        # Always pass a bitrate: left to itself ffmpeg picked 32 kb/s here.
        return [*common, "-c:a", "libmp3lame", "-b:a", f"{settings.bitrate_kbps}k", "-f", "mp3"]
    return [*common, "-c:a", "pcm_s16le", "-f", "wav"]


def _write_wav(segment: AudioSegment, path: Path) -> None:
    """Write segment's PCM to a WAV file without copying it in memory."""
    if segment.sample_width == 1:
        # pydub keeps 8-bit samples signed, but 8-bit WAV is unsigned.
        segment = segment.set_sample_width(2)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(segment.channels)
        out.setsampwidth(segment.sample_width)
        out.setframerate(segment.frame_rate)
        out.writeframesraw(segment.raw_data)


def _normalisation_type(stderr: str) -> str:
    """Return loudnorm's reported mode ("linear" or "dynamic"), or "" if it printed none."""
    start = stderr.rfind("{")
    try:
        return str(json.loads(stderr[start : stderr.rfind("}") + 1]).get("normalization_type", ""))
    except ValueError:
        return ""


def _drive_limiter(
    source: Path, settings: AssemblySettings, config: Mapping | None
) -> tuple[list[str], _Loudness]:
    """Find the pre-limiter chain and measure its output (loudnorm's first pass)."""
    # Loudness after the high-pass decides the gain that drives the limiter.
    highpassed = _meter(
        source,
        ["aformat=sample_fmts=flt", *_highpass_filters(settings.highpass_hz)],
        peak=False,
        config=config,
    )
    gain_db = _clamp(settings.target_lufs - highpassed.integrated, -40, _MAX_PRE_GAIN_DB)
    # Limiting peaky speech costs loudness; raise the drive until loudnorm can reach the target
    # linearly (it silently switches to slow dynamic compression when the gain it needs would
    # push peaks over its ceiling).
    for _ in range(_MAX_DRIVE_STEPS):
        chain = _pre_limiter_filters(settings, gain_db)
        measured = _meter(source, chain, peak=True, config=config)
        shortfall = settings.target_lufs - measured.integrated
        if shortfall <= _loudnorm_tp(settings) - measured.true_peak:
            break
        gain_db = _clamp(gain_db + shortfall + 0.3, -40, _MAX_PRE_GAIN_DB)
    log.debug("limiter drive %.2f dB gives %s", gain_db, measured)
    return chain, measured


def _render(
    source: Path,
    rendered: Path,
    filters: list[str],
    settings: AssemblySettings,
    config: Mapping | None,
) -> Measurement:
    """Run the filter chain on source, encode to rendered and measure the result."""
    result = run_ffmpeg(
        [
            "-nostats",
            "-y",
            "-i",
            str(source),
            "-af",
            ",".join([*filters, f"aresample={settings.sample_rate}"]),
            *_encoder_args(settings),
            str(rendered),
        ],
        config=config,
    )
    mode = _normalisation_type(result.stderr.decode("utf-8", "replace"))
    if mode != "linear":
        log.warning("loudnorm used %r normalisation instead of linear", mode or "unknown")
    return measure(rendered, config=config)


def master(
    segment: AudioSegment,
    out_path: Path,
    settings: AssemblySettings,
    *,
    config: Mapping | None = None,
) -> Measurement:
    """High-pass, limit and two-pass loudnorm segment, encode it to out_path and measure it.

    Everything is written inside a temporary folder next to out_path and moved into place at
    the end, so a failure never leaves a partial file (an earlier render stays intact).
    """
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".loa-master-") as tmp:
        source = Path(tmp) / "assembled.wav"
        rendered = Path(tmp) / f"rendered.{settings.format}"
        _write_wav(segment, source)
        chain, measured = _drive_limiter(source, settings, config)
        target_i, target_tp = settings.target_lufs, _loudnorm_tp(settings)
        result = _render(
            source,
            rendered,
            [*chain, _loudnorm_filter(target_i, target_tp, measured)],
            settings,
            config,
        )
        # MP3 encoding can shave off some loudness or add peak overshoot; when the file misses
        # by a noticeable amount, render once more with the error folded into the targets.
        loudness_error = settings.target_lufs - result.integrated_lufs
        peak_excess = result.true_peak_dbtp - settings.true_peak_db
        if math.isfinite(loudness_error) and (
            abs(loudness_error) > _LOUDNESS_TOLERANCE_LU or peak_excess > 0
        ):
            log.info(
                "re-rendering: %.2f LU off target, peak %.2f dB over", loudness_error, peak_excess
            )
            target_i += loudness_error
            target_tp -= max(0.0, peak_excess + 0.2)
            result = _render(
                source,
                rendered,
                [*chain, _loudnorm_filter(target_i, target_tp, measured)],
                settings,
                config,
            )
        os.replace(rendered, out_path)
    return result


# --- reading files --------------------------------------------------------------------------


_STREAM = re.compile(r"Stream #\d+:\d+.*?: Audio: ([\w]+)[^\n]*?, (\d+) Hz, ([^,\n]+)(.*)")
_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_PROGRESS_TIME = re.compile(r"time=\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_BITRATE = re.compile(r"(\d+) kb/s")
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "quad": 4, "5.0": 5, "5.1": 6, "7.1": 8}


def _input_section(stderr: str) -> str:
    """Return the part of ffmpeg's stderr that describes input #0."""
    start = stderr.find("Input #0")
    end = stderr.find("Stream mapping", start)
    return stderr[start : end if end != -1 else None] if start != -1 else ""


def _stream_info(stderr: str) -> tuple[str, int, int, int | None]:
    """Parse codec, sample rate, channel count and bitrate of the first audio input stream."""
    found = _STREAM.search(_input_section(stderr))
    if found is None:
        raise AudioError("ffmpeg không nhận ra luồng âm thanh trong tệp.")
    codec, rate, layout, rest = found.groups()
    layout = layout.strip()
    channels_match = re.match(r"(\d+) channels", layout)
    channels = int(channels_match.group(1)) if channels_match else _LAYOUT_CHANNELS.get(layout, 0)
    bitrate = _BITRATE.search(rest)
    # PCM's bitrate is implied by its format; only compressed streams have a chosen one.
    kbps = int(bitrate.group(1)) if bitrate and not codec.startswith("pcm_") else None
    return codec, int(rate), channels, kbps


def _seconds(match: re.Match) -> float:
    """Convert an HH:MM:SS.ss match to seconds."""
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def measure(path: Path, *, config: Mapping | None = None) -> Measurement:
    """Measure a file with ffmpeg alone: BS.1770 loudness, true peak, duration, stream format."""
    result = run_ffmpeg(
        ["-i", str(path), "-af", "ebur128=peak=true:framelog=quiet", "-f", "null", "-"],
        config=config,
    )
    stderr = result.stderr.decode("utf-8", "replace")
    codec, rate, channels, kbps = _stream_info(stderr)
    loudness = _ebur128_summary(stderr)
    # The final progress line holds the decoded length (after MP3 encoder padding is
    # removed); the header's Duration is only an estimate for compressed streams.
    times = list(_PROGRESS_TIME.finditer(stderr))
    header = _DURATION.search(_input_section(stderr))
    if times:
        duration = _seconds(times[-1])
    elif header:
        duration = _seconds(header)
    else:
        raise AudioError("ffmpeg không cho biết độ dài của tệp âm thanh.")
    return Measurement(
        duration_s=round(duration, 3),
        integrated_lufs=loudness.integrated,
        true_peak_dbtp=loudness.true_peak,
        sample_rate=rate,
        channels=channels,
        codec=codec,
        bitrate_kbps=kbps,
    )


def decode_audio(
    source: Path | bytes, *, sample_rate: int | None = None, config: Mapping | None = None
) -> AudioSegment:
    """Decode any file or bytes ffmpeg reads (MP3 too) to 16-bit mono, without ffprobe."""
    is_bytes = isinstance(source, bytes | bytearray)
    args = ["-i", "pipe:0" if is_bytes else str(source), "-ac", "1"]
    if sample_rate:
        args += ["-ar", str(sample_rate)]
    result = run_ffmpeg(
        [*args, "-f", "s16le", "-c:a", "pcm_s16le", "pipe:1"],
        config=config,
        input_bytes=bytes(source) if is_bytes else None,
    )
    rate = sample_rate or _stream_info(result.stderr.decode("utf-8", "replace"))[1]
    return AudioSegment(result.stdout, sample_width=2, frame_rate=rate, channels=1)
