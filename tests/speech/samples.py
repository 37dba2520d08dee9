"""Recordings made by ffmpeg for the recording tests: tones in hiss, clipped squares, silence."""

from __future__ import annotations

from pathlib import Path

from app.speech.audio import run_ffmpeg

# A "voice" (a 440 Hz tone at about -20 dBFS) for `tone_s` seconds, with `lead_s` of phone hiss
# (-50 dBFS white noise) before it and `tail_s` after it, all under the same hiss.
VOICE_IN_HISS = (
    "anoisesrc=a=0.003:c=white:seed=7:d={total}:r={rate}[n];"
    "sine=f=440:r={rate}:d={tone},volume=0.8,adelay={lead_ms}|{lead_ms},"
    "apad=whole_dur={total}[t];[n][t]amix=inputs=2:normalize=0"
)

# Output options per container/codec a phone or desktop may send.
CODECS = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "wav": ["-c:a", "pcm_s16le"],
    "m4a": ["-c:a", "aac", "-b:a", "48k"],
    "amr": ["-ar", "8000", "-ac", "1", "-c:a", "libopencore_amrnb", "-b:a", "12.2k"],
    "ogg": ["-c:a", "libopus", "-b:a", "32k"],
    "webm": ["-c:a", "libopus", "-b:a", "32k"],
    "flac": ["-c:a", "flac"],
}


def voice_in_hiss(
    path: Path, *, lead_s: float = 1.0, tone_s: float = 1.5, tail_s: float = 1.0, rate: int = 16000
) -> Path:
    """Write a tone surrounded by hiss, in the container that path's suffix names."""
    total = lead_s + tone_s + tail_s
    graph = VOICE_IN_HISS.format(total=total, rate=rate, tone=tone_s, lead_ms=int(lead_s * 1000))
    run_ffmpeg(["-y", "-filter_complex", graph, *CODECS[path.suffix[1:]], str(path)])
    return path


def clipped_square(path: Path, seconds: float = 1.5) -> Path:
    """A square wave driven far past full scale: most samples sit at the ceiling."""
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"sine=f=300:r=16000:d={seconds},volume=20", str(path)])
    return path


def silence(path: Path, seconds: float = 2.0) -> Path:
    """Digital silence."""
    run_ffmpeg(["-y", "-f", "lavfi", "-i", f"anullsrc=r=16000:cl=mono:d={seconds}", str(path)])
    return path


def hiss(path: Path, seconds: float = 2.0) -> Path:
    """Phone hiss with nobody speaking (-50 dBFS white noise)."""
    run_ffmpeg(
        ["-y", "-f", "lavfi", "-i", f"anoisesrc=a=0.003:seed=3:r=16000:d={seconds}", str(path)]
    )
    return path


_QUIET = "sine=f=440:r=16000:d=1.5,volume=0.04,adelay=500,apad=pad_dur=0.5"


def quiet_voice(path: Path) -> Path:
    """A tone far under broadcast level (about -50 LUFS) in digital silence."""
    run_ffmpeg(["-y", "-f", "lavfi", "-i", _QUIET, str(path)])
    return path


def long_tone(path: Path, seconds: float) -> Path:
    """A tone of the given length at 8 kHz, in the container path's suffix names."""
    run_ffmpeg(
        ["-y", "-f", "lavfi", "-i", f"sine=f=440:r=8000:d={seconds}"]
        + CODECS[path.suffix[1:]]
        + [str(path)]
    )
    return path


def video_without_audio(path: Path) -> Path:
    """A short MP4 with a picture and no sound."""
    run_ffmpeg(["-y", "-f", "lavfi", "-i", "color=c=red:s=32x32:d=0.5", "-c:v", "mpeg4", str(path)])
    return path
